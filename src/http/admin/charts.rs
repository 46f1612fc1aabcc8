//! The overview's pictures, drawn on the server as inline SVG (no script, no external resource,
//! so the strict CSP stays): signups accepted, delivered and refused per hour over the last 7
//! days, today's API budget as a gauge, the token's timeline, and the age of the oldest signup
//! waiting for delivery.
//!
//! [`ChartsData::gather`] reads what they need (the hourly counts of `store::rollup`, the status,
//! the token set); everything else here is a pure function from those data to markup, unit-tested
//! below. Every chart is an `<svg role="img">` named by its `<title>` and described by its
//! `<desc>`, with the same numbers in a visually hidden table or list beside it, and every mark
//! carries its numbers as `data-` attributes (tests compare them with the database).

mod budget;
mod signups;
mod svg;
mod token;
mod waiting;

use std::time::Duration;

use ccbridge_layout::{Markup, html};
use chrono::{DateTime, NaiveDate, Utc};

use crate::status::{ApiUsage, Status};
use crate::store::{HourlySignups, Store, rollup_hour};
use crate::tokens::TokenKeeper;

/// How many hours the signups chart shows.
pub const HOURS: usize = 7 * 24;

/// What the charts show, read once per page.
#[derive(Debug, Clone)]
pub struct ChartsData {
    pub now: DateTime<Utc>,
    /// The last [`HOURS`] hours, oldest first, the current one last; `None` when the hourly
    /// counts could not be read.
    pub signups: Option<Vec<HourlySignups>>,
    pub budget: ApiBudget,
    pub token: TokenTimeline,
    pub waiting: Waiting,
}

/// Today's share of the daily API budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiBudget {
    /// The UTC day the count is for.
    pub day: NaiveDate,
    pub used: u64,
    pub limit: u32,
    /// When the count starts again (the next UTC midnight).
    pub resets_at: DateTime<Utc>,
}

/// The connection's token over time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenTimeline {
    /// The connection's state, as the status names it (`not_connected`, `connected`, …).
    pub state: &'static str,
    /// When the authorization behind the token set was made.
    pub connected_at: Option<DateTime<Utc>>,
    /// Refreshes committed per hour (hours without one left out), oldest first.
    pub refreshes: Vec<(DateTime<Utc>, u64)>,
    pub last_refresh_at: Option<DateTime<Utc>>,
    /// When the keeper plans the next refresh (none while a person must reconnect).
    pub next_refresh_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The oldest signup waiting for delivery, against the delivery's age limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// When its age clock started; `None` when no signup waits. Outer `None`: unreadable.
    pub oldest_since: Option<Option<DateTime<Utc>>>,
    /// `delivery.max_age`: a signup older than this is given up (dead).
    pub max_age: Duration,
}

impl ChartsData {
    /// Read what the charts show at `now`. A part that cannot be read is shown as unavailable;
    /// the rest of the overview still renders.
    pub async fn gather(
        store: &Store,
        keeper: &TokenKeeper,
        status: &Status,
        max_age: Duration,
        now: DateTime<Utc>,
    ) -> Self {
        let first_hour = first_hour(now);
        let signups = store
            .hourly_signups(first_hour)
            .await
            .inspect_err(|error| tracing::warn!(%error, "hourly signup counts unavailable"))
            .ok()
            .map(|counts| fill_hours(now, &counts));
        let set = store.token_set().await.ok().flatten();
        let connection = &status.connection;
        let token = TokenTimeline {
            state: connection.state,
            connected_at: set
                .as_ref()
                .map(|s| s.authorized_at.unwrap_or(s.obtained_at)),
            refreshes: store.token_refreshes(first_hour).await.unwrap_or_default(),
            last_refresh_at: connection.last_refresh_at,
            next_refresh_at: set
                .as_ref()
                .filter(|s| s.state == "connected")
                .map(|s| keeper.due_at(s)),
            expires_at: connection.access_token_expires_at,
        };
        let waiting = Waiting {
            oldest_since: store
                .oldest_waiting_since()
                .await
                .inspect_err(|error| tracing::warn!(%error, "oldest waiting signup unavailable"))
                .ok(),
            max_age,
        };
        Self {
            now,
            signups,
            budget: ApiBudget::today(&status.api_usage, now),
            token,
            waiting,
        }
    }
}

impl ApiBudget {
    /// The status's count for today; the budget starts again at the next UTC midnight.
    pub fn today(usage: &ApiUsage, now: DateTime<Utc>) -> Self {
        let day = usage.day;
        let resets_at = day
            .succ_opt()
            .and_then(|next| next.and_hms_opt(0, 0, 0))
            .map_or(now, |midnight| midnight.and_utc());
        Self {
            day,
            used: usage.used,
            limit: usage.limit,
            resets_at,
        }
    }
}

/// The start of the oldest hour the signups chart shows.
pub fn first_hour(now: DateTime<Utc>) -> DateTime<Utc> {
    rollup_hour(now) - chrono::Duration::hours(HOURS as i64 - 1)
}

/// Every one of the last [`HOURS`] hours, oldest first, with its counts (zero where `counts`
/// has none).
pub fn fill_hours(now: DateTime<Utc>, counts: &[HourlySignups]) -> Vec<HourlySignups> {
    let first = first_hour(now);
    (0..HOURS)
        .map(|i| {
            let hour = first + chrono::Duration::hours(i as i64);
            counts
                .iter()
                .find(|c| c.hour == hour)
                .copied()
                .unwrap_or(HourlySignups {
                    hour,
                    ..HourlySignups::default()
                })
        })
        .collect()
}

/// The overview's section with every chart.
pub fn section(data: &ChartsData) -> Markup {
    html! {
        section #charts aria-labelledby="charts-heading" {
            h2 #charts-heading { "At a glance" }
            @match &data.signups {
                Some(hours) => (signups::chart(hours, data.now)),
                None => p.bad { "The hourly signup counts cannot be read right now." },
            }
            div style="display:flex;flex-wrap:wrap;gap:0 2rem;align-items:flex-start" {
                (budget::gauge(&data.budget, data.now))
                (waiting::bar(&data.waiting, data.now))
            }
            (token::timeline(&data.token, data.now))
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn the_budget_starts_again_at_the_next_utc_midnight() {
        let now = Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 0).unwrap();
        let budget = ApiBudget::today(&usage(now), now);
        assert_eq!(
            budget.resets_at,
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()
        );
        assert_eq!((budget.used, budget.limit), (12, 100));
    }

    fn usage(now: DateTime<Utc>) -> ApiUsage {
        ApiUsage {
            day: now.date_naive(),
            used: 12,
            limit: 100,
        }
    }

    #[test]
    fn the_section_says_when_the_hourly_counts_cannot_be_read() {
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap();
        let data = ChartsData {
            now,
            signups: None,
            budget: ApiBudget::today(&usage(now), now),
            token: TokenTimeline {
                state: "not_connected",
                ..TokenTimeline::default()
            },
            waiting: Waiting {
                oldest_since: Some(None),
                max_age: Duration::from_secs(3600),
            },
        };
        let html = section(&data).into_string();
        assert!(html.contains("cannot be read right now"), "{html}");
        assert!(html.contains("id=\"budget-svg\""), "{html}");
        assert!(html.contains("Not connected"), "{html}");
    }

    #[test]
    fn the_chart_has_every_hour_of_seven_days_ending_with_the_current_one() {
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 16, 20, 0).unwrap();
        let counted = HourlySignups {
            hour: Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap(),
            accepted: 4,
            delivered: 3,
            refused: 1,
        };
        let hours = fill_hours(now, &[counted]);
        assert_eq!(hours.len(), HOURS);
        assert_eq!(
            hours[0].hour,
            Utc.with_ymd_and_hms(2026, 11, 26, 17, 0, 0).unwrap()
        );
        assert_eq!(
            hours[HOURS - 1].hour,
            Utc.with_ymd_and_hms(2026, 12, 3, 16, 0, 0).unwrap()
        );
        assert_eq!(hours.iter().filter(|h| **h == counted).count(), 1);
        assert_eq!(hours.iter().map(|h| h.accepted).sum::<u64>(), 4);
    }
}
