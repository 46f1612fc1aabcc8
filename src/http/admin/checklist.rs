//! The overview's set-up checklist: what is still to do before signups reach Constant Contact,
//! shown until nothing is, and a warning when the console is opened under another address than
//! `server.public_url` (the browser then refuses to send the Connect button's form there).

use ccbridge_layout::{Markup, html};

use crate::config::{Config, ConnectFlow};

/// The checklist, or nothing when everything is set up and connected.
pub fn checklist(config: &Config, connected: bool) -> Markup {
    let mut items = config.setup_warnings();
    if !connected && config.constant_contact.is_configured() {
        items.push("not connected to Constant Contact yet: press Connect below".to_owned());
    }
    if items.is_empty() {
        return html! {};
    }
    html! {
        section #setup .notice {
            h2 { "Set-up checklist" }
            p { "Signups are accepted and kept, but these pieces are still to do:" }
            ul { @for item in &items { li { (item) } } }
            p {
                @match config.constant_contact.flow {
                    ConnectFlow::AuthorizationCode => {
                        "The redirect URI to register at Constant Contact: "
                        code #redirect-uri { (config.server.redirect_uri().as_str()) }
                    }
                    ConnectFlow::Device => {
                        "With the device flow no redirect URI is needed: press Connect, or run "
                        code { "ccbridge connect" } " on the server."
                    }
                }
            }
        }
    }
}

/// A warning when the browser reached the console as `host` (the `Host` header) while
/// `server.public_url` names another host or port.
pub fn host_warning(config: &Config, host: Option<&str>) -> Markup {
    let public = &config.server.public_url;
    let expected = match (public.host_str(), public.port()) {
        (Some(name), Some(port)) => format!("{name}:{port}"),
        (Some(name), None) => name.to_owned(),
        (None, _) => return html! {},
    };
    let console = format!("{}admin", public.as_str());
    html! {
        @if let Some(host) = host.filter(|host| !host.eq_ignore_ascii_case(&expected)) {
            p.bad #host-warning role="alert" {
                "This console was opened as " code { (host) } ", but "
                code { "server.public_url" } " is " code { (public.as_str()) }
                ": Connect and the other buttons post to that address, and your browser may \
                 refuse or lose the session. Open the console at "
                a href=(console) { (console) } ", or set " code { "server.public_url" }
                " to the address you use."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checklist_names_what_is_missing_and_disappears_when_done() {
        let bare = Config::from_toml("").unwrap();
        let html = checklist(&bare, false).into_string();
        assert!(html.contains("admin.password_hash"), "{html}");
        assert!(
            html.contains("constant_contact.client_id and constant_contact.client_secret"),
            "{html}"
        );
        assert!(
            html.contains("http://localhost:8080/oauth/callback"),
            "{html}"
        );
    }

    #[test]
    fn the_host_warning_compares_host_and_port() {
        let config =
            Config::from_toml("[server]\npublic_url = \"https://forms.example.org\"").unwrap();
        let warning = |config: &Config, host| host_warning(config, Some(host)).into_string();
        assert_eq!(warning(&config, "forms.example.org"), "");
        assert_eq!(warning(&config, "FORMS.example.org"), "");
        let other = warning(&config, "10.0.0.5:8080");
        assert!(
            other.contains("opened as <code>10.0.0.5:8080</code>"),
            "{other}"
        );
        assert!(other.contains("https://forms.example.org/admin"), "{other}");
        let local = Config::from_toml("").unwrap();
        assert_eq!(warning(&local, "localhost:8080"), "");
        assert!(!warning(&local, "127.0.0.1:8080").is_empty());
    }
}
