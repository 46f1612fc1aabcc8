//! The connect pages' templates (maud, every value escaped): the confirmation page with the
//! Connect button and the page after connecting in the console's look, and the choice of look
//! for the pages an account owner sees through a connect link. Every link and form action goes
//! through `config.server.path`, so they keep a path-prefixed `public_url`.

use axum::response::Html;
use ccbridge_layout::{Markup, html};

use crate::config::{Config, ConnectFlow};
use crate::http::admin::session::{Admin, CSRF_FIELD};
use crate::http::admin::{Nav, console_page};
use crate::http::pages::Visitor;
use crate::i18n::Language;
use crate::tokens::{AccountSwitch, Connected};

/// The page after a completed connection, whichever way it was made: in the console's look with
/// the way back to it when the console started it, else in the visitor's look (an account owner
/// through a connect link has no console to go back to).
pub(super) fn connected_page(
    config: &Config,
    connected: &Connected,
    console: bool,
) -> Html<String> {
    let body = html! {
        h1 { "Connected" }
        p {
            "ccbridge is connected to " strong { (connected.account()) } ". "
            @match connected.switch {
                AccountSwitch::None => {
                    "Queued signups will now be delivered; you can close this page."
                }
                AccountSwitch::Unconfirmed { .. } => {
                    "This is not the account ccbridge was connected to before, so nothing is "
                    "sent to it until the site's admin confirms the switch. You can close this page."
                }
            }
        }
        @if console {
            p { a href=(config.server.path("/admin")) { "Go to the admin console" } }
        }
    };
    shell(config, console, "Connected", body)
}

/// A connect page around `body`: the console's look (no navigation: the browser may have come
/// back from Constant Contact without the session cookie) or the visitor's.
pub(super) fn shell(config: &Config, console: bool, title: &str, body: Markup) -> Html<String> {
    if console {
        console_page(config, title, None, Nav::None, body)
    } else {
        Visitor::plain(Language::En).page(title, body)
    }
}

/// The page with the one button that starts connecting (a POST with the session's CSRF token),
/// in the console.
pub(super) fn confirmation_page(
    config: &Config,
    admin: &Admin,
    current: Option<&str>,
) -> Html<String> {
    let body = html! {
        h1 { "Connect to Constant Contact" }
        @if let Some(account) = current {
            p {
                "ccbridge is connected to " strong { (account) } " now; connecting replaces that "
                "connection with the account you log in to at Constant Contact."
            }
        } @else {
            p { "ccbridge is not connected yet." }
        }
        @match config.constant_contact.flow {
            ConnectFlow::AuthorizationCode => p {
                "You will be sent to Constant Contact to log in and approve ccbridge, then back here."
            },
            ConnectFlow::Device => p {
                "ccbridge uses the device flow: press Connect to get a short code, then enter it "
                "at Constant Contact (on any device) while logged in to the account. Or connect "
                "from the command line on the server: " code { "ccbridge connect" } "."
            },
        }
        @if let Some(csrf) = &admin.csrf {
            form method="post" action=(config.server.path("/connect")) {
                input type="hidden" name=(CSRF_FIELD) value=(csrf);
                button type="submit" id="connect" { "Connect" }
            }
        }
        p { a href=(config.server.path("/admin")) { "Back to the admin console" } }
    };
    console_page(config, "Connect", Some(admin), Nav::None, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefixed() -> Config {
        Config::from_toml("[server]\npublic_url = \"https://example.org/cc/\"").unwrap()
    }

    fn admin() -> Admin {
        Admin {
            csrf: Some("t\"ok".into()),
            session: None,
            new_cookie: None,
        }
    }

    #[test]
    fn the_confirmation_page_keeps_the_prefix_and_escapes_the_account() {
        let Html(page) = confirmation_page(&prefixed(), &admin(), Some("<b>Evil & Co</b>"));
        assert!(
            page.contains(r#"<form method="post" action="/cc/connect">"#),
            "{page}"
        );
        assert!(
            page.contains(r#"<a href="/cc/admin">Back to the admin console</a>"#),
            "{page}"
        );
        assert!(page.contains(r#"value="t&quot;ok""#), "{page}");
        assert!(
            page.contains("<strong>&lt;b&gt;Evil &amp; Co&lt;/b&gt;</strong>"),
            "{page}"
        );
        assert!(!page.contains("<b>Evil"), "{page}");
        for unprefixed in ["href=\"/admin", "action=\"/admin", "action=\"/connect"] {
            assert!(!page.contains(unprefixed), "{unprefixed} in {page}");
        }
    }

    #[test]
    fn the_connected_page_escapes_the_account_and_links_to_the_console_only_from_it() {
        let connected = Connected {
            generation: 1,
            account_name: Some("<script>alert(1)</script>".into()),
            switch: AccountSwitch::None,
        };
        let Html(console) = connected_page(&prefixed(), &connected, true);
        assert!(console.contains("<h1>Connected</h1>"), "{console}");
        assert!(
            console.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{console}"
        );
        assert!(!console.contains("<script>alert"), "{console}");
        assert!(
            console.contains(r#"<a href="/cc/admin">Go to the admin console</a>"#),
            "{console}"
        );
        assert!(console.contains("class=\"console\""), "{console}");

        let Html(owner) = connected_page(&prefixed(), &connected, false);
        assert!(owner.contains("&lt;script&gt;"), "{owner}");
        assert!(
            !owner.contains("/admin"),
            "no way into the console: {owner}"
        );
        assert!(owner.contains("class=\"visitor\""), "{owner}");
    }
}
