//! Tokens at rest: encrypted with a key, readable without one, and a changed key reported as
//! needing a reconnect.

use ccbridge::alerts::AlertKind;
use ccbridge::tokens::TokenError;

use crate::database::Backend;
use crate::helpers::{AppOptions, fast_sandbox, sandbox};

backends!(with_an_encryption_key_no_token_appears_in_the_database_files: sqlite, postgres);
async fn with_an_encryption_key_no_token_appears_in_the_database_files(backend: Backend) {
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    let sandbox = sandbox().await;
    let app = AppOptions::against(
        backend,
        &sandbox,
        &format!("[security]\ntoken_encryption_key = \"{key}\""),
    )
    .spawn()
    .await;
    app.connect_ok().await;

    let access = app.keeper.access_token().await.unwrap();
    let set = app.store.token_set().await.unwrap().unwrap();
    let refresh = app
        .keeper
        .cipher()
        .open(&set.refresh_token, "refresh_token")
        .unwrap();
    let (dir, db_path) = app.stop().await;

    let bytes = stored_bytes(backend, &db_path).await;
    use secrecy::ExposeSecret as _;
    for token in [access.secret.expose_secret(), refresh.expose_secret()] {
        assert!(token.len() > 20);
        assert!(
            !contains(&bytes, token.as_bytes()),
            "a token is readable in the database file"
        );
    }
    drop(dir);
}

/// What a copy of the database would show: on SQLite the file and its WAL byte for byte (free
/// pages included); on PostgreSQL every stored token column.
async fn stored_bytes(backend: Backend, db_path: &std::path::Path) -> Vec<u8> {
    if backend == Backend::Sqlite {
        let mut bytes = std::fs::read(db_path).unwrap();
        bytes.extend(std::fs::read(db_path.with_extension("db-wal")).unwrap_or_default());
        return bytes;
    }
    let pool = crate::helpers::raw_pool(backend, db_path).await;
    let rows: Vec<(String, String)> =
        sqlx::query_as("select access_token, refresh_token from token_set")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    rows.into_iter()
        .flat_map(|(access, refresh)| [access, refresh])
        .flat_map(String::into_bytes)
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

backends!(without_a_key_tokens_are_stored_readable_which_the_encryption_test_relies_on: sqlite, postgres);
async fn without_a_key_tokens_are_stored_readable_which_the_encryption_test_relies_on(
    backend: Backend,
) {
    let sandbox = sandbox().await;
    let app = AppOptions::against(backend, &sandbox, "").spawn().await;
    app.connect_ok().await;
    let access = app.keeper.access_token().await.unwrap();
    let (dir, db_path) = app.stop().await;

    let bytes = stored_bytes(backend, &db_path).await;
    use secrecy::ExposeSecret as _;
    assert!(contains(&bytes, access.secret.expose_secret().as_bytes()));
    drop(dir);
}

backends!(a_changed_encryption_key_is_reported_as_needing_a_reconnect_not_retried_forever: sqlite, postgres);
async fn a_changed_encryption_key_is_reported_as_needing_a_reconnect_not_retried_forever(
    backend: Backend,
) {
    use base64::Engine as _;
    let key = |byte: u8| base64::engine::general_purpose::STANDARD.encode([byte; 32]);
    let sandbox = fast_sandbox().await;
    let first = AppOptions::against(
        backend,
        &sandbox,
        &format!("[security]\ntoken_encryption_key = \"{}\"", key(1)),
    )
    .spawn()
    .await;
    first.connect_ok().await;
    let (dir, db_path) = first.stop().await;

    let mut options = AppOptions::new(
        backend,
        dir,
        db_path,
        &format!("[security]\ntoken_encryption_key = \"{}\"", key(2)),
    );
    options.sandbox = Some(&sandbox);
    let second = options.spawn().await;
    let result = second.keeper.access_token().await;

    assert!(
        matches!(result, Err(TokenError::NeedsReconnect(ref r)) if r == "token_undecryptable"),
        "{result:?}"
    );
    assert_eq!(
        second.readyz().await["connection"]["reason"],
        "token_undecryptable"
    );
    assert!(
        second
            .alerts
            .lock()
            .unwrap()
            .iter()
            .any(|a| a.kind == AlertKind::ConnectionNeedsReconnect)
    );
    second.stop().await;
}
