//! The configured lists and custom fields compared with the connected account.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AccountCheck {
    pub checked_at: DateTime<Utc>,
    pub missing_lists: Vec<Uuid>,
    pub missing_custom_fields: Vec<Uuid>,
    /// Every list of the account by id (the console names lists with it). Known to the process
    /// that made the check only; never stored, never in the (public) status JSON.
    #[serde(skip)]
    pub list_names: BTreeMap<Uuid, String>,
}

impl AccountCheck {
    pub fn ok(&self) -> bool {
        self.missing_lists.is_empty() && self.missing_custom_fields.is_empty()
    }
}
