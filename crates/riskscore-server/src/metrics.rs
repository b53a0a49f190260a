//! Prometheus metrics: requests by route and status, and a latency histogram by route.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default)]
struct Route {
    by_status: BTreeMap<u16, u64>,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
pub struct Metrics {
    routes: Mutex<BTreeMap<String, Route>>,
    next_id: AtomicU64,
    started: u64,
}

impl Metrics {
    pub fn new() -> Self {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Metrics {
            started,
            ..Default::default()
        }
    }

    /// A request id unique to this process: start time and a counter.
    pub fn next_request_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{:x}-{n:x}", self.started)
    }

    pub fn observe(&self, route: &str, status: u16, took: Duration) {
        let secs = took.as_secs_f64();
        let Ok(mut routes) = self.routes.lock() else {
            return;
        };
        // The route's name is copied once, at its first request.
        if !routes.contains_key(route) {
            routes.insert(route.to_owned(), Route::default());
        }
        let Some(r) = routes.get_mut(route) else {
            return;
        };
        *r.by_status.entry(status).or_default() += 1;
        for (b, bound) in r.buckets.iter_mut().zip(BUCKETS) {
            if secs <= bound {
                *b += 1;
            }
        }
        r.count += 1;
        r.sum += secs;
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let Ok(routes) = self.routes.lock() else {
            return out;
        };
        out.push_str("# HELP riskscore_requests_total Requests answered, by route and status.\n");
        out.push_str("# TYPE riskscore_requests_total counter\n");
        for (name, r) in routes.iter() {
            for (status, n) in &r.by_status {
                let _ = writeln!(
                    out,
                    "riskscore_requests_total{{route=\"{name}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP riskscore_request_seconds Time to answer, by route.\n");
        out.push_str("# TYPE riskscore_request_seconds histogram\n");
        for (name, r) in routes.iter() {
            for (b, bound) in r.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "riskscore_request_seconds_bucket{{route=\"{name}\",le=\"{bound}\"}} {b}"
                );
            }
            let _ = writeln!(
                out,
                "riskscore_request_seconds_bucket{{route=\"{name}\",le=\"+Inf\"}} {}",
                r.count
            );
            let _ = writeln!(
                out,
                "riskscore_request_seconds_sum{{route=\"{name}\"}} {}",
                r.sum
            );
            let _ = writeln!(
                out,
                "riskscore_request_seconds_count{{route=\"{name}\"}} {}",
                r.count
            );
        }
        out
    }
}
