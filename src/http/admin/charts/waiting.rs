//! The age of the oldest signup waiting for delivery (pending or failed), as a number and as a
//! bar against `delivery.max_age`, past which a signup is given up: green, amber from half of it,
//! red at it.

use std::time::Duration;

use ccbridge_layout::{Markup, html};
use chrono::{DateTime, Utc};

use super::Waiting;
use super::svg::{INK, TRACK, moment, num, share_colour, span};

const LENGTH: f64 = 190.0;

pub fn bar(waiting: &Waiting, now: DateTime<Utc>) -> Markup {
    let max_age = waiting.max_age;
    let Some(oldest) = waiting.oldest_since else {
        return html! { p.bad #waiting-chart { "The age of waiting signups cannot be read right now." } };
    };
    let age = oldest.map(|since| (now - since).to_std().unwrap_or(Duration::ZERO));
    let share = age.map_or(0.0, |age| {
        if max_age.is_zero() {
            1.0
        } else {
            (age.as_secs_f64() / max_age.as_secs_f64()).min(1.0)
        }
    });
    let colour = share_colour(share, 0.5);
    let sentence = match (age, oldest) {
        (Some(age), Some(since)) => format!(
            "The oldest signup waiting for delivery has waited {} (since {}); signups are given up after {}.",
            span(age),
            moment(since),
            span(max_age)
        ),
        _ => format!(
            "No signup is waiting for delivery; signups are given up after {}.",
            span(max_age)
        ),
    };
    html! {
        figure.chart #waiting-chart style="margin:1rem 0;flex:1 1 16rem" {
            div style="max-width:18rem" {
                svg #waiting-svg role="img" aria-labelledby="waiting-title" aria-describedby="waiting-desc"
                    width="100%" viewBox="0 0 200 44" font-family="system-ui, sans-serif" font-size="9"
                    data-age-seconds=[age.map(|a| a.as_secs())]
                    data-max-age-seconds=(max_age.as_secs()) {
                    title #waiting-title { "Oldest waiting signup" }
                    desc #waiting-desc { (sentence) }
                    text x="5" y="14" fill=(INK) {
                        @match age {
                            Some(age) => { "Oldest waiting: " tspan font-weight="600" fill=(colour) { (span(age)) } }
                            None => { "No signup is waiting" }
                        }
                    }
                    text x="195" y="14" text-anchor="end" fill=(INK) { "limit " (span(max_age)) }
                    rect x="5" y="22" width=(num(LENGTH)) height="12" fill="none" stroke=(TRACK) {}
                    @if share > 0.0 {
                        rect #waiting-age x="5" y="22" width=(num((LENGTH * share).max(1.0))) height="12" fill=(colour) {}
                    }
                }
            }
            figcaption { (sentence) }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;
    use crate::http::admin::charts::svg::{AMBER, GREEN, RED};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 18, 0, 0).unwrap()
    }

    fn waiting(hours_ago: Option<i64>) -> Waiting {
        Waiting {
            oldest_since: Some(hours_ago.map(|h| now() - chrono::Duration::hours(h))),
            max_age: Duration::from_secs(72 * 3600),
        }
    }

    #[test]
    fn the_bar_is_the_age_against_the_limit() {
        let svg = bar(&waiting(Some(18)), now()).into_string();
        assert!(
            svg.contains("id=\"waiting-age\" x=\"5\" y=\"22\" width=\"47.5\""),
            "{svg}"
        );
        assert!(svg.contains(GREEN));
        assert!(svg.contains("data-age-seconds=\"64800\" data-max-age-seconds=\"259200\""));
        assert!(
            svg.contains("has waited 18 h (since Thu 3 Dec 00:00 UTC)"),
            "{svg}"
        );
        assert!(bar(&waiting(Some(40)), now()).into_string().contains(AMBER));
        let over = bar(&waiting(Some(100)), now()).into_string();
        assert!(
            over.contains(RED) && over.contains("width=\"190\""),
            "{over}"
        );
    }

    #[test]
    fn nothing_waiting_is_an_empty_bar_and_a_sentence() {
        let svg = bar(&waiting(None), now()).into_string();
        assert!(!svg.contains("waiting-age"), "{svg}");
        assert!(!svg.contains("data-age-seconds"), "{svg}");
        assert!(svg.contains("No signup is waiting for delivery"));
        let unknown = Waiting {
            oldest_since: None,
            ..waiting(None)
        };
        assert!(
            bar(&unknown, now())
                .into_string()
                .contains("cannot be read")
        );
    }
}
