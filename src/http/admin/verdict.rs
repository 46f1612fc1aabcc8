//! The overview's one-line verdict ("All good", "Needs attention", "Action needed") with its
//! reasons, and the delivery worker's state in words. Both are pure functions of what the
//! overview gathered, so each state is tested without a server.

use chrono::{DateTime, Utc};

use crate::delivery::Pause;
use crate::store::{Failing, MailCounts, QueueCounts};

/// How bad things are, worst last (so `max` picks the verdict).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Good,
    Attention,
    Action,
}

impl Level {
    pub fn label(self) -> &'static str {
        match self {
            Self::Good => "All good",
            Self::Attention => "Needs attention",
            Self::Action => "Action needed",
        }
    }

    /// The CSS class of its colour.
    pub fn class(self) -> &'static str {
        match self {
            Self::Good => "ok",
            Self::Attention => "warn",
            Self::Action => "bad",
        }
    }
}

/// One reason for the verdict, with where to act (a console path, before the prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub level: Level,
    pub text: String,
    pub link: &'static str,
    pub link_text: &'static str,
}

/// What the delivery worker does at this moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerState {
    /// No usable connection: nothing is sent until an admin connects (or reconnects).
    WaitingForConnection(String),
    /// Paused until a moment (the day's quota, a 403).
    Paused {
        until: DateTime<Utc>,
        reason: String,
    },
    /// Signups wait for their next attempt (after a failure), none is due: the next is at
    /// `until`.
    BackingOff { until: DateTime<Utc> },
    /// Single opt-in signups wait for the unsubscribes mirror (why, in words).
    Gated(String),
    /// Signups are being delivered (or are due now).
    Running,
    /// Nothing to deliver.
    Idle,
}

/// The worker's state from the connection, its pause and the queue. Not connected (or a
/// connection that needs a reconnect) is never "running", whatever the worker noticed so far.
pub fn worker_state(
    connection: &str,
    pause: Option<&Pause>,
    failing: &Failing,
    gate: Option<&str>,
) -> WorkerState {
    match connection {
        "not_connected" => {
            return WorkerState::WaitingForConnection("not connected to Constant Contact".into());
        }
        "needs_reconnect" => {
            return WorkerState::WaitingForConnection("the connection needs a reconnect".into());
        }
        "awaiting_confirmation" => {
            return WorkerState::WaitingForConnection(
                "the switch of accounts awaits your confirmation".into(),
            );
        }
        _ => {}
    }
    match pause {
        Some(Pause::AwaitingConnection(reason)) => {
            return WorkerState::WaitingForConnection(reason.clone());
        }
        Some(Pause::Until { until, reason }) => {
            return WorkerState::Paused {
                until: *until,
                reason: reason.clone(),
            };
        }
        None => {}
    }
    if failing.in_flight > 0 {
        return WorkerState::Running;
    }
    if failing.due_now > 0 {
        return match gate {
            Some(why) => WorkerState::Gated(why.to_owned()),
            None => WorkerState::Running,
        };
    }
    match failing.next_due_at {
        Some(until) => WorkerState::BackingOff { until },
        None => WorkerState::Idle,
    }
}

/// Everything the verdict weighs.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// `ConnectionStatus::state`.
    pub connection: &'static str,
    /// Client id (and secret) are configured: connecting is possible.
    pub configured: bool,
    pub refresh_failures: u32,
    pub pause: Option<Pause>,
    /// `None`: the queue could not be read.
    pub queue: Option<QueueCounts>,
    pub failing: Failing,
    pub mail: Option<MailCounts>,
    pub missing_lists: usize,
    pub missing_custom_fields: usize,
    /// Set-up items still to do (`Config::setup_warnings`), such as a form without origins.
    pub setup_items: usize,
    /// How long the oldest signup still waiting for delivery has waited.
    pub oldest_waiting: Option<chrono::Duration>,
}

/// A signup waiting longer than this, while connected and not paused, needs attention.
pub const SLOW_DELIVERY: chrono::Duration = chrono::Duration::hours(1);

/// The verdict and its reasons, worst first.
pub fn verdict(f: &Facts) -> (Level, Vec<Reason>) {
    let mut reasons = Vec::new();
    let mut add = |level, text: String, link, link_text| {
        reasons.push(Reason {
            level,
            text,
            link,
            link_text,
        });
    };
    match f.connection {
        "needs_reconnect" if f.configured => add(
            Level::Action,
            "The connection to Constant Contact needs a reconnect: nothing is delivered until then."
                .into(),
            "/admin#connection",
            "Reconnect",
        ),
        "not_connected" if f.configured => add(
            Level::Action,
            "Not connected to Constant Contact: signups are kept but not delivered.".into(),
            "/admin#connection",
            "Connect",
        ),
        "not_connected" | "needs_reconnect" => add(
            Level::Attention,
            "Constant Contact is not configured yet: set the client id to connect.".into(),
            "/admin#setup",
            "See the checklist",
        ),
        "awaiting_confirmation" => add(
            Level::Action,
            "A connect link switched accounts: confirm the switch before deliveries go on.".into(),
            "/admin#connection",
            "Confirm the switch",
        ),
        _ => {}
    }
    if f.missing_lists > 0 || f.missing_custom_fields > 0 {
        add(
            Level::Action,
            format!(
                "{} list(s) and {} custom field(s) configured in the forms do not exist in the account: signups naming them are refused.",
                f.missing_lists, f.missing_custom_fields
            ),
            "/admin/forms",
            "Fix the forms",
        );
    }
    if f.setup_items > 0 {
        add(
            Level::Attention,
            format!("{} set-up item(s) still to do.", f.setup_items),
            "/admin#setup",
            "See the checklist",
        );
    }
    if f.failing.failed > 0 {
        add(
            Level::Attention,
            format!(
                "{} signup(s) failing to deliver; they are retried on their own.",
                f.failing.failed
            ),
            "/admin/signups?state=failed",
            "See the failing signups",
        );
    }
    let connected = matches!(f.connection, "connected" | "refreshing");
    if let Some(age) = f.oldest_waiting.filter(|age| *age > SLOW_DELIVERY)
        && connected
        && f.pause.is_none()
    {
        add(
            Level::Attention,
            format!(
                "The oldest signup waiting for delivery arrived {} hour(s) ago.",
                age.num_hours()
            ),
            "/admin/signups?state=pending",
            "See the waiting signups",
        );
    }
    if let Some(Pause::Until { reason, .. }) = &f.pause {
        add(
            Level::Attention,
            format!("Deliveries are paused: {reason}."),
            "/admin#deliveries",
            "See deliveries",
        );
    }
    if f.refresh_failures > 0 && f.connection != "needs_reconnect" {
        add(
            Level::Attention,
            format!(
                "Refreshing the token failed {} time(s) in a row.",
                f.refresh_failures
            ),
            "/admin#connection",
            "See the connection",
        );
    }
    match &f.queue {
        Some(q) if q.dead > 0 => add(
            Level::Attention,
            format!("{} dead signup(s): given up on, kept for a retry.", q.dead),
            "/admin/signups?state=dead",
            "See and retry them",
        ),
        Some(_) => {}
        None => add(
            Level::Attention,
            "The queue cannot be read: the database is unavailable.".into(),
            "/admin#queue",
            "See the queue",
        ),
    }
    if let Some(m) = &f.mail
        && m.failed + m.dead > 0
    {
        add(
            Level::Attention,
            format!(
                "{} confirmation mail(s) failing and {} given up: check the mail server.",
                m.failed, m.dead
            ),
            "/admin#mails",
            "See mails",
        );
    }
    reasons.sort_by_key(|r| std::cmp::Reverse(r.level));
    let level = reasons.iter().map(|r| r.level).max().unwrap_or(Level::Good);
    (level, reasons)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> Facts {
        Facts {
            connection: "connected",
            configured: true,
            queue: Some(QueueCounts::default()),
            ..Facts::default()
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn connected_with_nothing_wrong_is_all_good() {
        assert_eq!(verdict(&healthy()), (Level::Good, vec![]));
    }

    #[test]
    fn failing_deliveries_and_failing_mails_need_attention() {
        let mut facts = healthy();
        facts.failing.failed = 3;
        let (level, reasons) = verdict(&facts);
        assert_eq!(level, Level::Attention);
        assert_eq!(reasons[0].link, "/admin/signups?state=failed");
        assert!(reasons[0].text.starts_with("3 signup(s) failing"));

        let mut facts = healthy();
        facts.mail = Some(MailCounts {
            failed: 1,
            ..MailCounts::default()
        });
        assert_eq!(verdict(&facts).0, Level::Attention);

        let mut facts = healthy();
        facts.refresh_failures = 2;
        assert_eq!(verdict(&facts).0, Level::Attention);

        let mut facts = healthy();
        facts.oldest_waiting = Some(chrono::Duration::minutes(59));
        assert_eq!(verdict(&facts).0, Level::Good, "a signup on its way");
        facts.oldest_waiting = Some(chrono::Duration::hours(3));
        assert!(verdict(&facts).1[0].text.contains("arrived 3 hour(s) ago"));

        let mut facts = healthy();
        facts.setup_items = 1;
        assert_eq!(verdict(&facts).1[0].link, "/admin#setup");
    }

    #[test]
    fn a_missing_list_or_a_lost_connection_is_action_needed_and_comes_first() {
        let mut facts = healthy();
        facts.failing.failed = 1;
        facts.missing_lists = 1;
        let (level, reasons) = verdict(&facts);
        assert_eq!(level, Level::Action);
        assert_eq!(reasons[0].link, "/admin/forms");
        assert_eq!(reasons[1].level, Level::Attention);

        for connection in ["needs_reconnect", "not_connected", "awaiting_confirmation"] {
            let facts = Facts {
                connection,
                ..healthy()
            };
            assert_eq!(verdict(&facts).0, Level::Action, "{connection}");
        }
        // Without credentials there is nothing to press yet: the checklist says what to set.
        let facts = Facts {
            connection: "not_connected",
            configured: false,
            ..healthy()
        };
        assert_eq!(verdict(&facts).0, Level::Attention);
    }

    #[test]
    fn the_worker_is_never_running_without_a_connection() {
        let busy = Failing {
            due_now: 4,
            ..Failing::default()
        };
        for connection in ["not_connected", "needs_reconnect"] {
            assert!(matches!(
                worker_state(connection, None, &busy, None),
                WorkerState::WaitingForConnection(_)
            ));
        }
        assert_eq!(
            worker_state("connected", None, &busy, None),
            WorkerState::Running
        );
        // Due, but single opt-in signups wait for the unsubscribes list.
        assert_eq!(
            worker_state("connected", None, &busy, Some("the first sync")),
            WorkerState::Gated("the first sync".into())
        );
    }

    #[test]
    fn the_worker_backs_off_when_only_failed_signups_wait_and_none_is_due() {
        let failing = Failing {
            failed: 3,
            next_attempt_at: Some(at(1_000)),
            next_due_at: Some(at(1_000)),
            ..Failing::default()
        };
        assert_eq!(
            worker_state("connected", None, &failing, None),
            WorkerState::BackingOff { until: at(1_000) }
        );
        // One due now, or one in flight: running.
        let due = Failing {
            due_now: 1,
            ..failing.clone()
        };
        assert_eq!(
            worker_state("connected", None, &due, None),
            WorkerState::Running
        );
        let in_flight = Failing {
            in_flight: 1,
            ..failing.clone()
        };
        assert_eq!(
            worker_state("connected", None, &in_flight, None),
            WorkerState::Running
        );
        assert_eq!(
            worker_state("connected", None, &Failing::default(), None),
            WorkerState::Idle
        );
        let pause = Pause::Until {
            until: at(5),
            reason: "quota".into(),
        };
        assert_eq!(
            worker_state("connected", Some(&pause), &due, None),
            WorkerState::Paused {
                until: at(5),
                reason: "quota".into()
            }
        );
    }
}
