//! The overview: the connection, the worker, the queue, mails and the account check.

use std::fmt::Write as _;

use axum::response::Html;

use super::{page, post_button, post_button_with, when};
use crate::http::pages::escape;
use chrono::{DateTime, Utc};

use super::super::session::Admin;
use super::super::{checklist, consent_view};
use crate::config::Config;
use crate::delivery::Pause;
use crate::delivery::account_check::AccountCheck;
use crate::domain::SignupState;
use crate::status::Status;

/// What the overview shows.
pub struct Overview {
    pub status: Status,
    pub delivered_last_hour: Option<u64>,
    pub delivered_last_day: Option<u64>,
    pub account_check: Option<AccountCheck>,
    pub pause: Option<Pause>,
    /// The pictures: signups per hour, the API budget, the token's timeline, the oldest waiting.
    pub charts: super::super::charts::ChartsData,
    pub now: DateTime<Utc>,
    /// The `Host` the browser reached the console as.
    pub host: Option<String>,
}

pub fn overview(
    admin: &Admin,
    config: &Config,
    o: &Overview,
    notice: Option<&str>,
) -> Html<String> {
    let c = &o.status.connection;
    let mut body = String::from("<h1>Overview</h1>\n");
    body.push_str(&checklist::host_warning(config, o.host.as_deref()));
    body.push_str(&checklist::checklist(config, c.state != "not_connected"));
    if let Some(notice) = notice {
        let _ = writeln!(
            body,
            r#"<p class="notice" role="status">{}</p>"#,
            escape(notice)
        );
    }
    let (label, class) = match c.state {
        "connected" => ("Connected", "ok"),
        "refreshing" => ("Connected (refreshing the token now)", "ok"),
        "needs_reconnect" => ("Needs a reconnect", "bad"),
        "awaiting_confirmation" => ("Switched accounts: waiting for your confirmation", "bad"),
        _ => ("Not connected", "warn"),
    };
    body.push_str("<h2>Constant Contact connection</h2>\n<dl>\n");
    let _ = writeln!(
        body,
        r#"<dt>State</dt><dd><strong id="connection-state" class="{class}">{label}</strong>{}</dd>"#,
        c.reason
            .as_deref()
            .map(|r| format!(" ({})", escape(r)))
            .unwrap_or_default()
    );
    if let Some(account) = &c.account {
        let _ = writeln!(
            body,
            "<dt>Account</dt><dd id=\"account\">{}</dd>",
            escape(account)
        );
    }
    if !c.scopes.is_empty() {
        let _ = writeln!(
            body,
            "<dt>Scopes</dt><dd>{}</dd>",
            escape(&c.scopes.join(" "))
        );
    }
    if let Some(expires) = c.access_token_expires_at {
        let _ = writeln!(
            body,
            "<dt>Access token expires</dt><dd>{}</dd>",
            when(expires, o.now)
        );
    }
    if c.state != "not_connected" {
        let last = c
            .last_refresh_at
            .map_or("never (not since connecting)".to_owned(), |t| {
                when(t, o.now)
            });
        let _ = writeln!(body, "<dt>Last refresh</dt><dd>{last}</dd>");
        let class = if c.refresh_failures > 0 { "warn" } else { "ok" };
        let _ = writeln!(
            body,
            r#"<dt>Refresh failures</dt><dd class="{class}">{}</dd>"#,
            c.refresh_failures
        );
    }
    body.push_str("</dl>\n<div class=\"actions\">");
    if config.constant_contact.is_configured() {
        let label = if c.state == "not_connected" {
            "Connect"
        } else {
            "Reconnect"
        };
        if c.state == "awaiting_confirmation" {
            // The account shown goes with the button: a switch to yet another account, made
            // after the page was shown, is not confirmed by it.
            body.push_str(&post_button_with(
                admin,
                "/admin/connection/confirm-switch",
                "Confirm the switch",
                "confirm-switch",
                &[("account", c.account.as_deref().unwrap_or_default())],
            ));
        }
        body.push_str(&post_button(admin, "/connect", label, "connect"));
        if c.state != "not_connected" {
            body.push_str(&post_button(
                admin,
                "/admin/disconnect",
                "Disconnect",
                "disconnect",
            ));
        }
    } else {
        let missing = config.constant_contact.missing_keys();
        let _ = write!(
            body,
            "<p class=\"warn\">Set <code>{}</code> to connect.</p>",
            missing.join("</code> and <code>")
        );
    }
    body.push_str("</div>\n");
    body.push_str("<p><small>Someone else logs in to Constant Contact? Send them a <a href=\"/admin/links\">connect link</a>.</small></p>\n");
    if c.state != "not_connected" {
        body.push_str("<p><small>Disconnect forgets the stored tokens; signups keep being accepted and wait for the next connection. To revoke ccbridge's access altogether, also remove the app in your Constant Contact account.</small></p>\n");
    }

    body.push_str(&super::super::charts::section(&o.charts).into_string());
    body.push_str("<h2>Deliveries</h2>\n<dl>\n");
    let pause = match &o.pause {
        None => r#"<span class="ok">running</span>"#.to_owned(),
        Some(Pause::AwaitingConnection(reason)) => format!(
            r#"<span class="warn">paused until an admin connects</span> ({})"#,
            escape(reason)
        ),
        Some(Pause::Until { until, reason }) => format!(
            r#"<span class="warn">paused until {}</span> ({})"#,
            when(*until, o.now),
            escape(reason)
        ),
    };
    let _ = writeln!(
        body,
        "<dt>Worker</dt><dd id=\"delivery-state\">{pause}</dd>"
    );
    let count = |n: Option<u64>| n.map_or("(unavailable)".to_owned(), |n| n.to_string());
    let _ = writeln!(
        body,
        "<dt>Delivered, last hour</dt><dd>{}</dd>\n<dt>Delivered, last 24 hours</dt><dd>{}</dd>",
        count(o.delivered_last_hour),
        count(o.delivered_last_day)
    );
    let u = &o.status.api_usage;
    let _ = writeln!(
        body,
        r#"<dt>API calls today</dt><dd>{} of {} ({} UTC) <progress max="{}" value="{}"></progress></dd>"#,
        u.used,
        u.limit,
        u.day,
        u.limit,
        u.used.min(u64::from(u.limit))
    );
    body.push_str("</dl>\n");

    body.push_str("<h2>Queue</h2>\n");
    match &o.status.queue {
        Some(q) => {
            body.push_str("<div class=\"wrap\"><table id=\"queue\"><tr>");
            for state in SignupState::ALL {
                let _ = write!(body, "<th class=\"num\">{}</th>", state.as_str());
            }
            body.push_str("</tr><tr>");
            for state in SignupState::ALL {
                let _ = write!(body, "<td class=\"num\">{}</td>", q.get(state));
            }
            body.push_str("</tr></table></div>\n");
            if q.dead > 0 {
                let _ = writeln!(
                    body,
                    r#"<p class="bad">{} dead signup(s): <a href="/admin/signups#dead">see and retry them</a>.</p>"#,
                    q.dead
                );
            }
        }
        None => body.push_str("<p class=\"bad\">The queue cannot be read right now.</p>\n"),
    }
    consent_view::overview(&mut body, &o.status, o.now);

    body.push_str("<h2>Configured lists and custom fields</h2>\n");
    match &o.account_check {
        None => body.push_str("<p>Not checked yet: they are checked against the account when it is connected, then daily.</p>\n"),
        Some(check) if check.ok() => {
            let _ = writeln!(
                body,
                r#"<p class="ok" id="account-check">All configured lists and custom fields exist in the account (checked {}).</p>"#,
                when(check.checked_at, o.now)
            );
        }
        Some(check) => {
            let _ = writeln!(
                body,
                r#"<p class="bad" id="account-check">Missing from the account (checked {}); signups naming them are refused upstream:</p><ul>"#,
                when(check.checked_at, o.now)
            );
            for id in &check.missing_lists {
                let _ = writeln!(body, "<li>list <code>{id}</code></li>");
            }
            for id in &check.missing_custom_fields {
                let _ = writeln!(body, "<li>custom field <code>{id}</code></li>");
            }
            body.push_str("</ul>\n<p>Fix the ids in <code>[[forms]]</code>; <code>ccbridge lists</code> shows the account's lists.</p>\n");
        }
    }
    page("Overview", Some(admin), &body)
}
