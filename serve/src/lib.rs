//! The inference server (`serve` binary): live decisions with the expert rules as the
//! safety fallback.
//!
//! - [`request`]: the JSON request, its validation and repair, the [`powermix_env::Snapshot`]
//!   it becomes;
//! - [`decide`]: the decision function ([`Decider`]): policy or fallback, safety
//!   projection, expected ledger;
//! - [`loader`]: the pluggable primary policy (a trained checkpoint);
//! - [`http`]: a small HTTP/1.1 server on `std::net` with a fixed worker pool;
//! - [`metrics`], [`audit`]: Prometheus counters and the JSONL audit log.
//!
//! [`Service`] ties them together; HTTP and `--stdin` both call
//! [`Service::decide_reply`], so they give the same answers.

pub mod audit;
pub mod decide;
pub mod http;
pub mod loader;
pub mod metrics;
pub mod request;

pub use decide::{
    Answer, Clock, Decider, FixedClock, PrimaryStatus, Reason, SERVER_VERSION, Source, SystemClock,
    TimeLimits, TimeSource,
};
pub use loader::{LoadError, LoadErrorKind, LoadedPolicy, Loader, TrainingStats, load_primary};
pub use request::{DecideRequest, Rejection, example_request};

use powermix_agent::rules::ExpertParams;
use audit::{AuditLog, fnv1a64_hex};
use metrics::Metrics;
use powermix_env::SiteConfig;
use serde_json::{Value, json};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Everything a [`Service`] is configured with besides the site and the expert.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where the primary policy's checkpoint lives (loaded at start and on reload).
    pub checkpoint_dir: PathBuf,
    /// Age limits of snapshots.
    pub limits: TimeLimits,
    /// The clock of the age check.
    pub time: TimeSource,
    /// Audit log file, if any.
    pub audit_log: Option<PathBuf>,
    /// fsync every audit line.
    pub audit_fsync: bool,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            checkpoint_dir: PathBuf::from("checkpoints/default"),
            limits: TimeLimits::default(),
            time: TimeSource::system(),
            audit_log: None,
            audit_fsync: false,
        }
    }
}

/// A response: status, content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Content type of the body.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

impl Reply {
    /// A JSON reply.
    pub fn json(status: u16, body: String) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body,
        }
    }

    /// A JSON error reply naming the problem.
    pub fn error(status: u16, error: &str, message: impl Into<String>) -> Reply {
        Reply::json(status, Rejection::new(status, error, message).to_json())
    }
}

/// The server's state: the decider, the counters, the audit log and the loader.
pub struct Service {
    /// The decision function.
    pub decider: Decider,
    /// The counters of `/metrics`.
    pub metrics: Metrics,
    audit: Option<AuditLog>,
    loader: Loader,
    checkpoint_dir: PathBuf,
    config_hash: String,
    expert_hash: String,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("decider", &self.decider)
            .field("checkpoint_dir", &self.checkpoint_dir)
            .field("config_hash", &self.config_hash)
            .finish()
    }
}

/// The hash of a site config as the audit log records it (FNV-1a of its JSON form).
pub fn config_hash(cfg: &SiteConfig) -> String {
    fnv1a64_hex(serde_json::to_string(cfg).unwrap_or_default().as_bytes())
}

/// The hash of expert parameters (FNV-1a of their JSON form).
pub fn expert_hash(p: &ExpertParams) -> String {
    fnv1a64_hex(serde_json::to_string(p).unwrap_or_default().as_bytes())
}

impl Service {
    /// Builds the service: loads the primary policy from `opts.checkpoint_dir` with
    /// `loader` (a failure leaves the fallback serving and says why), opens the audit log
    /// and writes its startup line. Errors only when the audit log cannot be opened or
    /// written.
    pub fn new(
        cfg: SiteConfig,
        expert: ExpertParams,
        opts: ServeOptions,
        loader: Loader,
    ) -> io::Result<Service> {
        let config_hash = config_hash(&cfg);
        let expert_hash = expert_hash(&expert);
        let decider = Decider::new(cfg, expert, opts.limits, opts.time.clone());
        let loaded = loader(&opts.checkpoint_dir, decider.config());
        let _ = decider.install(loaded);
        let audit = match &opts.audit_log {
            Some(p) => Some(AuditLog::open(p, opts.audit_fsync).map_err(|e| {
                io::Error::new(e.kind(), format!("audit log {}: {e}", p.display()))
            })?),
            None => None,
        };
        let s = Service {
            decider,
            metrics: Metrics::default(),
            audit,
            loader,
            checkpoint_dir: opts.checkpoint_dir,
            config_hash,
            expert_hash,
        };
        let st = s.decider.status();
        let fields = json!({
            "server_version": SERVER_VERSION,
            "model_id": st.model_id,
            "reason": st.reason,
            "message": st.message,
            "config_hash": s.config_hash,
            "expert_hash": s.expert_hash,
            "fallback": "expert",
            "checkpoint_dir": s.checkpoint_dir.display().to_string(),
            "limits_minutes": {
                "max_age": s.decider.limits().max_age_ms as f64 / 60_000.0,
                "max_lead": s.decider.limits().max_lead_ms as f64 / 60_000.0,
                "max_skew": s.decider.limits().max_skew_ms as f64 / 60_000.0,
            },
            "pid": std::process::id(),
        });
        s.audit("startup", &fields)?;
        Ok(s)
    }

    /// The hash of the site config in use.
    pub fn config_hash(&self) -> &str {
        &self.config_hash
    }

    /// The configured checkpoint directory.
    pub fn checkpoint_dir(&self) -> &Path {
        &self.checkpoint_dir
    }

    /// Appends an audit line whose fields are those of the JSON object `fields`.
    fn audit(&self, kind: &str, fields: &Value) -> io::Result<()> {
        if let Some(a) = &self.audit {
            let s = fields.to_string();
            let inner = s
                .strip_prefix('{')
                .and_then(|s| s.strip_suffix('}'))
                .unwrap_or("");
            a.append(kind, inner)?;
        }
        Ok(())
    }

    /// Appends a decision line: the request (parsed JSON, or the raw body as text when it
    /// is not JSON), the status and the answer body (already serialized JSON).
    fn audit_decision(
        &self,
        parsed: Option<&Value>,
        body: &[u8],
        status: u16,
        answer: &str,
    ) -> io::Result<()> {
        let Some(a) = &self.audit else {
            return Ok(());
        };
        let request = match parsed {
            Some(v) => format!("\"request\":{v}"),
            None => {
                let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
                format!(
                    "\"request_body\":{},\"request_bytes\":{}",
                    Value::from(text.as_ref()),
                    body.len()
                )
            }
        };
        a.append(
            "decide",
            &format!("\"status\":{status},{request},\"answer\":{answer}"),
        )?;
        Ok(())
    }

    /// Decides for a request body: the answer (200) or a rejection (4xx), counted in the
    /// metrics and written to the audit log before it is returned. When the audit log cannot
    /// be written the reply is a 500 (`audit_failed`): no answer leaves unlogged.
    pub fn decide_reply(&self, body: &[u8]) -> Reply {
        let t0 = Instant::now();
        let parsed = request::parse_body(body);
        let result = match &parsed {
            Ok(v) => self.decider.decide_value_since(v, t0),
            Err(r) => Err(r.clone()),
        };
        let (status, out) = match result {
            Ok(answer) => {
                self.metrics
                    .record_decision(answer.source, answer.reason, t0.elapsed());
                let s = serde_json::to_string(&answer).unwrap_or_else(|e| {
                    Rejection::new(500, "internal", format!("cannot serialize the answer: {e}"))
                        .to_json()
                });
                (200, s)
            }
            Err(r) => {
                self.metrics.record_rejection(r.status);
                (r.status, r.to_json())
            }
        };
        if let Err(e) = self.audit_decision(parsed.as_ref().ok(), body, status, &out) {
            self.metrics.record_rejection(500);
            return Reply::error(
                500,
                "audit_failed",
                format!("the audit log cannot be written ({e}); no answer is given unlogged"),
            );
        }
        Reply::json(status, out)
    }

    /// Logs a request refused at the HTTP level (malformed, too large, timed out) and
    /// counts it.
    pub fn http_rejected(&self, status: u16, error: &str, message: &str) {
        self.metrics.record_rejection(status);
        let fields = json!({"status": status, "error": error, "message": message});
        if let Err(e) = self.audit("rejected", &fields) {
            eprintln!("serve: audit log: {e}");
        }
    }

    /// Reloads the checkpoint from the configured directory. A policy that loads replaces
    /// the current one (200); one that fails is refused (409 with the reason) and the
    /// current one keeps serving.
    pub fn reload(&self) -> Reply {
        let loaded = (self.loader)(&self.checkpoint_dir, self.decider.config());
        let result = self.decider.install(loaded);
        self.metrics.record_reload(result.is_ok());
        let st = self.decider.status();
        let (status, body) = match &result {
            Ok(id) => (
                200,
                json!({"result": "ok", "model_id": id, "message": format!("policy {id} loaded from {}", self.checkpoint_dir.display())}),
            ),
            Err(e) => (
                409,
                json!({
                    "status": 409,
                    "result": "refused",
                    "error": match e.kind { LoadErrorKind::NoCheckpoint => "no_checkpoint", LoadErrorKind::Damaged => "checkpoint_damaged" },
                    "message": format!("reload refused: {}; still serving {}", e.message,
                        st.model_id.as_deref().map(|m| format!("policy {m}")).unwrap_or_else(|| "the expert fallback".into())),
                    "model_id": st.model_id,
                }),
            ),
        };
        if let Err(e) = self.audit("reload", &json!({"status": status, "reply": body})) {
            eprintln!("serve: audit log: {e}");
        }
        Reply::json(status, body.to_string())
    }

    /// `GET /readyz`: always ready (the fallback is always loaded); says which decides.
    pub fn readyz(&self) -> Reply {
        let st = self.decider.status();
        let body = json!({
            "ready": true,
            "decides_with": if st.model_id.is_some() { "policy" } else { "fallback" },
            "model_id": st.model_id,
            "fallback": "expert",
            "reason": st.reason,
            "message": st.message,
            "config_hash": self.config_hash,
            "server_version": SERVER_VERSION,
        });
        Reply::json(200, body.to_string())
    }

    /// `GET /healthz`: the process is up.
    pub fn healthz(&self) -> Reply {
        Reply::json(
            200,
            json!({"status": "ok", "server_version": SERVER_VERSION}).to_string(),
        )
    }

    /// `GET /metrics`: Prometheus text.
    pub fn metrics_reply(&self) -> Reply {
        let st = self.decider.status();
        Reply {
            status: 200,
            content_type: "text/plain; version=0.0.4",
            body: self.metrics.render(st.model_id.as_deref()),
        }
    }

    /// `--stdin` mode: one JSON request per line in, one JSON answer (or rejection) per
    /// line out, in order; blank lines are skipped. Returns the number of lines answered.
    pub fn run_jsonl<R: io::BufRead, W: io::Write>(&self, input: R, mut out: W) -> io::Result<u64> {
        let mut n = 0;
        for line in input.split(b'\n') {
            let line = line?;
            let trimmed = line.trim_ascii();
            if trimmed.is_empty() {
                continue;
            }
            let reply = self.decide_reply(trimmed);
            out.write_all(reply.body.as_bytes())?;
            out.write_all(b"\n")?;
            n += 1;
        }
        out.flush()?;
        Ok(n)
    }
}

/// Reloads the service's checkpoint on SIGHUP (a watcher thread polls a flag the signal
/// handler sets; the handler itself only stores an atomic).
#[cfg(unix)]
pub fn reload_on_sighup(service: std::sync::Arc<Service>) -> io::Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    static HUP: AtomicBool = AtomicBool::new(false);
    extern "C" fn on_hup(_: libc::c_int) {
        HUP.store(true, Ordering::SeqCst);
    }
    let handler = on_hup as extern "C" fn(libc::c_int);
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    let prev = unsafe { libc::signal(libc::SIGHUP, handler as libc::sighandler_t) };
    if prev == libc::SIG_ERR {
        return Err(io::Error::last_os_error());
    }
    std::thread::Builder::new()
        .name("sighup-reload".into())
        .spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_millis(200));
                if HUP.swap(false, Ordering::SeqCst) {
                    let r = service.reload();
                    eprintln!("serve: SIGHUP reload: {} {}", r.status, r.body);
                }
            }
        })?;
    Ok(())
}
