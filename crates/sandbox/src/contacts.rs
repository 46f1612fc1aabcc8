//! The account's contacts: `sign_up_form`'s upsert by email address (case-insensitive), with
//! CC's partial-update rules, and the counts the list endpoints report.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::SandboxContact;
use crate::sign_up_form::SignUpForm;

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    Created(Uuid),
    Updated(Uuid),
}

#[derive(Default)]
pub struct ContactBook {
    /// In creation order.
    entries: Vec<Entry>,
    /// Lower-cased email address → index in `entries`.
    by_email: HashMap<String, usize>,
    /// Bumped on every upsert, so "newest first" means most recently signed up.
    sequence: u64,
}

struct Entry {
    contact: SandboxContact,
    touched: u64,
}

impl ContactBook {
    /// Create the contact, or update it partially: lists and custom fields are appended (a
    /// field already set gets the new value); other fields given overwrite.
    pub fn upsert(&mut self, form: SignUpForm, now: DateTime<Utc>) -> Upsert {
        self.sequence += 1;
        let key = form.email_address.to_lowercase();
        if let Some(&index) = self.by_email.get(&key) {
            let entry = &mut self.entries[index];
            entry.touched = self.sequence;
            update(&mut entry.contact, form, now);
            return Upsert::Updated(entry.contact.contact_id);
        }
        let contact = SandboxContact {
            contact_id: Uuid::now_v7(),
            email_address: form.email_address,
            first_name: form.first_name,
            last_name: form.last_name,
            job_title: form.job_title,
            company_name: form.company_name,
            phone_number: form.phone_number,
            list_memberships: form.list_memberships,
            custom_fields: form.custom_fields,
            created_at: now,
            updated_at: now,
        };
        let id = contact.contact_id;
        self.by_email.insert(key, self.entries.len());
        self.entries.push(Entry {
            contact,
            touched: self.sequence,
        });
        Upsert::Created(id)
    }

    /// Every contact, in creation order.
    pub fn all(&self) -> Vec<SandboxContact> {
        self.entries.iter().map(|e| e.contact.clone()).collect()
    }

    /// Every contact, the most recently created or updated first.
    pub fn newest_first(&self) -> Vec<SandboxContact> {
        let mut entries: Vec<&Entry> = self.entries.iter().collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.touched));
        entries.into_iter().map(|e| e.contact.clone()).collect()
    }

    /// How many contacts are members of `list`.
    pub fn members(&self, list: Uuid) -> usize {
        self.entries
            .iter()
            .filter(|e| e.contact.list_memberships.contains(&list))
            .count()
    }
}

fn update(contact: &mut SandboxContact, form: SignUpForm, now: DateTime<Utc>) {
    let overwrite = |field: &mut Option<String>, value: Option<String>| {
        if value.is_some() {
            *field = value;
        }
    };
    overwrite(&mut contact.first_name, form.first_name);
    overwrite(&mut contact.last_name, form.last_name);
    overwrite(&mut contact.job_title, form.job_title);
    overwrite(&mut contact.company_name, form.company_name);
    overwrite(&mut contact.phone_number, form.phone_number);
    for list in form.list_memberships {
        if !contact.list_memberships.contains(&list) {
            contact.list_memberships.push(list);
        }
    }
    for field in form.custom_fields {
        match contact
            .custom_fields
            .iter_mut()
            .find(|f| f.custom_field_id == field.custom_field_id)
        {
            Some(existing) => existing.value = field.value,
            None => contact.custom_fields.push(field),
        }
    }
    contact.updated_at = now;
}
