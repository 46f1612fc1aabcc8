use super::*;

#[test]
fn the_shipped_catalogs_parse_without_problems() {
    let catalogs = Catalogs::shipped();
    assert!(
        catalogs.problems.is_empty(),
        "{}",
        catalogs.problems.join("\n")
    );
}

#[test]
fn every_catalog_has_exactly_the_english_ids_and_only_its_variables() {
    let english = message_variables(Language::En.source());
    assert!(english.len() > 50, "{english:?}");
    for language in Language::ALL {
        let other = message_variables(language.source());
        let missing: Vec<_> = english
            .keys()
            .filter(|id| !other.contains_key(*id))
            .collect();
        let extra: Vec<_> = other
            .keys()
            .filter(|id| !english.contains_key(*id))
            .collect();
        assert!(missing.is_empty(), "{language}.ftl lacks {missing:?}");
        assert!(extra.is_empty(), "{language}.ftl has extra ids {extra:?}");
        for (id, variables) in &other {
            assert!(
                variables.is_subset(&english[id]),
                "{language}.ftl `{id}` uses {variables:?}; en.ftl has {:?}",
                english[id]
            );
            assert!(Catalogs::shipped().has(language, id), "{language} {id}");
        }
    }
}

#[test]
fn every_message_formats_with_its_variables_and_without_errors() {
    let catalogs = Catalogs::shipped();
    for language in Language::ALL {
        let bundle = &catalogs.bundles[language.index()];
        for (id, variables) in message_variables(Language::En.source()) {
            let args: Vec<(&str, Arg)> = variables
                .iter()
                .map(|v| (v.as_str(), Arg::Number(2)))
                .collect();
            let fluent = fluent_args(&args);
            let message = bundle.get_message(&id).unwrap();
            let mut errors = Vec::new();
            let text = bundle.format_pattern(message.value().unwrap(), Some(&fluent), &mut errors);
            assert!(errors.is_empty(), "{language} {id}: {errors:?}");
            assert!(!text.trim().is_empty(), "{language} {id}");
            assert!(!text.contains('{'), "{language} {id}: {text}");
        }
    }
}

#[test]
fn accept_language_is_negotiated_and_english_is_the_last_resort() {
    let cases = [
        (None, "en"),
        (Some("de-CH,de;q=0.9"), "de"),
        (Some("pt"), "en"),
        (Some("pt-BR, es;q=0.8, en;q=0.5"), "es"),
        (Some("en;q=0.5, fr-CA"), "fr"),
        (Some("de;q=0, fr;q=0.1"), "fr"),
        (Some("*"), "en"),
        (Some("garbage;;;q=x, ,"), "en"),
        (Some("FR"), "fr"),
    ];
    for (header, expected) in cases {
        assert_eq!(
            Language::choose(None, header).code(),
            expected,
            "{header:?}"
        );
    }
}

#[test]
fn a_forms_locale_beats_the_header() {
    assert_eq!(
        Language::choose(Some(Language::De), Some("fr, en")),
        Language::De
    );
}

#[test]
fn plurals_and_overrides() {
    let catalogs = Catalogs::shipped();
    let one = catalogs.format(
        Language::En,
        "error-rate-limited",
        &[("minutes", 1.into())],
        None,
    );
    assert!(one.contains("wait a minute and"), "{one}");
    let three = catalogs.format(
        Language::De,
        "error-rate-limited",
        &[("minutes", 3.into())],
        None,
    );
    assert!(three.contains("warten Sie 3 Minuten"), "{three}");

    let mut overrides = Overrides::new();
    overrides.insert("field-email".into(), "Ihre Mail".into());
    overrides.insert(
        "error-missing-field".into(),
        "Bitte { $field } angeben!".into(),
    );
    let texts = Texts::new(Language::De, Some(&overrides));
    assert_eq!(texts.field_label("email"), "Ihre Mail");
    assert_eq!(texts.field_label("first_name"), "Vorname");
    assert_eq!(texts.field_label("favorite_topic"), "Favorite topic");
    assert_eq!(
        texts.with("error-missing-field", &[("field", "Vorname".into())]),
        "Bitte Vorname angeben!"
    );
    assert_eq!(texts.get("no-such-id"), "no-such-id");
}

#[test]
fn overrides_are_checked() {
    let vars: BTreeSet<String> = ["field".to_owned()].into();
    assert!(check_override("error-missing-field", "{ $field } fehlt", &vars).is_ok());
    let err = check_override("error-missing-field", "{ $feld } fehlt", &vars).unwrap_err();
    assert!(err.contains("$feld"), "{err}");
    let err = check_override("error-missing-field", "{ $field", &vars).unwrap_err();
    assert!(err.contains("not valid Fluent"), "{err}");
    assert!(check_override("x", "  ", &vars).is_err());
}

#[test]
fn dates_are_written_in_the_language() {
    let at = "2030-01-02T03:04:00Z".parse().unwrap();
    assert_eq!(
        Texts::new(Language::En, None).date_time(at),
        "2 January 2030, 03:04 UTC"
    );
    assert_eq!(
        Texts::new(Language::De, None).date_time(at),
        "2. Januar 2030, 03:04 UTC"
    );
    assert_eq!(
        Texts::new(Language::Es, None).date_time(at),
        "2 de enero de 2030, 03:04 UTC"
    );
}

#[test]
fn languages_read_from_config_name_the_shipped_codes() {
    let err = serde_json::from_str::<Language>("\"pt\"").unwrap_err();
    assert!(err.to_string().contains("unknown language `pt`"), "{err}");
    assert!(err.to_string().contains("en, de, fr, es"), "{err}");
    assert_eq!(
        serde_json::from_str::<Language>("\"DE\"").unwrap(),
        Language::De
    );
}
