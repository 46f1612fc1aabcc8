//! The upstream's limits, kept on our side: at most `requests_per_second` calls in any one-second
//! window and `requests_per_day` per UTC day. Both are counted in the database, so a restart does
//! not reset them and every replica on a shared database draws from the same budget. Every API
//! call ccbridge makes goes through a `RateLimiter`. Constant Contact sends no rate-limit headers,
//! so counting here is the only way to stay under them (invariant 3).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use tokio::time::Instant;

use super::error::ApiError;
use crate::clock::SharedClock;
use crate::store::Store;

/// Calls are spaced evenly over a window longer than a second: `requests_per_second` calls span
/// this much, so a call that leaves up to `LATE_BY` after its slot, plus some network jitter,
/// still cannot make `requests_per_second + 1` arrivals in one upstream second.
const WINDOW: Duration = Duration::from_millis(1050);

/// A call that could not leave within this of its slot (a starved host, a long pause) gives the
/// slot up and takes a new one rather than bunching up with the calls after it.
const LATE_BY: Duration = Duration::from_millis(15);

pub struct RateLimiter {
    store: Store,
    clock: SharedClock,
    per_day: u64,
    /// The least time between two calls, from any process: the window shared out evenly.
    spacing: Duration,
}

impl RateLimiter {
    pub fn new(store: Store, clock: SharedClock, per_second: u32, per_day: u32) -> Self {
        Self {
            store,
            clock,
            per_day: u64::from(per_day),
            spacing: WINDOW / per_second.max(1),
        }
    }

    /// Wait for a slot for one call, counting it against today's budget. Refuses locally (without
    /// calling upstream) once the day's budget is spent.
    pub async fn acquire(&self) -> Result<(), ApiError> {
        let day = self.clock.now().date_naive();
        let taken = self
            .store
            .spend_api_call(day, self.per_day)
            .await
            .map_err(|e| ApiError::Transport(format!("cannot count the API call: {e}")))?;
        if !taken {
            return Err(ApiError::DailyBudgetSpent {
                resets_at: next_utc_midnight(self.clock.now()),
            });
        }
        // Calls are spaced evenly rather than sent in bursts of `per_second`: a burst needs only a
        // little delay on its way out (a busy host) to land in the same upstream second as the
        // next one, while evenly spaced calls would have to be held up by a whole spacing.
        loop {
            let slot = self
                .store
                .take_call_slot(self.spacing)
                .await
                .map_err(|e| ApiError::Transport(format!("cannot pace the API call: {e}")))?;
            let due = Instant::now() + slot.wait;
            tokio::time::sleep_until(due).await;
            if Instant::now() <= due + LATE_BY {
                return Ok(());
            }
            tracing::debug!("an API call missed its slot; taking the next one");
        }
    }

    /// Upstream said `throttled`: let nothing out, from any process, for `pause`.
    pub async fn hold(&self, pause: Duration) {
        if let Err(error) = self.store.hold_calls(pause).await {
            tracing::warn!(%error, "could not record the upstream's throttling pause");
        }
    }

    /// Upstream said `quota_exceeded`: treat today's budget as spent (persistently).
    pub async fn exhaust_today(&self) {
        let day = self.clock.now().date_naive();
        if let Err(error) = self.store.exhaust_api_day(day, self.per_day).await {
            tracing::warn!(%error, "could not record the spent daily quota");
        }
    }

    pub fn per_day(&self) -> u64 {
        self.per_day
    }

    pub async fn used_on(&self, day: NaiveDate) -> u64 {
        self.store
            .api_calls_on(day)
            .await
            .unwrap_or(0)
            .min(self.per_day)
    }
}

/// The next 00:00:00 UTC after `now`, when Constant Contact resets the daily count.
pub fn next_utc_midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    let tomorrow = now.date_naive().succ_opt().expect("not the end of time");
    tomorrow
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn midnight_is_the_start_of_the_next_utc_day() {
        let now = "2026-11-26T23:59:59Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            next_utc_midnight(now).to_rfc3339(),
            "2026-11-27T00:00:00+00:00"
        );
        let midnight = "2026-11-27T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            next_utc_midnight(midnight).to_rfc3339(),
            "2026-11-28T00:00:00+00:00"
        );
    }
}
