//! Prometheus text metrics: decisions by source and reason, decision latency histogram,
//! rejected requests by status, the loaded model, reloads by result. Lock-free counters.

use crate::decide::{Reason, Source};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency histogram buckets (seconds).
pub const LATENCY_BUCKETS_S: [f64; 14] = [
    5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 1e-1,
];

/// HTTP statuses counted for rejected requests (anything else counts as 500).
const STATUSES: [u16; 13] = [
    400, 401, 404, 405, 408, 409, 411, 413, 422, 431, 500, 503, 505,
];

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Index 0: decided by the policy; 1 + reason index: fallback.
    decisions: [AtomicU64; 1 + Reason::ALL.len()],
    rejected: [AtomicU64; STATUSES.len()],
    buckets: [AtomicU64; LATENCY_BUCKETS_S.len()],
    latency_count: AtomicU64,
    latency_sum_ns: AtomicU64,
    reloads_ok: AtomicU64,
    reloads_refused: AtomicU64,
}

/// Escapes a Prometheus label value.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Counts one decision and its latency.
    pub fn record_decision(&self, source: Source, reason: Option<Reason>, elapsed: Duration) {
        let i = match (source, reason) {
            (Source::Policy, _) | (Source::Fallback, None) => 0,
            (Source::Fallback, Some(r)) => 1 + r.index(),
        };
        self.decisions[i].fetch_add(1, Ordering::Relaxed);
        let s = elapsed.as_secs_f64();
        if let Some(b) = LATENCY_BUCKETS_S.iter().position(|&le| s <= le) {
            self.buckets[b].fetch_add(1, Ordering::Relaxed);
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_ns
            .fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Counts a request answered with an error status.
    pub fn record_rejection(&self, status: u16) {
        let i = STATUSES
            .iter()
            .position(|&s| s == status)
            .or(STATUSES.iter().position(|&s| s == 500))
            .unwrap_or(0);
        self.rejected[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a reload (`ok` or `refused`).
    pub fn record_reload(&self, ok: bool) {
        if ok {
            self.reloads_ok.fetch_add(1, Ordering::Relaxed);
        } else {
            self.reloads_refused.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Decisions counted so far for a source and reason.
    pub fn decisions(&self, source: Source, reason: Option<Reason>) -> u64 {
        let i = match (source, reason) {
            (Source::Policy, _) | (Source::Fallback, None) => 0,
            (Source::Fallback, Some(r)) => 1 + r.index(),
        };
        self.decisions[i].load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition (format 0.0.4). `model_id` is the loaded model (the
    /// info line then says `source="policy"`), or None (`model_id=""`, `source="fallback"`).
    pub fn render(&self, model_id: Option<&str>) -> String {
        let mut o = String::with_capacity(4096);
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        o.push_str(
            "# HELP powermix_decisions_total Decisions answered, by source and fallback reason.\n",
        );
        o.push_str("# TYPE powermix_decisions_total counter\n");
        let _ = writeln!(
            o,
            "powermix_decisions_total{{source=\"policy\",reason=\"none\"}} {}",
            get(&self.decisions[0])
        );
        for r in Reason::ALL {
            let _ = writeln!(
                o,
                "powermix_decisions_total{{source=\"fallback\",reason=\"{}\"}} {}",
                r.code(),
                get(&self.decisions[1 + r.index()])
            );
        }
        o.push_str(
            "# HELP powermix_rejected_requests_total Requests answered with an error status.\n",
        );
        o.push_str("# TYPE powermix_rejected_requests_total counter\n");
        for (s, c) in STATUSES.iter().zip(&self.rejected) {
            let _ = writeln!(
                o,
                "powermix_rejected_requests_total{{status=\"{s}\"}} {}",
                get(c)
            );
        }
        o.push_str("# HELP powermix_decide_latency_seconds Time to decide (request parsed to answer built).\n");
        o.push_str("# TYPE powermix_decide_latency_seconds histogram\n");
        let mut cum = 0;
        for (le, b) in LATENCY_BUCKETS_S.iter().zip(&self.buckets) {
            cum += get(b);
            let _ = writeln!(
                o,
                "powermix_decide_latency_seconds_bucket{{le=\"{le}\"}} {cum}"
            );
        }
        let count = get(&self.latency_count);
        let _ = writeln!(
            o,
            "powermix_decide_latency_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            o,
            "powermix_decide_latency_seconds_sum {}",
            get(&self.latency_sum_ns) as f64 * 1e-9
        );
        let _ = writeln!(o, "powermix_decide_latency_seconds_count {count}");
        o.push_str("# HELP powermix_model_info The primary policy loaded (model_id=\"\" when the fallback serves).\n");
        o.push_str("# TYPE powermix_model_info gauge\n");
        let (id, src) = match model_id {
            Some(id) => (escape(id), "policy"),
            None => (String::new(), "fallback"),
        };
        let _ = writeln!(
            o,
            "powermix_model_info{{model_id=\"{id}\",source=\"{src}\"}} 1"
        );
        o.push_str("# HELP powermix_reloads_total Checkpoint reloads (POST /v1/reload, SIGHUP) by result.\n");
        o.push_str("# TYPE powermix_reloads_total counter\n");
        let _ = writeln!(
            o,
            "powermix_reloads_total{{result=\"ok\"}} {}",
            get(&self.reloads_ok)
        );
        let _ = writeln!(
            o,
            "powermix_reloads_total{{result=\"refused\"}} {}",
            get(&self.reloads_refused)
        );
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_labels_escaped() {
        let m = Metrics::default();
        m.record_decision(
            Source::Fallback,
            Some(Reason::NoCheckpoint),
            Duration::from_micros(7),
        );
        m.record_decision(Source::Policy, None, Duration::from_millis(3));
        m.record_rejection(413);
        m.record_reload(false);
        let t = m.render(Some("run\"1"));
        assert!(
            t.contains("powermix_decisions_total{source=\"fallback\",reason=\"no_checkpoint\"} 1")
        );
        assert!(t.contains("powermix_decisions_total{source=\"policy\",reason=\"none\"} 1"));
        assert!(
            t.contains("powermix_decide_latency_seconds_bucket{le=\"0.00001\"} 1"),
            "{t}"
        );
        assert!(t.contains("powermix_decide_latency_seconds_bucket{le=\"0.005\"} 2"));
        assert!(t.contains("powermix_decide_latency_seconds_count 2"));
        assert!(t.contains("powermix_model_info{model_id=\"run\\\"1\",source=\"policy\"} 1"));
        assert!(t.contains("powermix_reloads_total{result=\"refused\"} 1"));
        assert!(t.contains("powermix_rejected_requests_total{status=\"413\"} 1"));
    }
}
