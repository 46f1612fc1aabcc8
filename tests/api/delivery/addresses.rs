//! What the intake accepts, Constant Contact (the sandbox) takes: no accepted signup dies upstream
//! for its address.

use std::time::Duration;

use serde_json::json;

use super::{FAST, wait_delivered};
use crate::database::Backend;
use crate::helpers::{AppOptions, error_code, fast_sandbox};

backends!(addresses_at_the_edge_of_the_intake_rules_are_delivered: sqlite, postgres);
async fn addresses_at_the_edge_of_the_intake_rules_are_delivered(backend: Backend) {
    let sandbox = fast_sandbox().await;
    let app = AppOptions::against(backend, &sandbox, FAST).spawn().await;
    app.connect_ok().await;

    let accepted = [
        "a@b.co",
        "x@1.io",
        "o'neil+tag@sub-domain.example.museum",
        "!#$%&'*+/=?^_`{|}~-@ex.org",
        "d@b.c2",
    ];
    for email in accepted {
        let response = app
            .post_json("newsletter", &json!({ "email": email }))
            .await;
        assert_eq!(response.status(), 202, "{email}");
    }
    for email in ["a@b.c", "a@b.12"] {
        let response = app
            .post_json("newsletter", &json!({ "email": email }))
            .await;
        assert_eq!(error_code(response).await.1, "invalid_email", "{email}");
    }
    wait_delivered(&app, accepted.len() as u64, Duration::from_secs(20)).await;
    let counts = app.store.queue_counts().await.unwrap();
    assert_eq!(counts.dead, 0);
    app.stop().await;
}
