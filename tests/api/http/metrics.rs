//! `GET /metrics`: valid Prometheus (OpenMetrics) text whose counters move as signups flow.
//!
//! Counters are process-wide and other tests run alongside, so the checks use a form id only this
//! test posts to, or "at least" for unlabelled-by-form counters. Gauges are this app's own.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::json;

use crate::database::Backend;
use crate::helpers::{AppOptions, TestApp, eventually, fast_sandbox, spawn_app_with};

/// Samples by `name{label="value",…}` (labels sorted).
type Samples = BTreeMap<String, f64>;

/// Parse the text format strictly enough to catch a broken exposition: every line is a
/// `# HELP`/`# TYPE`/`# UNIT` line, a sample of a declared family, or the final `# EOF`.
fn parse(text: &str) -> Samples {
    let mut families: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Samples::new();
    let mut saw_eof = false;
    for line in text.lines() {
        assert!(!saw_eof, "nothing may follow # EOF: {line}");
        if line == "# EOF" {
            saw_eof = true;
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            let keyword = parts.next().unwrap();
            let name = parts
                .next()
                .unwrap_or_else(|| panic!("bad comment: {line}"));
            assert!(valid_name(name), "bad metric name in {line}");
            match keyword {
                "TYPE" => {
                    let kind = parts.next().unwrap_or_default();
                    assert!(
                        [
                            "counter",
                            "gauge",
                            "histogram",
                            "summary",
                            "unknown",
                            "info",
                            "stateset",
                            "gaugehistogram"
                        ]
                        .contains(&kind),
                        "bad type in {line}"
                    );
                    assert!(
                        families.insert(name.to_owned(), kind.to_owned()).is_none(),
                        "family {name} declared twice"
                    );
                }
                "HELP" | "UNIT" => {}
                other => panic!("unknown comment {other}: {line}"),
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("a sample needs a value: {line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (
                name,
                parse_labels(
                    rest.strip_suffix('}')
                        .unwrap_or_else(|| panic!("unclosed labels: {line}")),
                ),
            ),
            None => (series, BTreeMap::new()),
        };
        assert!(valid_name(name), "bad metric name in {line}");
        let family = ["_total", "_bucket", "_sum", "_count", "_created", ""]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|base| families.contains_key(*base))
            })
            .unwrap_or_else(|| panic!("sample of an undeclared family: {line}"));
        if families[family] == "counter" {
            assert!(
                name.ends_with("_total") || name.ends_with("_created"),
                "{line}"
            );
            assert!(value >= 0.0, "a counter is never negative: {line}");
        }
        let key = format!(
            "{name}{{{}}}",
            labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(
            samples.insert(key, value).is_none(),
            "duplicate sample: {line}"
        );
    }
    assert!(saw_eof, "the exposition must end with # EOF");
    samples
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("bad labels: {text}"));
        assert!(
            valid_name(name) && !name.contains(':'),
            "bad label name {name}"
        );
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    other => panic!("bad escape {other:?} in {text}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value in {text}"),
            }
        };
        assert!(labels.insert(name.to_owned(), value).is_none());
        rest = after[end + 1..]
            .strip_prefix(',')
            .unwrap_or(&after[end + 1..]);
    }
    labels
}

async fn scrape(app: &TestApp) -> Samples {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    parse(&response.text().await.unwrap())
}

fn get(samples: &Samples, key: &str) -> f64 {
    samples.get(key).copied().unwrap_or(0.0)
}

backends!(metrics_parse_and_their_counters_move_as_signups_flow: sqlite, postgres);
async fn metrics_parse_and_their_counters_move_as_signups_flow(backend: Backend) {
    // A form only this test posts to, and not its twin on the other backend either.
    let form = format!("metered-{}", backend.name());
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(
        backend,
        &sandbox,
        &format!(
            "[constant_contact]\nrequests_per_second = 1000\n[[forms]]\nid = \"{form}\"\nlist_ids = [\"{}\"]",
            crate::helpers::FIXED_LIST
        ),
    )
    .spawn()
    .await;
    app.connect_ok().await;
    let before = scrape(&app).await;

    for i in 0..3 {
        let ok = app
            .post_json(&form, &json!({ "email": format!("m{i}@example.com") }))
            .await;
        assert_eq!(ok.status(), 202);
    }
    let bad = app
        .post_json(&form, &json!({ "email": "not-an-email" }))
        .await;
    assert_eq!(bad.status(), 422);
    let bot = app
        .post_json(
            &form,
            &json!({ "email": "bot@example.com", "website": "http://spam.example" }),
        )
        .await;
    assert_eq!(bot.status(), 202);
    eventually(Duration::from_secs(20), "3 deliveries", || async {
        (app.store.queue_counts().await.ok()?.delivered == 3).then_some(())
    })
    .await;
    let after = scrape(&app).await;

    let delta = |key: &str| get(&after, key) - get(&before, key);
    assert_eq!(
        delta(&format!(
            "ccbridge_signups_accepted_total{{form=\"{form}\"}}"
        )),
        3.0
    );
    assert_eq!(
        delta(&format!("ccbridge_signups_spam_total{{form=\"{form}\"}}")),
        1.0
    );
    assert!(delta("ccbridge_signups_rejected_total{code=\"invalid_email\"}") >= 1.0);
    assert!(delta("ccbridge_deliveries_total{outcome=\"delivered\"}") >= 3.0);
    assert!(delta("ccbridge_delivery_latency_seconds_count{}") >= 3.0);
    assert!(delta("ccbridge_api_requests_total{status=\"2xx\"}") >= 3.0);
    // Gauges are this app's own, read at scrape time.
    assert_eq!(
        get(&after, "ccbridge_queue_signups{state=\"delivered\"}"),
        3.0
    );
    assert_eq!(get(&after, "ccbridge_queue_signups{state=\"spam\"}"), 1.0);
    assert_eq!(
        get(&after, "ccbridge_queue_signups{state=\"pending\"}"),
        0.0
    );
    assert_eq!(
        get(&after, "ccbridge_connection_state{state=\"connected\"}"),
        1.0
    );
    assert_eq!(
        get(
            &after,
            "ccbridge_connection_state{state=\"needs_reconnect\"}"
        ),
        0.0
    );
    let expires_in = get(&after, "ccbridge_token_expires_in_seconds{}");
    assert!(
        expires_in > 86_000.0 && expires_in <= 86_400.0,
        "{expires_in}"
    );
    assert!(get(&after, "ccbridge_api_calls_today{}") >= 3.0);
    assert_eq!(get(&after, "ccbridge_api_daily_limit{}"), 10_000.0);
    let families: BTreeSet<&str> = after.keys().map(|k| k.split('{').next().unwrap()).collect();
    for family in [
        "ccbridge_delivery_latency_seconds_bucket",
        "ccbridge_delivery_latency_seconds_sum",
    ] {
        assert!(families.contains(family), "{family} missing");
    }
    app.stop().await;
}

backends!(metrics_can_require_a_bearer_token_or_be_turned_off: sqlite, postgres);
async fn metrics_can_require_a_bearer_token_or_be_turned_off(backend: Backend) {
    let app = spawn_app_with(backend, "[metrics]\nbearer_token = \"scrape-me-please\"").await;
    let with = |token: Option<&str>| {
        let mut request = app.client.get(app.url("/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    let anonymous = with(None).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(
        anonymous.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert!(!anonymous.text().await.unwrap().contains("ccbridge_"));
    assert_eq!(with(Some("scrape-me")).await.unwrap().status(), 401);
    let right = with(Some("scrape-me-please")).await.unwrap();
    assert_eq!(right.status(), 200);
    parse(&right.text().await.unwrap());
    app.stop().await;

    let off = spawn_app_with(backend, "[metrics]\nenabled = false").await;
    let response = off.client.get(off.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    off.stop().await;
}
