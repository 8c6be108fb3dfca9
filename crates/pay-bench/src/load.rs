//! The load generator: closed loop (as fast as the server answers) and open loop (a fixed rate, latency
//! counted from each request's scheduled send time when its connection was still busy then, so that a slow
//! server cannot hide its queue: no coordinated omission; see [`latency_origin`]). Every run is bounded both in requests and in time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::http::Connection;

/// Builds the body of request number `i` (each has its own `txn_id`).
pub type BodyFn = Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync>;

/// What to send and where.
#[derive(Clone)]
pub struct Target {
    /// Server address (loopback).
    pub addr: SocketAddr,
    /// Request path.
    pub path: String,
    /// Request bodies.
    pub body: BodyFn,
}

/// How to send.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// Each connection sends its next request as soon as the previous one is answered.
    Closed {
        /// Connections.
        connections: usize,
        /// Stop sending after this long.
        duration: Duration,
        /// Stop after this many requests in all.
        max_requests: u64,
    },
    /// Requests are scheduled at `rate` per second; `connections` is the most that can be in flight.
    Open {
        /// Connections.
        connections: usize,
        /// Requests per second.
        rate: u64,
        /// How long the schedule lasts.
        duration: Duration,
    },
}

/// Results of one run.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Requests answered with a 2xx status.
    pub ok: u64,
    /// Non-2xx answers and transport errors.
    pub errors: u64,
    /// Requests of an open-loop schedule that could not be sent before the time bound.
    pub unsent: u64,
    /// From the first send to the last answer.
    pub elapsed: Duration,
    /// Sorted latencies in microseconds.
    pub latencies_us: Vec<u64>,
}

impl Stats {
    /// Completed requests per second (2xx and errors alike).
    pub fn rps(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            (self.ok + self.errors) as f64 / secs
        } else {
            0.0
        }
    }

    /// The `q` quantile (0..=1) in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        percentile(&self.latencies_us, q) as f64 / 1000.0
    }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Headers of every generated request.
const HEADERS: &[(&str, &str)] = &[("Content-Type", "application/x-www-form-urlencoded")];

/// Runs one bounded load and returns its statistics.
pub async fn run(target: Target, mode: Mode) -> Stats {
    let next = Arc::new(AtomicU64::new(0));
    let connections = match mode {
        Mode::Closed { connections, .. } | Mode::Open { connections, .. } => connections.max(1),
    };
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let target = target.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(
            async move { connection_task(target, mode, start, next).await },
        ));
    }
    let mut stats = Stats {
        ok: 0,
        errors: 0,
        unsent: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
    };
    let mut last = start;
    for task in tasks {
        if let Ok(part) = task.await {
            stats.ok += part.ok;
            stats.errors += part.errors;
            stats.unsent += part.unsent;
            stats.latencies_us.extend(part.latencies_us);
            last = last.max(part.last_answer);
        } else {
            stats.errors += 1;
        }
    }
    stats.elapsed = last - start;
    stats.latencies_us.sort_unstable();
    stats
}

struct Part {
    ok: u64,
    errors: u64,
    unsent: u64,
    latencies_us: Vec<u64>,
    last_answer: Instant,
}

async fn connection_task(target: Target, mode: Mode, start: Instant, next: Arc<AtomicU64>) -> Part {
    let mut conn = Connection::new(target.addr);
    let mut part = Part {
        ok: 0,
        errors: 0,
        unsent: 0,
        latencies_us: Vec::new(),
        last_answer: start,
    };
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let began = match mode {
            Mode::Closed {
                duration, max_requests, ..
            } => {
                if i >= max_requests || start.elapsed() >= duration {
                    break;
                }
                Instant::now()
            }
            Mode::Open { rate, duration, .. } => {
                let total = rate.saturating_mul(duration.as_millis() as u64) / 1000;
                if i >= total {
                    break;
                }
                let scheduled = start + Duration::from_nanos(i.saturating_mul(1_000_000_000) / rate.max(1));
                // A server that fell this far behind the schedule has failed the run; stop feeding it.
                if Instant::now() > start + duration + Duration::from_secs(10) {
                    part.unsent += 1;
                    continue;
                }
                let ready_at = Instant::now();
                tokio::time::sleep_until(scheduled).await;
                latency_origin(scheduled, ready_at, Instant::now())
            }
        };
        let body = (target.body)(i);
        match conn.request("POST", &target.path, HEADERS, &body).await {
            Ok(r) if (200..300).contains(&r.status) => part.ok += 1,
            Ok(_) | Err(_) => part.errors += 1,
        }
        let now = Instant::now();
        part.latencies_us.push((now - began).as_micros() as u64);
        part.last_answer = now;
    }
    part
}

/// Where an open-loop request's latency is counted from. A connection still busy when the request was due
/// (`ready_at` after `scheduled`) was held up by the server: the wait counts, from `scheduled` (no coordinated
/// omission). A connection that was free sleeps until `scheduled`, and tokio's timer wakes it up to a
/// millisecond late: that lateness is the generator's, so the latency counts from when the request was
/// actually sent. (Counting it made a 0.7 ms answer read as 2 ms at 25 req/s.)
fn latency_origin(scheduled: Instant, ready_at: Instant, sent_at: Instant) -> Instant {
    if ready_at > scheduled { scheduled } else { sent_at }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_held_up_by_the_previous_answer_counts_its_wait_from_the_schedule() {
        let scheduled = Instant::now();
        let ready_at = scheduled + Duration::from_millis(30);
        assert_eq!(latency_origin(scheduled, ready_at, ready_at), scheduled);
    }

    #[test]
    fn a_late_timer_on_a_free_connection_is_not_counted_as_server_latency() {
        let ready_at = Instant::now();
        let scheduled = ready_at + Duration::from_millis(5);
        let woke = scheduled + Duration::from_micros(900);
        assert_eq!(latency_origin(scheduled, ready_at, woke), woke);
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 0.5), 50);
        assert_eq!(percentile(&values, 0.99), 99);
        assert_eq!(percentile(&values, 1.0), 100);
        assert_eq!(percentile(&[], 0.5), 0);
    }
}
