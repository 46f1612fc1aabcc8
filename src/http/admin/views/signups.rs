//! The signups page: filtered by state, form and address; retry (failed, dead) and release
//! (spam) per signup and for the whole selection; the last console actions.

use axum::response::Html;
use ccbridge_layout::{Markup, html};
use chrono::{DateTime, Utc};

use super::super::session::Admin;
use super::{Nav, errors, page, post_button, post_button_with, short_time, time};
use crate::config::Config;
use crate::domain::SignupState;
use crate::store::{AuditEntry, SignupFilter, SignupRecord};

/// What the signups page shows.
pub struct SignupsPage<'a> {
    pub filter: &'a SignupFilter,
    pub signups: &'a [SignupRecord],
    /// The most the page lists.
    pub limit: u32,
    pub audit: &'a [AuditEntry],
    /// What the last button did.
    pub notice: Option<String>,
    /// Why the filter asked for was not understood.
    pub problem: Option<String>,
    pub now: DateTime<Utc>,
}

pub fn signups(admin: &Admin, config: &Config, p: &SignupsPage<'_>) -> Html<String> {
    let filter = p.filter;
    let state = filter.state.map(SignupState::as_str).unwrap_or_default();
    let form = filter.form.as_deref().unwrap_or_default();
    let address = filter.address.as_deref().unwrap_or_default();
    let selection = [("state", state), ("form", form), ("q", address)];
    let retryable = p
        .signups
        .iter()
        .any(|s| matches!(s.state, SignupState::Failed | SignupState::Dead));
    let spam = p.signups.iter().any(|s| s.state == SignupState::Spam);
    let body = html! {
        h1 { "Signups" }
        @if let Some(notice) = &p.notice { p.notice role="status" #notice { (notice) } }
        @if let Some(problem) = &p.problem { p.bad role="alert" #filter-problem { (problem) } }
        form.filters method="get" action=(config.server.path("/admin/signups")) role="search" {
            label { "State"
                select name="state" id="filter-state" {
                    option value="" selected[state.is_empty()] { "any" }
                    @for s in SignupState::ALL {
                        option value=(s.as_str()) selected[s.as_str() == state] { (s.as_str()) }
                    }
                }
            }
            label { "Form"
                select name="form" id="filter-form" {
                    option value="" selected[form.is_empty()] { "any" }
                    @for f in &config.forms {
                        option value=(f.id) selected[f.id.as_str() == form] { (f.id) }
                    }
                }
            }
            label { "Address contains"
                input type="search" name="q" id="filter-q" value=(address) autocomplete="off";
            }
            button type="submit" id="filter-apply" { "Show" }
        }
        p { small {
            "The address search ignores case and finds any part of it ("
            code { "example.org" } " finds every address there). Showing the newest "
            (p.limit) " that match."
        } }
        // No selection-wide button under a filter that was not understood: it would act on all.
        @if (retryable || spam) && p.problem.is_none() {
            div.actions {
                @if retryable {
                    (post_button_with(config, admin, "/admin/signups/retry",
                        "Retry every failed and dead signup matching the filter", "retry-all", &selection))
                }
                @if spam {
                    (post_button_with(config, admin, "/admin/signups/release",
                        "Release every spam signup matching the filter", "release-all", &selection))
                }
            }
        }
        @if p.signups.is_empty() {
            p #no-signups { "No signup matches." }
        } @else {
            div.wrap { table #signups {
                tr {
                    th { "received" } th { "form" } th { "email" } th { "state" }
                    th.num { "attempts" } th { "next attempt / delivered" } th { "error" } th {}
                }
                @for s in p.signups { (row(admin, config, s, p.now)) }
            } }
        }
        h2 #audit { "Recent console actions" }
        @if p.audit.is_empty() {
            p { "None yet." }
        } @else {
            div.wrap { table #audit-log {
                tr { th { "when" } th { "action" } th { "signups" } th.num { "count" } }
                @for a in p.audit {
                    tr { td.time { (time(a.at, p.now)) } td { (a.action) } td { code { (a.target) } } td.num { (a.count) } }
                }
            } }
        }
    };
    page(config, "Signups", Some(admin), Nav::Signups, body)
}

fn row(admin: &Admin, config: &Config, s: &SignupRecord, now: DateTime<Utc>) -> Markup {
    let state_class = match s.state {
        SignupState::Delivered => Some("ok"),
        SignupState::Dead => Some("bad"),
        SignupState::Failed => Some("warn"),
        _ => None,
    };
    let why = match s.state {
        SignupState::Spam => s.spam_reason.as_deref(),
        SignupState::AwaitingConfirmation | SignupState::Suppressed => s.hold_reason.as_deref(),
        _ => None,
    };
    html! {
        tr id={ "signup-" (s.id) } {
            td.time { (short_time(s.created_at)) }
            td { (s.form_id) }
            td { @match &s.email { Some(email) => (email), None => em { "(erased after delivery)" } } }
            td { span class=[state_class] { (s.state.as_str()) } @if let Some(why) = why { " (" (why) ")" } }
            td.num { (s.attempts) }
            td.time {
                @match s.state {
                    SignupState::Delivered => @if let Some(at) = s.delivered_at { (short_time(at)) },
                    SignupState::Failed | SignupState::Pending => (time(s.next_attempt_at, now)),
                    _ => {}
                }
            }
            td {
                @if let Some(error) = &s.last_error {
                    @if matches!(s.state, SignupState::Failed | SignupState::Dead) {
                        span.error-words { (errors::in_words(error)) }
                        details { summary { "raw error" } code { (error) } }
                    } @else {
                        (error)
                    }
                }
            }
            td {
                @match s.state {
                    SignupState::Failed | SignupState::Dead if s.email.is_some() =>
                        (post_button(config, admin, &format!("/admin/signups/{}/retry", s.id), "Retry", &format!("retry-{}", s.id))),
                    SignupState::Spam if s.email.is_some() =>
                        (post_button(config, admin, &format!("/admin/signups/{}/release", s.id), "Release", &format!("release-{}", s.id))),
                    _ => {}
                }
            }
        }
    }
}
