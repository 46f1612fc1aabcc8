//! What an operator meets on the command line during set-up: what is still to set, forms from the
//! environment alone, a database that is not where they think, the messages for common mistakes,
//! a password prompt, and logs written to a file.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::json;

use crate::database::Backend;
use crate::helpers::{Server, client, config_toml, database_url, free_port};

const LIST: &str = "07936f78-662a-11eb-af0a-fa163e56c9b0";

/// `ccbridge ARGS` in `dir`, with no config file and only the given `CCBRIDGE__*` variables.
fn ccbridge_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ccbridge"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("CCBRIDGE_CONFIG");
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("CCBRIDGE__")) {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command.output().expect("ccbridge runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// No database: runs on neither backend.
#[test]
fn check_config_names_each_piece_still_to_set_and_strict_fails_on_them() {
    let dir = tempfile::tempdir().unwrap();

    let lenient = ccbridge_in(dir.path(), &["check-config"], &[]);
    let strict = ccbridge_in(dir.path(), &["check-config", "--strict"], &[]);

    assert!(lenient.status.success(), "{}", text(&lenient.stderr));
    let stdout = text(&lenient.stdout);
    assert!(
        stdout.contains(
            "redirect URI to register at Constant Contact: http://localhost:8080/oauth/callback"
        ),
        "{stdout}"
    );
    let warnings = text(&lenient.stderr);
    for expected in [
        "warning: no [[forms]] configured",
        "warning: admin.password_hash is not set",
        "warning: constant_contact.client_id and constant_contact.client_secret not set",
        "warning: security.token_encryption_key is not set",
        "warning: server.public_url is http://localhost:8080/ while server.listen is 0.0.0.0:8080",
    ] {
        assert!(
            warnings.contains(expected),
            "{expected} missing:\n{warnings}"
        );
    }
    assert_eq!(strict.status.code(), Some(1), "{}", text(&strict.stderr));
    assert!(text(&strict.stderr).contains("(--strict)"));
}

// No database: runs on neither backend.
#[test]
fn a_form_defined_by_environment_variables_alone_is_a_complete_setup() {
    let dir = tempfile::tempdir().unwrap();
    let hash = ccbridge::password::hash(&"pw".to_owned().into()).unwrap();
    let lists = format!("[\"{LIST}\"]");
    let env = [
        ("CCBRIDGE__SERVER__PUBLIC_URL", "https://signup.example.org"),
        ("CCBRIDGE__ADMIN__PASSWORD_HASH", hash.as_str()),
        (
            "CCBRIDGE__SECURITY__TOKEN_ENCRYPTION_KEY",
            "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
        ),
        ("CCBRIDGE__CONSTANT_CONTACT__CLIENT_ID", "id"),
        ("CCBRIDGE__CONSTANT_CONTACT__CLIENT_SECRET", "secret"),
        ("CCBRIDGE__FORMS__0__ID", "newsletter"),
        ("CCBRIDGE__FORMS__0__LIST_IDS", lists.as_str()),
        (
            "CCBRIDGE__FORMS__0__ALLOWED_ORIGINS",
            "[\"https://www.example.org\"]",
        ),
    ];

    let output = ccbridge_in(dir.path(), &["check-config", "--strict"], &env);

    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("[[forms]]\nid = \"newsletter\""),
        "{stdout}"
    );
    assert!(stdout.contains("configuration is valid"), "{stdout}");
    assert_eq!(text(&output.stderr), "", "no warnings");
}

backends!(commands_that_read_the_database_never_create_one: sqlite, postgres);
async fn commands_that_read_the_database_never_create_one(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("elsewhere.db");
    // On PostgreSQL: an empty schema, as a database no ccbridge ever served.
    let url = match backend {
        Backend::Sqlite => format!("sqlite://{}", db.display()),
        Backend::Postgres => database_url(backend, &db).await,
    };

    for args in [&["status"][..], &["status", "--json"], &["retry"]] {
        let output = ccbridge_in(dir.path(), args, &[("CCBRIDGE__DATABASE__URL", &url)]);

        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = text(&output.stderr);
        assert!(stderr.contains("no ccbridge database"), "{stderr}");
        assert!(stderr.contains("database.url"), "{stderr}");
        assert!(
            stderr.contains("configuration from built-in defaults and CCBRIDGE__* variables"),
            "{stderr}"
        );
        match backend {
            Backend::Sqlite => assert!(stderr.contains("there is no file"), "{stderr}"),
            Backend::Postgres => assert!(stderr.contains("holds no ccbridge data"), "{stderr}"),
        }
    }
    assert!(!db.exists(), "no SQLite file was created");
    if backend == Backend::Postgres {
        let pool = crate::helpers::raw_pool(backend, &db).await;
        let (tables,): (i64,) = sqlx::query_as(
            "select count(*) from information_schema.tables where table_schema = current_schema()",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(tables, 0, "nothing was created in the schema");
        pool.close().await;
    }
}

// No database of the suite's: a directory that does not exist, and a port in use.
#[test]
fn serve_says_what_to_change_when_the_database_directory_or_the_port_is_unusable() {
    let dir = tempfile::tempdir().unwrap();
    let missing = ccbridge_in(
        dir.path(),
        &["serve"],
        &[(
            "CCBRIDGE__DATABASE__URL",
            "sqlite:///nonexistent-ccbridge-dir/c.db",
        )],
    );
    assert_eq!(missing.status.code(), Some(1));
    let stderr = text(&missing.stderr);
    assert!(
        stderr.contains(
            "the directory /nonexistent-ccbridge-dir of the SQLite database (database.url = sqlite:///nonexistent-ccbridge-dir/c.db) does not exist"
        ),
        "{stderr}"
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let db = format!("sqlite://{}", dir.path().join("c.db").display());
    let busy = ccbridge_in(
        dir.path(),
        &["serve"],
        &[
            ("CCBRIDGE__DATABASE__URL", &db),
            ("CCBRIDGE__SERVER__LISTEN", &address),
        ],
    );
    assert_eq!(busy.status.code(), Some(1));
    let stderr = text(&busy.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {address} (server.listen)")),
        "{stderr}"
    );
    assert!(
        stderr.contains("set server.listen to a free port"),
        "{stderr}"
    );

    let named = ccbridge_in(
        dir.path(),
        &["check-config"],
        &[("CCBRIDGE__SERVER__LISTEN", "localhost:8080")],
    );
    assert_eq!(named.status.code(), Some(1));
    assert!(text(&named.stderr).contains("\"127.0.0.1:8080\""));
}

backends!(a_database_error_is_said_once: postgres);
async fn a_database_error_is_said_once(_backend: Backend) {
    let server = crate::database::postgres_server();
    let url = format!(
        "{}/ccbridge_no_such_database",
        server.rsplit_once('/').unwrap().0
    );
    let dir = tempfile::tempdir().unwrap();

    let output = ccbridge_in(
        dir.path(),
        &["status"],
        &[("CCBRIDGE__DATABASE__URL", &url)],
    );

    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert_eq!(
        stderr.matches("does not exist").count(),
        1,
        "the cause is said once: {stderr}"
    );
}

// No database: runs on neither backend.
#[test]
fn hash_password_at_a_terminal_asks_twice_and_echoes_nothing() {
    // `script` (util-linux) gives the command a terminal; what is typed comes from its stdin.
    let run = |first: &str, second: &str| {
        let mut child = Command::new("script")
            .args([
                "-qec",
                &format!("{} hash-password", env!("CARGO_BIN_EXE_ccbridge")),
                "/dev/null",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("script (util-linux) runs");
        let mut stdin = child.stdin.take().unwrap();
        let typed = format!("{first}\n{second}\n");
        // Typed line by line, as a person would: each answer after its prompt.
        std::thread::spawn(move || {
            use std::io::Write as _;
            for line in typed.split_inclusive('\n') {
                std::thread::sleep(std::time::Duration::from_millis(300));
                let _ = stdin.write_all(line.as_bytes());
            }
        });
        child.wait_with_output().unwrap()
    };

    let same = run("correct horse", "correct horse");
    let differ = run("correct horse", "battery staple");

    let shown = text(&same.stdout);
    assert!(same.status.success(), "{shown}");
    assert!(shown.contains("New admin password:"), "{shown}");
    assert!(shown.contains("The same password again:"), "{shown}");
    assert!(
        !shown.contains("correct horse"),
        "the password was echoed: {shown}"
    );
    let phc = shown
        .lines()
        .find(|line| line.starts_with("$argon2id$"))
        .expect("a hash")
        .trim();
    assert!(ccbridge::password::verify(
        "correct horse",
        &secrecy::SecretString::from(phc.to_owned())
    ));
    assert!(!differ.status.success());
    assert!(text(&differ.stdout).contains("the two passwords differ"));
}

// SQLite only: about the log, not the database.
backends!(logs_written_to_a_file_have_no_colour_codes_and_plain_values: sqlite);
async fn logs_written_to_a_file_have_no_colour_codes_and_plain_values(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = database_url(backend, &dir.path().join("ccbridge.db")).await;
    let port = free_port();
    let config = dir.path().join("ccbridge.toml");
    let text_config = config_toml(&db, "")
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"))
        .replace("level = \"warn\"", "level = \"info\"");
    std::fs::write(&config, text_config).unwrap();
    let log = dir.path().join("serve.log");
    let server = Server::start(&config, port, &log);
    server.wait_ready().await;

    let refused = client()
        .post(format!("{}/signup/newsletter", server.base))
        .json(&json!({ "email": "a@example.com", "first_name": "x".repeat(80) }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let other_site = client()
        .post(format!("{}/signup/newsletter", server.base))
        .header("origin", "https://www.example.net")
        .json(&json!({ "email": "b@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(other_site.status(), 403);
    let logged = crate::helpers::eventually(
        std::time::Duration::from_secs(10),
        "the refusal to be logged",
        || {
            let log = log.clone();
            async move {
                let text = std::fs::read_to_string(&log).ok()?;
                (text.matches("signup refused").count() == 2).then_some(text)
            }
        },
    )
    .await;
    drop(server);

    assert!(
        !logged.contains('\u{1b}'),
        "colour codes in a file:\n{logged}"
    );
    // The first lines say which database and configuration this process uses.
    assert!(
        logged.contains(&format!("database={db}"))
            && logged.contains(&format!(
                "configuration={} and CCBRIDGE__* variables",
                config.display()
            )),
        "{logged}"
    );
    assert!(
        !logged.contains("Some("),
        "an Option printed as such:\n{logged}"
    );
    assert!(
        logged.contains("field=\"first_name\"") || logged.contains("field=first_name"),
        "{logged}"
    );
    assert!(
        logged.contains("add \\\"https://www.example.net\\\" to that form's allowed_origins")
            || logged.contains("add \"https://www.example.net\" to that form's allowed_origins"),
        "the refused origin and the key to change: {logged}"
    );
}
