//! Constant Contact's rate limits (N requests per second, M per UTC day) and the measurement of
//! how hard a client actually pushed (the peak arrivals in any one-second window).
//!
//! The per-second window runs on real (monotonic) time: a burst is a real-time property of the
//! client, and a test cannot fake it. The day comes from the injected clock so tests can cross
//! UTC midnight without waiting for it.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::NaiveDate;
use tokio::time::Instant;

const WINDOW: Duration = Duration::from_secs(1);

/// The limiter's verdict on one authenticated request.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// Over the per-second limit: 429 `throttled`.
    Throttled,
    /// Over the daily limit: 429 `quota_exceeded`.
    QuotaExceeded,
}

pub struct Limits {
    per_second: u32,
    per_day: u32,
    /// Requests that passed the per-second check within the last second.
    admitted: VecDeque<Instant>,
    /// Every arrival within the last second, for the peak.
    arrivals: VecDeque<Instant>,
    peak: u32,
    day: Option<NaiveDate>,
    used_today: u32,
}

impl Limits {
    pub fn new(per_second: u32, per_day: u32) -> Self {
        Self {
            per_second,
            per_day,
            admitted: VecDeque::new(),
            arrivals: VecDeque::new(),
            peak: 0,
            day: None,
            used_today: 0,
        }
    }

    /// Record an arrival; returns the peak arrivals per second seen so far.
    pub fn arrive(&mut self, at: Instant) -> u32 {
        forget_before(&mut self.arrivals, at);
        self.arrivals.push_back(at);
        let in_window = u32::try_from(self.arrivals.len()).unwrap_or(u32::MAX);
        self.peak = self.peak.max(in_window);
        self.peak
    }

    /// Decide on one authenticated request: the per-second limit first, then the daily one.
    /// Only requests that pass the per-second check take a place in its window, so a client
    /// that keeps hammering is not locked out forever once it slows down.
    pub fn admit(&mut self, at: Instant, today: NaiveDate) -> Admission {
        forget_before(&mut self.admitted, at);
        if self.admitted.len() >= self.per_second as usize {
            return Admission::Throttled;
        }
        self.admitted.push_back(at);
        if self.day != Some(today) {
            self.day = Some(today);
            self.used_today = 0;
        }
        if self.used_today >= self.per_day {
            return Admission::QuotaExceeded;
        }
        self.used_today += 1;
        Admission::Admitted
    }
}

/// Drop the instants that are a full second or more before `now`.
fn forget_before(window: &mut VecDeque<Instant>, now: Instant) {
    while window
        .front()
        .is_some_and(|&t| now.saturating_duration_since(t) >= WINDOW)
    {
        window.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_fifth_request_within_a_second_is_throttled_and_the_window_slides() {
        let mut limits = Limits::new(4, 100);
        let t0 = Instant::now();
        for i in 0..4 {
            assert_eq!(limits.admit(t0 + ms(i * 100), day(1)), Admission::Admitted);
        }
        assert_eq!(limits.admit(t0 + ms(900), day(1)), Admission::Throttled);
        // The first request leaves the window exactly one second after it arrived.
        assert_eq!(limits.admit(t0 + ms(1000), day(1)), Admission::Admitted);
        assert_eq!(limits.admit(t0 + ms(1050), day(1)), Admission::Throttled);
    }

    #[test]
    fn the_daily_quota_resets_on_a_new_utc_day() {
        let mut limits = Limits::new(100, 2);
        let t0 = Instant::now();
        assert_eq!(limits.admit(t0, day(1)), Admission::Admitted);
        assert_eq!(limits.admit(t0, day(1)), Admission::Admitted);
        assert_eq!(limits.admit(t0, day(1)), Admission::QuotaExceeded);
        assert_eq!(limits.admit(t0, day(2)), Admission::Admitted);
    }

    #[test]
    fn the_peak_counts_arrivals_in_the_busiest_sliding_second() {
        let mut limits = Limits::new(4, 100);
        let t0 = Instant::now();
        // 3 early, then 5 between 1.15 s and 1.5 s: the early ones have left that window.
        for at in [0, 100, 200, 1150, 1200, 1300, 1400, 1500] {
            limits.arrive(t0 + ms(at));
        }
        assert_eq!(limits.arrive(t0 + ms(5000)), 5);
    }
}
