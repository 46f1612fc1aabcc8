//! The command line, run as the real binary.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use secrecy::SecretString;

use crate::database::Backend;
use crate::helpers::spawn_app;

fn ccbridge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ccbridge"))
        .args(args)
        .env_remove("CCBRIDGE_CONFIG")
        .output()
        .expect("ccbridge runs")
}

// No database: runs on neither backend.
#[test]
fn check_config_accepts_the_example_config() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml");

    let output = ccbridge(&["check-config", "--config", example]);

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("configuration is valid"));
}

// No database: runs on neither backend.
#[test]
fn check_config_names_the_bad_key_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[server]\nlisten = \"0.0.0.0:8080\"\npublic_ur1 = \"https://x.example\"\n",
    )
    .unwrap();

    let output = ccbridge(&["check-config", "--config", path.to_str().unwrap()]);

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("public_ur1"), "{stderr}");
}

// No database: runs on neither backend.
#[test]
fn check_config_never_prints_secrets() {
    let output = Command::new(env!("CARGO_BIN_EXE_ccbridge"))
        .arg("check-config")
        .env_remove("CCBRIDGE_CONFIG")
        .env(
            "CCBRIDGE__CONSTANT_CONTACT__CLIENT_SECRET",
            "hunter2-very-secret",
        )
        .current_dir(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();

    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("hunter2-very-secret"));
    assert!(stdout.contains("client_secret = \"(set)\""), "{stdout}");
}

// No database: runs on neither backend.
#[test]
fn check_config_never_prints_the_smtp_password() {
    let output = Command::new(env!("CARGO_BIN_EXE_ccbridge"))
        .arg("check-config")
        .env_remove("CCBRIDGE_CONFIG")
        .env("CCBRIDGE__SMTP__HOST", "mail.example.org")
        .env("CCBRIDGE__SMTP__FROM", "ccbridge@example.org")
        .env("CCBRIDGE__SMTP__USERNAME", "ccbridge")
        .env("CCBRIDGE__SMTP__PASSWORD", "smtp-hunter2-zq6")
        .env("CCBRIDGE__SMTP__SECURITY", "none")
        .current_dir(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();

    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stdout.contains("smtp-hunter2-zq6") && !stderr.contains("smtp-hunter2-zq6"));
    assert!(stdout.contains("password = \"(set)\""), "{stdout}");
    // In clear text to a host elsewhere: a warning.
    assert!(stderr.contains("smtp.security = \"none\""), "{stderr}");
}

// No database: runs on neither backend.
#[test]
fn hash_password_prints_an_argon2id_hash_of_stdin() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ccbridge"))
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse battery\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();

    assert!(output.status.success());
    let hash = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let phc = SecretString::from(hash);
    assert!(ccbridge::password::verify("correct horse battery", &phc));
    assert!(!ccbridge::password::verify("correct horse battery\n", &phc));
}

backends!(migrate_creates_the_database: sqlite, postgres);
async fn migrate_creates_the_database(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new.db");
    let url = crate::helpers::database_url(backend, &db).await;

    let output = Command::new(env!("CARGO_BIN_EXE_ccbridge"))
        .arg("migrate")
        .env_remove("CCBRIDGE_CONFIG")
        .env("CCBRIDGE__DATABASE__URL", &url)
        .current_dir(dir.path())
        .output()
        .unwrap();

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let pool = crate::helpers::raw_pool(backend, &db).await;
    let (versions,): (i64,) = sqlx::query_as("select count(*) from _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(versions, 14, "every migration applied");
    pool.close().await;
}

backends!(healthcheck_exits_0_for_a_live_server_and_1_otherwise: sqlite, postgres);
async fn healthcheck_exits_0_for_a_live_server_and_1_otherwise(backend: Backend) {
    let app = spawn_app(backend).await;
    let live = format!("http://{}/healthz", app.addr);

    let ok = tokio::task::spawn_blocking(move || ccbridge(&["healthcheck", "--url", &live]))
        .await
        .unwrap();
    assert!(ok.status.success());
    let down = tokio::task::spawn_blocking(|| {
        ccbridge(&["healthcheck", "--url", "http://127.0.0.1:9/healthz"])
    })
    .await
    .unwrap();
    assert_eq!(down.status.code(), Some(1));
    app.stop().await;
}

backends!(retry_requeues_dead_signups_only_when_asked: sqlite, postgres);
async fn retry_requeues_dead_signups_only_when_asked(backend: Backend) {
    let app = spawn_app(backend).await;
    for email in ["a@example.com", "b@example.com"] {
        let response = app
            .post_json("newsletter", &serde_json::json!({ "email": email }))
            .await;
        assert_eq!(response.status(), 202);
    }
    let (dir, db_path) = app.stop().await;
    let pool = crate::helpers::raw_pool(backend, &db_path).await;
    sqlx::query("update signups set state = 'dead', last_error = 'upstream 400'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let config = dir.path().join("retry.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{}\"\n",
            crate::helpers::database_url(backend, &db_path).await
        ),
    )
    .unwrap();
    let run = |args: &'static [&'static str]| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            let mut all = args.to_vec();
            let path = config.to_str().unwrap().to_owned();
            all.extend(["--config", &path]);
            ccbridge(&all)
        })
    };

    let failed_only = run(&["retry"]).await.unwrap();
    assert!(String::from_utf8_lossy(&failed_only.stdout).contains("0 signup(s) requeued"));
    let with_dead = run(&["retry", "--dead"]).await.unwrap();
    assert!(with_dead.status.success());
    assert!(String::from_utf8_lossy(&with_dead.stdout).contains("2 signup(s) requeued"));

    let store = ccbridge::store::Store::connect(&ccbridge::config::DatabaseConfig {
        url: crate::helpers::database_url(backend, &db_path)
            .await
            .parse()
            .unwrap(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(store.queue_counts().await.unwrap().pending, 2);
    store.close().await;
}

backends!(lists_json_and_the_exit_codes_tell_a_script_what_happened: sqlite, postgres);
async fn lists_json_and_the_exit_codes_tell_a_script_what_happened(backend: Backend) {
    let sandbox = crate::helpers::fast_sandbox().await;
    let app = crate::helpers::AppOptions::against(backend, &sandbox, "")
        .spawn()
        .await;
    let config = app.dir.path().join("cli.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{}\"\n[constant_contact]\n{}[logging]\nlevel = \"error\"\n",
            app.db_url,
            ccbridge::config::ConstantContactConfig::sandbox_toml(&sandbox),
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        all.extend(["--config".to_owned(), config.to_str().unwrap().to_owned()]);
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = all.iter().map(String::as_str).collect();
            ccbridge(&args)
        })
    };

    let not_connected = run(&["lists", "--json"]).await.unwrap();
    assert_eq!(not_connected.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&not_connected.stderr).contains("/connect"));
    app.connect_ok().await;
    let listed = run(&["lists", "--json"]).await.unwrap();
    assert_eq!(
        listed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let lists: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let names: Vec<&str> = lists
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["General Interest", "Events", "Product News"]);
    assert!(lists[0]["list_id"].is_string());
    let status = run(&["status", "--json"]).await.unwrap();
    assert_eq!(status.status.code(), Some(0));
    let unknown = uuid::Uuid::now_v7().to_string();
    let retry = run(&["retry", "--id", &unknown, "--json"]).await.unwrap();
    assert_eq!(retry.status.code(), Some(3));
    let answer: serde_json::Value = serde_json::from_slice(&retry.stdout).unwrap();
    assert_eq!(answer, serde_json::json!({ "requeued": 0 }));
    app.stop().await;
}
