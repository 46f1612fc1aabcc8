//! The upstream's limits, kept on our side: at most `requests_per_second` calls in any one-second
//! window and `requests_per_day` per UTC day (counted in the database, so a restart does not reset
//! the count). Every API call ccbridge makes goes through one `RateLimiter`. Constant Contact sends
//! no rate-limit headers, so counting here is the only way to stay under them (invariant 3).

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::error::ApiError;
use crate::clock::SharedClock;
use crate::store::Store;

/// Calls are spaced over a window slightly longer than a second, so that scheduling and network
/// jitter cannot squeeze `requests_per_second + 1` arrivals into one upstream second.
const WINDOW: Duration = Duration::from_millis(1025);

pub struct RateLimiter {
    store: Store,
    clock: SharedClock,
    per_second: usize,
    per_day: u64,
    /// The least time between two calls: the window shared out evenly.
    spacing: Duration,
    /// When the last `per_second` calls were let through, oldest first.
    recent: Mutex<VecDeque<Instant>>,
    /// After a 429 `throttled`, nothing goes out before this.
    hold_until: std::sync::Mutex<Option<Instant>>,
}

impl RateLimiter {
    pub fn new(store: Store, clock: SharedClock, per_second: u32, per_day: u32) -> Self {
        Self {
            store,
            clock,
            per_second: per_second.max(1) as usize,
            per_day: u64::from(per_day),
            spacing: WINDOW / per_second.max(1),
            recent: Mutex::new(VecDeque::new()),
            hold_until: std::sync::Mutex::new(None),
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
        // The lock is held while waiting: callers go out one after another, in arrival order.
        let mut recent = self.recent.lock().await;
        loop {
            let hold = *self.hold_until.lock().expect("hold lock");
            if let Some(until) = hold.filter(|until| *until > Instant::now()) {
                tokio::time::sleep_until(until).await;
                continue;
            }
            let now = Instant::now();
            while recent
                .front()
                .is_some_and(|sent| now.duration_since(*sent) >= WINDOW)
            {
                recent.pop_front();
            }
            // Calls are also spaced evenly rather than sent in bursts of `per_second`: a burst
            // needs only a little delay on its way out (a busy host) to land in the same upstream
            // second as the next one, while evenly spaced calls would have to be held up by a
            // whole spacing for that.
            let spaced_until = recent.back().map(|last| *last + self.spacing);
            if let Some(until) = spaced_until.filter(|until| *until > now) {
                tokio::time::sleep_until(until).await;
                continue;
            }
            if recent.len() < self.per_second {
                recent.push_back(now);
                return Ok(());
            }
            let oldest = *recent.front().expect("full window has a front");
            tokio::time::sleep_until(oldest + WINDOW).await;
        }
    }

    /// Upstream said `throttled`: let nothing out for `pause`.
    pub fn hold(&self, pause: Duration) {
        *self.hold_until.lock().expect("hold lock") = Some(Instant::now() + pause);
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
