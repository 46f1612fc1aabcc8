//! The documentation cannot drift from the code: every configuration example in `README.md`,
//! `docs/*.md` and the Dockerfile's header is checked by the real `ccbridge check-config --strict`
//! (which fails on an error and on any set-up warning), and the README's "Put it on your site"
//! steps are followed, from its own code blocks, against the built-in sandbox.
//!
//! # How a code block is tagged
//!
//! A fenced block's info string is its language and then attributes separated by spaces:
//!
//! | info string | what it holds | how it is checked |
//! |---|---|---|
//! | `toml` | a complete configuration file | `check-config --strict --config <it>` |
//! | `toml fragment` | a few tables (`[forms.captcha]`, `[database]`, …) | merged into [`BASE`] (tables merge key by key; a value or array in the fragment, `[[forms]]` included, replaces the base's), then as above |
//! | `… env` (e.g. `sh env`) | `NAME=value` lines, as in an environment file (`export`, comments and shell quoting allowed) | those variables alone, no file |
//! | `yaml compose` | a Compose file | each service whose image is `ccbridge` (or that sets a `CCBRIDGE__` variable): the image's `ENV` from the Dockerfile, then its `environment:` |
//! | `sh` with `docker run … ccbridge [serve]` | a container started as the service | the image's `ENV`, then its `-e` options (a `docker run` of another subcommand, e.g. `hash-password`, is not a service and is skipped) |
//!
//! The Dockerfile's header comment is read like an `sh` block. Secrets are never written into an
//! example: `-e NAME` without a value, `$NAME` and `${NAME}` (also `${NAME:?message}`,
//! `${NAME:-default}`) stand for a value from the operator's environment, which the test supplies
//! by name ([`operator_secret`]); a value in single quotes is taken literally, as a shell does.
//! Blocks of any other kind (`text`, `json`, `html`, `js`, `ini`, a plain `sh`) are not checked.
//!
//! The README's steps are blocks with a `step=` attribute: `step=compose` (the Compose file whose
//! environment the service runs with), `step=secrets` (the `.env` beside it: it must name exactly
//! the variables the Compose file takes from it), `step=snippet` (the HTML form posted from the
//! allowed origin) and `step=check` (the command that says it works).
//!
//! No database of the suite's for the examples (`check-config` opens none). The steps run on
//! SQLite only: the README's Compose file runs ccbridge on SQLite, and what they show (the
//! documented environment, connecting and delivering) does not depend on the backend, which the
//! rest of the suite covers on both.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use ccbridge::config::ConstantContactConfig;
use serde_json::Value;

use crate::database::Backend;
use crate::helpers::{
    admin_hash, client, connect_at, database_url, eventually, fast_sandbox, free_port,
};

/// A complete configuration that passes `--strict`; fragments are merged into it.
/// `{hash}` and `{key}` are filled in by [`base_config`].
const BASE: &str = r#"
[server]
public_url = "https://forms.example.org"

[constant_contact]
client_id = "sample-client-id"
client_secret = "sample-client-secret"

[admin]
password_hash = "{hash}"

[security]
token_encryption_key = "{key}"

[[forms]]
id = "newsletter"
list_ids = ["07936f78-662a-11eb-af0a-fa163e56c9b0"]
allowed_origins = ["https://www.example.org"]
"#;

/// A 32-byte key, base64-encoded, standing for the operator's own.
const SAMPLE_KEY: &str = "3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The value a secret named `name` (in `-e NAME`, `$NAME` or `${NAME}`) stands for.
fn operator_secret(name: &str) -> String {
    let upper = name.to_ascii_uppercase();
    let ends = |suffix: &str| upper.ends_with(suffix);
    if ends("PASSWORD_HASH") {
        admin_hash()
    } else if ends("ENCRYPTION_KEY") {
        SAMPLE_KEY.to_owned()
    } else if ends("CLIENT_ID") {
        "sample-client-id".to_owned()
    } else if ends("CLIENT_SECRET") {
        "sample-client-secret".to_owned()
    } else if ends("CAPTCHA__SECRET") || ends("CAPTCHA_SECRET") {
        "sample-captcha-secret".to_owned()
    } else if ends("POSTGRES_PASSWORD") {
        "sample-database-password".to_owned()
    } else if ends("WEBHOOK_URL") {
        "https://hooks.example.org/services/sample".to_owned()
    } else if ends("BEARER_TOKEN") {
        "sample-scrape-token".to_owned()
    } else {
        panic!(
            "`{name}` is taken from the operator's environment in an example, but the \
             documentation test does not know what it stands for: add it to operator_secret"
        )
    }
}

// ── Reading the documents ─────────────────────────────────────────────────────────────────────

/// A fenced code block and where it is.
#[derive(Debug, Clone)]
struct Block {
    /// `README.md:42`
    place: String,
    language: String,
    attributes: Vec<String>,
    text: String,
}

impl Block {
    fn has(&self, attribute: &str) -> bool {
        self.attributes.iter().any(|a| a == attribute)
    }

    fn step(&self) -> Option<&str> {
        self.attributes.iter().find_map(|a| a.strip_prefix("step="))
    }
}

/// The fenced code blocks of a Markdown text.
fn blocks(name: &str, markdown: &str) -> Vec<Block> {
    let mut found = Vec::new();
    let mut open: Option<(usize, usize, String, Vec<String>)> = None;
    for (number, line) in markdown.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim_start();
        match &mut open {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    open = Some((number + 1, indent, info.trim().to_owned(), Vec::new()));
                }
            }
            Some((start, fence_indent, info, lines)) => {
                if trimmed.trim_end() == "```" {
                    let mut words = info.split_whitespace().map(str::to_owned);
                    found.push(Block {
                        place: format!("{name}:{start}"),
                        language: words.next().unwrap_or_default(),
                        attributes: words.collect(),
                        text: lines.join("\n"),
                    });
                    open = None;
                } else {
                    let cut = (*fence_indent).min(indent);
                    lines.push(line[cut..].to_owned());
                }
            }
        }
    }
    assert!(open.is_none(), "{name}: a code block is never closed");
    found
}

/// `README.md` and every `docs/*.md`, with their names.
fn documents() -> Vec<(String, String)> {
    let mut names = vec![PathBuf::from("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .map(|path| Path::new("docs").join(path.file_name().unwrap()))
        .collect();
    docs.sort();
    names.extend(docs);
    names
        .into_iter()
        .map(|name| {
            let text = std::fs::read_to_string(root().join(&name)).unwrap();
            (name.display().to_string(), text)
        })
        .collect()
}

fn all_blocks() -> Vec<Block> {
    documents()
        .iter()
        .flat_map(|(name, text)| blocks(name, text))
        .collect()
}

// ── Shell words, interpolation, YAML scalars ──────────────────────────────────────────────────

/// Expand `$$`, `$NAME`, `${NAME}`, `${NAME:?…}`, `${NAME?…}`, `${NAME:-default}` and
/// `${NAME-default}` with [`operator_secret`] (which knows every secret the examples use, so a
/// default is never needed).
fn interpolate(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
        } else if let Some(braced) = rest.strip_prefix('{') {
            let end = braced.find('}').expect("a ${ is closed");
            let inner = &braced[..end];
            let name_end = inner
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(inner.len());
            out.push_str(&operator_secret(&inner[..name_end]));
            rest = &braced[end + 1..];
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if end == 0 {
                out.push('$');
            } else {
                out.push_str(&operator_secret(&rest[..end]));
            }
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

/// Split a shell command line into words, as `sh` would: quotes removed, `'…'` literal, `"…"`
/// and bare text interpolated, `#` at the start of a word a comment.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars().peekable();
    let mut bare = String::new();
    let flush_bare = |bare: &mut String, word: &mut Option<String>| {
        if !bare.is_empty() {
            word.get_or_insert_with(String::new)
                .push_str(&interpolate(bare));
            bare.clear();
        }
    };
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                flush_bare(&mut bare, &mut word);
                if let Some(done) = word.take() {
                    words.push(done);
                }
            }
            '#' if word.is_none() && bare.is_empty() => break,
            '\'' => {
                flush_bare(&mut bare, &mut word);
                let quoted: String = chars.by_ref().take_while(|&c| c != '\'').collect();
                word.get_or_insert_with(String::new).push_str(&quoted);
            }
            '"' => {
                flush_bare(&mut bare, &mut word);
                let mut quoted = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => quoted.extend(chars.next()),
                        c => quoted.push(c),
                    }
                }
                word.get_or_insert_with(String::new)
                    .push_str(&interpolate(&quoted));
            }
            '\\' => bare.extend(chars.next()),
            c => bare.push(c),
        }
    }
    flush_bare(&mut bare, &mut word);
    words.extend(word);
    words
}

/// Join lines continued with a trailing backslash.
fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        match line.trim_end().strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                lines.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// A YAML scalar as Compose reads it: quotes removed, a trailing comment dropped, then Compose's
/// interpolation.
fn yaml_value(raw: &str) -> String {
    let raw = raw.trim();
    let literal = if let Some(quoted) = raw.strip_prefix('\'') {
        let mut value = String::new();
        let mut chars = quoted.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    value.push('\'');
                } else {
                    break;
                }
            } else {
                value.push(c);
            }
        }
        value
    } else if let Some(quoted) = raw.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => value.extend(chars.next()),
                c => value.push(c),
            }
        }
        value
    } else {
        raw.split(" #").next().unwrap_or_default().trim().to_owned()
    };
    interpolate(&literal)
}

// ── The environments the examples define ──────────────────────────────────────────────────────

type Env = BTreeMap<String, String>;

/// The `ENV` the image sets (its listen address and database path).
fn image_env() -> Env {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let mut env = Env::new();
    for line in logical_lines(&dockerfile) {
        if let Some(assignments) = line.trim().strip_prefix("ENV ") {
            for word in shell_words(assignments) {
                let (name, value) = word.split_once('=').expect("ENV NAME=value");
                env.insert(name.to_owned(), value.to_owned());
            }
        }
    }
    assert!(
        env.contains_key("CCBRIDGE__SERVER__LISTEN"),
        "the Dockerfile sets the listen address: {env:?}"
    );
    env
}

/// The variables of an environment-file block.
fn env_file(text: &str) -> Env {
    let mut env = Env::new();
    for line in logical_lines(text) {
        let words = shell_words(&line);
        let words: Vec<&str> = words
            .iter()
            .map(String::as_str)
            .skip_while(|w| *w == "export")
            .collect();
        match words.as_slice() {
            [] => {}
            [assignment] => {
                let (name, value) = assignment
                    .split_once('=')
                    .unwrap_or_else(|| panic!("not NAME=value: {line}"));
                env.insert(name.to_owned(), value.to_owned());
            }
            _ => panic!("one NAME=value per line: {line}"),
        }
    }
    env
}

/// The environment of each `docker run` in `text` that starts the service.
fn docker_runs(text: &str) -> Vec<Env> {
    const TAKES_A_VALUE: &[&str] = &[
        "-p",
        "--publish",
        "-v",
        "--volume",
        "-e",
        "--env",
        "--name",
        "--stop-timeout",
        "--env-file",
        "--network",
        "-u",
        "--user",
        "-w",
        "--workdir",
        "--entrypoint",
        "--restart",
        "-l",
        "--label",
        "--mount",
        "--health-cmd",
    ];
    let mut runs = Vec::new();
    for line in logical_lines(text) {
        if !line.contains("docker run") {
            continue;
        }
        let words = shell_words(&line);
        let Some(start) = words
            .windows(2)
            .position(|w| w[0] == "docker" && w[1] == "run")
        else {
            continue;
        };
        let mut env = image_env();
        let mut args = words[start + 2..].iter();
        let mut command = Vec::new();
        while let Some(arg) = args.next() {
            if arg.starts_with('-') {
                let (option, inline) = match arg.split_once('=') {
                    Some((option, value)) if option.starts_with("--") => {
                        (option, Some(value.to_owned()))
                    }
                    _ => (arg.as_str(), None),
                };
                if TAKES_A_VALUE.contains(&option) {
                    let value = inline.or_else(|| args.next().cloned()).unwrap_or_default();
                    if option == "-e" || option == "--env" {
                        match value.split_once('=') {
                            Some((name, value)) => env.insert(name.to_owned(), value.to_owned()),
                            None => env.insert(value.clone(), operator_secret(&value)),
                        };
                    }
                }
            } else {
                // The image, then its command.
                command = args.cloned().collect();
                break;
            }
        }
        if command.is_empty() || command == ["serve"] {
            runs.push(env);
        }
    }
    runs
}

/// The environment of each ccbridge service of a Compose file.
fn compose_services(text: &str) -> Vec<(String, Env)> {
    let indent = |line: &str| line.len() - line.trim_start().len();
    let mut services = Vec::new();
    let mut in_services = false;
    let mut current: Option<(String, bool, Env)> = None;
    let mut in_environment = false;
    let finish = |current: &mut Option<(String, bool, Env)>, services: &mut Vec<(String, Env)>| {
        if let Some((name, is_ccbridge, env)) = current.take() {
            let sets_ours = env.keys().any(|k| k.starts_with("CCBRIDGE__"));
            if is_ccbridge || sets_ours {
                let mut full = image_env();
                full.extend(env);
                services.push((name, full));
            }
        }
    };
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match indent(line) {
            0 => {
                finish(&mut current, &mut services);
                in_services = trimmed == "services:";
                in_environment = false;
            }
            2 if in_services => {
                finish(&mut current, &mut services);
                let name = trimmed.trim_end_matches(':').to_owned();
                current = Some((name, false, Env::new()));
                in_environment = false;
            }
            4 => {
                in_environment = trimmed == "environment:";
                if let (Some((_, is_ccbridge, _)), Some(image)) =
                    (&mut current, trimmed.strip_prefix("image:"))
                {
                    let image = yaml_value(image);
                    *is_ccbridge = image == "ccbridge" || image.starts_with("ccbridge:");
                }
            }
            _ if in_environment => {
                let Some((_, _, env)) = &mut current else {
                    continue;
                };
                if let Some(item) = trimmed.strip_prefix("- ") {
                    let item = yaml_value(item);
                    match item.split_once('=') {
                        Some((name, value)) => env.insert(name.to_owned(), value.to_owned()),
                        None => env.insert(item.clone(), operator_secret(&item)),
                    };
                } else {
                    let (name, value) = trimmed
                        .split_once(':')
                        .unwrap_or_else(|| panic!("not NAME: value: {line}"));
                    env.insert(name.trim().to_owned(), yaml_value(value));
                }
            }
            _ => {}
        }
    }
    finish(&mut current, &mut services);
    services
}

// ── Running check-config ──────────────────────────────────────────────────────────────────────

/// `ccbridge ARGS` in an empty directory (so no `./ccbridge.toml` is read) with exactly `env`.
fn ccbridge(args: &[&str], env: &Env, dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ccbridge"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .output()
        .expect("ccbridge runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `check-config --strict` on a configuration file and/or an environment; panics with the place
/// of the example and what ccbridge said.
fn assert_strictly_valid(place: &str, file: Option<&str>, env: &Env) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["check-config", "--strict"];
    let path = dir.path().join("example.toml");
    if let Some(file) = file {
        std::fs::write(&path, file).unwrap();
        args.extend(["--config", path.to_str().unwrap()]);
    }
    let output = ccbridge(&args, env, dir.path());
    assert!(
        output.status.success(),
        "the example at {place} is not a complete, valid configuration.\n\
         ccbridge check-config --strict said:\n{}{}\n\
         environment: {env:#?}\nfile:\n{}",
        text(&output.stderr),
        text(&output.stdout),
        file.unwrap_or("(none)")
    );
}

fn base_config() -> toml::Table {
    BASE.replace("{hash}", &admin_hash())
        .replace("{key}", SAMPLE_KEY)
        .parse()
        .expect("the base configuration is TOML")
}

/// Tables merge key by key; anything else in `fragment` replaces what `base` has.
fn merge(base: &mut toml::Table, fragment: toml::Table) {
    for (key, value) in fragment {
        match value {
            toml::Value::Table(from) if base.get(&key).is_some_and(toml::Value::is_table) => {
                if let Some(toml::Value::Table(into)) = base.get_mut(&key) {
                    merge(into, from);
                }
            }
            value => {
                base.insert(key, value);
            }
        }
    }
}

// No database: runs on neither backend.
#[test]
fn every_configuration_example_passes_check_config_strict() {
    let mut checked: BTreeMap<&str, usize> = BTreeMap::new();
    let no_env = Env::new();
    for block in all_blocks() {
        let place = block.place.as_str();
        if block.language == "toml" && block.has("fragment") {
            let fragment: toml::Table = block
                .text
                .parse()
                .unwrap_or_else(|e| panic!("{place}: not TOML: {e}"));
            let mut config = base_config();
            merge(&mut config, fragment);
            assert_strictly_valid(place, Some(&config.to_string()), &no_env);
            *checked.entry("toml fragment").or_default() += 1;
        } else if block.language == "toml" {
            assert_strictly_valid(place, Some(&block.text), &no_env);
            *checked.entry("toml").or_default() += 1;
        } else if block.has("env") {
            assert_strictly_valid(place, None, &env_file(&block.text));
            *checked.entry("env").or_default() += 1;
        } else if block.language == "yaml" && block.has("compose") {
            let services = compose_services(&block.text);
            assert!(!services.is_empty(), "{place}: no ccbridge service");
            for (service, env) in services {
                assert_strictly_valid(&format!("{place} (service {service})"), None, &env);
            }
            *checked.entry("compose").or_default() += 1;
        } else if matches!(block.language.as_str(), "sh" | "bash" | "shell") {
            for env in docker_runs(&block.text) {
                assert_strictly_valid(&format!("{place} (docker run)"), None, &env);
                *checked.entry("docker run").or_default() += 1;
            }
        }
    }

    // The Dockerfile's own example, in its header comment.
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let header: String = dockerfile
        .lines()
        .take_while(|line| line.starts_with('#'))
        .map(|line| line.trim_start_matches('#').trim_start())
        .collect::<Vec<_>>()
        .join("\n");
    let runs = docker_runs(&header);
    assert!(
        !runs.is_empty(),
        "the Dockerfile's header shows a docker run"
    );
    for env in runs {
        assert_strictly_valid("Dockerfile (header)", None, &env);
    }

    // Each kind is there, so a renamed tag cannot make the test check nothing.
    for kind in ["toml", "toml fragment", "env", "compose", "docker run"] {
        assert!(
            checked.get(kind).is_some_and(|n| *n > 0),
            "no `{kind}` example was found in README.md or docs/ (found: {checked:?})"
        );
    }
}

// No database: runs on neither backend.
#[test]
fn every_stop_timeout_in_the_docs_and_the_dockerfile_is_the_same() {
    let mut texts = documents();
    texts.push((
        "Dockerfile".to_owned(),
        std::fs::read_to_string(root().join("Dockerfile")).unwrap(),
    ));
    let mut seen = Vec::new();
    for (name, text) in &texts {
        for marker in [
            "--stop-timeout ",
            "stop_grace_period: ",
            "TimeoutStopSec=",
            "terminationGracePeriodSeconds: ",
        ] {
            for (at, _) in text.match_indices(marker) {
                let digits: String = text[at + marker.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                if !digits.is_empty() {
                    seen.push((format!("{name}: {marker}{digits}"), digits));
                }
            }
        }
    }
    assert!(seen.len() >= 3, "stop timeouts found: {seen:?}");
    assert!(
        seen.iter().all(|(_, seconds)| seconds == "90"),
        "every stop timeout must be 90 s (server.shutdown_grace plus a refresh lease): {seen:?}"
    );
}

// ── The README's steps ────────────────────────────────────────────────────────────────────────

/// The README's block tagged `step=<name>`.
fn step(name: &str) -> Block {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut found: Vec<Block> = blocks("README.md", &readme)
        .into_iter()
        .filter(|b| b.step() == Some(name))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "the README has one block tagged step={name}"
    );
    found.remove(0)
}

/// The value of `name="…"` in an HTML tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let at = tag.find(&format!(" {name}=\""))?;
    let rest = &tag[at + name.len() + 3..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// The snippet's form: where it posts, and its input tags.
fn snippet_form(html: &str) -> (String, Vec<String>) {
    let form_at = html.find("<form").expect("the snippet has a <form>");
    let form_tag = &html[form_at..form_at + html[form_at..].find('>').unwrap()];
    let action = attribute(form_tag, "action").expect("the form has an action");
    assert_eq!(
        attribute(form_tag, "method").as_deref(),
        Some("post"),
        "the form posts"
    );
    let inputs = html
        .match_indices("<input")
        .map(|(at, _)| html[at..at + html[at..].find('>').unwrap()].replace('\n', " "))
        .collect();
    (action, inputs)
}

/// A `ccbridge serve` with an environment of its own, killed when dropped.
struct Service {
    child: std::process::Child,
    log: PathBuf,
}

impl Service {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

backends!(the_readme_steps_put_a_form_on_a_site: sqlite);
async fn the_readme_steps_put_a_form_on_a_site(backend: Backend) {
    // Step 2: the service's environment is the README's Compose file's, as documented.
    let compose = step("compose");
    let mut services = compose_services(&compose.text);
    assert_eq!(services.len(), 1, "{}: one ccbridge service", compose.place);
    let (_, mut env) = services.remove(0);
    // The secrets it takes from `.env` are the ones the README's `.env` holds.
    let secrets = step("secrets");
    let in_dot_env: BTreeSet<&str> = secrets
        .text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim()))
        .collect();
    let interpolated: BTreeSet<&str> = compose
        .text
        .match_indices("${")
        .map(|(at, _)| {
            let name = &compose.text[at + 2..];
            &name[..name
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(name.len())]
        })
        .collect();
    assert_eq!(
        in_dot_env, interpolated,
        "{}: the .env holds what the Compose file takes from it",
        secrets.place
    );
    let public_url = env["CCBRIDGE__SERVER__PUBLIC_URL"].clone();
    let form_id = env["CCBRIDGE__FORMS__0__ID"].clone();
    let origins: toml::Value = format!("o = {}", env["CCBRIDGE__FORMS__0__ALLOWED_ORIGINS"])
        .parse::<toml::Table>()
        .expect("allowed_origins is a TOML array")["o"]
        .clone();
    let origin = origins[0].as_str().expect("an allowed origin").to_owned();

    // Step 1: the redirect URI to register is spelt out, and is the one ccbridge uses.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let redirect_uri = format!("{}/oauth/callback", public_url.trim_end_matches('/'));
    assert!(
        readme.contains(&format!("`{redirect_uri}`")),
        "the README names the redirect URI {redirect_uri}"
    );
    let dir = tempfile::tempdir().unwrap();
    let as_documented = ccbridge(&["check-config", "--strict"], &env, dir.path());
    assert!(
        as_documented.status.success()
            && text(&as_documented.stdout).contains(&format!(
                "the redirect URI to register at Constant Contact: {redirect_uri}"
            )),
        "{}{}",
        text(&as_documented.stdout),
        text(&as_documented.stderr)
    );

    // This machine stands in for the server: a local address, a database in a temporary
    // directory, and the sandbox instead of Constant Contact (its client id and secret, and its
    // endpoints), each set the way an operator sets any key.
    let sandbox = fast_sandbox().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let db = database_url(backend, &dir.path().join("ccbridge.db")).await;
    env.insert(
        "CCBRIDGE__SERVER__LISTEN".into(),
        format!("127.0.0.1:{port}"),
    );
    env.insert("CCBRIDGE__SERVER__PUBLIC_URL".into(), base.clone());
    sandbox.register_redirect_uri(format!("{base}/oauth/callback").parse().unwrap());
    env.insert("CCBRIDGE__DATABASE__URL".into(), db);
    let sandbox_keys: toml::Table = ConstantContactConfig::sandbox_toml(&sandbox)
        .parse()
        .unwrap();
    for (key, value) in sandbox_keys {
        let value = value.as_str().expect("a string").to_owned();
        env.insert(
            format!("CCBRIDGE__CONSTANT_CONTACT__{}", key.to_ascii_uppercase()),
            value,
        );
    }
    let here = ccbridge(&["check-config", "--strict"], &env, dir.path());
    assert!(
        here.status.success(),
        "{}{}",
        text(&here.stdout),
        text(&here.stderr)
    );

    let log = dir.path().join("serve.log");
    let log_file = std::fs::File::create(&log).unwrap();
    let service = Service {
        child: Command::new(env!("CARGO_BIN_EXE_ccbridge"))
            .arg("serve")
            .current_dir(dir.path())
            .env_clear()
            .envs(&env)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("ccbridge serve starts"),
        log,
    };
    let http = client();
    eventually(Duration::from_secs(30), "the service to be ready", || {
        let url = format!("{base}/readyz");
        let http = http.clone();
        async move {
            let ready = http.get(url).send().await.ok()?.status().is_success();
            ready.then_some(())
        }
    })
    .await;

    // Step 4: connect, as the admin (the Connect button starts the same flow as /connect).
    let connected = connect_at(&http, &base).await;
    let status = connected.status();
    let page = connected.text().await.unwrap();
    assert_eq!(status, 200, "{page}\n{}", service.log());
    assert!(page.contains("onnected"), "{page}");

    // Step 3: the snippet, posted from a page of the allowed origin, as a browser posts it.
    let snippet = step("snippet");
    let (action, inputs) = snippet_form(&snippet.text);
    assert_eq!(
        action,
        format!("{}/signup/{form_id}", public_url.trim_end_matches('/')),
        "{}: the snippet posts to the form the Compose file defines",
        snippet.place
    );
    let email = format!(
        "first-hour-{}@example.com",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let mut fields = Vec::new();
    for input in &inputs {
        let name = attribute(input, "name").expect("an input has a name");
        let hidden_from_people = input.contains("aria-hidden=\"true\"");
        let value = match attribute(input, "type").as_deref() {
            _ if hidden_from_people => String::new(),
            Some("email") => email.clone(),
            _ => "Ada".to_owned(),
        };
        fields.push((name, value));
    }
    assert!(
        fields.iter().any(|(name, _)| name == "email"),
        "{}: the snippet has an email field",
        snippet.place
    );
    let path = action
        .strip_prefix(public_url.trim_end_matches('/'))
        .unwrap();
    let posted = http
        .post(format!("{base}{path}"))
        .header("origin", &origin)
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(
        posted.status(),
        303,
        "a browser on {origin} is sent on to the thank-you page\n{}",
        service.log()
    );

    // Step 5: the check command says connected, and the contact arrives.
    let check = step("check");
    assert!(
        check.text.contains("ccbridge status"),
        "{}: the check runs ccbridge status",
        check.place
    );
    let status = ccbridge(&["status"], &env, dir.path());
    assert_eq!(
        status.status.code(),
        Some(0),
        "{}{}",
        text(&status.stdout),
        text(&status.stderr)
    );
    let contacts_url = format!("http://{}/_sandbox/contacts", sandbox.addr());
    let contact = eventually(
        Duration::from_secs(30),
        "the contact in the sandbox",
        || {
            let http = http.clone();
            let url = contacts_url.clone();
            let email = email.clone();
            async move {
                let contacts: Vec<Value> = http.get(url).send().await.ok()?.json().await.ok()?;
                contacts
                    .into_iter()
                    .find(|c| c["email_address"].as_str() == Some(email.as_str()))
            }
        },
    )
    .await;
    assert_eq!(contact["first_name"], "Ada");

    drop(service);
    sandbox.shutdown().await;
}
