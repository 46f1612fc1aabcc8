//! One sync step: decide full, incremental or nothing; walk the pages of `GET /contacts` within
//! the sync's share of the budget; store the result (or the failure).

use chrono::{DateTime, Utc};

use super::{SYNC_SHARE_PERCENT, UnsubscribeMirror};
use crate::constant_contact::limits::next_utc_midnight;
use crate::constant_contact::{ContactStatus, ContactsPage, ContactsRequest, ListedContact};
use crate::store::{StoreError, SyncState, UnsubscribedEntry};
use crate::tokens::{CallError, TokenError};

/// An incremental sync asks for opt-outs from this long before the newest one seen: an opt-out
/// recorded upstream a little out of order is still caught (the upsert makes the repeat harmless).
const OVERLAP: chrono::Duration = chrono::Duration::minutes(10);
/// Never walk more pages than this in one query (a paging loop upstream must end).
const MAX_PAGES: usize = 2_000;

/// What a step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// The whole list replaced the mirror.
    Full { entries: usize, calls: u64 },
    /// Opt-outs since the last one seen were added.
    Incremental { entries: usize, calls: u64 },
    /// Nothing due yet.
    NotDue,
    /// Respecting unsubscribes is off, or there is no usable connection.
    Skipped(&'static str),
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    Call(#[from] CallError),
    #[error(
        "the unsubscribe sync used its share ({SYNC_SHARE_PERCENT}%) of today's API budget; it resumes at {resets_at}"
    )]
    BudgetShare { resets_at: DateTime<Utc> },
    #[error("{0}")]
    Paging(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether a full sync completed under the authorization made at `authorized_at`.
pub(super) fn full_sync_done_under(
    state: &SyncState,
    authorized_at: Option<DateTime<Utc>>,
) -> bool {
    state.last_full_sync_at.is_some() && state.full_sync_authorized_at == authorized_at
}

enum Kind {
    Full,
    Incremental { optout_after: Option<DateTime<Utc>> },
}

impl UnsubscribeMirror {
    /// Sync if one is due at `now`: full, incremental, or nothing. A failure is recorded in the
    /// sync state (the gate reads it) and returned.
    pub async fn sync_step(&self, now: DateTime<Utc>) -> Result<SyncOutcome, SyncError> {
        if !self.respects() {
            return Ok(SyncOutcome::Skipped("delivery.respect_unsubscribes is off"));
        }
        let _one_at_a_time = self.0.step.lock().await;
        let store = &self.0.store;
        let Some(set) = store.token_set().await? else {
            return Ok(SyncOutcome::Skipped("not connected"));
        };
        if set.state != "connected" || set.switch_unconfirmed {
            return Ok(SyncOutcome::Skipped("no usable connection"));
        }
        let state = store.sync_state().await?;
        let Some(kind) = self.due(&state, set.authorized_at, now) else {
            return Ok(SyncOutcome::NotDue);
        };
        let result = self.fetch_and_store(kind, set.authorized_at, now).await;
        match &result {
            Ok(SyncOutcome::Full { .. }) => crate::metrics::unsubscribe_sync("full"),
            Ok(SyncOutcome::Incremental { .. }) => crate::metrics::unsubscribe_sync("incremental"),
            // A connection lost meanwhile is delivery's and the keeper's business, not a failing sync.
            Err(SyncError::Call(CallError::Token(
                TokenError::NotConnected
                | TokenError::NeedsReconnect(_)
                | TokenError::SwitchUnconfirmed(_),
            ))) => return Ok(SyncOutcome::Skipped("no usable connection")),
            Err(error) => {
                crate::metrics::unsubscribe_sync("failed");
                let text = crate::domain::email::redact_emails_in(&error.to_string());
                store.sync_failed(&text, self.0.clock.now()).await?;
            }
            Ok(_) => {}
        }
        result
    }

    fn due(
        &self,
        state: &SyncState,
        authorized_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<Kind> {
        let settings = &self.0.settings;
        let passed = |since: Option<DateTime<Utc>>, interval: std::time::Duration| {
            since.is_none_or(|since| {
                now - since >= chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX)
            })
        };
        if !full_sync_done_under(state, authorized_at)
            || passed(state.last_full_sync_at, settings.full_sync_interval)
        {
            return Some(Kind::Full);
        }
        // A failing run retries at the loop's pace, not after another interval.
        if state.failing_since.is_some() || passed(state.last_sync_at, settings.sync_interval) {
            // No opt-out with a date seen yet: the list was (nearly) empty, so asking for all of
            // it again costs as little and needs no clock agreement with Constant Contact.
            return Some(Kind::Incremental {
                optout_after: state.high_water.map(|h| h - OVERLAP),
            });
        }
        None
    }

    async fn fetch_and_store(
        &self,
        kind: Kind,
        authorized_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<SyncOutcome, SyncError> {
        let optout_after = match kind {
            Kind::Full => None,
            Kind::Incremental { optout_after } => optout_after,
        };
        let mut calls = 0;
        let mut entries = Vec::new();
        for status in [ContactStatus::Unsubscribed, ContactStatus::Deleted] {
            let found = self.walk(status, optout_after, &mut calls).await?;
            entries.extend(
                found
                    .into_iter()
                    .filter(|c| status == ContactStatus::Unsubscribed || c.is_unsubscribed())
                    .map(entry),
            );
        }
        let store = &self.0.store;
        let count = entries.len();
        let done = self.0.clock.now().max(now);
        match kind {
            Kind::Full => {
                store.replace_all(&entries, authorized_at, done).await?;
                tracing::info!(
                    unsubscribed = count,
                    calls,
                    "full sync of unsubscribed addresses done"
                );
                Ok(SyncOutcome::Full {
                    entries: count,
                    calls,
                })
            }
            Kind::Incremental { .. } => {
                let high_water = entries.iter().filter_map(|e| e.opted_out_at).max();
                store.apply_incremental(&entries, high_water, done).await?;
                Ok(SyncOutcome::Incremental {
                    entries: count,
                    calls,
                })
            }
        }
    }

    /// Every contact of one query, following `_links.next.href` until it is absent.
    async fn walk(
        &self,
        status: ContactStatus,
        optout_after: Option<DateTime<Utc>>,
        calls: &mut u64,
    ) -> Result<Vec<ListedContact>, SyncError> {
        let mut request = ContactsRequest::First {
            status,
            optout_after,
        };
        let mut found = Vec::new();
        for _ in 0..MAX_PAGES {
            self.spend_share()?;
            *calls += 1;
            let page: ContactsPage = self
                .0
                .keeper
                .call(|token| {
                    let api = self.0.api.clone();
                    let request = request.clone();
                    async move { api.contacts_page(&token, &request).await }
                })
                .await?;
            found.extend(page.contacts);
            match page.next {
                Some(href) => request = ContactsRequest::Next(href),
                None => return Ok(found),
            }
        }
        Err(SyncError::Paging(format!(
            "GET /contacts?status={} has more than {MAX_PAGES} pages",
            status.as_str()
        )))
    }

    /// Count one call against the syncs' share of today's budget; refuse past it.
    fn spend_share(&self) -> Result<(), SyncError> {
        let now = self.0.clock.now();
        let today = now.date_naive();
        let share = (self.0.api.limiter().per_day() * SYNC_SHARE_PERCENT / 100).max(2);
        let mut spent = self.0.spent.lock().expect("spent lock");
        if spent.0 != today {
            *spent = (today, 0);
        }
        if spent.1 >= share {
            return Err(SyncError::BudgetShare {
                resets_at: next_utc_midnight(now),
            });
        }
        spent.1 += 1;
        Ok(())
    }
}

fn entry(contact: ListedContact) -> UnsubscribedEntry {
    UnsubscribedEntry {
        deleted: contact.deleted_at.is_some(),
        email: contact.email.to_lowercase(),
        contact_id: contact.contact_id,
        opted_out_at: contact.opt_out_date,
    }
}
