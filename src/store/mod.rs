//! The store: every byte ccbridge keeps lives behind this module, and no SQL exists outside it.
//!
//! The public methods are the store interface the rest of the service uses. They run on SQLite
//! (one process, the embedded default) or PostgreSQL (several replicas), chosen by the URL scheme,
//! through sqlx's `Any` driver: one set of SQL with `$N` placeholders and plain types (text,
//! 64-bit integers), and a `Backend` switch for the few statements the two dialects spell
//! differently (see `dialect`).
//!
//! Durability: on SQLite a WAL journal with `synchronous = FULL`; on PostgreSQL its default
//! synchronous commit. Either way a committed signup survives a process crash *and* a power loss
//! before `insert_signups` returns. That is what lets the HTTP layer send a success answer right
//! after it (invariant 1).

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use sqlx::AnyConnection;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, FromRow};
use uuid::Uuid;

use crate::config::DatabaseConfig;
use crate::domain::{ConsentMode, CustomFieldValue, Intake, NewSignup, SignupState};

mod account;
mod admin;
mod admin_lockout;
mod backend;
mod confirmations;
mod connect;
mod consent;
mod console;
mod delivery;
mod mail_outbox;
mod pace;
mod privacy;
mod rollup;
mod spam;
mod tokens;
mod unsubscribed;

pub use admin::AdminSession;
pub use admin_lockout::LoginAttempts;
pub use backend::{Backend, DatabaseUrl, SingleProcessLock, warn_if_network_filesystem};
pub use confirmations::{ConfirmLink, Confirmation, ConfirmedBy};
pub use connect::{ConnectLink, LinkState, PageDeviceAuthorization};
pub use consent::{ConsentRecord, PageContext, text_hash as consent_text_hash};
pub use console::{AuditEntry, Failing, SignupFilter};
pub use delivery::{RecentError, Settle};
pub use mail_outbox::{ConfirmationPolicy, Held, MailCounts, MailSettle, QueuedMail};
pub use pace::Slot;
pub use privacy::{
    Erased, MIRROR_NOTE, MailRecord, MirrorRecord, NOT_ERASED, PrivacyExport, ResubscribeRequest,
};
pub use rollup::{
    HourlySignups, KEEP_HOURLY_COUNTS, RefusalCount, UNKNOWN_FORM, hour_of as rollup_hour,
};
pub use spam::Released;
pub use tokens::{Authorization, NewTokenSet, PendingAuthorization, StoredTokenSet};
pub use unsubscribed::{Divert, SyncState, UnsubscribedEntry};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored row {id} is not readable: {problem}")]
    Corrupt { id: String, problem: String },
    /// A command that only reads or changes existing data found no ccbridge database.
    #[error("no ccbridge database: {0}")]
    Missing(String),
    /// A write that shared a failed transaction with others (group commit).
    #[error("the batch this write belonged to failed: {0}")]
    Batch(String),
    /// The writer is shutting down.
    #[error("the store is closed")]
    Closed,
}

impl StoreError {
    /// A copy for the other members of a failed batch (`sqlx::Error` is not `Clone`).
    pub fn clone_shallow(&self) -> Self {
        Self::Batch(self.to_string())
    }
}

/// A stored signup as the rest of the service sees it (and as a privacy export shows it).
#[derive(Debug, Clone, Serialize)]
pub struct SignupRecord {
    pub id: Uuid,
    pub form_id: String,
    /// `None` once retention has purged the personal data.
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub list_ids: Vec<Uuid>,
    pub custom_fields: Vec<CustomFieldValue>,
    pub state: SignupState,
    pub spam_reason: Option<String>,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub contact_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Manual retries restart the age clock from here.
    pub requeued_at: Option<DateTime<Utc>>,
    /// Whether Constant Contact created the contact (201) rather than updated it (200).
    pub created_contact: Option<bool>,
    /// The form's consent mode at intake.
    pub consent_mode: ConsentMode,
    /// When the person confirmed by mail (double opt-in, or an unsubscribed address asked).
    pub confirmed_at: Option<DateTime<Utc>>,
    /// `awaiting_confirmation`: purged after this.
    pub confirm_expires_at: Option<DateTime<Utc>>,
    /// Why it is `awaiting_confirmation` or `suppressed`.
    pub hold_reason: Option<String>,
}

impl SignupRecord {
    /// When the age limit starts counting: creation, or the last manual requeue.
    pub fn age_origin(&self) -> DateTime<Utc> {
        self.requeued_at
            .unwrap_or(self.created_at)
            .max(self.created_at)
    }
}

/// Number of signups in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueCounts {
    pub pending: u64,
    pub failed: u64,
    pub delivered: u64,
    pub dead: u64,
    pub spam: u64,
    pub awaiting_confirmation: u64,
    pub suppressed: u64,
}

impl QueueCounts {
    /// The count of one state.
    pub fn get(&self, state: SignupState) -> u64 {
        match state {
            SignupState::Pending => self.pending,
            SignupState::Failed => self.failed,
            SignupState::Delivered => self.delivered,
            SignupState::Dead => self.dead,
            SignupState::Spam => self.spam,
            SignupState::AwaitingConfirmation => self.awaiting_confirmation,
            SignupState::Suppressed => self.suppressed,
        }
    }
}

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    /// PostgreSQL: a small pool of connections for the call pace only, whose commits do not wait
    /// for the disk (a slot is worthless after a crash), so taking a slot is one quick round trip.
    pace_pool: Option<AnyPool>,
    backend: Backend,
}

impl Store {
    /// Open (creating if missing) the database and apply pending migrations.
    pub async fn open(config: &DatabaseConfig) -> Result<Self, StoreError> {
        let store = Self::connect(config).await?;
        store.backend.migrator().run(&store.pool).await?;
        Ok(store)
    }

    /// Open a database ccbridge has already set up (applying any pending migrations), never
    /// creating one: for commands that read or change existing data, so that one run in the
    /// wrong directory reports the missing database instead of creating an empty one.
    pub async fn open_existing(config: &DatabaseConfig) -> Result<Self, StoreError> {
        if config.url.backend() == Backend::Sqlite {
            let path = backend::sqlite_path(config.url.expose());
            if !path.exists() {
                return Err(StoreError::Missing(format!(
                    "there is no file {}",
                    path.display()
                )));
            }
        }
        let store = Self::connect(config).await?;
        let count: i64 = sqlx::query_scalar(store.backend.migrations_table_count())
            .fetch_one(&store.pool)
            .await?;
        if count == 0 {
            store.close().await;
            return Err(StoreError::Missing(
                "the database holds no ccbridge data (ccbridge serve or migrate sets it up)".into(),
            ));
        }
        store.backend.migrator().run(&store.pool).await?;
        Ok(store)
    }

    /// Open without migrating (for tools that must not change the schema).
    pub async fn connect(config: &DatabaseConfig) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = config.url.backend();
        let session = backend.session_settings(config.busy_timeout);
        let pool = Self::pool(config, backend, config.max_connections, session.clone()).await?;
        let pace_pool = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let mut session = session;
                session.push("set synchronous_commit = off".into());
                Some(Self::pool(config, backend, 2, session).await?)
            }
        };
        Ok(Self {
            pool,
            pace_pool,
            backend,
        })
    }

    async fn pool(
        config: &DatabaseConfig,
        backend: Backend,
        max_connections: u32,
        session: Vec<String>,
    ) -> Result<AnyPool, StoreError> {
        Ok(AnyPoolOptions::new()
            .max_connections(max_connections)
            // A request never waits longer for a connection than for a lock.
            .acquire_timeout(config.busy_timeout.max(Duration::from_millis(100)))
            .after_connect(move |conn, _meta| {
                let session = session.clone();
                Box::pin(async move {
                    for statement in &session {
                        sqlx::query(statement).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(&backend.connect_url(config.url.expose()))
            .await?)
    }

    /// Which database this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Commit several signups in one transaction (one disk flush): all or none, each with its
    /// consent record, and for a double opt-in signup its confirmation mail queued (within the
    /// caps of `policy`). Returns their ids in order, only after the transaction is durable.
    pub async fn insert_signups(
        &self,
        signups: &[(&NewSignup, &Intake, DateTime<Utc>)],
        policy: &ConfirmationPolicy,
    ) -> Result<Vec<Uuid>, StoreError> {
        let mut tx = self.begin_write().await?;
        let result = async {
            let ids = Self::insert_rows(tx.conn(), signups).await?;
            for ((signup, intake, now), id) in signups.iter().zip(&ids) {
                consent::insert_record(tx.conn(), *id, signup, *now).await?;
                if matches!(intake, Intake::AwaitConfirmation) {
                    consent::replace_waiting(
                        tx.conn(),
                        self.backend,
                        (*id, consent::Replaces::Older),
                        (signup.email.as_str(), signup.form_id.as_str()),
                        *now,
                    )
                    .await?;
                    mail_outbox::hold_for_confirmation(
                        tx.conn(),
                        *id,
                        "double_opt_in",
                        *now,
                        policy,
                    )
                    .await?;
                }
            }
            Self::count_accepted(tx.conn(), signups).await?;
            Ok(ids)
        }
        .await;
        tx.finish(result).await
    }

    /// Start a write transaction. On SQLite `begin immediate`: the write lock is taken now,
    /// waiting up to the busy timeout, rather than failing halfway through.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query(self.backend.begin_write())
            .execute(&mut *conn)
            .await?;
        Ok(WriteTx(conn))
    }

    /// Count the batch's signups that were accepted (not kept as spam) in the hourly counts, one
    /// row per hour and form, in the transaction that stores them.
    async fn count_accepted(
        conn: &mut AnyConnection,
        signups: &[(&NewSignup, &Intake, DateTime<Utc>)],
    ) -> Result<(), StoreError> {
        let mut accepted: std::collections::BTreeMap<(DateTime<Utc>, &str), u64> =
            std::collections::BTreeMap::new();
        for (signup, intake, now) in signups {
            if !matches!(intake, Intake::Spam { .. }) {
                *accepted
                    .entry((rollup::hour_of(*now), signup.form_id.as_str()))
                    .or_default() += 1;
            }
        }
        for ((hour, form), n) in accepted {
            rollup::add(conn, hour, form, rollup::Kind::Accepted, "", n).await?;
        }
        Ok(())
    }

    /// One multi-row INSERT for the whole batch (far cheaper than a statement per row).
    async fn insert_rows(
        conn: &mut AnyConnection,
        signups: &[(&NewSignup, &Intake, DateTime<Utc>)],
    ) -> Result<Vec<Uuid>, StoreError> {
        const COLUMNS: usize = 18;
        let ids: Vec<Uuid> = signups.iter().map(|_| Uuid::now_v7()).collect();
        // Placeholders are numbered by hand: `QueryBuilder<Any>` writes `?`, which PostgreSQL
        // does not accept.
        let mut sql = String::from(
            "insert into signups (id, form_id, email, first_name, last_name, phone, company, job_title,
                list_ids, custom_fields, state, spam_reason, attempts, next_attempt_at, created_at,
                client_ip, user_agent, consent_mode) values ",
        );
        for row in 0..signups.len() {
            let placeholders: Vec<String> = (1..=COLUMNS)
                .map(|column| format!("${}", row * COLUMNS + column))
                .collect();
            if row > 0 {
                sql.push(',');
            }
            sql.push('(');
            sql.push_str(&placeholders.join(","));
            sql.push(')');
        }
        let mut query = sqlx::query(&sql);
        for ((signup, intake, now), id) in signups.iter().zip(&ids) {
            let (state, spam_reason) = match intake {
                Intake::Deliver => (SignupState::Pending, None),
                Intake::Spam { reason } => (SignupState::Spam, Some(*reason)),
                Intake::AwaitConfirmation => (SignupState::AwaitingConfirmation, None),
            };
            query = query
                .bind(id.to_string())
                .bind(signup.form_id.as_str().to_owned())
                .bind(signup.email.as_str().to_owned())
                .bind(signup.first_name.clone())
                .bind(signup.last_name.clone())
                .bind(signup.phone.clone())
                .bind(signup.company.clone())
                .bind(signup.job_title.clone())
                .bind(serde_json::to_string(&signup.list_ids).expect("uuids serialize"))
                .bind(serde_json::to_string(&signup.custom_fields).expect("strings serialize"))
                .bind(state.as_str())
                .bind(spam_reason)
                .bind(0_i64)
                .bind(now.timestamp_millis())
                .bind(now.timestamp_millis())
                .bind(signup.client_ip.map(|ip| ip.to_string()))
                .bind(signup.user_agent.clone())
                .bind(signup.consent.mode.as_str());
        }
        query.execute(&mut *conn).await?;
        Ok(ids)
    }

    /// One signup by id.
    pub async fn signup(&self, id: Uuid) -> Result<Option<SignupRecord>, StoreError> {
        let row: Option<SignupRow> = sqlx::query_as("select * from signups where id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(SignupRow::into_record).transpose()
    }

    /// Every signup, oldest first (tests and small admin views; not for large tables).
    pub async fn all_signups(&self) -> Result<Vec<SignupRecord>, StoreError> {
        let rows: Vec<SignupRow> = sqlx::query_as("select * from signups order by id")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(SignupRow::into_record).collect()
    }

    /// How many signups are in each state.
    pub async fn queue_counts(&self) -> Result<QueueCounts, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("select state, count(*) from signups group by state")
                .fetch_all(&self.pool)
                .await?;
        let mut counts = QueueCounts::default();
        for (state, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match state.parse::<SignupState>() {
                Ok(SignupState::Pending) => counts.pending = n,
                Ok(SignupState::Failed) => counts.failed = n,
                Ok(SignupState::Delivered) => counts.delivered = n,
                Ok(SignupState::Dead) => counts.dead = n,
                Ok(SignupState::Spam) => counts.spam = n,
                Ok(SignupState::AwaitingConfirmation) => counts.awaiting_confirmation = n,
                Ok(SignupState::Suppressed) => counts.suppressed = n,
                Err(problem) => {
                    return Err(StoreError::Corrupt {
                        id: "signups.state".into(),
                        problem,
                    });
                }
            }
        }
        Ok(counts)
    }

    /// Prove the database accepts a write right now (readiness).
    pub async fn probe_write(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query("update heartbeat set at = $1 where id = 1")
            .bind(now.timestamp_millis())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Wait for in-flight queries, then close every connection (checkpointing the WAL).
    pub async fn close(&self) {
        if let Some(pace_pool) = &self.pace_pool {
            pace_pool.close().await;
        }
        self.pool.close().await;
    }
}

/// A write transaction run by hand rather than with `Pool::begin`: when COMMIT fails (a full
/// disk), SQLite keeps the transaction open, and it must be rolled back here or its write lock
/// outlives the failure and every later write gets "database is locked".
pub(crate) struct WriteTx(sqlx::pool::PoolConnection<sqlx::Any>);

impl WriteTx {
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.0
    }

    /// Commit if `result` is `Ok`, else roll back; either way nothing is left half-done.
    pub(crate) async fn finish<T>(
        mut self,
        result: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let result = match result {
            Ok(value) => sqlx::query("commit")
                .execute(&mut *self.0)
                .await
                .map(|_| value)
                .map_err(StoreError::from),
            Err(error) => Err(error),
        };
        if result.is_err() {
            self.abandon().await;
        }
        result
    }

    /// Roll back; a connection that cannot even do that is closed, so no lock survives it.
    async fn abandon(mut self) {
        if sqlx::query("rollback").execute(&mut *self.0).await.is_err() {
            use sqlx::Connection as _;
            let _ = self.0.detach().close().await;
        }
    }
}

/// The `signups` row as the database returns it.
#[derive(FromRow)]
pub(crate) struct SignupRow {
    id: String,
    form_id: String,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
    company: Option<String>,
    job_title: Option<String>,
    list_ids: String,
    custom_fields: String,
    state: String,
    spam_reason: Option<String>,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
    contact_id: Option<String>,
    created_at: i64,
    delivered_at: Option<i64>,
    client_ip: Option<String>,
    user_agent: Option<String>,
    requeued_at: Option<i64>,
    created_contact: Option<i64>,
    consent_mode: String,
    confirmed_at: Option<i64>,
    confirm_expires_at: Option<i64>,
    hold_reason: Option<String>,
}

impl SignupRow {
    pub(crate) fn into_record(self) -> Result<SignupRecord, StoreError> {
        let corrupt = |problem: String| StoreError::Corrupt {
            id: self.id.clone(),
            problem,
        };
        let id = Uuid::parse_str(&self.id).map_err(|e| corrupt(format!("id: {e}")))?;
        let list_ids =
            serde_json::from_str(&self.list_ids).map_err(|e| corrupt(format!("list_ids: {e}")))?;
        let custom_fields = serde_json::from_str(&self.custom_fields)
            .map_err(|e| corrupt(format!("custom_fields: {e}")))?;
        let state = self.state.parse().map_err(corrupt)?;
        let consent_mode = self.consent_mode.parse().map_err(corrupt)?;
        Ok(SignupRecord {
            id,
            form_id: self.form_id,
            email: self.email,
            first_name: self.first_name,
            last_name: self.last_name,
            phone: self.phone,
            company: self.company,
            job_title: self.job_title,
            list_ids,
            custom_fields,
            state,
            spam_reason: self.spam_reason,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            next_attempt_at: from_millis(self.next_attempt_at),
            last_error: self.last_error,
            contact_id: self.contact_id,
            created_at: from_millis(self.created_at),
            delivered_at: self.delivered_at.map(from_millis),
            client_ip: self.client_ip,
            user_agent: self.user_agent,
            requeued_at: self.requeued_at.map(from_millis),
            created_contact: self.created_contact.map(|c| c != 0),
            consent_mode,
            confirmed_at: self.confirmed_at.map(from_millis),
            confirm_expires_at: self.confirm_expires_at.map(from_millis),
            hold_reason: self.hold_reason,
        })
    }
}

pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}
