//! What the charts share: colours (each at least 4.5:1 against white, so marks and their labels
//! read for people with low vision), number and time formats.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Signups accepted; also the budget's and the timeline's neutral marks.
pub const BLUE: &str = "#1f5fa8";
/// Delivered; a budget or an age well within its limit.
pub const GREEN: &str = "#17692c";
/// Refused; a budget spent, an age past its limit, the token's expiry.
pub const RED: &str = "#a11111";
/// Getting close to a limit.
pub const AMBER: &str = "#8a5a00";
/// Text and axes.
pub const INK: &str = "#333333";
/// Grid lines and the empty part of a gauge (decoration: the numbers are also in text).
pub const GRID: &str = "#c8ced6";
/// The outline of a bar's track: 4.5:1 against white, so the bar's extent can be judged.
pub const TRACK: &str = "#767676";

/// A coordinate for an SVG attribute: at most two decimals, no trailing zeros.
pub fn num(value: f64) -> String {
    let rounded = (value * 100.0).round() / 100.0;
    let text = format!("{rounded:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// `n` of `max` scaled to `length`; 0 when `max` is 0.
pub fn scale(n: u64, max: u64, length: f64) -> f64 {
    if max == 0 {
        0.0
    } else {
        n as f64 / max as f64 * length
    }
}

/// A moment for a `data-` attribute: RFC 3339 in UTC, to the second.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A moment for people: `Thu 3 Dec 16:00 UTC`.
pub fn moment(t: DateTime<Utc>) -> String {
    t.format("%a %-d %b %H:%M UTC").to_string()
}

/// How far `t` is from `now`: `in 3 h 5 min`, `2 days ago`, to the minute.
pub fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (t - now).num_seconds();
    let span = span(Duration::from_secs(seconds.unsigned_abs()));
    if seconds >= 0 {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// A length of time for people, to the minute, in its two largest units (`3 h 5 min`,
/// `2 days 1 h`); seconds only below a minute.
pub fn span(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds < 60 {
        return format!("{seconds} s");
    }
    let minutes = seconds / 60;
    let (days, hours, minutes) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    let unit = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    match (days, hours, minutes) {
        (0, 0, m) => unit(m, "min", "min"),
        (0, h, 0) => unit(h, "h", "h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => unit(d, "day", "days"),
        (d, h, _) => format!("{} {h} h", unit(d, "day", "days")),
    }
}

/// A colour for a share of a limit: green, amber from `warn_at`, red from 1.
pub fn share_colour(share: f64, warn_at: f64) -> &'static str {
    if share >= 1.0 {
        RED
    } else if share >= warn_at {
        AMBER
    } else {
        GREEN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_are_short() {
        assert_eq!(num(12.0), "12");
        assert_eq!(num(1.456), "1.46");
        assert_eq!(num(0.5), "0.5");
        assert_eq!(num(-0.001), "0");
    }

    #[test]
    fn scaling_by_zero_is_nothing() {
        assert_eq!(scale(3, 0, 40.0), 0.0);
        assert_eq!(scale(3, 6, 40.0), 20.0);
    }

    #[test]
    fn spans_are_to_the_minute() {
        assert_eq!(
            span(Duration::from_secs(3 * 3600 + 5 * 60 + 7)),
            "3 h 5 min"
        );
        assert_eq!(span(Duration::from_secs(42)), "42 s");
        assert_eq!(span(Duration::from_secs(7 * 86400)), "7 days");
        assert_eq!(span(Duration::from_secs(86400 + 7200 + 60)), "1 day 2 h");
        assert_eq!(span(Duration::from_secs(18 * 3600)), "18 h");
    }
}
