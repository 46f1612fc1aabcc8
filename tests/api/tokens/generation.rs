//! The token set's generation never repeats, not even across a Disconnect: a refresh still in
//! flight for a forgotten set must not match (and overwrite) the next connection.

use chrono::{Duration, Utc};

use ccbridge::store::{Authorization, NewTokenSet};
use secrecy::{ExposeSecret as _, SecretString};

use crate::database::Backend;
use crate::helpers::{TestApp, spawn_app};

const BY_BROWSER: Authorization = Authorization {
    via: "browser",
    hold_until_confirmed: false,
    previous_account_name: None,
};

/// A token set as the keeper would store it (sealed, so that the running app can read it).
fn new_set(app: &TestApp, name: &str) -> NewTokenSet {
    let now = Utc::now();
    let seal =
        |value: String, what: &str| app.keeper.cipher().seal(&SecretString::from(value), what);
    NewTokenSet {
        access_token: seal(format!("{name}-access"), "access_token"),
        refresh_token: seal(format!("{name}-refresh"), "refresh_token"),
        expires_at: now + Duration::hours(8),
        scopes: vec!["contact_data".into(), "offline_access".into()],
        obtained_at: now,
    }
}

backends!(a_refresh_in_flight_across_a_disconnect_cannot_overwrite_the_next_connection: sqlite, postgres);
async fn a_refresh_in_flight_across_a_disconnect_cannot_overwrite_the_next_connection(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let store = &app.store;
    let now = Utc::now();
    let first = store
        .save_authorized_token_set(&new_set(&app, "first"), &BY_BROWSER)
        .await
        .unwrap();
    // A refresh of the first connection goes out (another process, or this one)...
    let claimed = store
        .claim_refresh(first, "slow-refresher", now, now + Duration::seconds(30))
        .await
        .unwrap();
    assert!(claimed);
    // ...the admin disconnects and connects again before it answers...
    assert!(store.forget_token_set().await.unwrap());
    let second = store
        .save_authorized_token_set(&new_set(&app, "second"), &BY_BROWSER)
        .await
        .unwrap();

    // ...and then the old refresh commits what it got for the first connection.
    let overwritten = store
        .finish_refresh(first, &new_set(&app, "stale-refresh"))
        .await
        .unwrap();

    assert!(
        second > first,
        "generation {second} after a disconnect repeats {first}"
    );
    assert!(
        !overwritten,
        "the stale refresh was written over the new connection"
    );
    let stored = store.token_set().await.unwrap().unwrap();
    let access = app
        .keeper
        .cipher()
        .open(&stored.access_token, "access_token")
        .unwrap();
    assert_eq!(access.expose_secret(), "second-access");
    assert_eq!(stored.generation, second);
    app.stop().await;
}

backends!(generations_keep_counting_through_refreshes_disconnects_and_reconnects: sqlite, postgres);
async fn generations_keep_counting_through_refreshes_disconnects_and_reconnects(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = &app.store;
    let mut seen = vec![
        store
            .save_authorized_token_set(&new_set(&app, "a"), &BY_BROWSER)
            .await
            .unwrap(),
    ];
    assert!(
        store
            .finish_refresh(seen[0], &new_set(&app, "a-refreshed"))
            .await
            .unwrap()
    );
    seen.push(store.token_set().await.unwrap().unwrap().generation);
    store.forget_token_set().await.unwrap();
    // Disconnecting twice (nothing to forget the second time) keeps the count too.
    assert!(!store.forget_token_set().await.unwrap());
    seen.push(
        store
            .save_authorized_token_set(&new_set(&app, "b"), &BY_BROWSER)
            .await
            .unwrap(),
    );
    seen.push(
        store
            .save_authorized_token_set(&new_set(&app, "c"), &BY_BROWSER)
            .await
            .unwrap(),
    );

    assert_eq!(seen, vec![1, 2, 3, 4]);
    app.stop().await;
}
