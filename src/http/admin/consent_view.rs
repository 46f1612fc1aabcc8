//! The overview's lines about consent: confirmation mails and the mirror of unsubscribed addresses.

use ccbridge_layout::{Markup, html};
use chrono::{DateTime, Utc};

use super::views::time;
use crate::status::Status;

/// Confirmation mails (when any were queued) and the unsubscribed list, below the queue.
pub(super) fn overview(status: &Status, now: DateTime<Utc>) -> Markup {
    html! {
        @if let Some(m) = status.mail.filter(|m| m.queued + m.sent + m.dead > 0) {
            p #mails {
                "Confirmation mails: " (m.queued) " queued"
                @if m.failed > 0 {
                    " " span.warn { "(" (m.failed) " failing: the mail server did not take them; retried)" }
                }
                ", " (m.sent) " sent"
                @if m.dead > 0 {
                    ", " span.bad { (m.dead) " given up" }
                }
                "."
            }
        }
        @if let Some(u) = &status.unsubscribes {
            p #unsubscribes {
                "Unsubscribed addresses (never re-subscribed without their confirmation): "
                (u.addresses) ", "
                @match u.last_sync_at {
                    Some(at) => { "synced " (time(at, now)) }
                    None => "not synced yet",
                }
                "."
                @if let Some(why) = &u.waiting {
                    " " span.warn { "Single opt-in signups wait: " (why) "." }
                }
            }
        }
    }
}
