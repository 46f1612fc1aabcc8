//! The consent record: every field of a signup made over real HTTP, Constant Contact's answer
//! after delivery, the `[privacy]` settings, and its own retention.

use std::sync::Arc;

use ccbridge::clock::ManualClock;
use ccbridge::config::Keep;
use chrono::Utc;

use super::{AGENT, CONSENT_TEXT, PAGE, app_keeping, delivered, sign_up};
use crate::database::Backend;
use crate::helpers::{AppOptions, fast_sandbox};

backends!(the_consent_record_holds_each_field_and_constant_contacts_answer: sqlite, postgres);
async fn the_consent_record_holds_each_field_and_constant_contacts_answer(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let app = app_keeping(backend, &sandbox, Keep::Full, Keep::Full).await;
    let before = Utc::now();

    sign_up(&app, "Ada.Lovelace@Example.com", "203.0.113.77").await;
    delivered(&app, 1).await;
    sign_up(&app, "ada.lovelace@example.com", "203.0.113.78").await;
    delivered(&app, 2).await;

    let signups = app.signups().await;
    let first = app
        .store
        .consent_record(signups[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.signup_id, signups[0].id.to_string());
    assert_eq!(first.form_id, "newsletter");
    assert_eq!(first.email, "Ada.Lovelace@example.com");
    assert_eq!(first.consent_mode, "single");
    assert_eq!(
        first.consent_text_hash.as_deref(),
        Some(ccbridge::store::consent_text_hash(CONSENT_TEXT).as_str())
    );
    assert_eq!(first.consent_text.as_deref(), Some(CONSENT_TEXT));
    assert_eq!(first.source_page.as_deref(), Some(PAGE));
    assert_eq!(first.language.as_deref(), Some("de-ch"));
    assert_eq!(first.client_ip.as_deref(), Some("203.0.113.77"));
    assert_eq!(first.user_agent.as_deref(), Some(AGENT));
    // Stored to the millisecond.
    let signed_up = first.signed_up_at.timestamp_millis();
    assert!(signed_up >= before.timestamp_millis() && signed_up <= Utc::now().timestamp_millis());
    assert_eq!(first.confirmed_at, None, "single opt-in: no confirmation");
    assert_eq!(first.outcome.as_deref(), Some("created"));
    assert_eq!(first.delivered_at, signups[0].delivered_at);
    let contact = signups[0].contact_id.clone().expect("a contact id");
    assert_eq!(first.contact_id.as_deref(), Some(contact.as_str()));
    let in_sandbox = sandbox.contacts();
    assert!(
        in_sandbox
            .iter()
            .any(|c| c.contact_id.to_string() == contact)
    );

    let second = app
        .store
        .consent_record(signups[1].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.outcome.as_deref(), Some("updated"));
    assert_eq!(second.contact_id.as_deref(), Some(contact.as_str()));
    assert_eq!(second.client_ip.as_deref(), Some("203.0.113.78"));
    let both = app
        .store
        .consent_records_for("ADA.LOVELACE@EXAMPLE.COM")
        .await
        .unwrap();
    assert_eq!(both, vec![first, second], "matched without regard to case");
    app.stop().await;
}

backends!(truncated_keeps_the_network_and_none_keeps_nothing: sqlite, postgres);
async fn truncated_keeps_the_network_and_none_keeps_nothing(backend: Backend) {
    let sandbox = fast_sandbox().await;
    for (keep, address, agent) in [
        (Keep::Truncated, Some("203.0.113.0"), Some("Mozilla/5.0")),
        (Keep::None, None, None),
    ] {
        let app = app_keeping(backend, &sandbox, keep, keep).await;
        sign_up(&app, "grace@example.com", "203.0.113.77").await;
        let signup = &app.signups().await[0];
        let record = app.store.consent_record(signup.id).await.unwrap().unwrap();
        assert_eq!(record.client_ip.as_deref(), address, "{keep:?}");
        assert_eq!(record.user_agent.as_deref(), agent, "{keep:?}");
        assert_eq!(
            signup.client_ip.as_deref(),
            address,
            "the signup keeps no more"
        );
        assert_eq!(
            signup.user_agent.as_deref(),
            agent,
            "the signup keeps no more"
        );
        assert_eq!(
            record.source_page.as_deref(),
            Some(PAGE),
            "the rest is kept"
        );
        app.stop().await;
    }
}

backends!(the_consent_record_outlives_the_signups_retention_then_goes: sqlite, postgres);
async fn the_consent_record_outlives_the_signups_retention_then_goes(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let clock = ManualClock::new(Utc::now());
    let app = AppOptions::against(backend, &sandbox, super::FAST)
        .clock(Arc::new(clock.clone()))
        .without_background_delivery()
        .configure(|config| {
            config.delivery.retention = std::time::Duration::from_secs(30 * 24 * 3600);
            config.privacy.consent_retention = std::time::Duration::from_secs(365 * 24 * 3600);
        })
        .spawn()
        .await;
    app.connect_ok().await;
    let response = app
        .post_json(
            "newsletter",
            &serde_json::json!({ "email": "kept@example.com" }),
        )
        .await;
    assert_eq!(response.status(), 202);
    let delivery = app.delivery.deliver_next().await.unwrap();
    assert!(
        matches!(
            delivery,
            Some(ccbridge::delivery::Delivery::Delivered { .. })
        ),
        "{delivery:?}"
    );
    let id = app.signups().await[0].id;

    clock.advance(chrono::Duration::days(31));
    app.delivery.purge_old().await.unwrap();
    let signup = app.store.signup(id).await.unwrap().unwrap();
    assert_eq!(
        signup.email, None,
        "the signup's personal data follow delivery.retention"
    );
    let record = app.store.consent_record(id).await.unwrap();
    assert_eq!(
        record.map(|r| r.email).as_deref(),
        Some("kept@example.com"),
        "the consent record stays"
    );

    clock.advance(chrono::Duration::days(334));
    app.delivery.purge_old().await.unwrap();
    assert!(
        app.store.consent_record(id).await.unwrap().is_some(),
        "a day short"
    );
    clock.advance(chrono::Duration::days(1));
    app.delivery.purge_old().await.unwrap();
    assert_eq!(app.store.consent_record(id).await.unwrap(), None);
    app.stop().await;
}
