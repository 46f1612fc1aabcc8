//! The upstream's limits, kept on our side: at most `requests_per_second` calls in any one-second
//! window and `requests_per_day` per UTC day. Every API call ccbridge makes goes through a
//! `RateLimiter`. Constant Contact sends no rate-limit headers, so counting here is the only way
//! to stay under them (invariant 3).
//!
//! The daily count is always in the database (a restart does not reset it; replicas share it).
//! The per-second pace depends on who else can call:
//! - **SQLite** (one process): an in-process pace that records the moment each call actually
//!   leaves, so nothing between the decision and the send can bunch calls up.
//! - **PostgreSQL** (replicas): a pace row in the database; each call takes the next slot there.
//!   The decision and the send are a database round trip apart, so the window is wider and a
//!   call whose slot came back late is not sent in it (see `SharedPace`).

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::error::ApiError;
use crate::clock::SharedClock;
use crate::store::Store;

pub struct RateLimiter {
    store: Store,
    clock: SharedClock,
    per_day: u64,
    pace: Pace,
}

enum Pace {
    Local(LocalPace),
    Shared(SharedPace),
}

impl RateLimiter {
    pub fn new(store: Store, clock: SharedClock, per_second: u32, per_day: u32) -> Self {
        let per_second = per_second.max(1);
        let pace = if store.backend().is_shared() {
            Pace::Shared(SharedPace::new(store.clone(), per_second))
        } else {
            Pace::Local(LocalPace::new(per_second))
        };
        Self {
            store,
            clock,
            per_day: u64::from(per_day),
            pace,
        }
    }

    /// Wait for a slot for one call, counting it against today's budget; returns the UTC day it
    /// was counted on. Refuses locally (without calling upstream) once the day's budget is spent.
    pub async fn acquire(&self) -> Result<NaiveDate, ApiError> {
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
        match &self.pace {
            Pace::Local(pace) => pace.acquire().await,
            Pace::Shared(pace) => pace
                .acquire()
                .await
                .map_err(|e| ApiError::Transport(format!("cannot pace the API call: {e}")))?,
        }
        Ok(day)
    }

    /// Upstream said `throttled`: let nothing out (from any process sharing the pace) for `pause`.
    pub async fn hold(&self, pause: Duration) {
        match &self.pace {
            Pace::Local(pace) => pace.hold(pause),
            Pace::Shared(pace) => pace.hold(pause).await,
        }
    }

    /// Upstream said `quota_exceeded` to a call counted on `day`: treat that day's budget as spent
    /// (persistently). The day of the call, not of the answer: an answer that arrives just after
    /// midnight is about the day before, and must not spend the new one.
    pub async fn exhaust_day(&self, day: NaiveDate) {
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

/// Calls from one process are spaced over a window slightly longer than a second, so that
/// scheduling and network jitter cannot squeeze `requests_per_second + 1` arrivals into one
/// upstream second.
const LOCAL_WINDOW: Duration = Duration::from_millis(1025);

/// The pace of a process that is the only caller (SQLite).
struct LocalPace {
    per_second: usize,
    /// The least time between two calls: the window shared out evenly.
    spacing: Duration,
    /// When the last `per_second` calls were let through, oldest first.
    recent: Mutex<VecDeque<Instant>>,
    /// After a 429 `throttled`, nothing goes out before this.
    hold_until: std::sync::Mutex<Option<Instant>>,
}

impl LocalPace {
    fn new(per_second: u32) -> Self {
        Self {
            per_second: per_second as usize,
            spacing: LOCAL_WINDOW / per_second,
            recent: Mutex::new(VecDeque::new()),
            hold_until: std::sync::Mutex::new(None),
        }
    }

    async fn acquire(&self) {
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
                .is_some_and(|sent| now.duration_since(*sent) >= LOCAL_WINDOW)
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
                return;
            }
            let oldest = *recent.front().expect("full window has a front");
            tokio::time::sleep_until(oldest + LOCAL_WINDOW).await;
        }
    }

    fn hold(&self, pause: Duration) {
        *self.hold_until.lock().expect("hold lock") = Some(Instant::now() + pause);
    }
}

/// Calls from all replicas are spaced over this window: `requests_per_second` slots span it.
/// Wider than the local one, because a slot's time is decided in the database, a round trip
/// before the call leaves: the extra absorbs the difference between two calls' round trips.
const SHARED_WINDOW: Duration = Duration::from_millis(1060);

/// A call that cannot leave within this of its slot's earliest possible time (so the database
/// round trip counts too) gives the slot up and takes a new one rather than bunch up with the
/// calls after it. `SHARED_WINDOW` − 1 s leaves this plus 20 ms of network jitter.
const LATE_BY: Duration = Duration::from_millis(40);

/// After this many slots given up in a row, the next one is used however late: the database is
/// consistently slow (a round trip near `LATE_BY`: keep it in the same region), and calls equally
/// late are still evenly spaced.
const MAX_RETAKES: u32 = 3;

/// The pace shared by replicas through the database (PostgreSQL).
struct SharedPace {
    store: Store,
    spacing: Duration,
}

impl SharedPace {
    fn new(store: Store, per_second: u32) -> Self {
        Self {
            store,
            spacing: SHARED_WINDOW / per_second,
        }
    }

    async fn acquire(&self) -> Result<(), crate::store::StoreError> {
        let mut retakes = 0;
        loop {
            let slot = self.store.take_call_slot(self.spacing).await?;
            tokio::time::sleep_until(slot.latest).await;
            let late = Instant::now().duration_since(slot.earliest);
            if late <= LATE_BY || retakes >= MAX_RETAKES {
                return Ok(());
            }
            retakes += 1;
            tracing::debug!(?late, "an API call missed its slot; taking the next one");
        }
    }

    async fn hold(&self, pause: Duration) {
        if let Err(error) = self.store.hold_calls(pause).await {
            tracing::warn!(%error, "could not record the upstream's throttling pause");
        }
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
