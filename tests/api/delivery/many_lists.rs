//! Coalescing never loses a list: signups of one email through several forms can name more lists
//! together than one `sign_up_form` call takes (50); they go out in several calls, each within
//! the limit, and the contact joins every list (issue 17, finding 12: confirmed, the merged call
//! was refused and the signups went dead).

use std::collections::BTreeSet;
use std::sync::Arc;

use ccbridge::clock::SystemClock;
use ccbridge::delivery::Delivery;
use ccbridge_sandbox::{SandboxConfig, SandboxList};
use serde_json::json;
use uuid::Uuid;

use super::FAST;
use crate::database::Backend;
use crate::helpers::{AppOptions, start_sandbox};

/// Lists of the sandbox account in this test: 60, more than one call may name.
fn lists() -> Vec<Uuid> {
    (0..60u128)
        .map(|i| Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0000 + i))
        .collect()
}

fn form(id: &str, lists: &[Uuid]) -> String {
    let ids: Vec<String> = lists.iter().map(|l| format!("\"{l}\"")).collect();
    format!(
        "[[forms]]\nid = \"{id}\"\nlist_ids = [{}]\n",
        ids.join(", ")
    )
}

backends!(one_email_through_forms_naming_sixty_lists_joins_all_sixty: sqlite, postgres);
async fn one_email_through_forms_naming_sixty_lists_joins_all_sixty(backend: Backend) {
    let lists = lists();
    let sandbox = start_sandbox(
        SandboxConfig {
            requests_per_second: 1000,
            lists: lists
                .iter()
                .enumerate()
                .map(|(i, &list_id)| SandboxList {
                    list_id,
                    name: format!("List {i}"),
                })
                .collect(),
            ..SandboxConfig::default()
        },
        Arc::new(SystemClock),
    )
    .await;
    let extra = format!(
        "{FAST}\n{}{}",
        form("first", &lists[..30]),
        form("second", &lists[30..])
    );
    let app = AppOptions::against(backend, &sandbox, &extra)
        .without_background_delivery()
        .spawn()
        .await;
    for form in ["first", "second"] {
        let body = json!({ "email": "many@example.com", "first_name": form });
        assert_eq!(app.post_json(form, &body).await.status(), 202);
    }
    app.connect_ok().await;

    let mut outcomes = Vec::new();
    while let Some(outcome) = app.delivery.deliver_next().await.unwrap() {
        outcomes.push(outcome);
    }
    assert!(
        matches!(
            outcomes.as_slice(),
            [Delivery::Delivered { signups: 2, .. }]
        ),
        "{outcomes:?}"
    );
    let contacts = sandbox.contacts();
    assert_eq!(contacts.len(), 1);
    let joined: BTreeSet<Uuid> = contacts[0].list_memberships.iter().copied().collect();
    assert_eq!(
        joined,
        lists.iter().copied().collect(),
        "every list is joined"
    );
    assert_eq!(contacts[0].first_name.as_deref(), Some("second"));
    let counts = app.store.queue_counts().await.unwrap();
    assert_eq!((counts.delivered, counts.dead), (2, 0));
    app.stop().await;
}
