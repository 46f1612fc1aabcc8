//! `[delivery]`: how the worker drains the queue, retries and forgets. The worker takes this
//! section as its settings.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Deliveries in flight at once (helps when Constant Contact is slow; the rate limit still holds).
    pub concurrency: usize,
    /// A signup still undeliverable this long after it was accepted (or requeued) becomes `dead`.
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    /// First retry delay after a failure; doubles per attempt, with jitter.
    #[serde(with = "humantime_serde")]
    pub retry_base: Duration,
    /// Longest retry delay.
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
    /// Personal data of delivered signups is erased after this long (the counts stay).
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    /// How long a claim on signups being delivered lasts. A delivery in flight renews it every
    /// third of this; a process that dies mid-delivery holds them this long before another replica
    /// takes them over (on SQLite a restart releases them at once).
    #[serde(with = "humantime_serde")]
    pub claim_lease: Duration,
    /// Never send a signup to Constant Contact's `sign_up_form` on its own when the address
    /// unsubscribed: ask the person to confirm instead (or hold it). Single opt-in deliveries
    /// wait for a complete list of unsubscribed addresses.
    pub respect_unsubscribes: bool,
    /// How often the addresses unsubscribed since the last look are fetched.
    #[serde(with = "humantime_serde")]
    pub unsubscribes_sync_interval: Duration,
    /// How often the whole list is fetched again (picks up resubscribes and deletions).
    #[serde(with = "humantime_serde")]
    pub unsubscribes_full_sync_interval: Duration,
    /// Single opt-in deliveries wait while syncs have been failing for longer than this.
    #[serde(with = "humantime_serde")]
    pub unsubscribes_stale_after: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            concurrency: 4,
            max_age: Duration::from_secs(7 * 24 * 3600),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(3600),
            retention: Duration::from_secs(30 * 24 * 3600),
            claim_lease: Duration::from_secs(90),
            respect_unsubscribes: true,
            unsubscribes_sync_interval: Duration::from_secs(5 * 60),
            unsubscribes_full_sync_interval: Duration::from_secs(7 * 24 * 3600),
            unsubscribes_stale_after: Duration::from_secs(3600),
        }
    }
}

impl DeliveryConfig {
    /// Returns the offending key (relative to the section) and a message. That the lease outlasts
    /// a Constant Contact call is checked with both sections, in `Config::validate`.
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        for (key, value) in [("max_age", self.max_age), ("retention", self.retention)] {
            if value < Duration::from_secs(1) {
                return Err((key, "must be at least 1s".into()));
            }
        }
        if self.concurrency == 0 || self.concurrency > 64 {
            return Err(("concurrency", "must be between 1 and 64".into()));
        }
        if self.retry_base.is_zero() || self.retry_max < self.retry_base {
            return Err((
                "retry_max",
                "retry_base must be more than zero and retry_max at least retry_base".into(),
            ));
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(24 * 3600))
            .contains(&self.unsubscribes_sync_interval)
        {
            return Err((
                "unsubscribes_sync_interval",
                "must be between 1s and 24h".into(),
            ));
        }
        if self.unsubscribes_full_sync_interval < self.unsubscribes_sync_interval {
            return Err((
                "unsubscribes_full_sync_interval",
                "must be at least unsubscribes_sync_interval".into(),
            ));
        }
        if self.unsubscribes_stale_after < self.unsubscribes_sync_interval {
            return Err((
                "unsubscribes_stale_after",
                "must be at least unsubscribes_sync_interval".into(),
            ));
        }
        Ok(())
    }
}
