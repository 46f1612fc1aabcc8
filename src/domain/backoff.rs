//! Exponential backoff with jitter, shared by the retries of deliveries and of mails.

use std::time::Duration;

/// `base · 2^attempts`, at most `max`, with "equal jitter": a wait drawn between half and all of
/// it, so that many retries scheduled at once spread out.
pub fn jittered(base: Duration, max: Duration, attempts: u32) -> chrono::Duration {
    let full = base.saturating_mul(1u32 << attempts.min(20)).min(max);
    let wait = full / 2 + full.mul_f64(rand::random::<f64>() / 2.0);
    chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_within_its_jitter_and_stops_at_the_maximum() {
        let (base, max) = (Duration::from_secs(5), Duration::from_secs(60));
        for attempts in 0..40 {
            let full = (5_i64 << attempts.min(20)).min(60);
            let wait = jittered(base, max, attempts).num_milliseconds();
            assert!(
                (full * 500..=full * 1000).contains(&wait),
                "attempt {attempts}: {wait} ms"
            );
        }
    }
}
