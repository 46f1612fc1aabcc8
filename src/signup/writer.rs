//! Group commit for the intake. Every accepted signup must be durable before its success answer
//! (invariant 1), and with `synchronous = FULL` each commit costs a disk flush. Under load, one
//! writer task takes every signup that is waiting and commits them in one transaction, then
//! answers each caller: the same durability, one flush for many signups.
//!
//! A failed transaction fails every signup in it; each caller then answers 503 and nothing of the
//! batch is stored.
//!
//! A caller has a deadline, and its answer must agree with the store: once the writer has taken a
//! signup into a transaction, the caller waits for that transaction's outcome, whatever the
//! deadline says (the store bounds it: `database.busy_timeout`). Until then the caller may
//! withdraw its signup at the deadline, and the writer skips it: "not stored" is then certain.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use uuid::Uuid;

use crate::domain::{Intake, NewSignup};
use crate::store::{ConfirmationPolicy, Store, StoreError};

/// Signups waiting for the writer beyond this make callers wait for room (backpressure).
const QUEUE: usize = 4096;

/// Who owns a waiting signup: nobody yet, the writer (it is in a transaction), or nobody ever
/// (its caller withdrew it at its deadline).
const WAITING: u8 = 0;
const TAKEN: u8 = 1;
const WITHDRAWN: u8 = 2;

/// One signup waiting to be committed, and where to send the outcome.
struct Waiting {
    signup: NewSignup,
    intake: Intake,
    now: DateTime<Utc>,
    claim: Arc<AtomicU8>,
    reply: oneshot::Sender<Result<Uuid, StoreError>>,
}

/// Why [`SignupWriter::insert`] stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The deadline passed before the writer took the signup; it was withdrawn, never stored.
    #[error("the signup was not taken for writing before its deadline and was withdrawn")]
    Deadline,
}

#[derive(Clone)]
pub struct SignupWriter {
    queue: mpsc::Sender<Waiting>,
}

impl SignupWriter {
    /// Start the writer task; it ends when every `SignupWriter` handle is dropped.
    pub fn start(store: Store, max_batch: usize, policy: ConfirmationPolicy) -> Self {
        let (queue, waiting) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(store, waiting, max_batch.max(1), policy));
        Self { queue }
    }

    /// Commit one signup; returns once it is durable, or once it is certain that it was not
    /// stored (a failed transaction, or `deadline` passed before the writer took it).
    pub async fn insert(
        &self,
        signup: NewSignup,
        intake: Intake,
        now: DateTime<Utc>,
        deadline: Instant,
    ) -> Result<Uuid, WriteError> {
        let (reply, outcome) = oneshot::channel();
        let claim = Arc::new(AtomicU8::new(WAITING));
        let waiting = Waiting {
            signup,
            intake,
            now,
            claim: claim.clone(),
            reply,
        };
        // Not queued by the deadline (backpressure): nothing was handed over.
        match tokio::time::timeout_at(deadline, self.queue.send(waiting)).await {
            Err(_) => return Err(WriteError::Deadline),
            Ok(Err(_)) => return Err(StoreError::Closed.into()),
            Ok(Ok(())) => {}
        }
        tokio::pin!(outcome);
        tokio::select! {
            result = &mut outcome => return flatten(result),
            () = tokio::time::sleep_until(deadline) => {}
        }
        let withdrawn = claim
            .compare_exchange(WAITING, WITHDRAWN, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if withdrawn {
            return Err(WriteError::Deadline);
        }
        // The writer took it first: its transaction decides, so wait for the outcome.
        flatten(outcome.await)
    }
}

fn flatten(
    result: Result<Result<Uuid, StoreError>, oneshot::error::RecvError>,
) -> Result<Uuid, WriteError> {
    Ok(result.map_err(|_| StoreError::Closed)??)
}

async fn write_batches(
    store: Store,
    mut waiting: mpsc::Receiver<Waiting>,
    max_batch: usize,
    policy: ConfirmationPolicy,
) {
    let mut batch = Vec::with_capacity(max_batch);
    while waiting.recv_many(&mut batch, max_batch).await > 0 {
        // Take each signup, skipping those withdrawn by their callers at their deadline.
        batch.retain(|w| {
            w.claim
                .compare_exchange(WAITING, TAKEN, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        });
        if batch.is_empty() {
            continue;
        }
        let rows: Vec<(&NewSignup, &Intake, DateTime<Utc>)> = batch
            .iter()
            .map(|w| (&w.signup, &w.intake, w.now))
            .collect();
        match store.insert_signups(&rows, &policy).await {
            Ok(ids) => {
                for (w, id) in batch.drain(..).zip(ids) {
                    let _ = w.reply.send(Ok(id));
                }
            }
            Err(error) => {
                tracing::error!(%error, signups = batch.len(), "a batch of signups could not be committed");
                for w in batch.drain(..) {
                    let _ = w.reply.send(Err(error.clone_shallow()));
                }
            }
        }
    }
}
