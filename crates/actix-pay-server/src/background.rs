//! The runtime of the server's background work, below the requests in the CPU scheduler's eyes.
//!
//! The message worker verifies hundreds of notifications at once and applies them; the event dispatcher,
//! the webhook and mail workers and the refund retries run beside it. On a small machine they compete for
//! the same cores as the HTTP workers, and a gateway waiting for the answer to its notification must not
//! wait for them: its message is already safe in the log, the work can wait. They therefore run on a
//! runtime of their own whose threads (including its blocking pool, where their database calls run) are
//! *niced* on Linux: when the cores are busy the scheduler gives them a small share, and when the cores
//! are idle they take all of it. The HTTP workers, the gateway log's writer and the main thread keep the
//! default priority.

use std::time::Duration;

/// How much lower the background threads' priority is (Linux nice value, 0 = default, 19 = lowest). At 10
/// a busy background thread gets about a tenth of the CPU a default thread gets, and all of an idle core.
pub const BACKGROUND_NICE: i32 = 10;

/// Threads of the background runtime that run tasks (the blocking pool grows as its database calls need).
const WORKER_THREADS: usize = 2;

/// The background runtime (see the module documentation). Dropping it stops its tasks without waiting for
/// their blocking calls, so it may be dropped in async code (a plain tokio runtime panics there), including
/// when the server's start fails half-way.
pub struct Background {
    runtime: Option<tokio::runtime::Runtime>,
}

impl Background {
    /// Makes tasks spawned with `tokio::spawn` (and their blocking calls) run on this runtime until the guard
    /// is dropped.
    pub fn enter(&self) -> tokio::runtime::EnterGuard<'_> {
        self.runtime.as_ref().expect("present until dropped").enter()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Builds the background runtime.
pub fn runtime() -> std::io::Result<Background> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .thread_name("background")
        .thread_keep_alive(Duration::from_secs(60))
        .on_thread_start(lower_this_threads_priority)
        .enable_all()
        .build()?;
    Ok(Background { runtime: Some(runtime) })
}

/// Lowers the calling thread's scheduling priority to [`BACKGROUND_NICE`] (Linux: the nice value is per
/// thread). Elsewhere, or when the system refuses, the thread keeps its priority: background work then only
/// competes with requests as it did before.
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `setpriority` only reads its integer arguments; `who = 0` names the calling thread.
        let done = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, BACKGROUND_NICE) };
        if done != 0 {
            tracing::debug!(
                error = %std::io::Error::last_os_error(),
                "the background threads keep the default priority"
            );
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The calling thread's nice value, read from `/proc` (field 19 of `stat`).
    fn nice_of_this_thread() -> i32 {
        let tid = std::fs::read_link("/proc/thread-self").expect("/proc/thread-self");
        let stat = std::fs::read_to_string(std::path::Path::new("/proc").join(tid).join("stat")).expect("stat");
        let after_name = &stat[stat.rfind(')').expect("comm") + 2..];
        after_name
            .split(' ')
            .nth(16)
            .expect("nice field")
            .parse()
            .expect("a number")
    }

    /// Waits for both handles from this (non-runtime) thread.
    fn wait_for_both(task: tokio::task::JoinHandle<i32>, blocking: tokio::task::JoinHandle<i32>) -> (i32, i32) {
        let waiter = tokio::runtime::Builder::new_current_thread().build().expect("waiter");
        waiter.block_on(async { (task.await.unwrap(), blocking.await.unwrap()) })
    }

    #[tokio::test]
    async fn dropping_it_in_async_code_does_not_panic() {
        let background = runtime().expect("runtime");
        {
            let _on_background = background.enter();
            tokio::spawn(std::future::pending::<()>());
        }
        drop(background);
    }

    #[test]
    fn background_tasks_and_their_blocking_calls_run_below_the_requests_and_the_caller_keeps_its_priority() {
        let before = nice_of_this_thread();
        let background = runtime().expect("runtime");
        let (task, blocking) = {
            let _on_background = background.enter();
            let task = tokio::spawn(async { nice_of_this_thread() });
            let blocking = tokio::task::spawn_blocking(nice_of_this_thread);
            wait_for_both(task, blocking)
        };
        assert_eq!(task, (before + BACKGROUND_NICE).min(19));
        assert_eq!(blocking, (before + BACKGROUND_NICE).min(19));
        assert_eq!(
            nice_of_this_thread(),
            before,
            "the thread that built the runtime is not lowered"
        );
    }
}
