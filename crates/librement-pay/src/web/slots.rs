//! A bound on the argon2 hashes in flight. Each hash holds 19 MiB and a core for tens of milliseconds:
//! without a bound, a burst of sign-ups or sign-ins takes the server's memory with it (100 at once took
//! 2.3 GB). With one, a burst queues; a request that waits longer than the bound's patience is answered
//! 503 with `Retry-After` instead of piling up.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::accounts::AccountError;

/// How long a password waits for a slot before the answer is 503.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);

/// The slots: at most `slots` hashes at once, in arrival order (tokio's semaphore is fair).
#[derive(Debug)]
pub struct HashingSlots {
    semaphore: Semaphore,
    slots: usize,
    wait: Duration,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

impl HashingSlots {
    /// `slots` hashes at once (at least one); a password waits at most `wait` for one.
    pub fn new(slots: usize, wait: Duration) -> Self {
        let slots = slots.max(1);
        HashingSlots {
            semaphore: Semaphore::new(slots),
            slots,
            wait,
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// One slot per core (more would only make each hash slower and hold more memory), waiting at most
    /// [`DEFAULT_WAIT`].
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::new(cores, DEFAULT_WAIT)
    }

    /// How many hashes may run at once.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// The `Retry-After` of a 503 answered when no slot came in time, in whole seconds (at least 1).
    pub fn retry_after_seconds(&self) -> u64 {
        self.wait.as_secs().max(1)
    }

    /// The most hashes that ran at once since the start: what the tests check, and what an operator
    /// can compare with [`HashingSlots::slots`].
    pub fn peak_in_flight(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Runs `work` (a hash or a verification) on the blocking pool once a slot is free;
    /// [`AccountError::Busy`] when none came within the wait.
    pub async fn run<T, F>(&self, work: F) -> Result<T, AccountError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let _permit = match tokio::time::timeout(self.wait, self.semaphore.acquire()).await {
            Ok(Ok(permit)) => permit,
            // Timed out, or (never here: the semaphore is not closed) closed.
            _ => return Err(AccountError::Busy),
        };
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        let result = tokio::task::spawn_blocking(work).await;
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        result.map_err(|e| AccountError::Store(format!("hashing task failed: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_more_hashes_than_slots_run_at_once() {
        let slots = std::sync::Arc::new(HashingSlots::new(2, Duration::from_secs(30)));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let slots = slots.clone();
                tokio::spawn(async move { slots.run(|| std::thread::sleep(Duration::from_millis(20))).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(slots.peak_in_flight(), 2);
    }

    #[tokio::test]
    async fn a_request_that_waits_too_long_is_told_to_come_back() {
        let slots = std::sync::Arc::new(HashingSlots::new(1, Duration::from_millis(5)));
        let busy = slots.clone();
        let first = tokio::spawn(async move { busy.run(|| std::thread::sleep(Duration::from_millis(200))).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(slots.run(|| ()).await, Err(AccountError::Busy));
        assert_eq!(slots.retry_after_seconds(), 1);
        first.await.unwrap().unwrap();
    }
}
