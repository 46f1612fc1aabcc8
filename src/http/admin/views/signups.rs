//! The signups page: dead signups with retry buttons, and the recent ones.

use std::fmt::Write as _;

use axum::response::Html;

use super::{page, post_button, short_time};
use crate::http::pages::escape;

use super::super::session::Admin;
use crate::domain::SignupState;
use crate::store::SignupRecord;

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
