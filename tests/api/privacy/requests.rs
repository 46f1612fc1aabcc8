//! Privacy requests: an address's data exported and erased, by the command line (the real
//! binary) and the console, exactly that address's and nothing else, each with an audit line
//! holding a keyed hash of the address, never the address.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};

use ccbridge::config::Keep;
use ccbridge::domain::EmailAddress;
use serde_json::{Value, json};
use sqlx::AnyPool;

use super::{app_keeping, delivered, sign_up};
use crate::database::Backend;
use crate::helpers::{TestApp, fast_sandbox, raw_pool};
use crate::http::admin::login;

const ADA: &str = "ada@example.com";
const BOB: &str = "bob@example.com";
/// Every table a privacy request reads or writes.
const TABLES: [&str; 8] = [
    "signups",
    "consent_records",
    "consent_texts",
    "confirm_tokens",
    "mail_outbox",
    "resubscribe_requests",
    "unsubscribed",
    "privacy_audit",
];

/// Two people with data of every kind. Ada: delivered twice (once typed in another case),
/// waiting for a confirmation on the double opt-in form (a queued mail, a link), in the
/// unsubscribed mirror, with a resubscribe request. Bob: delivered, waiting likewise, a link.
async fn two_people(app: &TestApp) -> AnyPool {
    sign_up(app, ADA, "203.0.113.7").await;
    sign_up(app, BOB, "198.51.100.9").await;
    delivered(app, 2).await;
    sign_up(app, "Ada@Example.com", "203.0.113.7").await;
    delivered(app, 3).await;
    for email in [ADA, BOB] {
        let response = app.post_json("site", &json!({ "email": email })).await;
        assert_eq!(response.status(), 202);
    }
    let pool = raw_pool(app.backend, &app.db_path).await;
    // What the mail worker and the mirror would have written.
    let waiting: Vec<(String, String)> = sqlx::query_as(
        "select id, email from signups where state = 'awaiting_confirmation' order by id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(waiting.len(), 2, "one waiting signup each");
    for (n, (id, _)) in waiting.iter().enumerate() {
        sqlx::query(
            "insert into confirm_tokens (token_hash, signup_id, created_at, expires_at)
             values ($1, $2, 1, 2)",
        )
        .bind(format!("hash-{n}"))
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    }
    let ada_waiting = &waiting.iter().find(|(_, e)| e == ADA).unwrap().0;
    sqlx::query(
        "insert into unsubscribed (email, contact_id, opted_out_at, deleted, synced_at)
         values ($1, 'c-ada', 1000, 0, 2000)",
    )
    .bind(ADA)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into resubscribe_requests (contact_id, email, signup_id, requested_at)
         values ('c-ada', $1, $2, 3000)",
    )
    .bind(ADA)
    .bind(ada_waiting)
    .execute(&pool)
    .await
    .unwrap();
    pool
}

async fn row_counts(pool: &AnyPool) -> BTreeMap<&'static str, i64> {
    let mut counts = BTreeMap::new();
    for table in TABLES {
        let (n,): (i64,) = sqlx::query_as(&format!("select count(*) from {table}"))
            .fetch_one(pool)
            .await
            .unwrap();
        counts.insert(table, n);
    }
    counts
}

/// The real binary on the app's database.
fn cli(app_db_url: &str, dir: &std::path::Path, args: &[&str]) -> Output {
    let config: PathBuf = dir.join("privacy.toml");
    std::fs::write(
        &config,
        format!("[database]\nurl = \"{app_db_url}\"\n[logging]\nlevel = \"error\"\n"),
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_ccbridge"))
        .args(args)
        .arg("--config")
        .arg(&config)
        .env_remove("CCBRIDGE_CONFIG")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("ccbridge runs")
}

async fn cli_async(app: &TestApp, args: &[&str]) -> Output {
    let url = app.db_url.clone();
    let dir = app.dir.path().to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&url, &dir, &args)
    })
    .await
    .unwrap()
}

async fn cli_export(app: &TestApp, email: &str) -> Value {
    let output = cli_async(app, &["privacy", "export", email, "--json"]).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON document")
}

/// Every address string anywhere in `export`, lower-cased.
fn addresses_in(export: &Value) -> Vec<String> {
    let text = export.to_string().to_lowercase();
    ["ada@example.com", "bob@example.com"]
        .into_iter()
        .filter(|a| text.contains(a))
        .map(str::to_owned)
        .collect()
}

backends!(export_returns_exactly_that_addresss_data: sqlite, postgres);
async fn export_returns_exactly_that_addresss_data(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let app = app_keeping(backend, &sandbox, Keep::Full, Keep::Full).await;
    let pool = two_people(&app).await;

    let from_cli = cli_export(&app, "ADA@example.COM").await;

    assert_eq!(from_cli["email"], ADA);
    assert_eq!(addresses_in(&from_cli), [ADA], "nothing of Bob's");
    let signups = from_cli["signups"].as_array().unwrap();
    assert_eq!(
        signups.len(),
        3,
        "both cases of the address, and the waiting one"
    );
    let states: Vec<&str> = signups
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["delivered", "delivered", "awaiting_confirmation"]);
    assert_eq!(signups[0]["first_name"], "Ada");
    assert_eq!(signups[2]["hold_reason"], "double_opt_in");
    let records = from_cli["consent_records"].as_array().unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0]["consent_text"], super::CONSENT_TEXT);
    assert_eq!(records[0]["outcome"], "created");
    assert_eq!(records[1]["outcome"], "updated");
    let mails = from_cli["mails"].as_array().unwrap();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["kind"], "confirmation");
    assert!(
        mails[0].get("body").is_none(),
        "a mail's body is never kept"
    );
    assert_eq!(from_cli["resubscribe_requests"][0]["contact_id"], "c-ada");
    assert_eq!(from_cli["unsubscribed"]["contact_id"], "c-ada");
    assert!(
        from_cli["note"]
            .as_str()
            .unwrap()
            .contains("Erasure keeps it")
    );

    let readable = cli_async(&app, &["privacy", "export", ADA]).await;
    let text = String::from_utf8_lossy(&readable.stdout);
    assert_eq!(readable.status.code(), Some(0));
    for part in [
        "## Signups (3)",
        "## Consent records (3)",
        super::CONSENT_TEXT,
        "c-ada",
    ] {
        assert!(text.contains(part), "{part} in {text}");
    }
    assert!(!text.contains(BOB), "{text}");

    let session = login(&app).await;
    let response = app
        .client
        .get(app.url("/admin/privacy/export?email=ada%40example.com"))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let from_console: Value = response.json().await.unwrap();
    assert_eq!(from_console, from_cli, "the console and the command agree");
    let bob = cli_export(&app, BOB).await;
    assert_eq!(addresses_in(&bob), [BOB]);
    assert_eq!(bob["signups"].as_array().unwrap().len(), 2);
    assert_eq!(bob["unsubscribed"], Value::Null);

    let page = crate::http::admin::get_page(
        &app,
        "/admin/privacy?email=ada%40example.com",
        &session.cookie,
    )
    .await;
    assert!(page.contains("Download JSON"), "{page}");
    assert!(page.contains("203.0.113.7"), "the page shows the data");

    let audit: Vec<(String, String, String)> =
        sqlx::query_as("select action, actor, email_hmac from privacy_audit order by id")
            .fetch_all(&pool)
            .await
            .unwrap();
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|(action, actor, _)| (action.as_str(), actor.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("export", "cli"),
            ("export", "cli"),
            ("export", "console:admin"),
            ("export", "cli"),
            ("export", "console:admin")
        ]
    );
    let ada_hash = app
        .store
        .privacy_hash(&EmailAddress::parse(ADA).unwrap())
        .await
        .unwrap();
    assert_eq!(audit[0].2, ada_hash);
    assert_eq!(audit[2].2, ada_hash);
    assert_ne!(audit[3].2, ada_hash, "Bob's hash differs");
    pool.close().await;
    app.stop().await;
}

backends!(erase_removes_exactly_that_addresss_rows_and_leaves_an_audit_hash: sqlite, postgres);
async fn erase_removes_exactly_that_addresss_rows_and_leaves_an_audit_hash(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let app = app_keeping(backend, &sandbox, Keep::Full, Keep::Full).await;
    let pool = two_people(&app).await;
    let before = row_counts(&pool).await;
    let bob_before = cli_export(&app, BOB).await;
    let audit_before = before["privacy_audit"];

    let refused = cli_async(&app, &["privacy", "erase", ADA]).await;
    assert_eq!(refused.status.code(), Some(1), "no terminal and no --yes");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));
    let invalid = cli_async(&app, &["privacy", "erase", "not-an-address", "--yes"]).await;
    assert_eq!(invalid.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("email"));
    assert_eq!(row_counts(&pool).await["signups"], before["signups"]);

    let erased = cli_async(&app, &["privacy", "erase", "Ada@Example.com", "--yes"]).await;
    let stdout = String::from_utf8_lossy(&erased.stdout).into_owned();
    assert_eq!(
        erased.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&erased.stderr)
    );
    for line in [
        "signups: 3",
        "consent records: 3",
        "confirmation links: 1",
        "mails: 1",
        "resubscribe requests: 1",
        "NOT touched",
    ] {
        assert!(stdout.contains(line), "{line} in {stdout}");
    }

    let after = row_counts(&pool).await;
    let expected: BTreeMap<&str, i64> = before
        .iter()
        .map(|(table, n)| {
            let gone = match *table {
                "signups" | "consent_records" => 3,
                "confirm_tokens" | "mail_outbox" | "resubscribe_requests" => 1,
                // Two audit lines: the export of Bob above, and the erasure.
                "privacy_audit" => -2,
                _ => 0,
            };
            (*table, n - gone)
        })
        .collect();
    assert_eq!(
        after, expected,
        "exactly Ada's rows; texts and the mirror stay"
    );
    let audit: Vec<(String, String, String)> =
        sqlx::query_as("select action, actor, email_hmac from privacy_audit order by id")
            .fetch_all(&pool)
            .await
            .unwrap();
    let last = audit.last().unwrap();
    assert_eq!((last.0.as_str(), last.1.as_str()), ("erase", "cli"));
    let ada_hash = app
        .store
        .privacy_hash(&EmailAddress::parse(ADA).unwrap())
        .await
        .unwrap();
    assert_eq!(last.2, ada_hash);
    assert_eq!(last.2.len(), 64, "HMAC-SHA256, hex");
    let audit_text = format!("{audit:?}").to_lowercase();
    assert!(
        !audit_text.contains("ada@"),
        "the audit never holds the address"
    );
    assert_eq!(audit.len() as i64, audit_before + 2);

    let again = cli_export(&app, ADA).await;
    for kind in [
        "signups",
        "consent_records",
        "mails",
        "resubscribe_requests",
    ] {
        assert_eq!(again[kind], json!([]), "{kind} after erasure");
    }
    assert_eq!(
        again["unsubscribed"]["contact_id"], "c-ada",
        "the mirror entry stays"
    );
    assert_eq!(cli_export(&app, BOB).await, bob_before, "Bob untouched");
    pool.close().await;
    app.stop().await;
}

backends!(console_erase_needs_the_tick_and_the_csrf_token: sqlite, postgres);
async fn console_erase_needs_the_tick_and_the_csrf_token(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let app = app_keeping(backend, &sandbox, Keep::Full, Keep::Full).await;
    let pool = two_people(&app).await;
    let session = login(&app).await;
    let before = row_counts(&pool).await;
    let post = |fields: Vec<(&'static str, String)>| {
        app.client
            .post(app.url("/admin/privacy/erase"))
            .header("cookie", &session.cookie)
            .form(&fields)
            .send()
    };

    let unticked = post(vec![("csrf", session.csrf.clone()), ("email", ADA.into())])
        .await
        .unwrap();
    assert_eq!(unticked.status(), 400);
    assert!(
        unticked
            .text()
            .await
            .unwrap()
            .contains("Nothing was erased")
    );
    let no_csrf = post(vec![("email", ADA.into()), ("confirm", "yes".into())])
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), 403);
    let wrong_csrf = post(vec![
        ("csrf", "forged".into()),
        ("email", ADA.into()),
        ("confirm", "yes".into()),
    ])
    .await
    .unwrap();
    assert_eq!(wrong_csrf.status(), 403);
    let not_an_address = post(vec![
        ("csrf", session.csrf.clone()),
        ("email", "nobody".into()),
        ("confirm", "yes".into()),
    ])
    .await
    .unwrap();
    assert_eq!(not_an_address.status(), 400);
    assert_eq!(
        row_counts(&pool).await,
        before,
        "nothing changed, not even the audit"
    );

    let page = crate::http::admin::get_page(
        &app,
        "/admin/privacy?email=ada%40example.com",
        &session.cookie,
    )
    .await;
    assert!(
        page.contains(r#"name="confirm" value="yes""#),
        "the erase form has its tick box"
    );
    let ticked = post(vec![
        ("csrf", session.csrf.clone()),
        ("email", ADA.into()),
        ("confirm", "yes".into()),
    ])
    .await
    .unwrap();
    assert_eq!(ticked.status(), 200);
    let result = ticked.text().await.unwrap();
    assert!(result.contains("Erased"), "{result}");
    assert!(
        result.contains("Constant Contact"),
        "says what is not touched"
    );
    let after = row_counts(&pool).await;
    assert_eq!(after["signups"], before["signups"] - 3);
    let (actor,): (String,) =
        sqlx::query_as("select actor from privacy_audit where action = 'erase'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(actor, "console:admin");
    pool.close().await;
    app.stop().await;
}
