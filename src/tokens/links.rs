//! Connect links: a single-use, expiring URL an admin sends to the Constant Contact account
//! owner, who can then connect without the ccbridge admin password. The secret part of the URL
//! is random and stored only as its hash; the link is consumed when a connection through it
//! completes (by the callback or the device poller), not when its page is opened.

use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;
use uuid::Uuid;

use crate::password::{random_token, token_hash};
use crate::store::{ConnectLink, Store, StoreError};

/// How long a link lives unless told otherwise.
pub const DEFAULT_LINK_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// The longest a link may live: a forgotten link should not stay a way in.
pub const MAX_LINK_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// A new link and the URL to send (the only place the secret appears).
#[derive(Debug)]
pub struct NewLink {
    pub link: ConnectLink,
    pub url: Url,
}

/// Create a link valid for `lifetime` (at most 30 days), made by `created_by` (`console`/`cli`).
pub async fn create_link(
    store: &Store,
    public_url: &Url,
    now: DateTime<Utc>,
    lifetime: Duration,
    created_by: &str,
    note: Option<String>,
) -> Result<NewLink, StoreError> {
    let lifetime = lifetime.min(MAX_LINK_LIFETIME);
    let secret = random_token(32);
    let link = ConnectLink {
        id: Uuid::now_v7().to_string(),
        created_at: now,
        expires_at: now + chrono::Duration::from_std(lifetime).unwrap_or_default(),
        created_by: created_by.to_owned(),
        note: note.filter(|n| !n.trim().is_empty()),
        used_at: None,
        revoked_at: None,
    };
    store
        .insert_connect_link(&link, &token_hash(&secret))
        .await?;
    Ok(NewLink {
        url: link_url(public_url, &secret),
        link,
    })
}

/// `public_url + /connect/link/{secret}` (a path prefix of `public_url` is kept).
pub fn link_url(public_url: &Url, secret: &str) -> Url {
    let base = public_url.as_str().trim_end_matches('/');
    Url::parse(&format!("{base}/connect/link/{secret}"))
        .expect("a public URL plus a base64url token is a URL")
}

/// The link a URL's secret names, if any.
pub async fn find_link(store: &Store, secret: &str) -> Result<Option<ConnectLink>, StoreError> {
    store.connect_link_by_hash(&token_hash(secret)).await
}
