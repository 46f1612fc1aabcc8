//! The words a visitor reads, in their language: the Fluent catalogs shipped in the binary (one
//! file per language under `catalogs/`), the [`Language`] type, the choice of a language from a
//! form's `locale` and `Accept-Language`, and an operator's per-form overrides.
//!
//! Message ids are language-neutral (`error-rate-limited`, `field-email`, `thank-you-title`);
//! every catalog has the same ids and no others, and uses only the variables the English one
//! uses (the unit tests hold them to that). Texts are plain: the pages and mails escape them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use fluent_langneg::{NegotiationStrategy, negotiate_languages};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use unic_langid::LanguageIdentifier;

#[cfg(test)]
mod tests;

/// A language ccbridge ships texts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Language {
    En,
    De,
    Fr,
    Es,
}

impl Language {
    /// Every shipped language; English first (the last resort).
    pub const ALL: [Language; 4] = [Self::En, Self::De, Self::Fr, Self::Es];

    /// The language's code: `en`, `de`, `fr`, `es` (what `<html lang>` and the store hold).
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::De => "de",
            Self::Fr => "fr",
            Self::Es => "es",
        }
    }

    /// The shipped language with this code (case-insensitive), if any.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(code.trim()))
    }

    /// The shipped codes, for messages: `en, de, fr, es`.
    pub fn codes() -> String {
        Self::ALL.map(Self::code).join(", ")
    }

    fn index(self) -> usize {
        self as usize
    }

    fn langid(self) -> LanguageIdentifier {
        self.code()
            .parse()
            .expect("a shipped code is a language identifier")
    }

    fn source(self) -> &'static str {
        match self {
            Self::En => include_str!("catalogs/en.ftl"),
            Self::De => include_str!("catalogs/de.ftl"),
            Self::Fr => include_str!("catalogs/fr.ftl"),
            Self::Es => include_str!("catalogs/es.ftl"),
        }
    }

    /// The language a visitor is spoken to in: the form's `locale` when it has one, else the best
    /// match of `Accept-Language` (by quality, then order; `de-CH` finds `de`), else English.
    pub fn choose(locale: Option<Language>, accept_language: Option<&str>) -> Language {
        if let Some(fixed) = locale {
            return fixed;
        }
        let requested = accept_language.map(preferences).unwrap_or_default();
        let available: Vec<LanguageIdentifier> = Self::ALL.map(Self::langid).to_vec();
        let default = Self::En.langid();
        negotiate_languages(
            &requested,
            &available,
            Some(&default),
            NegotiationStrategy::Lookup,
        )
        .first()
        .and_then(|id| Self::from_code(id.language.as_str()))
        .unwrap_or(Self::En)
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Language {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Language {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Self::from_code(&code).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown language `{code}`: ccbridge ships {}",
                Self::codes()
            ))
        })
    }
}

/// The tags of an `Accept-Language` header, most wanted first (by quality, then by order);
/// `*`, unparsable tags and `q=0` are left out.
fn preferences(header: &str) -> Vec<LanguageIdentifier> {
    let mut tags: Vec<(f32, LanguageIdentifier)> = header
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim();
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
            let id = tag.parse::<LanguageIdentifier>().ok()?;
            (tag != "*" && quality > 0.0).then_some((quality, id))
        })
        .collect();
    tags.sort_by(|a, b| b.0.total_cmp(&a.0));
    tags.into_iter().map(|(_, id)| id).collect()
}

/// A value put into a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Text(String),
    Number(i64),
}

impl From<&str> for Arg {
    fn from(value: &str) -> Self {
        Self::Text(value.to_owned())
    }
}

impl From<String> for Arg {
    fn from(value: String) -> Self {
        Self::Text(value)
    }
}

impl From<i64> for Arg {
    fn from(value: i64) -> Self {
        Self::Number(value)
    }
}

/// An operator's texts for one form and language: message id → text (Fluent syntax, so the
/// catalog's `{ $variables }` may be used).
pub type Overrides = BTreeMap<String, String>;

/// The shipped catalogs, parsed once.
pub struct Catalogs {
    bundles: Vec<FluentBundle<FluentResource>>,
    /// Problems found while parsing the shipped files (a unit test requires none).
    #[cfg_attr(not(test), allow(dead_code))]
    problems: Vec<String>,
}

static SHIPPED: LazyLock<Catalogs> = LazyLock::new(Catalogs::parse);

impl Catalogs {
    /// The catalogs shipped in the binary.
    pub fn shipped() -> &'static Catalogs {
        &SHIPPED
    }

    /// Parse every shipped file. Never fails: what parses is kept and the rest recorded in
    /// `problems`, which a unit test requires to be empty, so a broken catalog fails the build's
    /// tests rather than a running service.
    fn parse() -> Self {
        let mut problems = Vec::new();
        let bundles = Language::ALL
            .into_iter()
            .map(|language| {
                let (bundle, found) = bundle(language, language.source().to_owned());
                problems.extend(found.into_iter().map(|p| format!("{language}.ftl: {p}")));
                bundle
            })
            .collect();
        for problem in &problems {
            tracing::error!(problem, "a shipped catalog has a problem");
        }
        Self { bundles, problems }
    }

    /// The variables the English message `id` uses; `None` when there is no such message.
    pub fn variables(&self, id: &str) -> Option<BTreeSet<String>> {
        message_variables(Language::En.source()).remove(id)
    }

    /// Whether `language`'s catalog has the message `id`.
    pub fn has(&self, language: Language, id: &str) -> bool {
        self.bundles[language.index()].has_message(id)
    }

    /// The message `id` in `language` with `args`: the operator's override when `overrides` has
    /// one, else the catalog's, else English's, else the id itself (never a panic).
    pub fn format(
        &self,
        language: Language,
        id: &str,
        args: &[(&str, Arg)],
        overrides: Option<&Overrides>,
    ) -> String {
        let args = fluent_args(args);
        if let Some(text) = overrides.and_then(|o| o.get(id)) {
            if !text.contains('{') {
                return text.clone();
            }
            let (bundle, _) = bundle(language, override_source(text));
            if let Some(done) = format_in(&bundle, OVERRIDE_ID, &args) {
                return done;
            }
        }
        [language, Language::En]
            .into_iter()
            .find_map(|l| format_in(&self.bundles[l.index()], id, &args))
            .unwrap_or_else(|| id.to_owned())
    }
}

/// The id an override is parsed under.
const OVERRIDE_ID: &str = "override";

/// An override's text as a one-message Fluent resource (continuation lines indented).
fn override_source(text: &str) -> String {
    format!("{OVERRIDE_ID} = {}\n", text.trim().replace('\n', "\n    "))
}

/// Whether an operator's override text is usable for message `id`: it parses, and uses only
/// variables the message has. The error says what is wrong.
pub fn check_override(id: &str, text: &str, variables: &BTreeSet<String>) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err(format!("text `{id}` is empty"));
    }
    let (_, problems) = bundle(Language::En, override_source(text));
    if let Some(problem) = problems.first() {
        return Err(format!("text `{id}` is not valid Fluent syntax: {problem}"));
    }
    let used = message_variables(&override_source(text))
        .remove(OVERRIDE_ID)
        .unwrap_or_default();
    if let Some(unknown) = used.difference(variables).next() {
        let known = if variables.is_empty() {
            "none".to_owned()
        } else {
            variables
                .iter()
                .map(|v| format!("${v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(format!(
            "text `{id}` uses `${unknown}`, which this text does not have (it has: {known})"
        ));
    }
    Ok(())
}

/// A field name as people read it when no label is given: `favorite_topic` → `Favorite topic`.
pub fn humanise(name: &str) -> String {
    let spaced = name.replace(['_', '-'], " ");
    let mut chars = spaced.trim().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => name.to_owned(),
    }
}

fn bundle(language: Language, source: String) -> (FluentBundle<FluentResource>, Vec<String>) {
    let mut problems = Vec::new();
    let resource = FluentResource::try_new(source).unwrap_or_else(|(partial, errors)| {
        problems.extend(errors.iter().map(|e| format!("{e:?}")));
        partial
    });
    let mut bundle = FluentBundle::new_concurrent(vec![language.langid()]);
    // Plain text: no Unicode isolation marks around values in pages, mails and JSON.
    bundle.set_use_isolating(false);
    if let Err(errors) = bundle.add_resource(resource) {
        problems.extend(errors.iter().map(|e| e.to_string()));
    }
    (bundle, problems)
}

fn fluent_args<'a>(args: &'a [(&'a str, Arg)]) -> FluentArgs<'a> {
    let mut out = FluentArgs::new();
    for (name, value) in args {
        match value {
            Arg::Text(text) => out.set(*name, FluentValue::from(text.as_str())),
            Arg::Number(n) => out.set(*name, FluentValue::from(*n)),
        }
    }
    out
}

fn format_in(bundle: &FluentBundle<FluentResource>, id: &str, args: &FluentArgs) -> Option<String> {
    let pattern = bundle.get_message(id)?.value()?;
    let mut errors = Vec::new();
    let text = bundle.format_pattern(pattern, Some(args), &mut errors);
    if !errors.is_empty() {
        tracing::warn!(id, ?errors, "a visitor text was formatted with problems");
    }
    Some(text.into_owned())
}

/// Each message of a Fluent source and the variables (`$name`) it uses. Messages start at the
/// beginning of a line (`id = …`); continuation lines are indented.
fn message_variables(source: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut messages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in source.lines() {
        let starts_message = line.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        let body = if starts_message {
            let Some((id, rest)) = line.split_once('=') else {
                continue;
            };
            let id = id.trim().to_owned();
            messages.entry(id.clone()).or_default();
            current = Some(id);
            rest
        } else if line.starts_with(' ') {
            line
        } else {
            current = None;
            continue;
        };
        let Some(id) = &current else { continue };
        let mut rest = body;
        while let Some(at) = rest.find('$') {
            rest = &rest[at + 1..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect();
            if !name.is_empty() {
                messages.entry(id.clone()).or_default().insert(name);
            }
        }
    }
    messages
}

/// One language and one form's overrides in it: what a page or a mail is written with.
#[derive(Debug, Clone, Copy)]
pub struct Texts<'a> {
    pub language: Language,
    overrides: Option<&'a Overrides>,
}

impl<'a> Texts<'a> {
    pub const fn new(language: Language, overrides: Option<&'a Overrides>) -> Self {
        Self {
            language,
            overrides,
        }
    }

    /// A message without variables.
    pub fn get(&self, id: &str) -> String {
        self.with(id, &[])
    }

    /// A message with variables.
    pub fn with(&self, id: &str, args: &[(&str, Arg)]) -> String {
        Catalogs::shipped().format(self.language, id, args, self.overrides)
    }

    /// The label of a form's field: `field-NAME` from the overrides or the catalog, else the
    /// name humanised.
    pub fn field_label(&self, name: &str) -> String {
        let id = format!("field-{name}");
        let overridden = self.overrides.is_some_and(|o| o.contains_key(&id));
        if overridden || Catalogs::shipped().has(Language::En, &id) {
            self.get(&id)
        } else {
            humanise(name)
        }
    }

    /// A date and time for people, e.g. `2 January 2030, 03:04 UTC`.
    pub fn date_time(&self, at: chrono::DateTime<chrono::Utc>) -> String {
        use chrono::Datelike;
        self.with(
            "date-time",
            &[
                ("day", at.day().to_string().into()),
                ("month", self.get(&format!("month-{}", at.month())).into()),
                ("year", at.year().to_string().into()),
                ("time", at.format("%H:%M").to_string().into()),
            ],
        )
    }
}
