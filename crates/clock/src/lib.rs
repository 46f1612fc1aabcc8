//! Time as a dependency: everything that decides by the clock (retries, expiry, daily quotas,
//! polling schedules) asks a `Clock`, so tests can move time instead of waiting for it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// A boxed future, so that `Clock` stays object safe (`SharedClock` is `Arc<dyn Clock>`).
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Where "now" comes from, and how to wait for a moment of it.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;

    /// Resolves once this clock reads `deadline` or later. Code that waits for a moment of the
    /// calendar (the next poll of a device authorization, say) waits here rather than on Tokio's
    /// timer, so a test moves the moment instead of waiting for it.
    fn sleep_until(&self, deadline: DateTime<Utc>) -> Sleep;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) -> Sleep {
        let wait = (deadline - Utc::now()).to_std().unwrap_or_default();
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that only moves when told to (tests). Its sleepers wake when it is moved past their
/// deadline, and a test can see who is asleep and until when.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<watch::Sender<State>>);

#[derive(Debug, Clone)]
struct State {
    now: DateTime<Utc>,
    /// Deadlines of the sleepers now waiting, each with its ticket.
    sleepers: Vec<(u64, DateTime<Utc>)>,
    next_ticket: u64,
}

impl ManualClock {
    /// A clock that reads `start` until moved.
    pub fn new(start: DateTime<Utc>) -> Self {
        let (sender, _) = watch::channel(State {
            now: start,
            sleepers: Vec::new(),
            next_ticket: 0,
        });
        Self(Arc::new(sender))
    }

    /// Move the clock forward by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        self.0.send_modify(|state| state.now += by);
    }

    /// Move the clock to `to`.
    pub fn set(&self, to: DateTime<Utc>) {
        self.0.send_modify(|state| state.now = to);
    }

    /// The earliest deadline anyone sleeps until, once someone sleeps (waits for that).
    pub async fn next_sleeper(&self) -> DateTime<Utc> {
        let mut watcher = self.0.subscribe();
        let state = watcher
            .wait_for(|state| !state.sleepers.is_empty())
            .await
            .expect("the clock outlives its watchers");
        state
            .sleepers
            .iter()
            .map(|(_, deadline)| *deadline)
            .min()
            .expect("someone sleeps")
    }

    /// The earliest deadline anyone sleeps until right now, if anyone does.
    pub fn sleeping_until(&self) -> Option<DateTime<Utc>> {
        self.0.borrow().sleepers.iter().map(|(_, d)| *d).min()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.borrow().now
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) -> Sleep {
        let clock = self.0.clone();
        let mut ticket = 0;
        clock.send_modify(|state| {
            ticket = state.next_ticket;
            state.next_ticket += 1;
            state.sleepers.push((ticket, deadline));
        });
        // Leaves the list however the sleep ends (woken, or dropped by a `select!`).
        let asleep = Asleep { clock, ticket };
        Box::pin(async move {
            let mut watcher = asleep.clock.subscribe();
            // `Err` only if the sender is gone, and `asleep` holds it.
            let _ = watcher.wait_for(|state| state.now >= deadline).await;
            drop(asleep);
        })
    }
}

struct Asleep {
    clock: Arc<watch::Sender<State>>,
    ticket: u64,
}

impl Drop for Asleep {
    fn drop(&mut self) {
        self.clock
            .send_modify(|state| state.sleepers.retain(|(t, _)| *t != self.ticket));
    }
}

/// A clock shared by everything that asks it.
pub type SharedClock = Arc<dyn Clock>;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_sleeper_wakes_when_the_clock_passes_its_deadline() {
        let start = Utc::now();
        let clock = ManualClock::new(start);
        let deadline = start + chrono::Duration::seconds(5);
        let sleeper = tokio::spawn(clock.sleep_until(deadline));
        assert_eq!(clock.next_sleeper().await, deadline);
        clock.advance(chrono::Duration::seconds(4));
        assert_eq!(clock.sleeping_until(), Some(deadline));
        clock.advance(chrono::Duration::seconds(1));
        sleeper.await.unwrap();
        assert_eq!(clock.sleeping_until(), None);
    }

    #[tokio::test]
    async fn a_dropped_sleep_leaves_the_list() {
        let clock = ManualClock::new(Utc::now());
        let sleep = clock.sleep_until(clock.now() + chrono::Duration::hours(1));
        assert!(clock.sleeping_until().is_some());
        drop(sleep);
        assert_eq!(clock.sleeping_until(), None);
    }
}
