//! Group commit for the intake. Every accepted signup must be durable before its success answer
//! (invariant 1), and with `synchronous = FULL` each commit costs a disk flush. Under load, one
//! writer task takes every signup that is waiting and commits them in one transaction, then
//! answers each caller: the same durability, one flush for many signups.
//!
//! A failed transaction fails every signup in it; each caller then answers 503 and nothing of the
//! batch is stored.

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::domain::{Intake, NewSignup};
use crate::store::{Store, StoreError};

/// Signups waiting for the writer beyond this make callers wait for room (backpressure).
const QUEUE: usize = 4096;

/// One signup waiting to be committed, and where to send the outcome.
struct Waiting {
    signup: NewSignup,
    intake: Intake,
    now: DateTime<Utc>,
    reply: oneshot::Sender<Result<Uuid, StoreError>>,
}

#[derive(Clone)]
pub struct SignupWriter {
    queue: mpsc::Sender<Waiting>,
}

impl SignupWriter {
    /// Start the writer task; it ends when every `SignupWriter` handle is dropped.
    pub fn start(store: Store, max_batch: usize) -> Self {
        let (queue, waiting) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(store, waiting, max_batch.max(1)));
        Self { queue }
    }

    /// Commit one signup; returns once it is durable (or failed, storing nothing).
    pub async fn insert(
        &self,
        signup: NewSignup,
        intake: Intake,
        now: DateTime<Utc>,
    ) -> Result<Uuid, StoreError> {
        let (reply, outcome) = oneshot::channel();
        let waiting = Waiting {
            signup,
            intake,
            now,
            reply,
        };
        self.queue
            .send(waiting)
            .await
            .map_err(|_| StoreError::Closed)?;
        outcome.await.map_err(|_| StoreError::Closed)?
    }
}

async fn write_batches(store: Store, mut waiting: mpsc::Receiver<Waiting>, max_batch: usize) {
    let mut batch = Vec::with_capacity(max_batch);
    while waiting.recv_many(&mut batch, max_batch).await > 0 {
        let rows: Vec<(&NewSignup, &Intake, DateTime<Utc>)> = batch
            .iter()
            .map(|w| (&w.signup, &w.intake, w.now))
            .collect();
        match store.insert_signups(&rows).await {
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
