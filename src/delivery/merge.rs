//! Coalescing: several queued signups for one email become one `sign_up_form` call. Lists and
//! custom fields are merged (Constant Contact appends them anyway); for single-valued fields the
//! most recent non-empty value wins.

use crate::constant_contact::SignUpForm;
use crate::domain::CustomFieldValue;
use crate::store::SignupRecord;

/// Build the request body for `group` (all one email, oldest first).
pub fn sign_up_form(group: &[SignupRecord]) -> SignUpForm {
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
