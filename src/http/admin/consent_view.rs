//! The overview's lines about consent: confirmation mails and the mirror of unsubscribed addresses.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::views::when;
use crate::domain::html::escape;
use crate::status::Status;

/// Confirmation mails (when any were queued) and the unsubscribed list, below the queue.
pub(super) fn overview(body: &mut String, status: &Status, now: DateTime<Utc>) {
    if let Some(m) = &status.mail
        && (m.queued + m.sent + m.dead) > 0
    {
        let failing = if m.failed > 0 {
            format!(
                r#" <span class="warn">({} failing: the mail server did not take them; retried)</span>"#,
                m.failed
            )
        } else {
            String::new()
        };
        let dead = if m.dead > 0 {
            format!(r#", <span class="bad">{} given up</span>"#, m.dead)
        } else {
            String::new()
        };
        let _ = writeln!(
            body,
            r#"<p id="mails">Confirmation mails: {} queued{failing}, {} sent{dead}.</p>"#,
            m.queued, m.sent
        );
    }
    if let Some(u) = &status.unsubscribes {
        let synced = u.last_sync_at.map_or("not synced yet".to_owned(), |at| {
            format!("synced {}", when(at, now))
        });
        let waiting = u.waiting.as_deref().map_or(String::new(), |why| {
            format!(
                r#" <span class="warn">Single opt-in signups wait: {}.</span>"#,
                escape(why)
            )
        });
        let _ = writeln!(
            body,
            r#"<p id="unsubscribes">Unsubscribed addresses (never re-subscribed without their confirmation): {}, {synced}.{waiting}</p>"#,
            u.addresses
        );
    }
}
