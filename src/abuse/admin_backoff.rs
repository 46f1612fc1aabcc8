//! Backoff for admin logins: after `rate_limit.admin_failures` wrong passwords from one client
//! address, that address must wait `admin_lockout` before trying again, twice as long after each
//! further failure (up to `admin_lockout_max`). Failures are forgotten `admin_lockout_max` after
//! the last one. While an address waits, every request of it that carries credentials is answered
//! 429 without checking them — right or wrong — so guessing costs time and no Argon2 work.
//!
//! The HTTP layer applies it as a middleware around all routes (`http::middleware`), so every
//! route that checks the admin's password, today's and future ones, is covered.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::RateLimitConfig;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

pub struct AdminBackoff {
    threshold: u32,
    first_wait: Duration,
    max_wait: Duration,
    clients: Mutex<HashMap<IpAddr, Failures>>,
}

impl AdminBackoff {
    pub fn new(config: &RateLimitConfig) -> Self {
        Self {
            threshold: config.admin_failures,
            first_wait: config.admin_lockout,
            max_wait: config.admin_lockout_max,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` while `ip` must wait.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let clients = self.lock();
        match clients.get(&ip).and_then(|f| f.locked_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Count a failed login from `ip`. Returns the wait it now has to serve, if any.
    pub fn failed(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let mut clients = self.lock();
        let entry = clients.entry(ip).or_insert(Failures {
            count: 0,
            last: now,
            locked_until: None,
        });
        if now.duration_since(entry.last) > self.max_wait {
            entry.count = 0;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        let beyond = entry.count.checked_sub(self.threshold)?;
        let wait = self
            .first_wait
            .saturating_mul(2u32.saturating_pow(beyond.min(31)))
            .min(self.max_wait);
        entry.locked_until = Some(now + wait);
        Some(wait)
    }

    /// Forget addresses that are not waiting and have not failed for `admin_lockout_max`.
    /// Returns how many are still remembered.
    pub fn evict_idle(&self, now: Instant) -> usize {
        let mut clients = self.lock();
        clients.retain(|_, f| {
            f.locked_until.is_some_and(|until| until > now)
                || now.duration_since(f.last) <= self.max_wait
        });
        clients.shrink_to_fit();
        clients.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Failures>> {
        self.clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
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

    #[test]
    fn the_wait_starts_at_the_threshold_and_doubles_up_to_the_maximum() {
        let backoff = backoff();
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let t0 = Instant::now();
        assert_eq!(backoff.failed(ip, t0), None);
        assert_eq!(backoff.failed(ip, t0), None);
        assert!(backoff.check(ip, t0).is_ok());
        assert_eq!(backoff.failed(ip, t0), Some(Duration::from_secs(10)));
        assert_eq!(backoff.check(ip, t0), Err(Duration::from_secs(10)));
        let later = t0 + Duration::from_secs(10);
        assert!(backoff.check(ip, later).is_ok());
        assert_eq!(backoff.failed(ip, later), Some(Duration::from_secs(20)));
        assert_eq!(backoff.failed(ip, later), Some(Duration::from_secs(40)));
        assert_eq!(backoff.failed(ip, later), Some(Duration::from_secs(60)));
        assert_eq!(backoff.failed(ip, later), Some(Duration::from_secs(60)));
        let other: IpAddr = "203.0.113.10".parse().unwrap();
        assert!(backoff.check(other, later).is_ok());
    }

    #[test]
    fn failures_are_forgotten_after_a_quiet_period() {
        let backoff = backoff();
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let t0 = Instant::now();
        backoff.failed(ip, t0);
        backoff.failed(ip, t0);
        let quiet = t0 + Duration::from_secs(61);
        assert_eq!(backoff.failed(ip, quiet), None, "counting starts over");
        assert_eq!(backoff.evict_idle(quiet), 1);
        assert_eq!(backoff.evict_idle(quiet + Duration::from_secs(61)), 0);
    }
}
