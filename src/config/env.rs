//! The environment overlay: `CCBRIDGE__<SECTION>__<KEY>=value` set on top of the file's TOML
//! before it is parsed, so a value from the environment passes the same checks as one from the
//! file, and an error names the variable it came from.

use std::collections::BTreeMap;
use std::str::FromStr;

use super::{ConfigError, ENV_PREFIX};

/// Apply `CCBRIDGE__SECTION__KEY=value` overrides onto the parsed file. Returns key path → variable
/// name, so that errors can say which variable held a bad value.
///
/// A value is read as a TOML value when it is one (`8`, `true`, `["a", "b"]`, `"quoted"`), and as a
/// plain string otherwise (`0.0.0.0:8080`, `https://…`), so strings rarely need quoting.
pub(super) fn apply_env_overrides(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut overridden = BTreeMap::new();
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .collect();
    vars.sort();
    for (var, raw) in vars {
        let segments: Vec<String> = var[ENV_PREFIX.len()..]
            .split("__")
            .map(str::to_ascii_lowercase)
            .collect();
        if segments.iter().any(String::is_empty) {
            return Err(ConfigError::Env {
                var,
                message: "expected CCBRIDGE__<SECTION>__<KEY> with no empty parts".into(),
            });
        }
        let value = parse_env_value(&raw);
        let path = set_path(table, &segments, value).map_err(|message| ConfigError::Env {
            var: var.clone(),
            message,
        })?;
        overridden.insert(path, var);
    }
    Ok(overridden)
}

fn parse_env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

/// Set `value` at `segments` (numeric segments index arrays), creating tables as needed.
/// Returns the path in serde_path_to_error's notation (`forms[0].id`).
fn set_path(
    table: &mut toml::Table,
    segments: &[String],
    value: toml::Value,
) -> Result<String, String> {
    let (first, rest) = segments.split_first().expect("at least one segment");
    let mut path = first.clone();
    let mut node = table
        .entry(first.clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    for segment in rest {
        node = match node {
            toml::Value::Table(t) => {
                path.push('.');
                path.push_str(segment);
                t.entry(segment.clone())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            }
            toml::Value::Array(items) => {
                let index = usize::from_str(segment).map_err(|_| {
                    format!("`{path}` is a list: expected an index, got `{segment}`")
                })?;
                if index > items.len() {
                    return Err(format!(
                        "`{path}` has {} entries; index {index} would leave a gap",
                        items.len()
                    ));
                }
                if index == items.len() {
                    items.push(toml::Value::Table(toml::Table::new()));
                }
                path.push_str(&format!("[{index}]"));
                &mut items[index]
            }
            _ => return Err(format!("`{path}` is a single value, not a section")),
        };
    }
    *node = value;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::parse_env_value;
    use crate::config::Config;
    use crate::config::tests::{FORM, env};

    #[test]
    fn env_override_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[server]\nlisten = \"127.0.0.1:1111\"\n").unwrap();
        let config = Config::load_from(
            Some(&path),
            env(&[
                ("CCBRIDGE__SERVER__LISTEN", "127.0.0.1:2222"),
                ("CCBRIDGE__CONSTANT_CONTACT__CLIENT_SECRET", "s3cret"),
                ("CCBRIDGE__CONSTANT_CONTACT__REQUESTS_PER_SECOND", "2"),
            ]),
        )
        .unwrap();
        assert_eq!(config.server.listen.port(), 2222);
        assert_eq!(
            config.constant_contact.client_secret.expose_secret(),
            "s3cret"
        );
        assert_eq!(config.constant_contact.requests_per_second, 2);
    }

    #[test]
    fn env_can_override_a_form_key_by_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, FORM).unwrap();
        let config = Config::load_from(
            Some(&path),
            env(&[(
                "CCBRIDGE__FORMS__0__SUCCESS_URL",
                "https://example.org/thanks",
            )]),
        )
        .unwrap();
        assert_eq!(
            config.forms[0].success_url.as_ref().unwrap().as_str(),
            "https://example.org/thanks"
        );
    }

    #[test]
    fn a_bad_env_value_names_the_variable() {
        let err =
            Config::load_from(None, env(&[("CCBRIDGE__SERVER__LISTEN", "nowhere")])).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("CCBRIDGE__SERVER__LISTEN"), "{text}");
        assert!(text.contains("server.listen"), "{text}");
    }

    #[test]
    fn an_unknown_env_key_is_rejected() {
        let err = Config::load_from(None, env(&[("CCBRIDGE__SERVER__LISTN", "x")])).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("listn"), "{text}");
        assert!(text.contains("CCBRIDGE__SERVER__LISTN"), "{text}");
    }

    #[test]
    fn env_values_read_as_toml_when_they_are_toml() {
        assert_eq!(parse_env_value("8"), toml::Value::Integer(8));
        assert_eq!(
            parse_env_value("0.0.0.0:80"),
            toml::Value::String("0.0.0.0:80".into())
        );
        assert_eq!(parse_env_value("\"8\""), toml::Value::String("8".into()));
    }
}
