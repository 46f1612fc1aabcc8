//! Signups per hour over the last 7 days, as three bar charts stacked on one time axis (small
//! multiples): accepted and delivered on one scale (they are comparable), refused on its own (a
//! flood of refusals would flatten the rest). Each hour is one `<g>` carrying its three numbers.

use ccbridge_layout::{Markup, html};
use chrono::{DateTime, Timelike as _, Utc};

use super::svg::{BLUE, GREEN, GRID, INK, RED, moment, num, scale, stamp};
use crate::store::HourlySignups;

const WIDTH: f64 = 400.0;
/// Room for the y axis labels.
const LEFT: f64 = 30.0;
/// One hour's width: 168 of them fill the rest.
const STEP: f64 = 2.2;
const BAR: f64 = 1.8;
const PANEL: f64 = 48.0;
/// Room above each panel for its title.
const GAP: f64 = 16.0;
const HEIGHT: f64 = 3.0 * (PANEL + GAP) + 14.0;
/// A bar for a count above zero is at least this tall, so a single signup is seen.
const MIN_BAR: f64 = 1.0;

/// One of the three panels.
struct Panel {
    title: &'static str,
    colour: &'static str,
    class: &'static str,
    /// Top of the panel's plot area.
    top: f64,
    max: u64,
    value: fn(&HourlySignups) -> u64,
}

impl Panel {
    fn total(&self, hours: &[HourlySignups]) -> u64 {
        hours.iter().map(self.value).sum()
    }

    /// The height of a bar for `n`.
    fn height(&self, n: u64) -> f64 {
        if n == 0 {
            0.0
        } else {
            scale(n, self.max, PANEL).max(MIN_BAR)
        }
    }
}

fn panels(hours: &[HourlySignups]) -> [Panel; 3] {
    let most = |value: fn(&HourlySignups) -> u64| hours.iter().map(value).max().unwrap_or(0);
    let shared = most(|h| h.accepted).max(most(|h| h.delivered));
    [
        Panel {
            title: "Accepted",
            colour: BLUE,
            class: "accepted",
            top: GAP,
            max: shared,
            value: |h| h.accepted,
        },
        Panel {
            title: "Delivered",
            colour: GREEN,
            class: "delivered",
            top: 2.0 * GAP + PANEL,
            max: shared,
            value: |h| h.delivered,
        },
        Panel {
            title: "Refused at the door",
            colour: RED,
            class: "refused",
            top: 3.0 * GAP + 2.0 * PANEL,
            max: most(|h| h.refused),
            value: |h| h.refused,
        },
    ]
}

fn x_of(index: usize) -> f64 {
    LEFT + index as f64 * STEP
}

/// The chart for `hours` (oldest first, one per hour).
pub fn chart(hours: &[HourlySignups], now: DateTime<Utc>) -> Markup {
    let panels = panels(hours);
    let bottom = HEIGHT - 12.0;
    let summary = format!(
        "Over the last 7 days: {} accepted, {} delivered, {} refused at the door. \
         Accepted and delivered share a scale (at most {} in one hour); refused have their own \
         (at most {}). Hours are UTC, the last one is the current hour (to {}).",
        panels[0].total(hours),
        panels[1].total(hours),
        panels[2].total(hours),
        panels[0].max,
        panels[2].max,
        moment(now),
    );
    html! {
        figure.chart #signups-chart style="margin:1rem 0" {
            div style="max-width:40rem" {
                svg #signups-svg role="img" aria-labelledby="signups-title"
                    aria-describedby="signups-desc" width="100%"
                    viewBox={ "0 0 " (num(WIDTH)) " " (num(HEIGHT)) }
                    font-family="system-ui, sans-serif" font-size="9" {
                    title #signups-title { "Signups per hour, last 7 days" }
                    desc #signups-desc { (summary) }
                    // Day boundaries (UTC midnight) with the day's name below the axis.
                    @for (index, hour) in hours.iter().enumerate().filter(|(_, h)| h.hour.hour() == 0) {
                        line x1=(num(x_of(index))) x2=(num(x_of(index))) y1="4" y2=(num(bottom))
                            stroke=(GRID) stroke-width="0.5" {}
                        @if index + 12 < hours.len() {
                            text x=(num(x_of(index) + 1.0)) y=(num(HEIGHT - 3.0)) fill=(INK) {
                                (hour.hour.format("%a %-d").to_string())
                            }
                        }
                    }
                    @for panel in &panels {
                        text x=(num(LEFT)) y=(num(panel.top - 4.0)) fill=(panel.colour) font-weight="600" {
                            (panel.title) ": " (panel.total(hours))
                        }
                        // An empty panel has one label, its "0": a top label would repeat it.
                        @if panel.max > 0 {
                            text x=(num(LEFT - 3.0)) y=(num(panel.top + 7.0)) text-anchor="end" fill=(INK) {
                                (panel.max)
                            }
                        }
                        text x=(num(LEFT - 3.0)) y=(num(panel.top + PANEL)) text-anchor="end" fill=(INK) { "0" }
                        line x1=(num(LEFT)) x2=(num(WIDTH)) y1=(num(panel.top + PANEL))
                            y2=(num(panel.top + PANEL)) stroke=(INK) stroke-width="0.5" {}
                    }
                    @for (index, hour) in hours.iter().enumerate() {
                        g.hour data-hour=(stamp(hour.hour)) data-accepted=(hour.accepted)
                            data-delivered=(hour.delivered) data-refused=(hour.refused) {
                            title {
                                (moment(hour.hour)) ": " (hour.accepted) " accepted, "
                                (hour.delivered) " delivered, " (hour.refused) " refused"
                            }
                            @for panel in &panels {
                                @let n = (panel.value)(hour);
                                @if n > 0 {
                                    @let height = panel.height(n);
                                    rect class=(panel.class) x=(num(x_of(index) + (STEP - BAR) / 2.0))
                                        y=(num(panel.top + PANEL - height)) width=(num(BAR))
                                        height=(num(height)) fill=(panel.colour) {}
                                }
                            }
                        }
                    }
                }
            }
            figcaption { "Signups per hour over the last 7 days (UTC). " (summary_line(&panels, hours)) }
            (table(hours))
        }
    }
}

fn summary_line(panels: &[Panel; 3], hours: &[HourlySignups]) -> String {
    format!(
        "{} accepted, {} delivered, {} refused at the door (refusals are written once a minute).",
        panels[0].total(hours),
        panels[1].total(hours),
        panels[2].total(hours)
    )
}

/// The same numbers for screen readers: one row per hour that has any.
fn table(hours: &[HourlySignups]) -> Markup {
    let counted: Vec<&HourlySignups> = hours
        .iter()
        .filter(|h| h.accepted + h.delivered + h.refused > 0)
        .collect();
    html! {
        table.visually-hidden #signups-table {
            caption { "Signups per hour (UTC), last 7 days; hours without any are left out" }
            thead { tr { th scope="col" { "Hour" } th scope="col" { "Accepted" } th scope="col" { "Delivered" } th scope="col" { "Refused" } } }
            tbody {
                @for hour in &counted {
                    tr { th scope="row" { (moment(hour.hour)) } td { (hour.accepted) } td { (hour.delivered) } td { (hour.refused) } }
                }
                @if counted.is_empty() {
                    tr { td colspan="4" { "No signups in the last 7 days." } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::super::{HOURS, fill_hours};
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 16, 20, 0).unwrap()
    }

    fn hour(day: u32, h: u32, accepted: u64, delivered: u64, refused: u64) -> HourlySignups {
        HourlySignups {
            hour: Utc.with_ymd_and_hms(2026, 12, day, h, 0, 0).unwrap(),
            accepted,
            delivered,
            refused,
        }
    }

    /// The `height` of the first `rect` of `class` in the group of `hour`.
    fn bar_height(svg: &str, hour: &str, class: &str) -> Option<f64> {
        let group = svg
            .split("<g ")
            .find(|g| g.contains(&format!("data-hour=\"{hour}\"")))?;
        let group = group.split("</g>").next()?;
        let rect = group
            .split("<rect ")
            .find(|r| r.starts_with(&format!("class=\"{class}\"")))?;
        let height = rect.split("height=\"").nth(1)?.split('"').next()?;
        height.parse().ok()
    }

    #[test]
    fn bars_are_proportional_to_their_counts_and_carry_them() {
        let hours = fill_hours(
            now(),
            &[
                hour(3, 10, 10, 5, 0),
                hour(3, 11, 20, 20, 7),
                hour(3, 12, 4, 0, 14),
            ],
        );
        let svg = chart(&hours, now()).into_string();
        let accepted = |h: &str| bar_height(&svg, h, "accepted").unwrap();
        assert_eq!(accepted("2026-12-03T11:00:00Z"), PANEL);
        assert_eq!(accepted("2026-12-03T10:00:00Z"), PANEL / 2.0);
        assert_eq!(accepted("2026-12-03T12:00:00Z"), PANEL / 5.0);
        // Delivered share the scale of accepted; refused have their own.
        assert_eq!(
            bar_height(&svg, "2026-12-03T10:00:00Z", "delivered"),
            Some(PANEL / 4.0)
        );
        assert_eq!(
            bar_height(&svg, "2026-12-03T12:00:00Z", "refused"),
            Some(PANEL)
        );
        assert_eq!(
            bar_height(&svg, "2026-12-03T11:00:00Z", "refused"),
            Some(PANEL / 2.0)
        );
        assert!(svg.contains(
            r#"data-hour="2026-12-03T11:00:00Z" data-accepted="20" data-delivered="20" data-refused="7""#
        ));
        assert_eq!(svg.matches("<g class=\"hour\"").count(), HOURS);
        assert!(svg.contains("Accepted: 34"), "{svg}");
        assert!(svg.contains("Refused at the door: 21"), "{svg}");
    }

    #[test]
    fn empty_data_draws_the_axes_and_says_there_is_nothing() {
        let svg = chart(&fill_hours(now(), &[]), now()).into_string();
        assert_eq!(svg.matches("<g class=\"hour\"").count(), HOURS);
        assert!(!svg.contains("<rect"), "no bars: {svg}");
        assert!(svg.contains("No signups in the last 7 days."));
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("aria-labelledby=\"signups-title\""));
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        // Each of the three panels labels its axis once: "0", never "0" at the top as well.
        assert_eq!(svg.matches(">0</text>").count(), 3, "{svg}");
    }

    #[test]
    fn a_day_with_nothing_has_24_empty_hours_and_keeps_its_label() {
        // Signups on the 1st and the 3rd, none on the 2nd.
        let hours = fill_hours(now(), &[hour(1, 9, 3, 3, 0), hour(3, 9, 1, 1, 1)]);
        let svg = chart(&hours, now()).into_string();
        let second: Vec<&str> = svg
            .split("<g class=\"hour\" ")
            .filter(|g| g.starts_with("data-hour=\"2026-12-02T"))
            .collect();
        assert_eq!(second.len(), 24);
        for group in second {
            let group = group.split("</g>").next().unwrap();
            assert!(group.contains("data-accepted=\"0\" data-delivered=\"0\" data-refused=\"0\""));
            assert!(!group.contains("<rect"), "{group}");
        }
        assert!(svg.contains(">Wed 2</text>"), "{svg}");
    }

    #[test]
    fn one_signup_among_many_is_still_seen() {
        let hours = fill_hours(now(), &[hour(3, 10, 1000, 0, 0), hour(3, 11, 1, 0, 0)]);
        let svg = chart(&hours, now()).into_string();
        assert_eq!(
            bar_height(&svg, "2026-12-03T11:00:00Z", "accepted"),
            Some(MIN_BAR)
        );
    }

    #[test]
    fn the_hidden_table_lists_the_hours_with_signups() {
        let hours = fill_hours(now(), &[hour(3, 10, 2, 1, 5)]);
        let markup = chart(&hours, now()).into_string();
        let table = markup.split("<table").nth(1).unwrap();
        assert!(table.starts_with(" class=\"visually-hidden\""), "{table}");
        assert!(
            table.contains(
                "<th scope=\"row\">Thu 3 Dec 10:00 UTC</th><td>2</td><td>1</td><td>5</td>"
            ),
            "{table}"
        );
        assert_eq!(table.matches("<tr>").count(), 2, "the header and one hour");
    }
}
