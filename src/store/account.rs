//! The latest account check: which configured lists and custom fields the connected account
//! lacks. One row, replaced by each check, deleted when the connection changes (it was about the
//! old account).

use chrono::DateTime;
use uuid::Uuid;

use super::{Store, StoreError};
use crate::domain::AccountCheck;

impl Store {
    /// Keep `check` as the latest.
    pub async fn save_account_check(&self, check: &AccountCheck) -> Result<(), StoreError> {
        sqlx::query(
            "insert into account_check (id, checked_at, missing_lists, missing_custom_fields)
             values (1, $1, $2, $3)
             on conflict (id) do update set checked_at = excluded.checked_at,
                missing_lists = excluded.missing_lists,
                missing_custom_fields = excluded.missing_custom_fields",
        )
        .bind(check.checked_at.timestamp_millis())
        .bind(ids_json(&check.missing_lists))
        .bind(ids_json(&check.missing_custom_fields))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The latest check since the current connection was made, if any.
    pub async fn account_check(&self) -> Result<Option<AccountCheck>, StoreError> {
        let row: Option<(i64, String, String)> = sqlx::query_as(
            "select checked_at, missing_lists, missing_custom_fields from account_check where id = 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        let Some((checked_at, lists, fields)) = row else {
            return Ok(None);
        };
        let corrupt = |problem: String| StoreError::Corrupt {
            id: "account_check".into(),
            problem,
        };
        Ok(Some(AccountCheck {
            checked_at: DateTime::from_timestamp_millis(checked_at)
                .ok_or_else(|| corrupt(format!("checked_at {checked_at} is out of range")))?,
            missing_lists: serde_json::from_str(&lists).map_err(|e| corrupt(e.to_string()))?,
            missing_custom_fields: serde_json::from_str(&fields)
                .map_err(|e| corrupt(e.to_string()))?,
            list_names: Default::default(),
        }))
    }

    /// Forget the latest check: the connection it was about is gone or replaced.
    pub(super) async fn clear_account_check(&self) -> Result<(), StoreError> {
        sqlx::query("delete from account_check")
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

fn ids_json(ids: &[Uuid]) -> String {
    serde_json::to_string(ids).expect("UUIDs serialize")
}
