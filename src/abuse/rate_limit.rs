//! Token buckets for `POST /signup/*`: one per client address and one per form (governor's GCRA,
//! in memory). A bucket that has filled up again is indistinguishable from no bucket, so
//! [`SignupLimits::evict_idle`] drops those and the maps only hold clients seen recently.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::RateLimitConfig;
use crate::domain::FormId;

pub struct SignupLimits {
    per_client: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_form: Option<DefaultKeyedRateLimiter<FormId>>,
    clock: DefaultClock,
}

impl SignupLimits {
    pub fn new(config: &RateLimitConfig) -> Self {
        let quota = |per_minute: u32, burst: u32| {
            let per_minute = NonZeroU32::new(per_minute)?;
            let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
            Some(Quota::per_minute(per_minute).allow_burst(burst))
        };
        Self {
            per_client: quota(config.per_ip_per_minute, config.per_ip_burst)
                .map(DefaultKeyedRateLimiter::hashmap),
            per_form: quota(config.per_form_per_minute, config.per_form_burst)
                .map(DefaultKeyedRateLimiter::hashmap),
            clock: DefaultClock::default(),
        }
    }

    /// Take a token from the client's bucket; `Err` says how long until one is free.
    pub fn check_client(&self, ip: IpAddr) -> Result<(), Duration> {
        let Some(limiter) = &self.per_client else {
            return Ok(());
        };
        limiter
            .check_key(&client_key(ip))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Take a token from the form's bucket; `Err` says how long until one is free.
    pub fn check_form(&self, form: &FormId) -> Result<(), Duration> {
        let Some(limiter) = &self.per_form else {
            return Ok(());
        };
        limiter
            .check_key(form)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forget clients whose bucket is full again. Returns how many clients are still tracked.
    pub fn evict_idle(&self) -> usize {
        let Some(limiter) = &self.per_client else {
            return 0;
        };
        limiter.retain_recent();
        limiter.shrink_to_fit();
        limiter.len()
    }

    /// How many clients have a bucket right now.
    pub fn tracked_clients(&self) -> usize {
        self.per_client.as_ref().map_or(0, |l| l.len())
    }
}

/// The bucket a client address belongs to: an IPv4 address itself, an IPv6 address its /64
/// network (one subscriber line usually gets a whole /64, so single addresses cost nothing).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(network))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_ip: u32, burst: u32) -> SignupLimits {
        SignupLimits::new(&RateLimitConfig {
            per_ip_per_minute: per_ip,
            per_ip_burst: burst,
            per_form_per_minute: 0,
            ..RateLimitConfig::default()
        })
    }

    #[test]
    fn a_client_gets_its_burst_then_waits_about_one_refill_interval() {
        let limits = limits(10, 3);
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        for _ in 0..3 {
            assert!(limits.check_client(ip).is_ok());
        }
        let wait = limits.check_client(ip).unwrap_err();
        // 10 per minute: one token every 6 seconds.
        assert!(
            wait > Duration::from_secs(5) && wait <= Duration::from_secs(6),
            "{wait:?}"
        );
        let other: IpAddr = "203.0.113.10".parse().unwrap();
        assert!(limits.check_client(other).is_ok(), "buckets are per client");
    }

    #[test]
    fn addresses_in_one_ipv6_64_share_a_bucket() {
        let limits = limits(10, 1);
        assert!(limits.check_client("2001:db8::1".parse().unwrap()).is_ok());
        assert!(
            limits
                .check_client("2001:db8::ffff:1234".parse().unwrap())
                .is_err()
        );
        assert!(
            limits
                .check_client("2001:db8:0:1::1".parse().unwrap())
                .is_ok()
        );
    }

    #[test]
    fn zero_per_minute_means_no_limit() {
        let limits = limits(0, 0);
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        for _ in 0..1000 {
            assert!(limits.check_client(ip).is_ok());
        }
        assert_eq!(limits.tracked_clients(), 0);
    }

    #[test]
    fn idle_clients_are_forgotten() {
        // 60_000 per minute: a bucket of one refills within a millisecond.
        let limits = limits(60_000, 1);
        for i in 0..1000u32 {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            limits.check_client(ip).unwrap();
        }
        assert_eq!(limits.tracked_clients(), 1000);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(limits.evict_idle(), 0);
    }

    #[test]
    fn a_form_has_its_own_bucket() {
        let limits = SignupLimits::new(&RateLimitConfig {
            per_form_per_minute: 60,
            per_form_burst: 2,
            ..RateLimitConfig::default()
        });
        let form = FormId::parse("newsletter").unwrap();
        assert!(limits.check_form(&form).is_ok());
        assert!(limits.check_form(&form).is_ok());
        assert!(limits.check_form(&form).is_err());
        assert!(limits.check_form(&FormId::parse("other").unwrap()).is_ok());
    }
}
