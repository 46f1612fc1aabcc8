//! The overview: one status line with its reasons, then the connection, the worker, failing
//! deliveries, the queue, mails and the account check.

use axum::response::Html;
use ccbridge_layout::{Markup, html};
use chrono::{DateTime, Utc};

use super::super::session::Admin;
use super::super::verdict::{self, Facts, Level, WorkerState};
use super::super::{checklist, consent_view};
use super::{Nav, errors, page, post_button, post_button_with, time};
use crate::config::Config;
use crate::delivery::Pause;
use crate::domain::{AccountCheck, SignupState};
use crate::status::Status;
use crate::store::Failing;

/// What the overview shows.
pub struct Overview {
    pub status: Status,
    pub delivered_last_hour: Option<u64>,
    pub delivered_last_day: Option<u64>,
    /// This process's latest account check (it knows the lists' names).
    pub account_check: Option<AccountCheck>,
    /// The worker's pause, if still on at `now`.
    pub pause: Option<Pause>,
    /// `None` when the database could not be read.
    pub failing: Option<Failing>,
    /// When the token keeper plans the next refresh.
    pub next_refresh_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
    /// The `Host` the browser reached the console as.
    pub host: Option<String>,
    /// The pictures (`charts::section`): signups per hour, the API budget, the token's timeline,
    /// the oldest waiting signup; nothing when `None`.
    pub charts: Option<Markup>,
}

impl Overview {
    /// The account check: this process's (with names), else the stored one.
    fn check(&self) -> Option<&AccountCheck> {
        self.account_check
            .as_ref()
            .or(self.status.account_check.as_ref())
    }

    /// What the verdict weighs.
    pub fn facts(&self, config: &Config) -> Facts {
        let check = self.check();
        Facts {
            connection: self.status.connection.state,
            configured: config.constant_contact.is_configured(),
            refresh_failures: self.status.connection.refresh_failures,
            pause: self.pause.clone(),
            queue: self.status.queue,
            failing: self.failing.clone().unwrap_or_default(),
            mail: self.status.mail,
            missing_lists: check.map_or(0, |c| c.missing_lists.len()),
            missing_custom_fields: check.map_or(0, |c| c.missing_custom_fields.len()),
            setup_items: config.setup_warnings().len(),
            oldest_waiting: self
                .failing
                .as_ref()
                .and_then(|f| f.oldest_waiting_since)
                .map(|since| self.now - since),
        }
    }

    pub fn worker(&self) -> WorkerState {
        verdict::worker_state(
            self.status.connection.state,
            self.pause.as_ref(),
            &self.failing.clone().unwrap_or_default(),
            self.status
                .unsubscribes
                .as_ref()
                .and_then(|u| u.waiting.as_deref()),
        )
    }
}

pub fn overview(
    admin: &Admin,
    config: &Config,
    o: &Overview,
    notice: Option<&str>,
) -> Html<String> {
    let c = &o.status.connection;
    let path = |p: &str| config.server.path(p);
    let (level, reasons) = verdict::verdict(&o.facts(config));
    let body = html! {
        h1 { "Overview" }
        (checklist::host_warning(config, o.host.as_deref()))
        @if let Some(notice) = notice {
            p.notice role="status" { (notice) }
        }
        p class={ "status-line " (level.class()) } id="status-line" role="status" {
            strong { (level.label()) }
            @if level == Level::Good { ": connected, and every signup is on its way." }
        }
        @if !reasons.is_empty() {
            ul #reasons {
                @for reason in &reasons {
                    li class=(reason.level.class()) {
                        (reason.text) " "
                        a href=(path(reason.link)) { (reason.link_text) }
                    }
                }
            }
        }
        @if let Some(charts) = &o.charts { (charts) }
        (checklist::checklist(config, c.state != "not_connected"))
        (connection(admin, config, o))
        (deliveries(o))
        (queue(config, o))
        (consent_view::overview(&o.status, o.now))
        (account_check(config, o))
    };
    page(config, "Overview", Some(admin), Nav::Overview, body)
}

fn connection(admin: &Admin, config: &Config, o: &Overview) -> Markup {
    let c = &o.status.connection;
    let (label, class) = match c.state {
        "connected" => ("Connected", "ok"),
        "refreshing" => ("Connected (refreshing the token now)", "ok"),
        "needs_reconnect" => ("Needs a reconnect", "bad"),
        "awaiting_confirmation" => ("Switched accounts: waiting for your confirmation", "bad"),
        _ => ("Not connected", "warn"),
    };
    let connected = c.state != "not_connected";
    html! {
        h2 #connection { "Constant Contact connection" }
        dl {
            dt { "State" }
            dd {
                strong id="connection-state" class=(class) { (label) }
                @if let Some(reason) = &c.reason { " (" (reason) ")" }
            }
            @if let Some(account) = &c.account {
                dt { "Account" } dd #account { (account) }
            }
            @if !c.scopes.is_empty() {
                dt { "Scopes" } dd { (c.scopes.join(" ")) }
            }
            @if let Some(expires) = c.access_token_expires_at {
                dt { "Access token expires" } dd { (time(expires, o.now)) }
            }
            @if connected {
                dt { "Last refresh" }
                dd #last-refresh {
                    @match (c.last_refresh_at, o.next_refresh_at) {
                        (Some(at), _) => (time(at, o.now)),
                        (None, Some(next)) => {
                            "not yet — the first refresh is planned at " (time(next, o.now))
                        }
                        (None, None) if c.state == "needs_reconnect" => {
                            "none since connecting; none is planned until a reconnect"
                        }
                        (None, None) => "none since connecting",
                    }
                }
                @if let (Some(_), Some(next)) = (c.last_refresh_at, o.next_refresh_at) {
                    dt { "Next refresh" } dd #next-refresh { "planned at " (time(next, o.now)) }
                }
                dt { "Refresh failures" }
                dd class=(if c.refresh_failures > 0 { "warn" } else { "ok" }) { (c.refresh_failures) }
            }
        }
        div.actions {
            @if config.constant_contact.is_configured() {
                @if c.state == "awaiting_confirmation" {
                    // The account shown goes with the button: a switch to yet another account,
                    // made after the page was shown, is not confirmed by it.
                    (post_button_with(config, admin, "/admin/connection/confirm-switch",
                        "Confirm the switch", "confirm-switch",
                        &[("account", c.account.as_deref().unwrap_or_default())]))
                }
                (post_button(config, admin, "/connect",
                    if connected { "Reconnect" } else { "Connect" }, "connect"))
                @if connected {
                    a.button #disconnect href=(config.server.path("/admin/disconnect")) { "Disconnect…" }
                }
            } @else {
                p.warn {
                    "Set "
                    @for (i, key) in config.constant_contact.missing_keys().iter().enumerate() {
                        @if i > 0 { " and " }
                        code { (key) }
                    }
                    " to connect."
                }
            }
        }
        p { small {
            "Someone else logs in to Constant Contact? Send them a "
            a href=(config.server.path("/admin/links")) { "connect link" } "."
        } }
    }
}

fn deliveries(o: &Overview) -> Markup {
    let count = |n: Option<u64>| n.map_or("(unavailable)".to_owned(), |n| n.to_string());
    let u = &o.status.api_usage;
    html! {
        h2 #deliveries { "Deliveries" }
        dl {
            dt { "Worker" }
            dd #delivery-state {
                @match o.worker() {
                    WorkerState::WaitingForConnection(why) => {
                        span.warn { "waiting for a connection" } " (" (why) ")"
                    }
                    WorkerState::Paused { until, reason } => {
                        span.warn { "paused until " (time(until, o.now)) } " (" (reason) ")"
                    }
                    WorkerState::BackingOff { until } => {
                        span.warn { "backing off until " (time(until, o.now)) }
                        " (signups wait for their next attempt; nothing is due before)"
                    }
                    WorkerState::Gated(why) => {
                        span.warn { "waiting" } " (single opt-in signups wait: " (why) ")"
                    }
                    WorkerState::Running => span.ok { "running" },
                    WorkerState::Idle => { span.ok { "idle" } " (nothing to deliver)" }
                }
            }
            dt { "Delivered, last hour" } dd { (count(o.delivered_last_hour)) }
            dt { "Delivered, last 24 hours" } dd { (count(o.delivered_last_day)) }
            dt { "API calls today" }
            dd {
                (u.used) " of " (u.limit) " (" (u.day.to_string()) " UTC) "
                progress max=(u.limit) value=(u.used.min(u64::from(u.limit))) {}
            }
        }
        @if let Some(f) = o.failing.as_ref().filter(|f| f.failed > 0) {
            div.failing #failing role="status" {
                p { strong { (f.failed) " signup(s) failing to deliver." } }
                @if let Some(error) = &f.last_error {
                    p #failing-error { "Last error: " (errors::in_words(error)) }
                    details { summary { "The error as Constant Contact gave it" } code { (error) } }
                }
                @if let Some(next) = f.next_attempt_at {
                    p #next-attempt { "Next attempt: " (time(next, o.now)) }
                }
            }
        }
    }
}

fn queue(config: &Config, o: &Overview) -> Markup {
    let linked = [
        SignupState::Dead,
        SignupState::Suppressed,
        SignupState::Spam,
    ];
    html! {
        h2 #queue { "Queue" }
        @match &o.status.queue {
            Some(q) => {
                div.wrap { table #queue-counts {
                    tr { @for state in SignupState::ALL { th.num { (state.as_str()) } } }
                    tr { @for state in SignupState::ALL {
                        td.num {
                            @if linked.contains(&state) || (state == SignupState::Failed && q.failed > 0) {
                                a id={ "count-" (state.as_str()) }
                                    href=(config.server.path(&format!("/admin/signups?state={}", state.as_str()))) {
                                    (q.get(state))
                                }
                            } @else {
                                (q.get(state))
                            }
                        }
                    } }
                } }
                @if let Some(since) = o.failing.as_ref().and_then(|f| f.oldest_waiting_since) {
                    p #oldest-waiting { "The oldest signup waiting for delivery arrived " (time(since, o.now)) "." }
                }
            }
            None => p.bad { "The queue cannot be read right now." },
        }
    }
}

fn account_check(config: &Config, o: &Overview) -> Markup {
    html! {
        h2 { "Configured lists and custom fields" }
        @match o.check() {
            None => p { "Not checked yet: they are checked against the account when it is connected, then daily." },
            Some(check) if check.ok() => p.ok #account-check {
                "All configured lists and custom fields exist in the account (checked "
                (time(check.checked_at, o.now)) ")."
            },
            Some(check) => {
                p.bad #account-check {
                    "Missing from the account (checked " (time(check.checked_at, o.now))
                    "); signups naming them are refused upstream:"
                }
                ul {
                    @for id in &check.missing_lists { li { "list " code { (id) } } }
                    @for id in &check.missing_custom_fields { li { "custom field " code { (id) } } }
                }
                p {
                    "Fix the ids in " code { "[[forms]]" } " (the "
                    a href=(config.server.path("/admin/forms")) { "Forms page" }
                    " shows which form names them); " code { "ccbridge lists" }
                    " shows the account's lists."
                }
            }
        }
    }
}
