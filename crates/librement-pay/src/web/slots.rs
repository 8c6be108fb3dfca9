//! A bound on the argon2 hashes in flight. Each hash holds 19 MiB and a core for tens of milliseconds:
//! without a bound, a burst of sign-ups or sign-ins takes the server's memory with it (100 at once took
//! 2.3 GB). With one, a burst queues; a request that waits longer than the bound's patience is answered
//! 503 with `Retry-After` instead of piling up.
//!
//! The hashes run on threads of their own, one per slot, not on the shared blocking pool: glibc's
//! allocator keeps a freed 19 MiB block in the arena of the thread that freed it, and jobs that roam
//! over the pool's many threads left one such block in each of up to 16 arenas (100 concurrent sign-ups
//! peaked at 231 MiB with two slots on the pool; see docs/security.md for the figure with these threads).

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use tokio::sync::{Semaphore, oneshot};

use crate::accounts::AccountError;

/// How long a password waits for a slot before the answer is 503.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);

type Job = Box<dyn FnOnce() + Send>;

/// The slots: at most `slots` hashes at once, in arrival order (tokio's semaphore is fair).
#[derive(Debug)]
pub struct HashingSlots {
    semaphore: Semaphore,
    /// To the hashing threads; they end when it is dropped.
    jobs: Mutex<mpsc::Sender<Job>>,
    slots: usize,
    wait: Duration,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

impl HashingSlots {
    /// `slots` hashes at once (at least one), each on a thread of its own; a password waits at most
    /// `wait` for one.
    pub fn new(slots: usize, wait: Duration) -> Self {
        let slots = slots.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = std::sync::Arc::new(Mutex::new(queue));
        for n in 0..slots {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new().name(format!("argon2-{n}")).spawn(move || {
                loop {
                    // The lock is held only to take the next job, not while it runs.
                    let next = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv();
                    let Ok(job) = next else { break };
                    // A panicking job must not take its slot's thread with it.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "librement: a hashing thread could not start");
            }
        }
        HashingSlots {
            semaphore: Semaphore::new(slots),
            jobs: Mutex::new(jobs),
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

    /// Runs `work` (a hash or a verification) on a hashing thread once a slot is free;
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
        let _counted = InFlight::count(&self.in_flight, &self.peak);
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        // With one permit per thread, a thread is free for every job sent.
        let sent = self
            .jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(job)
            .is_ok();
        let result = if sent { result.await.ok() } else { None };
        result.ok_or_else(|| AccountError::Store("a hashing thread failed".to_owned()))
    }
}

/// One hash counted in flight until dropped (also when the request is dropped while waiting for it).
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn count(in_flight: &'a AtomicUsize, peak: &AtomicUsize) -> Self {
        let now = in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        peak.fetch_max(now, Ordering::Relaxed);
        InFlight(in_flight)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
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
