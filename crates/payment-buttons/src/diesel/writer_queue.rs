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
//! Under a flood of notifications the background writers wait for gaps between the log's commits; the
//! messages are durable in the queue, and the worker catches up when the flood eases.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

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
}

/// A writer queue. The process has one for SQLite ([`SQLITE_WRITERS`]); tests make their own.
#[derive(Debug, Default)]
pub(crate) struct WriterQueue {
    state: Mutex<State>,
    released: Condvar,
}

/// The queue of every SQLite writer of this process (see [`super::connection::write_transaction`]).
pub(crate) static SQLITE_WRITERS: WriterQueue = WriterQueue::new();

/// The turn to write; the next writer goes when it is dropped.
#[must_use = "the turn ends when this is dropped"]
pub(crate) struct WriterTurn<'q> {
    queue: &'q WriterQueue,
}

impl WriterQueue {
    /// An empty queue.
    pub(crate) const fn new() -> Self {
        WriterQueue {
            state: Mutex::new(State {
                held: false,
                intake_waiting: 0,
                background_waiting: 0,
            }),
            released: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is two counters updated without panicking code between: a poisoned lock holds a
        // consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for the turn to write: after the writer in progress, and for a background writer also after
    /// every intake writer waiting.
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
                while state.held || state.intake_waiting > 0 {
                    state = self.released.wait(state).unwrap_or_else(PoisonError::into_inner);
                }
                state.background_waiting -= 1;
            }
        }
        state.held = true;
        WriterTurn { queue: self }
    }

    #[cfg(test)]
    fn waiting(&self) -> (usize, usize) {
        let state = self.lock();
        (state.intake_waiting, state.background_waiting)
    }
}

impl Drop for WriterTurn<'_> {
    fn drop(&mut self) {
        self.queue.lock().held = false;
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
