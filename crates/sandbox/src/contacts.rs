//! The account's contacts: `sign_up_form`'s upsert by email address (case-insensitive), with
//! CC's partial-update and permission rules, the account's Confirmed Opt-In switch, what a
//! contact can do to itself (unsubscribe), what the account can do (delete, seed), resubscribe
//! requests and their confirmation, and the counts the list endpoints report.
//!
//! Permission rules, from the published description of `sign_up_form`: a new contact becomes
//! `explicit` with `opt_in_source = Contact`, or `pending_confirmation` while Confirmed Opt-In is
//! on; an existing contact becomes `explicit` whatever it was, `unsubscribed` included, and a
//! deleted one is restored. Unsubscribing clears the contact's lists (an unsubscribed contact is
//! on none; a resubscribe names the lists to go back to).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::SandboxContact;
use crate::sign_up_form::SignUpForm;

/// `email_address.permission_to_send`, the six values of the published `EmailAddress` schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    Explicit,
    Implicit,
    NotSet,
    PendingConfirmation,
    TempHold,
    Unsubscribed,
}

impl Permission {
    /// The wire value, e.g. `pending_confirmation`.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Explicit => "explicit",
            Permission::Implicit => "implicit",
            Permission::NotSet => "not_set",
            Permission::PendingConfirmation => "pending_confirmation",
            Permission::TempHold => "temp_hold",
            Permission::Unsubscribed => "unsubscribed",
        }
    }
}

/// Who did something to a contact: CC's `opt_in_source`, `opt_out_source` and `create_source`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    Account,
    Contact,
}

/// A `PUT /v3/contacts/resubscribe/{contact_id}` that the sandbox accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResubscribeRequest {
    pub contact_id: Uuid,
    pub email_address: String,
    /// The `list_ids` of the request, added when the contact confirms.
    pub list_ids: Vec<Uuid>,
    pub requested_at: DateTime<Utc>,
    /// When the contact confirmed (`Sandbox::confirm_resubscribe`); permission is unchanged
    /// until then.
    pub confirmed_at: Option<DateTime<Utc>>,
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    Created(Uuid),
    Updated(Uuid),
}

/// Why a resubscribe request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResubscribeRefusal {
    NoSuchContact,
    /// One request per contact, ever: the API documents that the mail goes out once.
    AlreadyRequested,
    NotUnsubscribed,
}

#[derive(Default)]
pub struct ContactBook {
    /// In creation order.
    entries: Vec<Entry>,
    /// Lower-cased email address → index in `entries`.
    by_email: HashMap<String, usize>,
    /// Bumped on every upsert, so "newest first" means most recently signed up.
    sequence: u64,
    /// The account's Confirmed Opt-In setting.
    confirmed_opt_in: bool,
    /// `sign_up_form` calls per lower-cased email address, valid or not.
    sign_up_calls: HashMap<String, u64>,
    /// In the order they were made.
    resubscribes: Vec<ResubscribeRequest>,
}

struct Entry {
    contact: SandboxContact,
    touched: u64,
}

impl ContactBook {
    pub fn new(confirmed_opt_in: bool) -> Self {
        Self {
            confirmed_opt_in,
            ..Self::default()
        }
    }

    pub fn confirmed_opt_in(&self) -> bool {
        self.confirmed_opt_in
    }

    pub fn set_confirmed_opt_in(&mut self, enabled: bool) {
        self.confirmed_opt_in = enabled;
    }

    /// Count a `sign_up_form` call for `email` (any case).
    pub fn count_sign_up_call(&mut self, email: &str) {
        *self.sign_up_calls.entry(email.to_lowercase()).or_default() += 1;
    }

    pub fn sign_up_calls_for(&self, email: &str) -> u64 {
        self.sign_up_calls
            .get(&email.to_lowercase())
            .copied()
            .unwrap_or(0)
    }

    /// Create the contact, or update it partially: lists and custom fields are appended (a
    /// field already set gets the new value); other fields given overwrite. Permission follows
    /// the module's rules.
    pub fn upsert(&mut self, form: SignUpForm, now: DateTime<Utc>) -> Upsert {
        self.sequence += 1;
        let key = form.email_address.to_lowercase();
        if let Some(&index) = self.by_email.get(&key) {
            let entry = &mut self.entries[index];
            entry.touched = self.sequence;
            update(&mut entry.contact, form, now);
            opt_in(&mut entry.contact, now);
            entry.contact.deleted_at = None;
            return Upsert::Updated(entry.contact.contact_id);
        }
        let permission = if self.confirmed_opt_in {
            Permission::PendingConfirmation
        } else {
            Permission::Explicit
        };
        let mut contact = new_contact(form.email_address.clone(), Source::Contact, now);
        update(&mut contact, form, now);
        set_permission(&mut contact, permission, now);
        Upsert::Created(self.insert(key, contact))
    }

    /// Seed a contact with `permission` as the account would add it (create source `Account`),
    /// or set an existing one's permission and restore it if deleted.
    pub fn add(&mut self, email: &str, permission: Permission, now: DateTime<Utc>) -> Uuid {
        self.sequence += 1;
        let key = email.to_lowercase();
        if let Some(&index) = self.by_email.get(&key) {
            let entry = &mut self.entries[index];
            entry.touched = self.sequence;
            set_permission(&mut entry.contact, permission, now);
            entry.contact.deleted_at = None;
            entry.contact.updated_at = now;
            return entry.contact.contact_id;
        }
        let mut contact = new_contact(email.to_owned(), Source::Account, now);
        set_permission(&mut contact, permission, now);
        self.insert(key, contact)
    }

    fn insert(&mut self, key: String, contact: SandboxContact) -> Uuid {
        let id = contact.contact_id;
        self.by_email.insert(key, self.entries.len());
        self.entries.push(Entry {
            contact,
            touched: self.sequence,
        });
        id
    }

    /// The contact unsubscribes itself (opt-out source `Contact`, dated `now`); one already
    /// unsubscribed keeps its first opt-out date.
    pub fn unsubscribe(&mut self, email: &str, now: DateTime<Utc>) -> Option<SandboxContact> {
        let contact = self.get_mut(email)?;
        if contact.permission_to_send != Permission::Unsubscribed {
            set_permission(contact, Permission::Unsubscribed, now);
            contact.updated_at = now;
        }
        Some(contact.clone())
    }

    /// The account deletes the contact; its permission stays as it was. Deleting twice keeps
    /// the first date.
    pub fn delete(&mut self, email: &str, now: DateTime<Utc>) -> Option<SandboxContact> {
        let contact = self.get_mut(email)?;
        if contact.deleted_at.is_none() {
            contact.deleted_at = Some(now);
            contact.updated_at = now;
        }
        Some(contact.clone())
    }

    /// Record a resubscribe request for an unsubscribed contact (deleted or not), once per
    /// contact. The contact is not changed until it confirms.
    pub fn request_resubscribe(
        &mut self,
        contact_id: Uuid,
        list_ids: Vec<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<ResubscribeRequest, ResubscribeRefusal> {
        let contact = self
            .entries
            .iter()
            .map(|e| &e.contact)
            .find(|c| c.contact_id == contact_id)
            .ok_or(ResubscribeRefusal::NoSuchContact)?;
        if self.resubscribes.iter().any(|r| r.contact_id == contact_id) {
            return Err(ResubscribeRefusal::AlreadyRequested);
        }
        if contact.permission_to_send != Permission::Unsubscribed {
            return Err(ResubscribeRefusal::NotUnsubscribed);
        }
        let request = ResubscribeRequest {
            contact_id,
            email_address: contact.email_address.clone(),
            list_ids,
            requested_at: now,
            confirmed_at: None,
        };
        self.resubscribes.push(request.clone());
        Ok(request)
    }

    /// The contact confirms its pending resubscribe request: it becomes `explicit` (opt-in
    /// source `Contact`), joins the request's lists and is restored if deleted. None if the
    /// contact has no unconfirmed request.
    pub fn confirm_resubscribe(
        &mut self,
        email: &str,
        now: DateTime<Utc>,
    ) -> Option<SandboxContact> {
        let contact_id = self.get(email)?.contact_id;
        let request = self
            .resubscribes
            .iter_mut()
            .find(|r| r.contact_id == contact_id && r.confirmed_at.is_none())?;
        request.confirmed_at = Some(now);
        let lists = request.list_ids.clone();
        let contact = self.get_mut(email)?;
        opt_in(contact, now);
        contact.deleted_at = None;
        contact.updated_at = now;
        for list in lists {
            if !contact.list_memberships.contains(&list) {
                contact.list_memberships.push(list);
            }
        }
        Some(contact.clone())
    }

    pub fn resubscribe_requests(&self) -> Vec<ResubscribeRequest> {
        self.resubscribes.clone()
    }

    /// The contact with this address (any case), deleted or not.
    pub fn get(&self, email: &str) -> Option<&SandboxContact> {
        let index = *self.by_email.get(&email.to_lowercase())?;
        Some(&self.entries[index].contact)
    }

    fn get_mut(&mut self, email: &str) -> Option<&mut SandboxContact> {
        let index = *self.by_email.get(&email.to_lowercase())?;
        Some(&mut self.entries[index].contact)
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

    /// How many contacts that are not deleted are members of `list`.
    pub fn members(&self, list: Uuid) -> usize {
        self.entries
            .iter()
            .filter(|e| {
                e.contact.deleted_at.is_none() && e.contact.list_memberships.contains(&list)
            })
            .count()
    }
}

fn new_contact(email_address: String, source: Source, now: DateTime<Utc>) -> SandboxContact {
    SandboxContact {
        contact_id: Uuid::now_v7(),
        email_address,
        first_name: None,
        last_name: None,
        job_title: None,
        company_name: None,
        phone_number: None,
        list_memberships: Vec::new(),
        custom_fields: Vec::new(),
        permission_to_send: Permission::NotSet,
        create_source: source,
        opt_in_source: None,
        opt_in_date: None,
        opt_out_source: None,
        opt_out_date: None,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    }
}

/// The contact opted in itself (a signup or a confirmed resubscribe).
fn opt_in(contact: &mut SandboxContact, now: DateTime<Utc>) {
    if contact.permission_to_send != Permission::Explicit {
        set_permission(contact, Permission::Explicit, now);
    }
    contact.opt_in_source = Some(Source::Contact);
}

/// Set `permission` with the opt-in and opt-out fields that go with it.
fn set_permission(contact: &mut SandboxContact, permission: Permission, now: DateTime<Utc>) {
    contact.permission_to_send = permission;
    match permission {
        Permission::Unsubscribed => {
            contact.opt_out_source = Some(Source::Contact);
            contact.opt_out_date = Some(now);
            contact.list_memberships.clear();
        }
        Permission::Explicit | Permission::Implicit => {
            contact.opt_out_source = None;
            contact.opt_out_date = None;
            contact.opt_in_source.get_or_insert(contact.create_source);
            contact.opt_in_date = Some(now);
        }
        Permission::NotSet | Permission::PendingConfirmation | Permission::TempHold => {
            contact.opt_out_source = None;
            contact.opt_out_date = None;
        }
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
