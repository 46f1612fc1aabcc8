//! Spam: release with the CLI and purge.

use ccbridge::domain::SignupState;
use chrono::Utc;
use serde_json::json;

use crate::database::Backend;
use crate::helpers::spawn_app;

backends!(an_admin_can_release_spam_with_the_cli_and_old_spam_is_purged: sqlite, postgres);
async fn an_admin_can_release_spam_with_the_cli_and_old_spam_is_purged(backend: Backend) {
    let app = spawn_app(backend).await;
    let spam = app
        .post_json(
            "newsletter",
            &json!({ "email": "maybe@example.com", "website": "http://x" }),
        )
        .await;
    assert_eq!(spam.status(), 202);
    let spam_id = app.signups().await[0].id;
    let (dir, db_path) = app.stop().await;
    let config = dir.path().join("release.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{}\"\n",
            crate::helpers::database_url(backend, &db_path).await
        ),
    )
    .unwrap();
    let release = |id: uuid::Uuid| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_ccbridge"))
                .args(["retry", "--spam", "--id", &id.to_string(), "--config"])
                .arg(&config)
                .env_remove("CCBRIDGE_CONFIG")
                .output()
                .unwrap()
        })
    };

    let released = release(spam_id).await.unwrap();
    let again = release(spam_id).await.unwrap();

    assert!(released.status.success(), "{released:?}");
    assert!(!again.status.success(), "only spam can be released");
    let app = crate::helpers::spawn_app_in(backend, dir, db_path, "").await;
    let record = app.store.signup(spam_id).await.unwrap().unwrap();
    assert_eq!(record.state, SignupState::Pending);
    assert_eq!(record.spam_reason, None);

    // Purging deletes only spam older than the cutoff.
    app.post_json(
        "newsletter",
        &json!({ "email": "bot@example.com", "website": "x" }),
    )
    .await;
    let bot = app
        .signups()
        .await
        .into_iter()
        .find(|s| s.state == SignupState::Spam);
    let bot = bot.expect("the bot's signup is spam").id;
    assert!(app.store.consent_record(bot).await.unwrap().is_some());
    let now = Utc::now();
    assert_eq!(
        app.store
            .purge_spam_before(now - chrono::Duration::days(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        app.store
            .purge_spam_before(now + chrono::Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
    let counts = app.store.queue_counts().await.unwrap();
    assert_eq!((counts.spam, counts.pending), (0, 1));
    // Its consent record went with it; the released signup's stays.
    assert_eq!(app.store.consent_record(bot).await.unwrap(), None);
    assert!(app.store.consent_record(spam_id).await.unwrap().is_some());
    app.stop().await;
}
