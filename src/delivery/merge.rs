//! Coalescing: several queued signups for one email become one `sign_up_form` call. Lists and
//! custom fields are merged (Constant Contact appends them anyway); for single-valued fields the
//! most recent non-empty value wins.
//!
//! One call names at most 50 lists (`sign_up_form`'s limit), but signups of one email through
//! several forms can name more together: then the merged contact goes out in several calls, the
//! same fields each time and the lists split between them, so that no list is dropped.

use crate::config::MAX_LISTS_PER_SIGNUP;
use crate::constant_contact::SignUpForm;
use crate::domain::CustomFieldValue;
use crate::store::SignupRecord;

/// The request bodies for `group` (all one email, oldest first): one, unless the lists merged
/// exceed what one call takes; each has at most `MAX_LISTS_PER_SIGNUP` lists and all have them
/// all between them.
pub fn sign_up_forms(group: &[SignupRecord]) -> Vec<SignUpForm> {
    let merged = sign_up_form(group);
    if merged.list_memberships.len() <= MAX_LISTS_PER_SIGNUP {
        return vec![merged];
    }
    merged
        .list_memberships
        .chunks(MAX_LISTS_PER_SIGNUP)
        .map(|lists| SignUpForm {
            list_memberships: lists.to_vec(),
            ..merged.clone()
        })
        .collect()
}

/// Build the one request body merging `group` (all one email, oldest first), all lists included.
fn sign_up_form(group: &[SignupRecord]) -> SignUpForm {
    let latest = |pick: fn(&SignupRecord) -> &Option<String>| {
        group.iter().rev().find_map(|s| pick(s).clone())
    };
    let mut list_memberships = Vec::new();
    let mut custom_fields: Vec<CustomFieldValue> = Vec::new();
    for signup in group {
        for list in &signup.list_ids {
            if !list_memberships.contains(list) {
                list_memberships.push(*list);
            }
        }
        for field in &signup.custom_fields {
            match custom_fields
                .iter_mut()
                .find(|f| f.custom_field_id == field.custom_field_id)
            {
                Some(existing) => existing.value = field.value.clone(),
                None => custom_fields.push(field.clone()),
            }
        }
    }
    SignUpForm {
        email_address: group
            .iter()
            .rev()
            .find_map(|s| s.email.clone())
            .unwrap_or_default(),
        first_name: latest(|s| &s.first_name),
        last_name: latest(|s| &s.last_name),
        job_title: latest(|s| &s.job_title),
        company_name: latest(|s| &s.company),
        phone_number: latest(|s| &s.phone),
        list_memberships,
        custom_fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use uuid::Uuid;

    fn signup(lists: std::ops::Range<u128>, first_name: &str) -> SignupRecord {
        SignupRecord {
            id: Uuid::now_v7(),
            form_id: "news".to_owned(),
            email: Some("many@example.com".to_owned()),
            first_name: Some(first_name.to_owned()),
            last_name: None,
            phone: None,
            company: None,
            job_title: None,
            list_ids: lists.map(Uuid::from_u128).collect(),
            custom_fields: Vec::new(),
            state: crate::domain::SignupState::Pending,
            spam_reason: None,
            attempts: 0,
            next_attempt_at: Utc::now(),
            last_error: None,
            contact_id: None,
            created_at: Utc::now(),
            delivered_at: None,
            client_ip: None,
            user_agent: None,
            requeued_at: None,
            created_contact: None,
            consent_mode: crate::domain::ConsentMode::Single,
            confirmed_at: None,
            confirm_expires_at: None,
            hold_reason: None,
        }
    }

    #[test]
    fn more_than_fifty_merged_lists_are_split_between_calls_and_none_is_lost() {
        let group = [signup(0..30, "Ann"), signup(20..75, "Anna")];
        let forms = sign_up_forms(&group);
        assert_eq!(forms.len(), 2);
        let mut all: Vec<Uuid> = Vec::new();
        for form in &forms {
            assert!(form.list_memberships.len() <= MAX_LISTS_PER_SIGNUP);
            assert_eq!(form.first_name.as_deref(), Some("Anna"));
            all.extend(&form.list_memberships);
        }
        all.sort();
        assert_eq!(all, (0..75).map(Uuid::from_u128).collect::<Vec<_>>());
    }

    #[test]
    fn fifty_lists_or_fewer_are_one_call() {
        let forms = sign_up_forms(&[signup(0..25, "a"), signup(25..50, "b")]);
        assert_eq!(forms.len(), 1);
        assert_eq!(forms[0].list_memberships.len(), 50);
    }
}
