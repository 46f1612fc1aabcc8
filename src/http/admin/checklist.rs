//! The overview's set-up checklist: what is still to do before signups reach Constant Contact,
//! shown until nothing is, and a warning when the console is opened under another address than
//! `server.public_url` (the browser then refuses to send the Connect button's form there).

use std::fmt::Write as _;

use crate::config::{Config, ConnectFlow};
use crate::http::pages::escape;

/// The checklist's HTML, or nothing when everything is set up and connected.
pub fn checklist(config: &Config, connected: bool) -> String {
    let mut items = config.setup_warnings();
    if !connected && config.constant_contact.is_configured() {
        items.push("not connected to Constant Contact yet: press Connect below".to_owned());
    }
    if items.is_empty() {
        return String::new();
    }
    let mut html = String::from(
        "<section id=\"setup\" class=\"notice\"><h2>Set-up checklist</h2>\n\
         <p>Signups are accepted and kept, but these pieces are still to do:</p>\n<ul>\n",
    );
    for item in items {
        let _ = writeln!(html, "<li>{}</li>", escape(&item));
    }
    let how = match config.constant_contact.flow {
        ConnectFlow::AuthorizationCode => format!(
            "The redirect URI to register at Constant Contact: <code id=\"redirect-uri\">{}</code>",
            escape(config.server.redirect_uri().as_str())
        ),
        ConnectFlow::Device => "With the device flow no redirect URI is needed: press Connect, or run <code>ccbridge connect</code> on the server.".to_owned(),
    };
    let _ = writeln!(html, "</ul>\n<p>{how}</p></section>");
    html
}

/// A warning when the browser reached the console as `host` (the `Host` header) while
/// `server.public_url` names another host or port.
pub fn host_warning(config: &Config, host: Option<&str>) -> String {
    let public = &config.server.public_url;
    let expected = match (public.host_str(), public.port()) {
        (Some(name), Some(port)) => format!("{name}:{port}"),
        (Some(name), None) => name.to_owned(),
        (None, _) => return String::new(),
    };
    match host {
        Some(host) if !host.eq_ignore_ascii_case(&expected) => format!(
            "<p class=\"bad\" id=\"host-warning\" role=\"alert\">This console was opened as <code>{}</code>, \
             but <code>server.public_url</code> is <code>{}</code>: Connect and the other buttons \
             post to that address, and your browser may refuse or lose the session. Open the \
             console at <a href=\"{}admin\">{}admin</a>, or set <code>server.public_url</code> to \
             the address you use.</p>\n",
            escape(host),
            escape(public.as_str()),
            escape(public.as_str()),
            escape(public.as_str()),
        ),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checklist_names_what_is_missing_and_disappears_when_done() {
        let bare = Config::from_toml("").unwrap();
        let html = checklist(&bare, false);
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
        assert_eq!(host_warning(&config, Some("forms.example.org")), "");
        assert_eq!(host_warning(&config, Some("FORMS.example.org")), "");
        let other = host_warning(&config, Some("10.0.0.5:8080"));
        assert!(
            other.contains("opened as <code>10.0.0.5:8080</code>"),
            "{other}"
        );
        assert!(other.contains("https://forms.example.org/admin"), "{other}");
        let local = Config::from_toml("").unwrap();
        assert_eq!(host_warning(&local, Some("localhost:8080")), "");
        assert!(!host_warning(&local, Some("127.0.0.1:8080")).is_empty());
    }
}
