//! The console's HTML: server-rendered, no scripts, readable on a phone. Every piece of dynamic
//! text goes through `escape`; the only markup built from data is ids and fixed labels.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use axum::response::Html;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::session::{Admin, CSRF_FIELD};
use super::{checklist, snippet};
use crate::config::Config;
use crate::delivery::Pause;
use crate::delivery::account_check::AccountCheck;
use crate::domain::SignupState;
use crate::http::pages::escape;
use crate::status::Status;
use crate::store::SignupRecord;

const STYLE: &str = r#"
body { font-family: system-ui, sans-serif; margin: 0; color: #222; line-height: 1.5; }
header { background: #1f3a5f; color: #fff; padding: .5rem 1rem; display: flex; flex-wrap: wrap; gap: .25rem 1.25rem; align-items: center; }
header a { color: #fff; }
header strong { margin-right: auto; }
main { max-width: 62rem; margin: 0 auto; padding: 0 1rem 2rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
.wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #ddd; vertical-align: top; }
td.num, th.num { text-align: right; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dt { font-weight: 600; } dd { margin: 0; overflow-wrap: anywhere; }
.ok { color: #17692c; } .bad { color: #a11; } .warn { color: #8a5a00; }
.notice { background: #eef5ee; border-left: 4px solid #17692c; padding: .5rem 1rem; }
button { font: inherit; padding: .35rem .9rem; cursor: pointer; }
form.inline { display: inline; margin: 0; }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; margin: .75rem 0; }
textarea { width: 100%; box-sizing: border-box; font-family: ui-monospace, monospace; font-size: .85rem; }
code { overflow-wrap: anywhere; }
label.field { display: block; margin: .75rem 0; }
label.field input { display: block; width: 100%; max-width: 20rem; font: inherit; padding: .3rem; }
@media (max-width: 32rem) { dl { grid-template-columns: 1fr; } dd { margin-bottom: .5rem; } }
"#;

/// A console page: the header with navigation, then `body` (already escaped HTML).
pub fn page(title: &str, admin: Option<&Admin>, body: &str) -> Html<String> {
    let nav = match admin {
        Some(admin) => format!(
            r#"<nav><a href="/admin">Overview</a> · <a href="/admin/signups">Signups</a> · <a href="/admin/forms">Forms</a> · <a href="/admin/links">Connect links</a> · <a href="/admin/privacy">Privacy</a></nav>
{}"#,
            [
                post_button(admin, "/admin/logout", "Log out", "logout"),
                logout_everywhere_button(admin),
            ]
            .concat()
        ),
        None => String::new(),
    };
    let read_only = match admin {
        Some(Admin { csrf: None, .. }) => {
            r#"<p class="warn">Read-only: authenticated by HTTP Basic without a session. <a href="/admin/login">Log in</a> to use the buttons.</p>"#
        }
        _ => "",
    };
    Html(format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title} · ccbridge admin</title>
<style>{STYLE}</style>
</head>
<body>
<header><strong>ccbridge admin</strong>
{nav}
</header>
<main>
{read_only}
{body}
</main>
</body>
</html>
"#,
        title = escape(title),
    ))
}

/// A button that POSTs to `action` with the session's CSRF token (nothing without a session).
pub(super) fn post_button(admin: &Admin, action: &str, label: &str, id: &str) -> String {
    post_button_with(admin, action, label, id, &[])
}

/// The same, with more hidden fields.
pub(super) fn post_button_with(
    admin: &Admin,
    action: &str,
    label: &str,
    id: &str,
    fields: &[(&str, &str)],
) -> String {
    let Some(csrf) = &admin.csrf else {
        return String::new();
    };
    let hidden: String = fields
        .iter()
        .map(|(name, value)| {
            format!(
                r#"<input type="hidden" name="{}" value="{}">"#,
                escape(name),
                escape(value)
            )
        })
        .collect();
    format!(
        r#"<form method="post" action="{action}" class="inline"><input type="hidden" name="{CSRF_FIELD}" value="{csrf}">{hidden}<button type="submit" id="{id}">{label}</button></form>"#,
        action = escape(action),
        csrf = escape(csrf),
        id = escape(id),
        label = escape(label),
    )
}

/// Ends every console session (every browser, every replica), e.g. after a lost laptop.
fn logout_everywhere_button(admin: &Admin) -> String {
    let Some(csrf) = &admin.csrf else {
        return String::new();
    };
    format!(
        r#"<form method="post" action="/admin/logout" class="inline"><input type="hidden" name="{CSRF_FIELD}" value="{csrf}"><input type="hidden" name="everywhere" value="1"><button type="submit" id="logout-everywhere" title="End every console session, in every browser">Log out everywhere</button></form>"#,
        csrf = escape(csrf),
    )
}

/// `2026-11-26 06:00:00 UTC (in 3h 2m)`.
pub(super) fn when(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let delta = t - now;
    let secs = delta.num_seconds().unsigned_abs();
    // Minutes are precise enough past two of them.
    let secs = if secs > 120 { secs / 60 * 60 } else { secs };
    let span = humantime::format_duration(Duration::from_secs(secs));
    let relative = if delta.num_seconds() >= 0 {
        format!("in {span}")
    } else {
        format!("{span} ago")
    };
    format!("{} ({relative})", t.format("%Y-%m-%d %H:%M:%S UTC"))
}

fn short_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// What the overview shows.
pub struct Overview {
    pub status: Status,
    pub delivered_last_hour: Option<u64>,
    pub delivered_last_day: Option<u64>,
    pub account_check: Option<AccountCheck>,
    pub pause: Option<Pause>,
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
    super::consent_view::overview(&mut body, &o.status, o.now);

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

pub fn signups(
    admin: &Admin,
    dead: &[SignupRecord],
    recent: &[SignupRecord],
    notice: Option<&str>,
) -> Html<String> {
    let mut body = String::from("<h1>Signups</h1>\n");
    if let Some(notice) = notice {
        let _ = writeln!(
            body,
            r#"<p class="notice" role="status">{}</p>"#,
            escape(notice)
        );
    }
    body.push_str("<h2 id=\"dead\">Dead signups</h2>\n");
    if dead.is_empty() {
        body.push_str("<p class=\"ok\">None.</p>\n");
    } else {
        body.push_str("<p>Constant Contact refused these for good, or they could not be delivered in time. Each is kept; retry it once the cause is fixed.</p>\n");
        let _ = writeln!(
            body,
            "<div class=\"actions\">{}</div>",
            post_button(
                admin,
                "/admin/signups/retry",
                "Retry all dead and failed",
                "retry-all"
            )
        );
        body.push_str("<div class=\"wrap\"><table id=\"dead-signups\"><tr><th>received</th><th>form</th><th>email</th><th class=\"num\">attempts</th><th>upstream error</th><th></th></tr>\n");
        for s in dead {
            let _ = writeln!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                short_time(s.created_at),
                escape(&s.form_id),
                email(s),
                s.attempts,
                escape(s.last_error.as_deref().unwrap_or("")),
                post_button(
                    admin,
                    &format!("/admin/signups/{}/retry", s.id),
                    "Retry",
                    &format!("retry-{}", s.id)
                ),
            );
        }
        body.push_str("</table></div>\n");
    }
    body.push_str("<h2>Recent signups</h2>\n");
    if recent.is_empty() {
        body.push_str("<p>None yet.</p>\n");
    } else {
        body.push_str("<div class=\"wrap\"><table id=\"recent-signups\"><tr><th>received</th><th>form</th><th>email</th><th>state</th><th class=\"num\">attempts</th><th>delivered</th><th>last error</th></tr>\n");
        for s in recent {
            let state = match s.state {
                SignupState::Delivered => "<span class=\"ok\">delivered</span>".to_owned(),
                SignupState::Dead => "<span class=\"bad\">dead</span>".to_owned(),
                SignupState::Spam => {
                    format!("spam ({})", escape(s.spam_reason.as_deref().unwrap_or("?")))
                }
                SignupState::AwaitingConfirmation | SignupState::Suppressed => format!(
                    "{} ({})",
                    s.state.as_str(),
                    escape(s.hold_reason.as_deref().unwrap_or("?"))
                ),
                other => other.as_str().to_owned(),
            };
            let _ = writeln!(
                body,
                "<tr id=\"signup-{}\"><td>{}</td><td>{}</td><td>{}</td><td>{state}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                s.id,
                short_time(s.created_at),
                escape(&s.form_id),
                email(s),
                s.attempts,
                s.delivered_at.map(short_time).unwrap_or_default(),
                escape(s.last_error.as_deref().unwrap_or("")),
            );
        }
        body.push_str("</table></div>\n");
    }
    page("Signups", Some(admin), &body)
}

fn email(s: &SignupRecord) -> String {
    match &s.email {
        Some(email) => escape(email),
        None => "<em>(erased after delivery)</em>".to_owned(),
    }
}

pub fn forms(admin: &Admin, config: &Config, list_names: &BTreeMap<Uuid, String>) -> Html<String> {
    let mut body = String::from("<h1>Forms</h1>\n");
    if config.forms.is_empty() {
        body.push_str("<p>No forms are configured: add a <code>[[forms]]</code> entry to the configuration.</p>\n");
    }
    let name = |id: &Uuid| {
        list_names.get(id).map_or_else(
            || format!("<code>{id}</code>"),
            |n| format!("{} (<code>{id}</code>)", escape(n)),
        )
    };
    for form in &config.forms {
        let url = snippet::signup_url(&config.server.public_url, form);
        let _ = writeln!(body, "<h2 id=\"form-{id}\">{id}</h2>\n<dl>", id = form.id);
        let _ = writeln!(
            body,
            "<dt>Posts to</dt><dd><code>{}</code></dd>",
            escape(&url)
        );
        let lists: Vec<String> = form.list_ids.iter().map(name).collect();
        let _ = writeln!(
            body,
            "<dt>Every signup joins</dt><dd>{}</dd>",
            lists.join(", ")
        );
        if !form.optional_list_ids.is_empty() {
            let lists: Vec<String> = form.optional_list_ids.iter().map(name).collect();
            let _ = writeln!(
                body,
                "<dt>Visitors may choose</dt><dd>{}</dd>",
                lists.join(", ")
            );
        }
        if !form.custom_fields.is_empty() {
            let fields: Vec<String> = form
                .custom_fields
                .iter()
                .map(|(field, id)| format!("<code>{field}</code> → <code>{id}</code>"))
                .collect();
            let _ = writeln!(body, "<dt>Custom fields</dt><dd>{}</dd>", fields.join(", "));
        }
        let origins: Vec<String> = form
            .allowed_origins
            .iter()
            .map(|u| format!("<code>{}</code>", escape(&u.origin().ascii_serialization())))
            .collect();
        let origins = if origins.is_empty() {
            "<strong class=\"bad\" id=\"no-origins\">none</strong>: a browser posting this form \
             from your site is refused (403 <code>origin_not_allowed</code>); add the site's origin, \
             e.g. <code>https://www.example.org</code>, to <code>allowed_origins</code>"
                .to_owned()
        } else {
            origins.join(", ")
        };
        let _ = writeln!(
            body,
            "<dt>Pages allowed to post (<code>allowed_origins</code>)</dt><dd>{origins}</dd>"
        );
        let after = |u: &Option<url::Url>| {
            u.as_ref().map_or("the built-in page".to_owned(), |u| {
                format!("<code>{}</code>", escape(u.as_str()))
            })
        };
        let _ = writeln!(
            body,
            "<dt>After a signup</dt><dd>{}</dd>\n<dt>On invalid input</dt><dd>{}</dd>\n</dl>",
            after(&form.success_url),
            after(&form.error_url)
        );
        let _ = writeln!(
            body,
            r#"<h3>Plain HTML form</h3>
<p>Works without JavaScript: the visitor lands on the success (or error) page. The page holding it must be on an origin listed in the form's <code>allowed_origins</code>, or the post is refused.</p>
<textarea readonly rows="14" id="snippet-{id}-plain" aria-label="HTML for the {id} form">{}</textarea>
<h3>With fetch()</h3>
<p>Stays on the page and shows the answer in place. A page on another origin than this service must be listed in the form's <code>allowed_origins</code>.</p>
<textarea readonly rows="20" id="snippet-{id}-fetch" aria-label="HTML and script for the {id} form">{}</textarea>"#,
            escape(&snippet::plain_form(&url, form, list_names)),
            escape(&snippet::fetch_form(&url, form, list_names)),
            id = form.id,
        );
    }
    page("Forms", Some(admin), &body)
}

pub fn login(message: Option<&str>, enabled: bool) -> Html<String> {
    let mut body = String::from("<h1>Log in</h1>\n");
    if !enabled {
        body.push_str("<p class=\"warn\">Admin access is disabled until <code>admin.password_hash</code> is set (see <code>ccbridge hash-password</code>).</p>\n");
        return page("Log in", None, &body);
    }
    if let Some(message) = message {
        let _ = writeln!(
            body,
            r#"<p class="bad" role="alert">{}</p>"#,
            escape(message)
        );
    }
    body.push_str(
        r#"<form method="post" action="/admin/login">
<label class="field">User name <input name="username" id="username" autocomplete="username" required autofocus></label>
<label class="field">Password <input type="password" name="password" id="password" autocomplete="current-password" required></label>
<p><button type="submit" id="login">Log in</button></p>
</form>
"#,
    );
    page("Log in", None, &body)
}
