//! Backoff for admin logins: after `rate_limit.admin_failures` wrong passwords from one client,
//! that client must wait `admin_lockout` before trying again, twice as long after each further
//! failure (up to `admin_lockout_max`). Failures are forgotten `admin_lockout_max` after the last
//! one. While a client waits, every request of it that carries credentials is answered 429 without
//! checking them — right or wrong — so guessing costs time and no Argon2 work.
//!
//! - **A client** is an IPv4 address or an IPv6 /64, like the signup limits (one subscriber line
//!   usually gets a whole /64, so its single addresses must not each get their own guesses).
//! - **Counted before checking.** An attempt is counted (in the database, shared by every
//!   replica) before its password is checked, and uncounted if it turns out right. So parallel
//!   guesses cannot outrun the count: at most `admin_failures` of them are ever checked before
//!   the client waits, however many arrive at once or on how many replicas.
//! - **One at a time after a failure.** A client that has a failure and another attempt in flight
//!   in this process is answered 429 at once.
//!
//! The HTTP layer applies it as a middleware around all routes (`http::middleware`), so every
//! route that checks the admin's password, today's and future ones, is covered.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;

use super::rate_limit::client_key;
use crate::config::RateLimitConfig;
use crate::store::{LoginAttempts, Store, StoreError};

/// Why an attempt is not even checked.
#[derive(Debug)]
pub enum Refusal {
    /// The client is locked out for this long.
    Wait(Duration),
    /// The client has a failure and another attempt still being checked.
    Busy,
}

pub struct AdminBackoff {
    threshold: u32,
    first_wait: Duration,
    max_wait: Duration,
    /// What this process knows of each client: its counted attempts being checked here, and the
    /// record as last read or written. Lets a flood be answered without the database.
    clients: Mutex<HashMap<IpAddr, Local>>,
    /// Database changes of the backoff at once: a flood of logins waits here, not on the
    /// connection pool that signups need too.
    writes: Semaphore,
}

/// Database changes of the backoff that may run at once.
const CONCURRENT_WRITES: usize = 2;

#[derive(Debug, Default)]
struct Local {
    /// Attempts counted in the database and being checked in this process.
    counted: u32,
    /// The client's record as this process last saw it.
    seen: Option<LoginAttempts>,
}

/// An attempt that was counted and may now be checked. Finish it with [`Attempt::finish`];
/// dropped unfinished (the request was cancelled), it stays counted as a failure.
pub struct Attempt<'a> {
    backoff: &'a AdminBackoff,
    client: IpAddr,
}

impl AdminBackoff {
    pub fn new(config: &RateLimitConfig) -> Self {
        Self {
            threshold: config.admin_failures,
            first_wait: config.admin_lockout,
            max_wait: config.admin_lockout_max,
            clients: Mutex::new(HashMap::new()),
            writes: Semaphore::const_new(CONCURRENT_WRITES),
        }
    }

    /// Count an attempt from `ip` before its credentials are checked, or refuse it.
    pub async fn begin(
        &self,
        store: &Store,
        ip: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<Attempt<'_>, Refusal> {
        let client = client_key(ip);
        // What this process already knows answers most of a flood without the database.
        self.refusal_known_here(client, now).map_or(Ok(()), Err)?;
        let _write = self.writes.acquire().await;
        // Attempts that went before, while this one waited, may have settled it.
        self.refusal_known_here(client, now).map_or(Ok(()), Err)?;
        let counted_here = self.local(client, |local| local.counted);
        let decision = store
            .change_admin_attempts(&client.to_string(), now, |row| {
                let (new, admitted) = self.admit(row, counted_here, now);
                (new, (new, admitted))
            })
            .await;
        let (seen, admitted) = decision.unwrap_or_else(|error| {
            // The shared count is out of reach (the database is down or locked): this
            // process's own count still holds the line, and the console stays usable to see
            // the outage. Replicas each count alone until the database is back.
            tracing::warn!(%error, "admin login attempt counted in this process only");
            let row = self
                .local(client, |local| local.seen)
                .unwrap_or_else(|| fresh_record(now));
            self.admit(row, counted_here, now)
        });
        self.local(client, |local| {
            local.seen = seen;
            if admitted.is_ok() {
                local.counted += 1;
            }
        });
        admitted.map(|()| Attempt {
            backoff: self,
            client,
        })
    }

    /// A refusal that this process's last view of the client already implies: it is waiting,
    /// or it has a failure and another attempt being checked here.
    fn refusal_known_here(&self, client: IpAddr, now: DateTime<Utc>) -> Option<Refusal> {
        self.local(client, |local| {
            let seen = local.seen?;
            if let Some(until) = seen.locked_until
                && until > now
            {
                return Some(Refusal::Wait((until - now).to_std().unwrap_or_default()));
            }
            (local.counted > 0 && seen.count > local.counted && !self.quiet_since(seen.last, now))
                .then_some(Refusal::Busy)
        })
    }

    /// The decision on a new attempt, given the client's record and how many of its attempts
    /// are being checked in this process: the record to store, and admitted or not.
    fn admit(
        &self,
        mut row: LoginAttempts,
        others_here: u32,
        now: DateTime<Utc>,
    ) -> (Option<LoginAttempts>, Result<(), Refusal>) {
        if let Some(until) = row.locked_until
            && until > now
        {
            let wait = (until - now).to_std().unwrap_or_default();
            return (Some(row), Err(Refusal::Wait(wait)));
        }
        if self.quiet_since(row.last, now) {
            row.count = 0;
            row.locked_until = None;
        }
        // More counted than in flight here: a failure (or an attempt on another replica).
        if others_here > 0 && row.count > others_here {
            return (Some(row), Err(Refusal::Busy));
        }
        row.count = row.count.saturating_add(1);
        row.last = now;
        // The attempt that reaches the threshold locks the client at once: parallel ones wait.
        if let Some(wait) = self.wait_after(row.count) {
            row.locked_until = Some(now + to_chrono(wait));
        }
        (Some(row), Ok(()))
    }

    /// The wait a client serves once `count` attempts are counted, if any.
    fn wait_after(&self, count: u32) -> Option<Duration> {
        let beyond = count.checked_sub(self.threshold)?;
        Some(
            self.first_wait
                .saturating_mul(2u32.saturating_pow(beyond.min(31)))
                .min(self.max_wait),
        )
    }

    fn quiet_since(&self, last: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        (now - last).to_std().unwrap_or_default() > self.max_wait
    }

    /// Forget clients that are not waiting and have not failed for `admin_lockout_max`.
    pub async fn forget_idle(&self, store: &Store, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.lock()
            .retain(|_, local| local.counted > 0 || is_waiting(local.seen, now));
        store
            .forget_idle_admin_attempts(now - to_chrono(self.max_wait), now)
            .await
    }

    /// Run `f` on this process's view of `client` (created if missing; dropped again once
    /// nothing is being checked and the client is not waiting).
    fn local<T>(&self, client: IpAddr, f: impl FnOnce(&mut Local) -> T) -> T {
        let mut clients = self.lock();
        let local = clients.entry(client).or_default();
        let answer = f(local);
        if local.counted == 0 && local.seen.is_none_or(|seen| seen.locked_until.is_none()) {
            clients.remove(&client);
        }
        answer
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Local>> {
        self.clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A client with no attempts yet.
fn fresh_record(now: DateTime<Utc>) -> LoginAttempts {
    LoginAttempts {
        count: 0,
        last: now,
        locked_until: None,
    }
}

fn is_waiting(seen: Option<LoginAttempts>, now: DateTime<Utc>) -> bool {
    seen.and_then(|seen| seen.locked_until)
        .is_some_and(|until| until > now)
}

impl Attempt<'_> {
    /// The credentials were checked: a failure stays counted (and restarts the client's wait, if
    /// it has one, from now); anything else is uncounted. Returns the wait the client now has.
    pub async fn finish(
        self,
        store: &Store,
        failed: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<Duration>, StoreError> {
        let backoff = self.backoff;
        let _write = backoff.writes.acquire().await;
        let settle = |row: LoginAttempts| {
            if failed {
                backoff.failed(row, now)
            } else {
                (backoff.uncounted(row), None)
            }
        };
        let changed = store
            .change_admin_attempts(&self.client.to_string(), now, |row| {
                let (new, wait) = settle(row);
                (new, (new, wait))
            })
            .await;
        let (seen, wait) = match changed {
            Ok(settled) => settled,
            Err(error) => {
                // As in `begin`: settled in this process's own count while the database is away.
                tracing::warn!(%error, "admin login attempt settled in this process only");
                let row = backoff
                    .local(self.client, |local| local.seen)
                    .unwrap_or_else(|| fresh_record(now));
                settle(row)
            }
        };
        backoff.local(self.client, |local| local.seen = seen);
        Ok(wait)
    }
}

impl AdminBackoff {
    fn failed(
        &self,
        mut row: LoginAttempts,
        now: DateTime<Utc>,
    ) -> (Option<LoginAttempts>, Option<Duration>) {
        row.last = now;
        let wait = self.wait_after(row.count);
        if let Some(wait) = wait {
            row.locked_until = Some(now + to_chrono(wait));
        }
        (Some(row), wait)
    }

    /// Take back an attempt that was not a failure (right credentials, a session, or no check).
    fn uncounted(&self, mut row: LoginAttempts) -> Option<LoginAttempts> {
        row.count = row.count.saturating_sub(1);
        // Whoever knows the password needs no wait; and the attempt that set one is taken back.
        row.locked_until = None;
        (row.count > 0).then_some(row)
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        self.backoff.local(self.client, |local| {
            local.counted = local.counted.saturating_sub(1);
        });
    }
}

fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff() -> AdminBackoff {
        AdminBackoff::new(&RateLimitConfig {
            admin_failures: 3,
            admin_lockout: Duration::from_secs(10),
            admin_lockout_max: Duration::from_secs(60),
            ..RateLimitConfig::default()
        })
    }

    fn fresh(now: DateTime<Utc>) -> LoginAttempts {
        LoginAttempts {
            count: 0,
            last: now,
            locked_until: None,
        }
    }

    /// One attempt, checked and failed, start to end.
    fn fail_once(backoff: &AdminBackoff, row: LoginAttempts, now: DateTime<Utc>) -> LoginAttempts {
        let (row, admitted) = backoff.admit(row, 0, now);
        assert!(admitted.is_ok(), "{admitted:?}");
        backoff.failed(row.unwrap(), now).0.unwrap()
    }

    fn wait_of(result: Result<(), Refusal>) -> Option<Duration> {
        match result {
            Err(Refusal::Wait(wait)) => Some(wait),
            _ => None,
        }
    }

    #[test]
    fn the_wait_starts_at_the_threshold_and_doubles_up_to_the_maximum() {
        let backoff = backoff();
        let t0 = Utc::now();
        let mut row = fresh(t0);
        row = fail_once(&backoff, row, t0);
        row = fail_once(&backoff, row, t0);
        assert_eq!(row.locked_until, None);
        row = fail_once(&backoff, row, t0);
        assert_eq!(
            wait_of(backoff.admit(row, 0, t0).1),
            Some(Duration::from_secs(10))
        );
        let mut waits = Vec::new();
        for _ in 0..4 {
            // Each guess comes as soon as the previous wait is over.
            let now = row.locked_until.unwrap();
            row = fail_once(&backoff, row, now);
            waits.push((row.locked_until.unwrap() - now).num_seconds());
        }
        assert_eq!(waits, [20, 40, 60, 60]);
    }

    #[test]
    fn the_attempt_that_reaches_the_threshold_locks_out_parallel_ones_before_it_is_checked() {
        let backoff = backoff();
        let t0 = Utc::now();
        let mut row = fresh(t0);
        for in_flight in 0..3 {
            let (new, admitted) = backoff.admit(row, in_flight, t0);
            assert!(admitted.is_ok(), "attempt {in_flight} is checked");
            row = new.unwrap();
        }
        assert_eq!(
            wait_of(backoff.admit(row, 3, t0).1),
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn after_a_failure_a_second_attempt_in_flight_is_refused() {
        let backoff = backoff();
        let t0 = Utc::now();
        let row = fail_once(&backoff, fresh(t0), t0);
        let (row, first) = backoff.admit(row, 0, t0);
        assert!(first.is_ok());
        let (_, second) = backoff.admit(row.unwrap(), 1, t0);
        assert!(matches!(second, Err(Refusal::Busy)), "{second:?}");
    }

    #[test]
    fn a_right_password_is_uncounted_and_lifts_the_wait_it_set() {
        let backoff = backoff();
        let t0 = Utc::now();
        let mut row = fail_once(&backoff, fresh(t0), t0);
        row = fail_once(&backoff, row, t0);
        let (admitted, _) = backoff.admit(row, 0, t0);
        let admitted = admitted.unwrap();
        assert!(admitted.locked_until.is_some());
        let after = backoff.uncounted(admitted).unwrap();
        assert_eq!((after.count, after.locked_until), (2, None));
        assert_eq!(backoff.uncounted(fresh(t0)), None, "nothing left to keep");
    }

    #[test]
    fn failures_are_forgotten_after_a_quiet_period() {
        let backoff = backoff();
        let t0 = Utc::now();
        let mut row = fail_once(&backoff, fresh(t0), t0);
        row = fail_once(&backoff, row, t0);
        let quiet = t0 + chrono::Duration::seconds(61);
        let (row, admitted) = backoff.admit(row, 0, quiet);
        assert!(admitted.is_ok());
        assert_eq!(row.unwrap().count, 1, "counting starts over");
    }

    #[test]
    fn a_client_is_an_ipv4_address_or_an_ipv6_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b), "the same /64");
        assert_ne!(client_key(a), client_key(other));
        let v4: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client_key(v4), v4);
    }

    #[test]
    fn what_this_process_saw_answers_a_flood_without_the_database() {
        let backoff = backoff();
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        let t0 = Utc::now();
        let locked = LoginAttempts {
            count: 3,
            last: t0,
            locked_until: Some(t0 + chrono::Duration::seconds(10)),
        };
        backoff.local(client, |local| local.seen = Some(locked));
        assert!(matches!(
            backoff.refusal_known_here(client, t0),
            Some(Refusal::Wait(_))
        ));
        let failed_once = LoginAttempts {
            count: 2,
            last: t0,
            locked_until: None,
        };
        backoff.local(client, |local| {
            local.seen = Some(failed_once);
            local.counted = 1;
        });
        assert!(matches!(
            backoff.refusal_known_here(client, t0),
            Some(Refusal::Busy)
        ));
        backoff.local(client, |local| local.counted = 0);
        assert!(backoff.refusal_known_here(client, t0).is_none());
        assert!(backoff.lock().is_empty(), "nothing kept for an idle client");
    }
}
