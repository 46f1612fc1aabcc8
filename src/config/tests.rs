//! Loading, and how the configuration is shown: the parts of `Config` no single section owns.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;

use super::Config;

/// An environment of `CCBRIDGE__…` variables, for `Config::load_from`.
pub(super) fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn defaults_load_without_a_file() {
    let config = Config::load_from(None, env(&[])).unwrap();
    assert_eq!(config.server.listen.port(), 8080);
    assert_eq!(config.constant_contact.requests_per_second, 4);
    assert_eq!(config.constant_contact.requests_per_day, 10_000);
    assert!(config.forms.is_empty());
}

#[test]
fn an_unknown_key_is_rejected_with_its_name() {
    let err = Config::from_toml("[server]\nlisten_on = \"0.0.0.0:1\"").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("listen_on"), "{text}");
    assert!(text.contains("server"), "{text}");
}

#[test]
fn an_unknown_section_is_rejected_with_its_name() {
    let err = Config::from_toml("[servre]\nlisten = \"0.0.0.0:1\"").unwrap_err();
    assert!(err.to_string().contains("servre"), "{err}");
}

#[test]
fn a_bad_value_names_its_key() {
    let err = Config::from_toml("[server]\nlisten = \"not an address\"").unwrap_err();
    assert!(err.to_string().contains("`server.listen`"), "{err}");
}

#[test]
fn the_summary_and_debug_never_show_secrets() {
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let config = Config::load_from(
        None,
        env(&[
            (
                "CCBRIDGE__CONSTANT_CONTACT__CLIENT_SECRET",
                "very-secret-value",
            ),
            ("CCBRIDGE__SECURITY__TOKEN_ENCRYPTION_KEY", &key),
            (
                "CCBRIDGE__DATABASE__URL",
                "postgres://ccbridge:db-password@db:5432/ccbridge",
            ),
        ]),
    )
    .unwrap();
    for text in [config.redacted_summary(), format!("{config:?}")] {
        assert!(!text.contains("very-secret-value"), "{text}");
        assert!(!text.contains(&key), "{text}");
        assert!(!text.contains("db-password"), "{text}");
        assert!(text.contains("ccbridge:redacted@db:5432"), "{text}");
    }
    assert!(
        config
            .redacted_summary()
            .contains("client_secret = \"(set)\"")
    );
}

#[test]
fn metrics_and_alerts_secrets_are_never_shown() {
    let config = Config::load_from(
        None,
        env(&[
            ("CCBRIDGE__METRICS__BEARER_TOKEN", "scrape-secret-123"),
            (
                "CCBRIDGE__ALERTS__WEBHOOK_URL",
                "https://hooks.example.com/services/T0/B0/webhook-secret",
            ),
            ("CCBRIDGE__ALERTS__MIN_INTERVAL", "15m"),
        ]),
    )
    .unwrap();
    assert_eq!(config.alerts.min_interval, Duration::from_secs(900));
    for text in [config.redacted_summary(), format!("{config:?}")] {
        assert!(!text.contains("scrape-secret-123"), "{text}");
        assert!(!text.contains("webhook-secret"), "{text}");
    }
    let summary = config.redacted_summary();
    assert!(summary.contains("bearer_token = \"(set)\""), "{summary}");
    assert!(summary.contains("webhook_url = \"(set)\""), "{summary}");
}

/// The smallest valid form.
pub(super) const FORM: &str = r#"
        [[forms]]
        id = "newsletter"
        list_ids = ["07936f78-662a-11eb-af0a-fa163e56c9b0"]
    "#;

/// A configuration with every key set, optional ones included.
const EVERY_KEY: &str = r#"
[server]
listen = "127.0.0.1:9000"
public_url = "https://signup.example.org"
trusted_proxies = ["10.0.0.0/8"]
client_ip_header = "forwarded"
max_body_bytes = 4096
request_timeout = "10s"
shutdown_grace = "5s"
header_read_timeout = "5s"
max_connections = 10

[database]
url = "postgres://ccbridge:db-password@db/ccbridge"
busy_timeout = "2s"
max_connections = 4

[constant_contact]
client_id = "id"
client_secret = "client-secret-value"
scopes = ["contact_data", "offline_access"]
authorize_url = "https://authz.example/authorize"
token_url = "https://authz.example/token"
api_base_url = "https://api.example/v3"
requests_per_second = 2
requests_per_day = 100
request_timeout = "5s"
refresh_margin = "10m"
refresh_at_least_every = "1day"

[admin]
username = "root"
password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$2bU1kl1UJmT4Rh0yS9hzLL0ao6b9OyvKDvcfM5m3Oqk"

[security]
token_encryption_key = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="

[delivery]
concurrency = 2
max_age = "1day"
retry_base = "1s"
retry_max = "1m"
retention = "2days"
claim_lease = "30s"
respect_unsubscribes = false
unsubscribes_sync_interval = "1m"
unsubscribes_full_sync_interval = "1day"
unsubscribes_stale_after = "2h"

[consent]
site_name = "Example Org"
confirm_expiry = "2days"
mails_per_address_per_day = 2
mails_per_hour = 50
mail_retry_base = "10s"
mail_retry_max = "10m"

[privacy]
consent_retention = "2years"
client_address = "truncated"
user_agent = "none"

[logging]
format = "json"
level = "debug"

[metrics]
enabled = false
bearer_token = "scrape-secret"

[alerts]
webhook_url = "https://hooks.example/secret"
min_interval = "5m"
timeout = "3s"

[smtp]
host = "mail.example.org"
port = 2525
security = "tls"
username = "ccbridge"
password = "smtp-password-value"
from = "ccbridge <ccbridge@example.org>"
reply_to = "team@example.org"
timeout = "10s"
ca_file = "@CA_FILE@"

[rate_limit]
per_ip_per_minute = 1
per_ip_burst = 1
per_form_per_minute = 2
per_form_burst = 2
admin_failures = 3
admin_lockout = "10s"
admin_lockout_max = "1m"

[spam]
keep_for = "1day"

[[forms]]
id = "newsletter"
list_ids = ["07936f78-662a-11eb-af0a-fa163e56c9b0"]
optional_list_ids = ["17936f78-662a-11eb-af0a-fa163e56c9b0"]
success_url = "https://example.org/thanks"
error_url = "https://example.org/oops"
allowed_origins = ["https://example.org"]
honeypot_field = "website"
custom_fields = { topic = "1618ae62-4752-11e9-9c8a-fa163e6b01c1" }
min_submit_time = "3s"
consent = "double"
consent_text = "Yes, send me news."
confirmed_url = "https://example.org/welcome"
locale = "de"

[forms.confirmation]
subject = "Confirm {site}"
text = "Click {link}"
html = "<a href='{link}'>Confirm</a>"
lists_description = "our newsletter"

[forms.captcha]
provider = "recaptcha_v3"
secret = "captcha-secret"
verify_url = "https://captcha.example/verify"
min_score = 0.7
action = "signup"
timeout = "2s"
on_unreachable = "accept_and_mark"
"#;

/// `EVERY_KEY` with its `smtp.ca_file` pointing at the test CA.
fn every_key() -> String {
    EVERY_KEY.replace(
        "@CA_FILE@",
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/smtp/ca.pem"),
    )
}

/// Tables whose keys are data (names chosen by the operator), not settings: each counts as one key.
const MAPS: [&str; 1] = ["forms.custom_fields"];

/// The dotted key paths of a TOML value (`forms.captcha.secret`; array entries share one path).
fn key_paths(value: &toml::Value, prefix: &str, keys: &mut BTreeSet<String>) {
    match value {
        toml::Value::Table(table) if prefix.is_empty() || !MAPS.contains(&prefix) => {
            for (key, value) in table {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                key_paths(value, &path, keys);
            }
        }
        toml::Value::Array(items)
            if items.iter().all(toml::Value::is_table) && !items.is_empty() =>
        {
            for item in items {
                key_paths(item, prefix, keys);
            }
        }
        _ => {
            keys.insert(prefix.to_owned());
        }
    }
}

/// The keys `config.example.toml` documents: its settings, and the commented-out examples of
/// optional ones (`# key = …` lines, `# [section]` headers).
fn documented_keys() -> BTreeSet<String> {
    let example = include_str!("../../config.example.toml");
    let mut keys = BTreeSet::new();
    let mut section = String::new();
    for line in example.lines() {
        let line = line.strip_prefix("# ").unwrap_or(line);
        if let Some(header) = line.strip_prefix('[') {
            section = header.trim_matches(|c| c == '[' || c == ']').to_owned();
        } else if let Some((key, _)) = line.split_once(" = ")
            && !key.is_empty()
            && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        {
            keys.insert(format!("{section}.{key}"));
        }
    }
    keys
}

#[test]
fn every_key_is_in_the_example_config_and_every_documented_key_exists() {
    let config = Config::from_toml(&every_key()).unwrap();
    let value = toml::Value::try_from(&config).unwrap();
    let mut serialized = BTreeSet::new();
    key_paths(&value, "", &mut serialized);
    let documented = documented_keys();
    let undocumented: Vec<_> = serialized.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&serialized).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "keys missing from config.example.toml: {undocumented:?}; \
         keys in config.example.toml the configuration does not have: {unknown:?}"
    );
    // And the example itself loads.
    Config::from_toml(include_str!("../../config.example.toml")).unwrap();
}

#[test]
fn the_summary_is_the_configuration_with_secrets_replaced() {
    let config = Config::from_toml(&every_key()).unwrap();
    let summary = config.redacted_summary();
    for secret in [
        "client-secret-value",
        "db-password",
        "scrape-secret",
        "hooks.example",
        "captcha-secret",
        "smtp-password-value",
        "BwcHBw",
        "argon2id",
    ] {
        assert!(!summary.contains(secret), "{secret} shown in:\n{summary}");
    }
    // Everything else reads back as the configuration it came from.
    let shown: toml::Table = summary.parse().unwrap();
    assert_eq!(shown["server"]["listen"].as_str(), Some("127.0.0.1:9000"));
    assert_eq!(shown["delivery"]["retry_max"].as_str(), Some("1m"));
    assert_eq!(
        shown["forms"][0]["captcha"]["secret"].as_str(),
        Some("(set)")
    );
    assert_eq!(
        shown["security"]["token_encryption_key"].as_str(),
        Some("(set)")
    );
    let defaults = Config::from_toml("").unwrap().redacted_summary();
    assert!(
        defaults.contains("client_secret = \"(not set)\""),
        "{defaults}"
    );
    assert!(
        defaults.contains("webhook_url = \"(not set)\""),
        "{defaults}"
    );
}
