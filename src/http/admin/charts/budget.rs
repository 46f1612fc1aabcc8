//! Today's API budget as a half-circle gauge: calls used of the daily limit, coloured by how much
//! is spent, with the time the count starts again. Even one call shows as a visible sliver.

use std::f64::consts::PI;

use ccbridge_layout::{Markup, html};
use chrono::{DateTime, Utc};

use super::ApiBudget;
use super::svg::{GRID, INK, moment, num, relative, share_colour, stamp};

const CENTRE_X: f64 = 100.0;
const CENTRE_Y: f64 = 92.0;
const RADIUS: f64 = 76.0;
/// The smallest share drawn when any call was made.
const MIN_SHARE: f64 = 0.015;

/// The share of the budget spent (0 to 1, and 1 for a zero limit that was used).
pub fn share(budget: &ApiBudget) -> f64 {
    if budget.limit == 0 {
        return if budget.used > 0 { 1.0 } else { 0.0 };
    }
    (budget.used as f64 / f64::from(budget.limit)).min(1.0)
}

/// The share in whole percent; under 1% but not nothing is `<1%`, so a little use never reads
/// as none.
fn percent(used: u64, share: f64) -> String {
    match (share * 100.0).round() {
        _ if used == 0 => "0%".to_owned(),
        0.0 => "<1%".to_owned(),
        100.0 if share < 1.0 => "99%".to_owned(),
        whole => format!("{whole}%"),
    }
}

/// Where the arc of `share` ends, on the half circle from the left end (0) to the right (1).
fn arc_end(share: f64) -> (f64, f64) {
    let angle = PI * (1.0 - share);
    (
        CENTRE_X + RADIUS * angle.cos(),
        CENTRE_Y - RADIUS * angle.sin(),
    )
}

fn arc(share: f64) -> String {
    let (x, y) = arc_end(share);
    format!(
        "M {} {} A {r} {r} 0 0 1 {} {}",
        num(CENTRE_X - RADIUS),
        num(CENTRE_Y),
        num(x),
        num(y),
        r = num(RADIUS)
    )
}

pub fn gauge(budget: &ApiBudget, now: DateTime<Utc>) -> Markup {
    let share = share(budget);
    let shown = if budget.used > 0 {
        share.max(MIN_SHARE)
    } else {
        0.0
    };
    let colour = share_colour(share, 0.8);
    let percent = percent(budget.used, share);
    let resets = format!(
        "Resets {} ({})",
        budget.resets_at.format("%H:%M UTC"),
        relative(budget.resets_at, now)
    );
    html! {
        figure.chart #budget-chart style="margin:1rem 0;flex:1 1 16rem" {
            div style="max-width:16rem" {
                svg #budget-svg role="img" aria-labelledby="budget-title" aria-describedby="budget-desc"
                    width="100%" viewBox="0 0 200 128" font-family="system-ui, sans-serif"
                    data-used=(budget.used) data-limit=(budget.limit) data-day=(budget.day.to_string())
                    data-resets-at=(stamp(budget.resets_at)) {
                    title #budget-title { "API budget today" }
                    desc #budget-desc {
                        (budget.used) " of " (budget.limit) " calls to Constant Contact used on "
                        (budget.day.to_string()) " (UTC), " (percent) ". " (resets) "."
                    }
                    path d=(arc(1.0)) fill="none" stroke=(GRID) stroke-width="16" {}
                    @if shown > 0.0 {
                        path #budget-used d=(arc(shown)) fill="none" stroke=(colour) stroke-width="16" {}
                    }
                    text x=(num(CENTRE_X)) y=(num(CENTRE_Y - 12.0)) text-anchor="middle"
                        font-size="18" font-weight="600" fill=(colour) { (percent) }
                    text x=(num(CENTRE_X)) y=(num(CENTRE_Y + 4.0)) text-anchor="middle" font-size="10" fill=(INK) {
                        (budget.used) " of " (budget.limit) " calls"
                    }
                    text x=(num(CENTRE_X)) y="122" text-anchor="middle" font-size="10" fill=(INK) { (resets) }
                }
            }
            figcaption {
                "API calls today: " (budget.used) " of " (budget.limit) " (" (budget.day.to_string())
                ", UTC); the count starts again " (moment(budget.resets_at)) "."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone as _};

    use super::*;
    use crate::http::admin::charts::svg::{AMBER, GREEN, RED};

    fn budget(used: u64, limit: u32) -> ApiBudget {
        ApiBudget {
            day: NaiveDate::from_ymd_opt(2026, 12, 3).unwrap(),
            used,
            limit,
            resets_at: Utc.with_ymd_and_hms(2026, 12, 4, 0, 0, 0).unwrap(),
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 18, 30, 0).unwrap()
    }

    #[test]
    fn half_the_budget_ends_the_arc_at_the_top() {
        let (x, y) = arc_end(0.5);
        assert!((x - CENTRE_X).abs() < 1e-9 && (y - (CENTRE_Y - RADIUS)).abs() < 1e-9);
        let svg = gauge(&budget(5000, 10000), now()).into_string();
        assert!(svg.contains("d=\"M 24 92 A 76 76 0 0 1 100 16\""), "{svg}");
        assert!(svg.contains(&format!("stroke=\"{GREEN}\"")));
        assert!(
            svg.contains("data-used=\"5000\" data-limit=\"10000\""),
            "{svg}"
        );
        assert!(svg.contains("data-resets-at=\"2026-12-04T00:00:00Z\""));
        assert!(svg.contains("Resets 00:00 UTC (in 5 h 30 min)"), "{svg}");
    }

    #[test]
    fn one_call_is_a_visible_sliver_and_none_is_no_arc() {
        let svg = gauge(&budget(1, 10000), now()).into_string();
        let used = svg.split("id=\"budget-used\" d=\"").nth(1).unwrap();
        let end_x: f64 = used.split(' ').nth(9).unwrap().parse().unwrap();
        assert!(end_x > CENTRE_X - RADIUS + 0.01, "{used}");
        let idle = gauge(&budget(0, 10000), now()).into_string();
        assert!(!idle.contains("budget-used"), "{idle}");
        assert!(idle.contains(">0%<"), "{idle}");
        assert!(svg.contains(">&lt;1%<"), "{svg}");
        assert_eq!(percent(9995, 0.9995), "99%");
        assert_eq!(percent(5000, 0.5), "50%");
    }

    #[test]
    fn the_colour_warns_near_and_at_the_limit() {
        assert!(
            gauge(&budget(8500, 10000), now())
                .into_string()
                .contains(AMBER)
        );
        let spent = gauge(&budget(10000, 10000), now()).into_string();
        assert!(spent.contains(RED));
        assert!(
            spent.contains("d=\"M 24 92 A 76 76 0 0 1 176 92\""),
            "{spent}"
        );
        assert_eq!(share(&budget(3, 0)), 1.0);
        assert_eq!(share(&budget(0, 0)), 0.0);
    }
}
