//! Signups refused at the door (a wrong origin, a rate limit, a CAPTCHA, invalid input, an unknown
//! form), counted in memory per hour, form and reason, and added to the store's hourly counts once
//! a minute. A flood of refusals then costs an increment each, not a write each; what a crash
//! loses is at most the last minute's refusals (shutdown flushes them).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::store::{RefusalCount, Store, StoreError, UNKNOWN_FORM, rollup_hour};

/// How often the counts are written.
pub const FLUSH_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// Refusals not written yet: hour → form → reason → n.
type Counts = BTreeMap<DateTime<Utc>, HashMap<String, HashMap<&'static str, u64>>>;

/// Counts refusals in memory; cheap to clone (one shared map).
#[derive(Clone)]
pub struct RefusalCounter {
    counts: Arc<Mutex<Counts>>,
    /// Told of every count, so the loop sleeps only while something waits to be written.
    counted: Arc<Notify>,
    clock: SharedClock,
}

impl std::fmt::Debug for RefusalCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefusalCounter")
            .field("unwritten", &self.unwritten())
            .finish()
    }
}

impl RefusalCounter {
    pub fn new(clock: SharedClock) -> Self {
        Self {
            counts: Arc::default(),
            counted: Arc::default(),
            clock,
        }
    }

    /// Count one refusal of `form` (`None`: no such form) for `reason`, the error's code. The
    /// lock is held for the increment only; only a form's first refusal of an hour allocates.
    pub fn count(&self, form: Option<&str>, reason: &'static str) {
        let hour = rollup_hour(self.clock.now());
        let form = form.unwrap_or(UNKNOWN_FORM);
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let forms = counts.entry(hour).or_default();
        let reasons = match forms.get_mut(form) {
            Some(reasons) => reasons,
            None => forms.entry(form.to_owned()).or_default(),
        };
        *reasons.entry(reason).or_default() += 1;
        drop(counts);
        self.counted.notify_one();
    }

    /// Refusals counted and not written yet.
    pub fn unwritten(&self) -> u64 {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts
            .values()
            .flat_map(HashMap::values)
            .flat_map(HashMap::values)
            .sum()
    }

    /// The step the background loop takes once a minute (and once more at shutdown): write every
    /// count so far in one transaction. Returns how many refusals were written. When the write
    /// fails, the counts are kept for the next flush, so none is lost or written twice.
    pub async fn flush(&self, store: &Store) -> Result<u64, StoreError> {
        let taken =
            std::mem::take(&mut *self.counts.lock().unwrap_or_else(PoisonError::into_inner));
        let rows: Vec<RefusalCount> = taken
            .iter()
            .flat_map(|(hour, forms)| {
                forms.iter().flat_map(move |(form, reasons)| {
                    reasons.iter().map(move |(reason, n)| RefusalCount {
                        hour: *hour,
                        form_id: form.clone(),
                        reason,
                        n: *n,
                    })
                })
            })
            .collect();
        let total = rows.iter().map(|row| row.n).sum();
        if rows.is_empty() {
            return Ok(0);
        }
        match store.add_refusals(&rows).await {
            Ok(()) => Ok(total),
            Err(error) => {
                self.put_back(taken);
                Err(error)
            }
        }
    }

    /// Merge counts whose write failed back into the map.
    fn put_back(&self, taken: Counts) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        for (hour, forms) in taken {
            let into = counts.entry(hour).or_default();
            for (form, reasons) in forms {
                let into = into.entry(form).or_default();
                for (reason, n) in reasons {
                    *into.entry(reason).or_default() += n;
                }
            }
        }
    }

    /// The background loop until `shutdown`: once a refusal is counted, wait a minute (by the
    /// injected clock) and flush. An idle service neither wakes nor sleeps on the clock (a test
    /// reading a manual clock's sleepers sees only the sleeps it is about). The last counts are
    /// flushed by the caller once requests have drained (see `startup`).
    pub async fn run(self, store: Store, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.counted.notified() => {}
            }
            let next = self.clock.now() + FLUSH_EVERY;
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.clock.sleep_until(next) => {}
            }
            if let Err(error) = self.flush(&store).await {
                tracing::warn!(%error, "refused signups could not be counted in the database; trying again in a minute");
                // Try again a minute later even if nothing more is refused meanwhile.
                self.counted.notify_one();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone as _;

    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn refusals_are_counted_per_hour_form_and_reason() {
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 3, 9, 59, 0).unwrap());
        let counter = RefusalCounter::new(Arc::new(clock.clone()));
        counter.count(Some("news"), "rate_limited");
        counter.count(Some("news"), "rate_limited");
        counter.count(None, "unknown_form");
        clock.advance(chrono::Duration::minutes(2));
        counter.count(Some("news"), "rate_limited");

        assert_eq!(counter.unwritten(), 4);
        let counts = counter.counts.lock().unwrap();
        let nine = Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap();
        let ten = Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap();
        assert_eq!(counts[&nine]["news"]["rate_limited"], 2);
        assert_eq!(counts[&nine][UNKNOWN_FORM]["unknown_form"], 1);
        assert_eq!(counts[&ten]["news"]["rate_limited"], 1);
    }

    #[test]
    fn counts_put_back_after_a_failed_write_add_to_newer_ones() {
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap());
        let counter = RefusalCounter::new(Arc::new(clock));
        counter.count(Some("news"), "captcha_failed");
        let taken = std::mem::take(&mut *counter.counts.lock().unwrap());
        counter.count(Some("news"), "captcha_failed");
        counter.put_back(taken);
        assert_eq!(counter.unwritten(), 2);
    }
}
