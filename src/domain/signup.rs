//! A signup as the intake hands it to the store, and the states it moves through.

use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{EmailAddress, FormId};

/// A validated signup, ready to be stored.
#[derive(Debug, Clone)]
pub struct NewSignup {
    pub form_id: FormId,
    pub email: EmailAddress,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    /// The form's fixed lists followed by the visitor's chosen optional lists.
    pub list_ids: Vec<Uuid>,
    pub custom_fields: Vec<CustomFieldValue>,
    /// Consent record: where the signup came from (as `[privacy]` keeps them).
    pub client_ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    /// The rest of the consent record: the form's mode and text, the page, the language.
    pub consent: ConsentContext,
}

/// Whether a form's signups need the person's confirmation by mail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentMode {
    #[default]
    Single,
    Double,
}

impl ConsentMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Single => "single",
            Self::Double => "double",
        }
    }
}

impl FromStr for ConsentMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "single" => Ok(Self::Single),
            "double" => Ok(Self::Double),
            other => Err(format!("unknown consent mode `{other}`")),
        }
    }
}

/// What a consent record keeps besides the client: how the form asks, what it says, where it was
/// shown and in which language.
#[derive(Debug, Clone, Default)]
pub struct ConsentContext {
    pub mode: ConsentMode,
    /// The form's `consent_text` when the signup was made.
    pub text: Option<String>,
    /// The request's Origin or Referer.
    pub source_page: Option<String>,
    /// The visitor's preferred language (first `Accept-Language` tag).
    pub language: Option<String>,
    /// The language ccbridge spoke to the visitor (the form's `locale`, else the negotiated
    /// one): later pages and mails about this signup use it.
    pub page_language: Option<crate::i18n::Language>,
}

/// One custom field value, in the shape Constant Contact's `sign_up_form` takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomFieldValue {
    pub custom_field_id: Uuid,
    pub value: String,
}

/// Where a signup goes at intake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intake {
    /// Queued for delivery.
    Deliver,
    /// Kept, never delivered unless an admin releases it.
    Spam { reason: &'static str },
    /// Held until the person confirms by mail (a double opt-in form).
    AwaitConfirmation,
}

/// The lifecycle of a signup in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignupState {
    /// Waiting for (its next) delivery attempt.
    Pending,
    /// Constant Contact has it.
    Delivered,
    /// The last attempt failed; it will be retried at `next_attempt_at`.
    Failed,
    /// Permanently refused or too old; kept, visible and replayable.
    Dead,
    /// Suspected spam; never delivered unless released.
    Spam,
    /// Waits for the person to confirm by mail (double opt-in, or an address that had
    /// unsubscribed); never delivered before that, purged when the link expires.
    AwaitingConfirmation,
    /// The address unsubscribed and cannot be asked to confirm by ccbridge (no `[smtp]`):
    /// never delivered on its own; kept, visible, with the reason.
    Suppressed,
}

impl SignupState {
    pub const ALL: [SignupState; 7] = [
        Self::Pending,
        Self::Delivered,
        Self::Failed,
        Self::Dead,
        Self::Spam,
        Self::AwaitingConfirmation,
        Self::Suppressed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Dead => "dead",
            Self::Spam => "spam",
            Self::AwaitingConfirmation => "awaiting_confirmation",
            Self::Suppressed => "suppressed",
        }
    }
}

impl FromStr for SignupState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown signup state `{s}`"))
    }
}
