//! What a configuration leaves half done: each piece a site owner still has to set before signups
//! reach Constant Contact. Valid configurations only (errors stop earlier); `check-config` and
//! `serve` show these, and `check-config --strict` fails on them.

use secrecy::ExposeSecret as _;

use super::{Config, ConnectFlow};

impl Config {
    /// One sentence per half-configured piece, each naming the key to set and how.
    pub fn setup_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.forms.is_empty() {
            warnings.push(
                "no [[forms]] configured: every POST /signup/… answers 404. Add one (see \
                 config.example.toml), or set CCBRIDGE__FORMS__0__ID and CCBRIDGE__FORMS__0__LIST_IDS"
                    .to_owned(),
            );
        }
        for (i, form) in self.forms.iter().enumerate() {
            if form.allowed_origins.is_empty() {
                warnings.push(format!(
                    "form `{}` has no allowed_origins: a browser posting it from your site is refused \
                     (403 origin_not_allowed). Set forms[{i}].allowed_origins to your site's origin, \
                     e.g. [\"https://www.example.org\"]",
                    form.id
                ));
            }
        }
        if self.admin.password_hash.expose_secret().is_empty() {
            warnings.push(
                "admin.password_hash is not set: the console and /connect are disabled. Create \
                 one with `ccbridge hash-password`"
                    .to_owned(),
            );
        }
        let missing = self.constant_contact.missing_keys();
        let device = self.constant_contact.flow == ConnectFlow::Device;
        if !missing.is_empty() {
            let register = if device {
                "Register an application at Constant Contact that may use the device flow and \
                 copy its API key (no redirect URI or secret is needed)"
                    .to_owned()
            } else {
                format!(
                    "Register an application at Constant Contact with the redirect URI {} and \
                     copy its key and secret",
                    self.server.redirect_uri()
                )
            };
            warnings.push(format!(
                "{} not set: ccbridge cannot connect to Constant Contact. {register}",
                missing.join(" and "),
            ));
        }
        if self.security.token_encryption_key.is_none() {
            warnings.push(
                "security.token_encryption_key is not set: Constant Contact tokens are stored \
                 unencrypted. Create one with `openssl rand -base64 32`"
                    .to_owned(),
            );
        }
        let public_host = self.server.public_url.host_str().unwrap_or_default();
        let local_name = matches!(public_host, "localhost" | "127.0.0.1" | "[::1]");
        if local_name && !self.server.listen.ip().is_loopback() {
            let who = if device {
                "browsers elsewhere (and the links ccbridge hands out)"
            } else {
                "browsers elsewhere and Constant Contact's redirect"
            };
            warnings.push(format!(
                "server.public_url is {} while server.listen is {}: {who} cannot reach \
                 localhost. Set server.public_url to the address people use",
                self.server.public_url, self.server.listen
            ));
        }
        if let Some(warning) = self.clear_text_smtp_warning() {
            warnings.push(warning);
        }
        warnings
    }

    /// Mail (and the SMTP password) crossing a network unencrypted.
    fn clear_text_smtp_warning(&self) -> Option<String> {
        let smtp = &self.smtp;
        if !smtp.is_enabled()
            || smtp.security != super::SmtpSecurity::None
            || smtp.host_is_loopback()
        {
            return None;
        }
        let what = if smtp.username.is_empty() {
            "mails travel"
        } else {
            "the SMTP password and mails travel"
        };
        Some(format!(
            "smtp.security = \"none\" to {}: {what} in clear text over the network. Use \
             \"starttls\" (port 587) or \"tls\" (port 465), or a relay on this machine",
            smtp.host
        ))
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use crate::config::Config;

    fn warnings(toml: &str) -> Vec<String> {
        Config::from_toml(toml).unwrap().setup_warnings()
    }

    #[test]
    fn the_defaults_name_every_piece_still_to_set() {
        let all = warnings("").join("\n");
        for expected in [
            "no [[forms]]",
            "admin.password_hash",
            "constant_contact.client_id and constant_contact.client_secret not set",
            "redirect URI http://localhost:8080/oauth/callback",
            "security.token_encryption_key",
            "server.public_url is http://localhost:8080/ while server.listen is 0.0.0.0:8080",
        ] {
            assert!(all.contains(expected), "{expected} missing from:\n{all}");
        }
    }

    #[test]
    fn a_missing_secret_alone_is_named_alone() {
        let all = warnings("[constant_contact]\nclient_id = \"id\"").join("\n");
        assert!(
            all.contains("constant_contact.client_secret not set"),
            "{all}"
        );
        assert!(!all.contains("client_id and"), "{all}");
    }

    #[test]
    fn the_device_flow_needs_no_secret_and_no_redirect_uri() {
        let all = warnings("[constant_contact]\nflow = \"device\"").join("\n");
        assert!(all.contains("constant_contact.client_id not set"), "{all}");
        assert!(!all.contains("client_secret"), "{all}");
        assert!(!all.contains("/oauth/callback"), "{all}");
        let all = warnings("[constant_contact]\nflow = \"device\"\nclient_id = \"id\"").join("\n");
        assert!(!all.contains("constant_contact."), "{all}");
    }

    #[test]
    fn a_form_without_origins_is_named_with_its_key() {
        let all = warnings(
            "[[forms]]\nid = \"news\"\nlist_ids = [\"07936f78-662a-11eb-af0a-fa163e56c9b0\"]",
        )
        .join("\n");
        assert!(all.contains("form `news` has no allowed_origins"), "{all}");
        assert!(all.contains("forms[0].allowed_origins"), "{all}");
    }

    #[test]
    fn a_complete_configuration_has_no_warnings() {
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let hash = crate::password::hash(&"pw".to_owned().into()).unwrap();
        let text = format!(
            r#"
[server]
public_url = "https://signup.example.org"
[admin]
password_hash = "{hash}"
[security]
token_encryption_key = "{key}"
[constant_contact]
client_id = "id"
client_secret = "secret"
[[forms]]
id = "news"
list_ids = ["07936f78-662a-11eb-af0a-fa163e56c9b0"]
allowed_origins = ["https://www.example.org"]
"#
        );
        assert_eq!(warnings(&text), Vec::<String>::new());
        // Listening on loopback behind a proxy, localhost is fine.
        let local = text.replace(
            "public_url = \"https://signup.example.org\"",
            "public_url = \"http://localhost:8080\"\nlisten = \"127.0.0.1:8080\"",
        );
        assert_eq!(warnings(&local), Vec::<String>::new());
    }
}
