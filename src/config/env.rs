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
    // Indexes in numeric order, so that FORMS__2 is created before FORMS__10.
    vars.sort_by_cached_key(|(var, _)| {
        var.split("__")
            .map(|segment| match usize::from_str(segment) {
                Ok(index) => (index, String::new()),
                Err(_) => (usize::MAX, segment.to_owned()),
            })
            .collect::<Vec<_>>()
    });
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
    // A section created here is a list when the next segment is an index (`FORMS__0__ID` with no
    // `[[forms]]` in the file creates the first form), a table otherwise.
    let new_node = |next: Option<&String>| match next {
        Some(segment) if usize::from_str(segment).is_ok() => toml::Value::Array(Vec::new()),
        _ => toml::Value::Table(toml::Table::new()),
    };
    let (first, rest) = segments.split_first().expect("at least one segment");
    let mut path = first.clone();
    let mut node = table
        .entry(first.clone())
        .or_insert_with(|| new_node(rest.first()));
    for (i, segment) in rest.iter().enumerate() {
        let next = rest.get(i + 1);
        node = match node {
            toml::Value::Table(t) => {
                path.push('.');
                path.push_str(segment);
                t.entry(segment.clone()).or_insert_with(|| new_node(next))
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
                    items.push(new_node(next));
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

    #[test]
    fn forms_can_come_from_the_environment_alone() {
        let mut vars = vec![
            ("CCBRIDGE__FORMS__0__ID", "newsletter"),
            (
                "CCBRIDGE__FORMS__0__LIST_IDS",
                r#"["07936f78-662a-11eb-af0a-fa163e56c9b0"]"#,
            ),
            (
                "CCBRIDGE__FORMS__0__ALLOWED_ORIGINS",
                r#"["https://example.org"]"#,
            ),
            (
                "CCBRIDGE__FORMS__0__CUSTOM_FIELDS__TOPIC",
                "1618ae62-4752-11e9-9c8a-fa163e6b01c1",
            ),
            ("CCBRIDGE__FORMS__0__CAPTCHA__PROVIDER", "turnstile"),
            ("CCBRIDGE__FORMS__0__CAPTCHA__SECRET", "s"),
        ];
        // Eleven forms: the tenth and eleventh come after the second in numeric order only.
        let ids: Vec<(String, String)> = (1..11)
            .map(|i| (format!("CCBRIDGE__FORMS__{i}__ID"), format!("form-{i}")))
            .collect();
        let lists: Vec<(String, String)> = (1..11)
            .map(|i| {
                (
                    format!("CCBRIDGE__FORMS__{i}__LIST_IDS"),
                    r#"["07936f78-662a-11eb-af0a-fa163e56c9b0"]"#.to_owned(),
                )
            })
            .collect();
        vars.reverse();
        let mut all = env(&vars);
        all.extend(ids);
        all.extend(lists);

        let config = Config::load_from(None, all).unwrap();

        assert_eq!(config.forms.len(), 11);
        let form = &config.forms[0];
        assert_eq!(form.id.as_str(), "newsletter");
        assert_eq!(form.allowed_origins[0].as_str(), "https://example.org/");
        assert!(form.custom_fields.contains_key("topic"));
        assert!(form.captcha.is_some());
        assert_eq!(config.forms[10].id.as_str(), "form-10");
    }

    #[test]
    fn a_form_index_that_leaves_a_gap_names_the_variable() {
        let err = Config::load_from(None, env(&[("CCBRIDGE__FORMS__1__ID", "second")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("CCBRIDGE__FORMS__1__ID"), "{err}");
        assert!(err.contains("gap"), "{err}");
    }
}
