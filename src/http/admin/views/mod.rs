//! The console's HTML: server-rendered maud templates (every value escaped by default) in the one
//! shell of `ccbridge_layout`, readable on a phone. Every link, form action and redirect goes
//! through `config.server.path`, so the console works under a path-prefixed `public_url`.

use std::time::Duration;

use axum::response::Html;
use ccbridge_layout::{Look, Markup, Shell, html};
use chrono::{DateTime, Utc};

use super::session::{Admin, CSRF_FIELD};
use crate::config::Config;

mod disconnect;
mod errors;
mod forms;
mod overview;
mod privacy;
mod signups;

pub use disconnect::disconnect_page;
pub use forms::{FormsPage, forms};
pub use overview::{Overview, overview};
pub use privacy::{CONFIRM_FIELD, Lookup as PrivacyLookup, erased_page, privacy_page};
pub use signups::{SignupsPage, signups};

/// The console's pages in the navigation; `None` for pages outside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Signups,
    Forms,
    Links,
    Privacy,
    None,
}

const NAV: [(Nav, &str, &str); 5] = [
    (Nav::Overview, "/admin", "Overview"),
    (Nav::Signups, "/admin/signups", "Signups"),
    (Nav::Forms, "/admin/forms", "Forms"),
    (Nav::Links, "/admin/links", "Connect links"),
    (Nav::Privacy, "/admin/privacy", "Privacy"),
];

/// A console page: the header with navigation (the current page marked), then `body`.
pub fn page(
    config: &Config,
    title: &str,
    admin: Option<&Admin>,
    current: Nav,
    body: Markup,
) -> Html<String> {
    page_with_scripts(config, title, admin, current, &[], body)
}

/// The same, loading same-origin `scripts` (paths before the prefix).
pub fn page_with_scripts(
    config: &Config,
    title: &str,
    admin: Option<&Admin>,
    current: Nav,
    scripts: &[&str],
    body: Markup,
) -> Html<String> {
    let path = |p: &str| config.server.path(p);
    let header = html! {
        header.console {
            strong { "ccbridge admin" }
            @if let Some(admin) = admin {
                nav aria-label="Console" {
                    @for (i, (nav, href, label)) in NAV.iter().enumerate() {
                        @if i > 0 { " · " }
                        @if *nav == current {
                            a href=(path(href)) aria-current="page" { (label) }
                        } @else {
                            a href=(path(href)) { (label) }
                        }
                    }
                }
                (post_button(config, admin, "/admin/logout", "Log out", "logout"))
                @if let Some(csrf) = &admin.csrf {
                    form.inline method="post" action=(path("/admin/logout")) {
                        input type="hidden" name=(CSRF_FIELD) value=(csrf);
                        input type="hidden" name="everywhere" value="1";
                        button type="submit" id="logout-everywhere"
                            title="End every console session, in every browser" { "Log out everywhere" }
                    }
                }
            }
        }
    };
    let read_only = matches!(admin, Some(Admin { csrf: None, .. }));
    let title = format!("{title} · ccbridge admin");
    let scripts: Vec<String> = scripts.iter().map(|s| path(s)).collect();
    let scripts: Vec<&str> = scripts.iter().map(String::as_str).collect();
    let shell = Shell {
        header: Some(header),
        scripts: &scripts,
        ..Shell::new(Look::Console, "en", &title)
    };
    let body = html! {
        @if read_only {
            p.warn {
                "Read-only: authenticated by HTTP Basic without a session. "
                a href=(path("/admin/login")) { "Log in" }
                " to use the buttons."
            }
        }
        (body)
    };
    Html(shell.render(body).into_string())
}

/// A button that POSTs to `action` (a console path, before the prefix) with the session's CSRF
/// token; nothing without a session.
pub(super) fn post_button(
    config: &Config,
    admin: &Admin,
    action: &str,
    label: &str,
    id: &str,
) -> Markup {
    post_button_with(config, admin, action, label, id, &[])
}

/// The same, with more hidden fields.
pub(super) fn post_button_with(
    config: &Config,
    admin: &Admin,
    action: &str,
    label: &str,
    id: &str,
    fields: &[(&str, &str)],
) -> Markup {
    html! {
        @if let Some(csrf) = &admin.csrf {
            form.inline method="post" action=(config.server.path(action)) {
                input type="hidden" name=(CSRF_FIELD) value=(csrf);
                @for (name, value) in fields {
                    input type="hidden" name=(name) value=(value);
                }
                button type="submit" id=(id) { (label) }
            }
        }
    }
}

/// `2026-11-26 06:00:00 UTC (in 3h 2m)`.
pub(super) fn when(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let delta = t - now;
    let secs = delta.num_seconds().unsigned_abs();
    // Minutes (the nearest) are precise enough past two of them.
    let secs = if secs > 120 {
        (secs + 30) / 60 * 60
    } else {
        secs
    };
    let span = humantime::format_duration(Duration::from_secs(secs));
    let relative = if secs == 0 {
        "now".to_owned()
    } else if delta.num_seconds() >= 0 {
        format!("in {span}")
    } else {
        format!("{span} ago")
    };
    format!("{} ({relative})", t.format("%Y-%m-%d %H:%M:%S UTC"))
}

/// [`when`] in a `<time>` element that does not wrap.
pub(super) fn time(t: DateTime<Utc>, now: DateTime<Utc>) -> Markup {
    html! { time datetime=(t.to_rfc3339()) { (when(t, now)) } }
}

/// `2026-11-26 06:00`, in a `<time>` element that does not wrap.
pub(super) fn short_time(t: DateTime<Utc>) -> Markup {
    html! { time datetime=(t.to_rfc3339()) { (t.format("%Y-%m-%d %H:%M").to_string()) } }
}

/// The login page (`message`: why the last attempt was refused).
pub fn login(config: &Config, message: Option<&str>, enabled: bool) -> Html<String> {
    let body = html! {
        h1 { "Log in" }
        @if !enabled {
            p.warn {
                "Admin access is disabled until " code { "admin.password_hash" }
                " is set (see " code { "ccbridge hash-password" } ")."
            }
        } @else {
            @if let Some(message) = message {
                p.bad role="alert" { (message) }
            }
            form method="post" action=(config.server.path("/admin/login")) {
                label.field { "User name "
                    input name="username" id="username" autocomplete="username" required autofocus;
                }
                label.field { "Password "
                    input type="password" name="password" id="password"
                        autocomplete="current-password" required;
                }
                p { button type="submit" id="login" { "Log in" } }
            }
        }
    };
    page(config, "Log in", None, Nav::None, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin() -> Admin {
        Admin {
            csrf: Some("t\"ok".into()),
            session: None,
            new_cookie: None,
        }
    }

    #[test]
    fn the_nav_marks_the_current_page_and_keeps_the_prefix() {
        let config =
            Config::from_toml("[server]\npublic_url = \"https://example.org/cc/\"").unwrap();
        let Html(page) = page(&config, "Forms", Some(&admin()), Nav::Forms, html! {});
        assert!(
            page.contains(r#"<a href="/cc/admin/forms" aria-current="page">Forms</a>"#),
            "{page}"
        );
        assert!(
            page.contains(r#"<a href="/cc/admin/signups">Signups</a>"#),
            "{page}"
        );
        assert!(page.contains(r#"action="/cc/admin/logout""#), "{page}");
        // The token is an attribute value: escaped.
        assert!(page.contains(r#"value="t&quot;ok""#), "{page}");
        assert_eq!(
            page.matches("\" aria-current=\"page\">").count(),
            1,
            "{page}"
        );
    }
}
