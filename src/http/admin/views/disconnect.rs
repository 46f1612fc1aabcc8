//! `GET /admin/disconnect`: what Disconnect does, and the button that does it.

use axum::response::Html;
use ccbridge_layout::html;

use super::super::session::Admin;
use super::{Nav, page, post_button};
use crate::config::Config;

pub fn disconnect_page(admin: &Admin, config: &Config, account: Option<&str>) -> Html<String> {
    let body = html! {
        h1 { "Disconnect from Constant Contact?" }
        p {
            "ccbridge forgets the stored tokens"
            @if let Some(account) = account { " of " strong { (account) } }
            ". Then:"
        }
        ul {
            li { "Signups are still accepted and kept; nothing is lost." }
            li { "Nothing is delivered until you connect again: the worker waits for a connection." }
            li { "The account check is forgotten; it runs again on the next connection." }
            li {
                "Constant Contact still lists ccbridge as an authorized app: to revoke its access "
                "altogether, also remove it in your Constant Contact account."
            }
        }
        div.actions {
            (post_button(config, admin, "/admin/disconnect", "Disconnect", "disconnect-confirm"))
            a.button #disconnect-cancel href=(config.server.path("/admin")) { "Cancel" }
        }
    };
    page(config, "Disconnect", Some(admin), Nav::None, body)
}
