//! The v3 API calls ccbridge makes: `POST /contacts/sign_up_form` (create-or-update by email),
//! `GET /contact_lists` (all pages), `GET /contact_custom_fields`, `GET /account/summary`, and for
//! the mirror of unsubscribed addresses `GET /contacts` (one page at a time) and
//! `PUT /contacts/resubscribe/{contact_id}`.
//! The caller supplies the access token; refreshing on 401 is the token keeper's job.

use reqwest::header::{ACCEPT, AUTHORIZATION};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use url::Url;
use uuid::Uuid;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use super::error::{ApiError, ErrorKind};
use super::limits::RateLimiter;
use crate::domain::CustomFieldValue;

/// Never walk more pages than this (a paging bug upstream must not loop forever).
const MAX_PAGES: usize = 100;
/// After a 429 `throttled`, every call waits this long.
const THROTTLED_PAUSE: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: Url,
    limiter: Arc<RateLimiter>,
}

/// The `ContactCreateOrUpdateInput` body, with the fields ccbridge collects.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SignUpForm {
    pub email_address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    pub list_memberships: Vec<Uuid>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub custom_fields: Vec<CustomFieldValue>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignUpOutcome {
    pub contact_id: String,
    /// 201 (true) or 200 (false). Decided by the status code, not the `action` text.
    pub created: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ContactList {
    pub list_id: Uuid,
    pub name: String,
    #[serde(default)]
    pub membership_count: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CustomField {
    pub custom_field_id: Uuid,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub label: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AccountSummary {
    #[serde(default)]
    pub organization_name: Option<String>,
    #[serde(default)]
    pub contact_email: Option<String>,
    /// Which account this is: stable, unlike the name.
    #[serde(default)]
    pub encoded_account_id: Option<String>,
}

/// Which contacts `GET /contacts` is asked for (`status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactStatus {
    Unsubscribed,
    /// Deleted contacts: `sign_up_form` restores them, so an unsubscribed one counts.
    Deleted,
}

impl ContactStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unsubscribed => "unsubscribed",
            Self::Deleted => "deleted",
        }
    }
}

/// Which page of `GET /contacts` to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactsRequest {
    /// The first page: contacts of `status`, opted out after `optout_after` when given.
    First {
        status: ContactStatus,
        optout_after: Option<DateTime<Utc>>,
    },
    /// A later page: the previous page's `_links.next.href`, followed exactly (the API has no
    /// page parameter).
    Next(String),
}

/// One contact of a `GET /contacts` page, with what the mirror needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedContact {
    pub contact_id: String,
    pub email: String,
    pub permission_to_send: Option<String>,
    /// When the contact opted out (`email_address.opt_out_date`), if Constant Contact says.
    pub opt_out_date: Option<DateTime<Utc>>,
    /// Set on deleted contacts (a date).
    pub deleted_at: Option<String>,
}

impl ListedContact {
    /// Whether the contact's permission is `unsubscribed`.
    pub fn is_unsubscribed(&self) -> bool {
        self.permission_to_send.as_deref() == Some("unsubscribed")
    }
}

/// One page of `GET /contacts` and the host-relative link to the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactsPage {
    pub contacts: Vec<ListedContact>,
    pub next: Option<String>,
}

/// Contacts per page of `GET /contacts` (the API's maximum).
const CONTACTS_PAGE_LIMIT: u32 = 500;

#[derive(Deserialize)]
struct ContactsBody {
    // Required: a body without the list is not an empty list (a full sync would read it as "nobody
    // is unsubscribed" and drop every opt-out from the mirror).
    contacts: Vec<ContactBody>,
    #[serde(default, rename = "_links")]
    links: Option<Links>,
}

#[derive(Deserialize)]
struct ContactBody {
    contact_id: String,
    email_address: Option<EmailAddressBody>,
    #[serde(default)]
    deleted_at: Option<String>,
}

#[derive(Deserialize)]
struct EmailAddressBody {
    address: String,
    #[serde(default)]
    permission_to_send: Option<String>,
    #[serde(default)]
    opt_out_date: Option<String>,
}

impl ContactsBody {
    fn into_page(self) -> ContactsPage {
        let contacts = self
            .contacts
            .into_iter()
            .filter_map(|c| {
                // A contact without an email address (SMS only) cannot be signed up by email.
                let email = c.email_address?;
                Some(ListedContact {
                    contact_id: c.contact_id,
                    email: email.address,
                    permission_to_send: email.permission_to_send,
                    // An unreadable date is no date: the contact is still mirrored.
                    opt_out_date: email
                        .opt_out_date
                        .and_then(|d| DateTime::parse_from_rfc3339(&d).ok())
                        .map(|d| d.with_timezone(&Utc)),
                    deleted_at: c.deleted_at,
                })
            })
            .collect();
        ContactsPage {
            contacts,
            next: self.links.and_then(|l| l.next).map(|n| n.href),
        }
    }
}

#[derive(Serialize)]
struct ResubscribeBody<'a> {
    list_ids: &'a [Uuid],
}

#[derive(Deserialize)]
struct SignUpResponse {
    contact_id: String,
}

#[derive(Deserialize)]
struct ListPage {
    #[serde(default)]
    lists: Vec<ContactList>,
    #[serde(default, rename = "_links")]
    links: Option<Links>,
}

#[derive(Deserialize)]
struct Links {
    next: Option<Link>,
}

#[derive(Deserialize)]
struct Link {
    href: String,
}

/// One page of a paged collection: its items and the link to the next page.
trait Page: DeserializeOwned {
    type Item;
    fn into_parts(self) -> (Vec<Self::Item>, Option<String>);
}

impl Page for ListPage {
    type Item = ContactList;
    fn into_parts(self) -> (Vec<ContactList>, Option<String>) {
        (self.lists, self.links.and_then(|l| l.next).map(|n| n.href))
    }
}

impl Page for CustomFieldPage {
    type Item = CustomField;
    fn into_parts(self) -> (Vec<CustomField>, Option<String>) {
        (
            self.custom_fields,
            self.links.and_then(|l| l.next).map(|n| n.href),
        )
    }
}

#[derive(Deserialize)]
struct CustomFieldPage {
    #[serde(default)]
    custom_fields: Vec<CustomField>,
    #[serde(default, rename = "_links")]
    links: Option<Links>,
}

impl ApiClient {
    pub fn new(http: reqwest::Client, base: Url, limiter: Arc<RateLimiter>) -> Self {
        Self {
            http,
            base,
            limiter,
        }
    }

    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    /// `base` + `/path`, whether or not the configured base ends in a slash.
    fn url(&self, path_and_query: &str) -> Result<Url, ApiError> {
        let joined = format!(
            "{}{}",
            self.base.as_str().trim_end_matches('/'),
            path_and_query
        );
        Url::parse(&joined).map_err(|e| ApiError::Decode(format!("bad URL {joined}: {e}")))
    }

    /// A `_links.next.href` is relative to the API host (`/v3/…`).
    fn next_url(&self, href: &str) -> Result<Url, ApiError> {
        let url = self
            .base
            .join(href)
            .map_err(|e| ApiError::Decode(format!("bad next link {href}: {e}")))?;
        // The bearer token goes with the request: never to another host.
        if url.origin() != self.base.origin() {
            return Err(ApiError::Decode(format!(
                "next link {href} leaves the API host"
            )));
        }
        Ok(url)
    }

    pub async fn sign_up_form(
        &self,
        token: &SecretString,
        form: &SignUpForm,
    ) -> Result<SignUpOutcome, ApiError> {
        let request = self
            .http
            .post(self.url("/contacts/sign_up_form")?)
            .json(form);
        let (status, body) = self.send(request, token).await?;
        let parsed: SignUpResponse = decode(&body)?;
        Ok(SignUpOutcome {
            contact_id: parsed.contact_id,
            created: status == 201,
        })
    }

    pub async fn contact_lists(&self, token: &SecretString) -> Result<Vec<ContactList>, ApiError> {
        self.all_pages::<ListPage>(
            "/contact_lists?limit=1000&include_membership_count=all",
            token,
        )
        .await
    }

    pub async fn custom_fields(&self, token: &SecretString) -> Result<Vec<CustomField>, ApiError> {
        self.all_pages::<CustomFieldPage>("/contact_custom_fields?limit=100", token)
            .await
    }

    /// Every item of a paged collection, following `_links.next.href` (bounded by `MAX_PAGES`).
    async fn all_pages<P: Page>(
        &self,
        first: &str,
        token: &SecretString,
    ) -> Result<Vec<P::Item>, ApiError> {
        let mut url = self.url(first)?;
        let mut items = Vec::new();
        for _ in 0..MAX_PAGES {
            let (_, body) = self.send(self.http.get(url.clone()), token).await?;
            let (page, next) = decode::<P>(&body)?.into_parts();
            items.extend(page);
            match next {
                Some(href) => url = self.next_url(&href)?,
                None => return Ok(items),
            }
        }
        Err(ApiError::Decode(format!(
            "{first} has more than {MAX_PAGES} pages"
        )))
    }

    /// One page of `GET /contacts`. A next link that leaves the API host is an error: the bearer
    /// token is never sent elsewhere.
    pub async fn contacts_page(
        &self,
        token: &SecretString,
        request: &ContactsRequest,
    ) -> Result<ContactsPage, ApiError> {
        let url = match request {
            ContactsRequest::First {
                status,
                optout_after,
            } => {
                let mut query = format!(
                    "/contacts?status={}&limit={CONTACTS_PAGE_LIMIT}",
                    status.as_str()
                );
                if let Some(after) = optout_after {
                    query.push_str("&optout_after=");
                    query.push_str(&after.to_rfc3339_opts(SecondsFormat::Millis, true));
                }
                self.url(&query)?
            }
            ContactsRequest::Next(href) => self.next_url(href)?,
        };
        let (status, body) = self.send(self.http.get(url), token).await?;
        contacts_answer(status, &body)
    }

    /// `PUT /contacts/resubscribe/{contact_id}`: Constant Contact mails the contact its own
    /// resubscribe request (once per contact, ever); confirming adds them to `list_ids`.
    pub async fn resubscribe(
        &self,
        token: &SecretString,
        contact_id: &str,
        list_ids: &[Uuid],
    ) -> Result<(), ApiError> {
        let id: String = url::form_urlencoded::byte_serialize(contact_id.as_bytes()).collect();
        let request = self
            .http
            .put(self.url(&format!("/contacts/resubscribe/{id}"))?)
            .json(&ResubscribeBody { list_ids });
        self.send(request, token).await?;
        Ok(())
    }

    pub async fn account_summary(&self, token: &SecretString) -> Result<AccountSummary, ApiError> {
        let (_, body) = self
            .send(self.http.get(self.url("/account/summary")?), token)
            .await?;
        decode(&body)
    }
}

impl ApiClient {
    /// Send with the bearer token, within the rate limits; a success status returns the body,
    /// anything else an `ApiError`. 429s also tell the limiter.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        token: &SecretString,
    ) -> Result<(u16, bytes::Bytes), ApiError> {
        let day = self.limiter.acquire().await?;
        let response = request
            .header(AUTHORIZATION, format!("Bearer {}", token.expose_secret()))
            .header(ACCEPT, "application/json")
            .send()
            .await
            .inspect_err(|_| crate::metrics::api_call(None))
            .map_err(|e| ApiError::Transport(without_url(e)))?;
        let status = response.status().as_u16();
        crate::metrics::api_call(Some(status));
        let body = response
            .bytes()
            .await
            .map_err(|e| ApiError::Transport(without_url(e)))?;
        if (200..300).contains(&status) {
            return Ok((status, body));
        }
        let error = ApiError::from_response(status, &body);
        match error.kind() {
            Some(ErrorKind::Throttled) => {
                crate::metrics::api_rate_limited("throttled");
                self.limiter.hold(THROTTLED_PAUSE).await;
            }
            Some(ErrorKind::QuotaExceeded) => {
                crate::metrics::api_rate_limited("quota_exceeded");
                self.limiter.exhaust_day(day).await;
            }
            _ => {}
        }
        Err(error)
    }
}

/// A page of `GET /contacts` is only a 200 with a `contacts` array. The published API answers
/// 202 for "accepted, but not fully completed; retry": read as a page it would end a full sync
/// early and the mirror would lose real opt-outs. So it is a transient error (the sync retries).
fn contacts_answer(status: u16, body: &[u8]) -> Result<ContactsPage, ApiError> {
    if status != 200 {
        return Err(ApiError::Status {
            status,
            kind: ErrorKind::Server,
            messages: vec![super::error::UpstreamMessage {
                error_key: "not_complete".into(),
                error_message: "the contacts list was not complete; retried later".into(),
            }],
        });
    }
    Ok(decode::<ContactsBody>(body)?.into_page())
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::Decode(e.to_string()))
}

/// reqwest errors print the URL; ours carry no secrets, but keep messages short and stable.
fn without_url(error: reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "the answer was cut off"
    } else {
        "request failed"
    };
    format!("{kind}: {}", error.without_url())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    #[test]
    fn a_contacts_page_keeps_what_the_mirror_needs_and_its_next_link() {
        let body = br#"{
            "contacts": [
                {"contact_id": "c1", "email_address": {"address": "Ann@Example.com",
                    "permission_to_send": "unsubscribed", "opt_out_date": "2026-01-02T03:04:05Z"}},
                {"contact_id": "c2", "deleted_at": "2026-01-03",
                    "email_address": {"address": "bob@example.com", "permission_to_send": "implicit",
                    "opt_out_date": "not a date"}},
                {"contact_id": "c3"}
            ],
            "_links": {"next": {"href": "/v3/contacts?cursor=abc"}}
        }"#;
        let page = decode::<ContactsBody>(body).unwrap().into_page();
        assert_eq!(page.next.as_deref(), Some("/v3/contacts?cursor=abc"));
        assert_eq!(
            page.contacts.len(),
            2,
            "a contact without an email is left out"
        );
        assert!(page.contacts[0].is_unsubscribed());
        assert_eq!(
            page.contacts[0].opt_out_date,
            Some(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap())
        );
        assert!(!page.contacts[1].is_unsubscribed());
        assert_eq!(page.contacts[1].opt_out_date, None);
        assert_eq!(page.contacts[1].deleted_at.as_deref(), Some("2026-01-03"));
    }

    #[test]
    fn only_a_200_with_a_contacts_list_is_a_contacts_page() {
        let empty = br#"{"contacts": []}"#;
        assert!(contacts_answer(200, empty).unwrap().contacts.is_empty());
        for status in [201, 202, 204] {
            let error = contacts_answer(status, empty).unwrap_err();
            assert_eq!(error.kind(), Some(ErrorKind::Server), "{status}: {error}");
            assert!(error.to_string().contains("not complete"), "{error}");
        }
        for body in [&b"{}"[..], b"", br#"{"_links": {}}"#] {
            let error = contacts_answer(200, body).unwrap_err();
            assert!(matches!(error, ApiError::Decode(_)), "{error}");
        }
    }
}
