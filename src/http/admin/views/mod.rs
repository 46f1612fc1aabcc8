//! The console's HTML: server-rendered, no scripts, readable on a phone. Every piece of dynamic
//! text goes through `escape`; the only markup built from data is ids and fixed labels.

use std::fmt::Write as _;
use std::time::Duration;

use axum::response::Html;
use ccbridge_layout::{Look, PreEscaped, Shell};
use chrono::{DateTime, Utc};

use super::session::{Admin, CSRF_FIELD};

mod forms;
mod overview;
mod signups;

use crate::http::pages::escape;
pub use forms::forms;
pub use overview::{Overview, overview};
pub use signups::signups;

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
    let title = format!("{title} · ccbridge admin");
    let shell = Shell {
        header: Some(PreEscaped(format!(
            "<header class=\"console\"><strong>ccbridge admin</strong>\n{nav}\n</header>"
        ))),
        ..Shell::new(Look::Console, "en", &title)
    };
    Html(
        shell
            .render(PreEscaped(format!("{read_only}\n{body}")))
            .into_string(),
    )
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

pub(super) fn short_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
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
