//! The signups page and its buttons: the list filtered by `?state=&form=&q=`, retry (failed,
//! dead) and release (spam) for one signup or the filter's whole selection. Every button is a
//! `CsrfForm`, and every press leaves an audit line (`console_audit`, shown on the page) and a
//! log line.

use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::{FromRef, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::session::{Admin, CsrfForm, see_other};
use super::{ConsoleError, views};
use crate::alerts::{AlertKind, Alerts};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::delivery::DeliveryWorker;
use crate::domain::SignupState;
use crate::http::AppState;
use crate::store::{AuditEntry, ConfirmationPolicy, SignupFilter, Store};

/// How many signups the page lists.
const LIST_LIMIT: u32 = 100;
/// How many audit lines the page shows.
const AUDIT_LINES: u32 = 10;

/// Read a filter from `state`, `form` and `q` pairs (a query string or a form's fields). Empty
/// values mean "any"; an unknown state or form is a problem to show, not a silent "any".
pub fn parse_filter<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    config: &Config,
) -> Result<SignupFilter, String> {
    let mut filter = SignupFilter::default();
    for (name, value) in pairs {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match name {
            "state" => {
                let state = value.parse::<SignupState>().map_err(|_| {
                    let known: Vec<&str> = SignupState::ALL.iter().map(|s| s.as_str()).collect();
                    format!(
                        "There is no signup state “{value}”; the states are {}.",
                        known.join(", ")
                    )
                })?;
                filter.state = Some(state);
            }
            "form" => {
                if !config.forms.iter().any(|f| f.id.as_str() == value) {
                    return Err(format!("No form is configured with the id “{value}”."));
                }
                filter.form = Some(value.to_owned());
            }
            "q" => {
                if value.chars().count() > 254 {
                    return Err("The address searched for is longer than any address.".into());
                }
                filter.address = Some(value.to_owned());
            }
            _ => {}
        }
    }
    Ok(filter)
}

/// What the page and its buttons need of the application.
#[derive(Clone)]
pub struct Console {
    config: Arc<Config>,
    store: Store,
    clock: SharedClock,
    delivery: DeliveryWorker,
    alerts: Alerts,
}

impl FromRef<AppState> for Console {
    fn from_ref(state: &AppState) -> Self {
        Self {
            config: state.config.clone(),
            store: state.store.clone(),
            clock: state.clock.clone(),
            delivery: state.delivery.clone(),
            alerts: state.alerts.clone(),
        }
    }
}

/// `GET /admin/signups?state=&form=&q=`.
pub async fn page(
    admin: Admin,
    State(console): State<Console>,
    RawQuery(query): RawQuery,
) -> Result<Response, ConsoleError> {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let borrowed = pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    let (filter, problem) = match parse_filter(borrowed, &console.config) {
        Ok(filter) => (filter, None),
        Err(problem) => (SignupFilter::default(), Some(problem)),
    };
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.parse::<u64>().ok())
    };
    // After a button: only numbers are ever shown.
    let notice = match (field("requeued"), field("released")) {
        (Some(n), _) => Some(format!("{n} signup(s) requeued for delivery.")),
        (None, Some(n)) => Some(format!("{n} signup(s) released from spam.")),
        _ => None,
    };
    let signups = console
        .store
        .find_signups(&filter, LIST_LIMIT)
        .await
        .context("listing signups")?;
    let audit = console
        .store
        .console_actions(AUDIT_LINES)
        .await
        .context("reading the console's audit lines")?;
    let html = views::signups(
        &admin,
        &console.config,
        &views::SignupsPage {
            filter: &filter,
            signups: &signups,
            limit: LIST_LIMIT,
            audit: &audit,
            notice,
            problem: problem.clone(),
            now: console.clock.now(),
        },
    );
    let status = if problem.is_some() {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        axum::http::StatusCode::OK
    };
    Ok(admin.finish((status, html)))
}

/// `POST /admin/signups/{id}/retry`.
pub async fn retry_one(
    State(console): State<Console>,
    Path(id): Path<String>,
    _: CsrfForm,
) -> Result<Response, ConsoleError> {
    console.on_one(Action::Retry, &id).await
}

/// `POST /admin/signups/retry` with the filter's `state`, `form` and `q`: every failed and dead
/// signup it selects.
pub async fn retry_selected(
    State(console): State<Console>,
    form: CsrfForm,
) -> Result<Response, ConsoleError> {
    console.on_selection(Action::Retry, &form).await
}

/// `POST /admin/signups/{id}/release`: a spam signup judged genuine goes to the queue (or, on a
/// double opt-in form, waits for its person's confirmation).
pub async fn release_one(
    State(console): State<Console>,
    Path(id): Path<String>,
    _: CsrfForm,
) -> Result<Response, ConsoleError> {
    console.on_one(Action::Release, &id).await
}

/// `POST /admin/signups/release` with the filter's fields: every spam signup it selects.
pub async fn release_selected(
    State(console): State<Console>,
    form: CsrfForm,
) -> Result<Response, ConsoleError> {
    console.on_selection(Action::Release, &form).await
}

/// What a console button does to signups.
#[derive(Debug, Clone, Copy)]
enum Action {
    /// Failed and dead signups back to the queue.
    Retry,
    /// Spam signups judged genuine to the queue (or to their confirmation).
    Release,
}

impl Action {
    /// Its name in the audit lines.
    fn name(self) -> &'static str {
        match self {
            Self::Retry => "retry",
            Self::Release => "release",
        }
    }

    /// The list's query parameter saying how many it acted on.
    fn done(self) -> &'static str {
        match self {
            Self::Retry => "requeued",
            Self::Release => "released",
        }
    }
}

impl Console {
    fn policy(&self) -> ConfirmationPolicy {
        (&self.config.consent).into()
    }

    /// The filter a selection's button carries; a bad one is refused (400), nothing changed.
    fn filter_of(&self, form: &CsrfForm) -> Result<SignupFilter, Box<Response>> {
        let pairs = form.fields.iter().map(|(n, v)| (n.as_str(), v.as_str()));
        parse_filter(pairs, &self.config).map_err(|problem| {
            let page = crate::http::pages::notice("Refused", "Nothing was changed", &problem);
            Box::new((axum::http::StatusCode::BAD_REQUEST, page).into_response())
        })
    }

    async fn audit(
        &self,
        action: &str,
        target: String,
        count: u64,
        at: DateTime<Utc>,
    ) -> Result<(), ConsoleError> {
        tracing::info!(action, target = %target, count, "console action");
        self.store
            .record_console_action(&AuditEntry {
                at,
                action: action.to_owned(),
                target,
                count,
            })
            .await
            .context("keeping the audit line")?;
        Ok(())
    }

    /// One signup's button: the action on it (an id that is no UUID is 404; one that matches
    /// nothing acts on none), then the audit line and the list.
    async fn on_one(&self, action: Action, id: &str) -> Result<Response, ConsoleError> {
        let id = Uuid::parse_str(id).map_err(|_| ConsoleError::NotFound)?;
        let now = self.clock.now();
        // Logged before it acts, as a selection's is.
        tracing::info!(action = action.name(), target = %id, "console action on a signup");
        let done = match action {
            Action::Retry => self
                .store
                .requeue(true, Some(id), now)
                .await
                .context("requeueing a signup")?,
            Action::Release => self
                .store
                .release_spam(id, now, &self.policy())
                .await
                .context("releasing a spam signup")?
                .map_or(0, |_| 1),
        };
        self.acted(action, done, id.to_string(), None, now).await
    }

    /// A selection's button: the filter it carries (a bad one changes nothing), the action on
    /// every signup it selects, then the audit line and the list under the same filter.
    async fn on_selection(
        &self,
        action: Action,
        form: &CsrfForm,
    ) -> Result<Response, ConsoleError> {
        let filter = match self.filter_of(form) {
            Ok(filter) => filter,
            Err(refusal) => return Ok(*refusal),
        };
        let now = self.clock.now();
        // Logged before it acts, so an action cut short still has its line.
        tracing::info!(action = action.name(), target = %filter.describe(), "console action on a selection");
        let done = match action {
            Action::Retry => self
                .store
                .requeue_selected(&filter, now)
                .await
                .context("requeueing signups")?,
            Action::Release => self
                .store
                .release_selected(&filter, now, &self.policy())
                .await
                .context("releasing spam signups")?,
        };
        self.acted(action, done, filter.describe(), Some(&filter), now)
            .await
    }

    /// After an action on `done` signups: the audit line, the worker woken (and an alert for a
    /// retry), back to the list.
    async fn acted(
        &self,
        action: Action,
        done: u64,
        target: String,
        filter: Option<&SignupFilter>,
        at: DateTime<Utc>,
    ) -> Result<Response, ConsoleError> {
        self.audit(action.name(), target, done, at).await?;
        if done > 0 {
            self.delivery.signup_queued();
            if let Action::Retry = action {
                self.alerts.raise(
                    AlertKind::DeadSignupsRequeued,
                    format!("An admin requeued {done} dead or failed signup(s) for delivery."),
                );
            }
        }
        Ok(self.back_to_list((action.done(), done), filter))
    }

    /// Back to the list, saying how many were acted on, under the selection's filter if any.
    fn back_to_list(&self, (what, n): (&str, u64), filter: Option<&SignupFilter>) -> Response {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair(what, &n.to_string());
        if let Some(filter) = filter {
            let pairs = [
                ("state", filter.state.map(SignupState::as_str)),
                ("form", filter.form.as_deref()),
                ("q", filter.address.as_deref()),
            ];
            for (name, value) in pairs {
                if let Some(value) = value.filter(|v| !v.is_empty()) {
                    query.append_pair(name, value);
                }
            }
        }
        let to = format!("/admin/signups?{}", query.finish());
        see_other(&self.config.server.path(&to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_takes_known_states_and_forms_and_refuses_others() {
        let config = Config::from_toml(
            "[[forms]]\nid = \"newsletter\"\nlist_ids = [\"0b8a2b2c-0000-4000-8000-000000000001\"]",
        )
        .unwrap();
        let filter = parse_filter(
            [
                ("state", "dead"),
                ("form", "newsletter"),
                ("q", " Example.org "),
            ],
            &config,
        )
        .unwrap();
        assert_eq!(filter.state, Some(SignupState::Dead));
        assert_eq!(filter.form.as_deref(), Some("newsletter"));
        assert_eq!(filter.address.as_deref(), Some("Example.org"));
        assert_eq!(
            filter.describe(),
            "state=dead form=newsletter address~\"Example.org\""
        );
        assert_eq!(
            parse_filter([("state", ""), ("form", "")], &config).unwrap(),
            SignupFilter::default()
        );
        assert!(
            parse_filter([("state", "lost")], &config)
                .unwrap_err()
                .contains("no signup state “lost”")
        );
        assert!(parse_filter([("form", "other")], &config).is_err());
    }
}
