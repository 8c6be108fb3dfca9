//! The queue of this process's SQLite writers, with the gateway log first.
//!
//! SQLite has one writer at a time. Writers of this process queue here before `BEGIN IMMEDIATE` rather than
//! in SQLite's busy handler, which sleeps 1, 2, 5, 10... ms between tries and shows as tail latency. The
//! queue has two classes: the gateway log's group commit ([`WriterClass::Intake`]: a gateway waits for its
//! answer, and nothing may be done with a message before it is written) and everything else
//! ([`WriterClass::Background`]: the worker's claims and applications, dispatch, refunds, pages). When the
//! writer is released, a waiting intake writer goes before every waiting background writer, so an
//! intake write waits for at most the one transaction in progress, however many the worker has queued.
//!
//! Going first is not enough while notifications keep arriving: a background transaction that starts in a
//! half-millisecond gap between two of the log's commits holds the writer for about a millisecond (an apply
//! batch), and the next notification waits for it. So a background writer also waits until the log has
//! been idle for [`INTAKE_QUIET`], though never more than [`BACKGROUND_MAX_DEFER`]: under a flood of
//! notifications the background work slows down but still advances (the messages are durable in the
//! queue, and the worker catches up when the flood eases), and at ordinary rates it finds its gaps.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long the gateway log must have been idle before a background writer starts (unless it has waited
/// [`BACKGROUND_MAX_DEFER`]). About twice a log commit of a few messages, and shorter than the gaps at
/// ordinary rates. Measured side by side (docs/benchmarks.md, fifth pass): at 8 connections with the worker
/// draining, intake rose from 4,936-5,148 to 7,337-8,949 requests/s; the p99 at a fixed 1,000 requests/s
/// stayed about 3 ms, with the drain keeping up.
pub(crate) const INTAKE_QUIET: Duration = Duration::from_micros(500);

/// The longest a background writer defers to a busy log once the writer is free: background work advances
/// under any flood (about one transaction per writer every 20 ms at worst).
pub(crate) const BACKGROUND_MAX_DEFER: Duration = Duration::from_millis(20);

/// Who is waiting for the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriterClass {
    /// The gateway log's group commit: goes first.
    Intake,
    /// Every other writer.
    Background,
}

#[derive(Debug, Default)]
struct State {
    /// Whether a writer holds the turn.
    held: bool,
    /// Intake writers waiting for the turn.
    intake_waiting: usize,
    /// Background writers waiting for the turn (for tests and for the reader of a stack dump).
    background_waiting: usize,
    /// When the log's last turn ended (none yet: nothing to defer to).
    intake_ended_at: Option<Instant>,
}

/// A writer queue. The process has one for SQLite ([`SQLITE_WRITERS`]); tests make their own.
#[derive(Debug)]
pub(crate) struct WriterQueue {
    state: Mutex<State>,
    released: Condvar,
    /// [`INTAKE_QUIET`] (tests set their own).
    quiet: Duration,
    /// [`BACKGROUND_MAX_DEFER`] (tests set their own).
    max_defer: Duration,
}

/// The queue of every SQLite writer of this process (see [`super::connection::write_transaction`]).
pub(crate) static SQLITE_WRITERS: WriterQueue = WriterQueue::new();

/// The turn to write; the next writer goes when it is dropped.
#[must_use = "the turn ends when this is dropped"]
pub(crate) struct WriterTurn<'q> {
    queue: &'q WriterQueue,
    class: WriterClass,
}

impl WriterQueue {
    /// An empty queue.
    pub(crate) const fn new() -> Self {
        Self::deferring(INTAKE_QUIET, BACKGROUND_MAX_DEFER)
    }

    /// An empty queue whose background writers wait for `quiet` after the log's last turn, at most
    /// `max_defer`.
    const fn deferring(quiet: Duration, max_defer: Duration) -> Self {
        WriterQueue {
            state: Mutex::new(State {
                held: false,
                intake_waiting: 0,
                background_waiting: 0,
                intake_ended_at: None,
            }),
            released: Condvar::new(),
            quiet,
            max_defer,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is counters and a time updated without panicking code between: a poisoned lock holds
        // a consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for the turn to write: after the writer in progress, and for a background writer also after
    /// every intake writer waiting and until the log has been idle for the queue's quiet time (at most its
    /// longest deferral).
    pub(crate) fn turn(&self, class: WriterClass) -> WriterTurn<'_> {
        let mut state = self.lock();
        match class {
            WriterClass::Intake => {
                state.intake_waiting += 1;
                while state.held {
                    state = self.released.wait(state).unwrap_or_else(PoisonError::into_inner);
                }
                state.intake_waiting -= 1;
            }
            WriterClass::Background => {
                state.background_waiting += 1;
                let defer_until = Instant::now() + self.max_defer;
                loop {
                    if state.held || state.intake_waiting > 0 {
                        state = self.released.wait(state).unwrap_or_else(PoisonError::into_inner);
                        continue;
                    }
                    let now = Instant::now();
                    let quiet_at = state.intake_ended_at.map(|ended| ended + self.quiet);
                    match quiet_at {
                        Some(quiet_at) if now < quiet_at && now < defer_until => {
                            let wake_at = quiet_at.min(defer_until);
                            state = self
                                .released
                                .wait_timeout(state, wake_at - now)
                                .unwrap_or_else(PoisonError::into_inner)
                                .0;
                        }
                        _ => break,
                    }
                }
                state.background_waiting -= 1;
            }
        }
        state.held = true;
        WriterTurn { queue: self, class }
    }

    #[cfg(test)]
    fn waiting(&self) -> (usize, usize) {
        let state = self.lock();
        (state.intake_waiting, state.background_waiting)
    }
}

impl Drop for WriterTurn<'_> {
    fn drop(&mut self) {
        {
            let mut state = self.queue.lock();
            state.held = false;
            if self.class == WriterClass::Intake {
                state.intake_ended_at = Some(Instant::now());
            }
        }
        // Every waiter re-checks its condition; the few writers of a process (the pool's connections and the
        // log writer) make waking them all cheap, and waking one could wake a background writer that must
        // go back to sleep while the intake writer it passed over sleeps on.
        self.queue.released.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    fn eventually(what: &str, condition: impl Fn() -> bool) {
        let until = Instant::now() + Duration::from_secs(10);
        while !condition() {
            assert!(Instant::now() < until, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn the_gateway_log_writes_before_background_writers_that_queued_earlier() {
        let queue = Arc::new(WriterQueue::new());
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = queue.turn(WriterClass::Background);

        // The worker queues three transactions behind the one in progress...
        let background: Vec<_> = (0..3)
            .map(|i| {
                let (queue, order) = (queue.clone(), order.clone());
                std::thread::spawn(move || {
                    let _turn = queue.turn(WriterClass::Background);
                    order.lock().unwrap().push(format!("background {i}"));
                })
            })
            .collect();
        eventually("the background writers to queue", || queue.waiting() == (0, 3));
        // ...then a notification arrives.
        let intake = {
            let (queue, order) = (queue.clone(), order.clone());
            std::thread::spawn(move || {
                let _turn = queue.turn(WriterClass::Intake);
                order.lock().unwrap().push("intake".to_string());
            })
        };
        eventually("the log writer to queue", || queue.waiting() == (1, 3));
        drop(first);

        intake.join().unwrap();
        for b in background {
            b.join().unwrap();
        }
        let order = order.lock().unwrap();
        assert_eq!(order.len(), 4);
        assert_eq!(order[0], "intake", "the log went first: {order:?}");
    }

    #[test]
    fn a_background_writer_starts_only_once_the_log_has_been_quiet() {
        let queue = WriterQueue::deferring(Duration::from_millis(50), Duration::from_secs(5));
        // A notification was just written...
        drop(queue.turn(WriterClass::Intake));
        let log_ended = Instant::now();
        // ...so the worker's transaction waits for the quiet time before it starts.
        let _turn = queue.turn(WriterClass::Background);
        let waited = log_ended.elapsed();
        assert!(
            waited >= Duration::from_millis(50),
            "started {waited:?} after the log's commit"
        );
    }

    #[test]
    fn a_background_writer_does_not_wait_when_the_log_has_been_idle() {
        let queue = WriterQueue::deferring(Duration::from_millis(300), Duration::from_secs(5));
        drop(queue.turn(WriterClass::Intake));
        std::thread::sleep(Duration::from_millis(350));
        let asked = Instant::now();
        let _turn = queue.turn(WriterClass::Background);
        // Well under the deferral: only a slow machine makes the turn itself take a while.
        assert!(asked.elapsed() < Duration::from_secs(2), "waited {:?}", asked.elapsed());
    }

    #[test]
    fn a_flood_of_notifications_defers_background_writers_but_never_starves_them() {
        // The log is never quiet for the required second: only the longest deferral lets the worker in.
        let queue = Arc::new(WriterQueue::deferring(
            Duration::from_secs(1),
            Duration::from_millis(50),
        ));
        let flooding = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flood = {
            let (queue, flooding) = (queue.clone(), flooding.clone());
            std::thread::spawn(move || {
                let until = Instant::now() + Duration::from_secs(20);
                while flooding.load(Ordering::SeqCst) && Instant::now() < until {
                    drop(queue.turn(WriterClass::Intake));
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        };
        std::thread::sleep(Duration::from_millis(5));
        let asked = Instant::now();
        let turn = queue.turn(WriterClass::Background);
        let waited = asked.elapsed();
        drop(turn);
        flooding.store(false, Ordering::SeqCst);
        flood.join().unwrap();
        assert!(
            waited >= Duration::from_millis(50),
            "the worker went in during the flood after {waited:?}"
        );
        assert!(
            waited < Duration::from_secs(10),
            "the worker waited for the flood to end ({waited:?})"
        );
    }

    #[test]
    fn every_writer_gets_its_turn_once_the_log_is_idle() {
        let queue = Arc::new(WriterQueue::new());
        let done = Arc::new(AtomicUsize::new(0));
        let writers: Vec<_> = (0..8)
            .map(|i| {
                let (queue, done) = (queue.clone(), done.clone());
                std::thread::spawn(move || {
                    let class = if i % 2 == 0 {
                        WriterClass::Intake
                    } else {
                        WriterClass::Background
                    };
                    for _ in 0..100 {
                        let _turn = queue.turn(class);
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        assert_eq!(done.load(Ordering::SeqCst), 800);
    }

    #[test]
    fn one_writer_at_a_time() {
        let queue = Arc::new(WriterQueue::new());
        let inside = Arc::new(AtomicUsize::new(0));
        let writers: Vec<_> = (0..6)
            .map(|i| {
                let (queue, inside) = (queue.clone(), inside.clone());
                std::thread::spawn(move || {
                    let class = if i < 2 {
                        WriterClass::Intake
                    } else {
                        WriterClass::Background
                    };
                    for _ in 0..200 {
                        let _turn = queue.turn(class);
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two writers at once");
                        std::hint::spin_loop();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
    }
}
