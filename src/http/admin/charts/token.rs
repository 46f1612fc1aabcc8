//! The token's timeline: the last 7 days and what is planned, on one time axis: when the account
//! was connected, each refresh (per hour, from the hourly counts), now, the next planned refresh
//! and the access token's expiry. The same facts are listed in words under it.

use ccbridge_layout::{Markup, html};
use chrono::{DateTime, Duration, Timelike as _, Utc};

use super::TokenTimeline;
use super::svg::{BLUE, GREEN, GRID, INK, RED, moment, num, relative, stamp};

const WIDTH: f64 = 400.0;
const LEFT: f64 = 10.0;
const RIGHT: f64 = 10.0;
const AXIS: f64 = 48.0;
const HEIGHT: f64 = 64.0;

/// The span of time drawn: 7 days back, and ahead to the later of the next refresh and the
/// expiry (at least a day, at most 7).
fn window(token: &TokenTimeline, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let ahead = [token.next_refresh_at, token.expires_at]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(now)
        .clamp(now + Duration::days(1), now + Duration::days(7));
    (now - Duration::days(7), ahead)
}

/// Where `t` falls on the axis (clamped to it).
fn x_at(t: DateTime<Utc>, (start, end): (DateTime<Utc>, DateTime<Utc>)) -> f64 {
    let whole = (end - start).num_seconds().max(1) as f64;
    let part = (t.clamp(start, end) - start).num_seconds() as f64;
    LEFT + part / whole * (WIDTH - LEFT - RIGHT)
}

fn state_words(state: &str) -> &str {
    match state {
        "connected" => "connected",
        "refreshing" => "connected, refreshing the token now",
        "needs_reconnect" => "needs a reconnect: no refresh is planned until an admin reconnects",
        "awaiting_confirmation" => "switched accounts, waiting for an admin's confirmation",
        other => other,
    }
}

/// What each mark means, along the top.
fn legend() -> Markup {
    html! {
        g aria-hidden="true" {
            circle cx="14" cy="6" r="3" fill=(BLUE) {}
            text x="20" y="9" fill=(INK) { "connected" }
            rect x="68" y="2" width="3" height="8" fill=(GREEN) {}
            text x="75" y="9" fill=(INK) { "refresh" }
            circle cx="114" cy="6" r="3" fill="#ffffff" stroke=(GREEN) stroke-width="1.5" {}
            text x="120" y="9" fill=(INK) { "next planned refresh" }
            rect x="212" y="1" width="2" height="10" fill=(RED) {}
            text x="218" y="9" fill=(INK) { "access token expires" }
        }
    }
}

pub fn timeline(token: &TokenTimeline, now: DateTime<Utc>) -> Markup {
    if token.state == "not_connected" {
        return html! {
            p #token-chart { "Not connected: there is no token to show yet." }
        };
    }
    let span = window(token, now);
    let x = |t: DateTime<Utc>| num(x_at(t, span));
    let refreshes: u64 = token.refreshes.iter().map(|(_, n)| n).sum();
    let midnights = std::iter::successors(
        Some(
            span.0
                .with_hour(0)
                .and_then(|t| t.with_minute(0))
                .and_then(|t| t.with_second(0))
                .and_then(|t| t.with_nanosecond(0))
                .unwrap_or(span.0)
                + Duration::days(1),
        ),
        |t| Some(*t + Duration::days(1)),
    )
    .take_while(|t| *t < span.1);
    let hour_width = (x_at(span.0 + Duration::hours(1), span) - LEFT).max(1.2);
    html! {
        figure.chart #token-chart style="margin:1rem 0" {
            div style="max-width:40rem" {
            svg #token-svg role="img" aria-labelledby="token-title" aria-describedby="token-desc"
                width="100%" viewBox={ "0 0 " (num(WIDTH)) " " (num(HEIGHT)) }
                font-family="system-ui, sans-serif" font-size="8"
                data-state=(token.state) data-refreshes=(refreshes) {
                title #token-title { "Token timeline" }
                desc #token-desc {
                    "The connection is " (state_words(token.state)) ". "
                    (refreshes) " token refreshes in the last 7 days."
                    @if let Some(next) = token.next_refresh_at { " Next planned refresh " (moment(next)) "." }
                    @if let Some(expiry) = token.expires_at { " The access token expires " (moment(expiry)) "." }
                }
                (legend())
                line x1=(num(LEFT)) x2=(num(WIDTH - RIGHT)) y1=(num(AXIS)) y2=(num(AXIS)) stroke=(INK) stroke-width="0.75" {}
                @for midnight in midnights {
                    line x1=(x(midnight)) x2=(x(midnight)) y1="24" y2=(num(AXIS + 3.0)) stroke=(GRID) stroke-width="0.5" {}
                    text x=(x(midnight)) y=(num(HEIGHT - 3.0)) text-anchor="middle" fill=(INK) { (midnight.format("%a %-d").to_string()) }
                }
                @for (hour, n) in &token.refreshes {
                    rect.refresh data-hour=(stamp(*hour)) data-refreshes=(n) x=(x(*hour)) y=(num(AXIS - 12.0))
                        width=(num(hour_width)) height="12" fill=(GREEN) {
                        title { (n) " refresh(es) in the hour from " (moment(*hour)) }
                    }
                }
                line data-event="now" data-at=(stamp(now)) x1=(x(now)) x2=(x(now)) y1="23" y2=(num(AXIS + 3.0))
                    stroke=(INK) stroke-dasharray="2 2" {}
                text x=(x(now)) y="21" text-anchor="middle" fill=(INK) { "now" }
                @if let Some(connected) = token.connected_at {
                    circle data-event="connected" data-at=(stamp(connected)) cx=(x(connected)) cy=(num(AXIS))
                        r="4" fill=(BLUE) {
                        title { "Connected " (moment(connected)) }
                    }
                }
                @if let Some(next) = token.next_refresh_at {
                    circle data-event="next-refresh" data-at=(stamp(next)) cx=(x(next)) cy=(num(AXIS - 6.0))
                        r="4" fill="#ffffff" stroke=(GREEN) stroke-width="2" {
                        title { "Next planned refresh " (moment(next)) }
                    }
                }
                @if let Some(expiry) = token.expires_at {
                    rect data-event="expiry" data-at=(stamp(expiry)) x=(num(x_at(expiry, span) - 1.0)) y=(num(AXIS - 16.0))
                        width="2" height="19" fill=(RED) {
                        title { "Access token expires " (moment(expiry)) }
                    }
                }
            }
            }
            figcaption { "Token timeline: the last 7 days and what is planned (UTC)." }
            dl #token-events {
                dt { "State" } dd { (state_words(token.state)) }
                @if let Some(connected) = token.connected_at {
                    dt { "Connected" } dd { (moment(connected)) " (" (relative(connected, now)) ")" }
                }
                dt { "Refreshes, last 7 days" }
                dd {
                    (refreshes)
                    @if let Some(last) = token.last_refresh_at { "; the last " (moment(last)) " (" (relative(last, now)) ")" }
                    @else { "; none since connecting" }
                }
                @if let Some(next) = token.next_refresh_at {
                    dt { "Next planned refresh" } dd { (moment(next)) " (" (relative(next, now)) ")" }
                }
                @if let Some(expiry) = token.expires_at {
                    dt { "Access token expires" } dd { (moment(expiry)) " (" (relative(expiry, now)) ")" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap()
    }

    fn connected() -> TokenTimeline {
        TokenTimeline {
            state: "connected",
            connected_at: Some(now() - Duration::days(3)),
            refreshes: vec![
                (now() - Duration::days(2), 1),
                (now() - Duration::hours(10), 2),
            ],
            last_refresh_at: Some(now() - Duration::hours(10)),
            next_refresh_at: Some(now() + Duration::hours(13)),
            expires_at: Some(now() + Duration::hours(14)),
        }
    }

    #[test]
    fn events_sit_in_time_order_and_carry_their_moments() {
        let svg = timeline(&connected(), now()).into_string();
        let x_of = |event: &str| -> f64 {
            let mark = svg
                .split(&format!("data-event=\"{event}\""))
                .nth(1)
                .unwrap_or_else(|| panic!("{event} in {svg}"));
            let tag = mark.split('>').next().unwrap();
            let value = [" cx=\"", " x1=\"", " x=\""]
                .iter()
                .find_map(|attribute| tag.split(attribute).nth(1))
                .unwrap();
            value.split('"').next().unwrap().parse().unwrap()
        };
        let connected_x = x_of("connected");
        let now_x = x_of("now");
        let next_x = x_of("next-refresh");
        let expiry_x = x_of("expiry");
        assert!(connected_x < now_x && now_x < next_x && next_x < expiry_x + 1.0);
        // 7 days back and 1 day ahead: now is at 7/8 of the axis.
        assert_eq!(now_x, LEFT + (WIDTH - LEFT - RIGHT) * 7.0 / 8.0);
        assert!(svg.contains("data-refreshes=\"3\""));
        assert!(svg.contains(&format!(
            "data-hour=\"{}\" data-refreshes=\"2\"",
            stamp(now() - Duration::hours(10))
        )));
        assert!(svg.contains("data-at=\"2026-11-30T12:00:00Z\""), "{svg}");
        assert!(
            svg.contains("Next planned refresh</dt><dd>Fri 4 Dec 01:00 UTC (in 13 h)"),
            "{svg}"
        );
    }

    #[test]
    fn a_connection_older_than_the_window_is_drawn_at_its_start() {
        let token = TokenTimeline {
            connected_at: Some(now() - Duration::days(30)),
            ..connected()
        };
        let svg = timeline(&token, now()).into_string();
        assert!(svg.contains(&format!("cx=\"{}\"", num(LEFT))), "{svg}");
        assert!(svg.contains("(30 days ago)"), "{svg}");
    }

    #[test]
    fn without_a_connection_there_is_a_sentence_and_labels_are_escaped() {
        let none = TokenTimeline {
            state: "not_connected",
            ..TokenTimeline::default()
        };
        assert!(
            timeline(&none, now())
                .into_string()
                .contains("Not connected")
        );
        let odd = TokenTimeline {
            state: "<b>odd</b>",
            refreshes: Vec::new(),
            last_refresh_at: None,
            ..connected()
        };
        let svg = timeline(&odd, now()).into_string();
        assert!(svg.contains("&lt;b&gt;odd&lt;/b&gt;"), "{svg}");
        assert!(!svg.contains("<b>"), "{svg}");
        assert!(svg.contains("0; none since connecting"), "{svg}");
    }
}
