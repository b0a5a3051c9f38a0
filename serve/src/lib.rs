//! The inference server (`serve` binary): live decisions with the expert rules as the
//! safety fallback.
//!
//! - [`request`]: the JSON request, its validation and repair, the
//!   [`powermix_env::Snapshot`] it becomes: the `powermix-wire` crate (the wire format's one
//!   home), re-exported;
//! - [`decide`]: the decision function ([`Decider`]): policy or fallback, safety
//!   projection, expected ledger;
//! - [`loader`]: the pluggable primary policy (a trained checkpoint);
//! - [`http`] (feature `http`, on by default): the HTTP/1.1 server on hyper and tokio;
//! - [`metrics`], [`audit`]: Prometheus counters and the JSONL audit log.
//!
//! [`Service`] ties them together and is the edge where a [`Rejection`] becomes a status
//! ([`rejection_status`]); HTTP and `--stdin` both call [`Service::decide_reply`], so they
//! give the same answers. Without the `http` feature the crate is the request, the decider
//! and the service only (what `evaluate --decisions` needs), with no async runtime.
#![warn(missing_docs)]

pub mod audit;
pub mod decide;
#[cfg(feature = "http")]
pub mod http;
pub mod loader;
pub mod metrics;
/// The operator's request (the wire format): the `powermix-wire` crate under its old path.
pub use powermix_wire as request;

pub use decide::{
    Answer, Clock, Decider, FixedClock, PrimaryStatus, Reason, SERVER_VERSION, Source, SystemClock,
    TimeLimits, TimeSource,
};
pub use loader::{LoadError, LoadErrorKind, Loader, PrimaryPolicy, TrainingStats, load_primary};
pub use powermix_wire::{DecideRequest, Rejection, RejectionKind, example_request};

use audit::{AuditLog, fnv1a64_hex};
use metrics::Metrics;
use powermix_agent::rules::ExpertParams;
use powermix_env::SiteConfig;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
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

/// The HTTP status of a body that cannot be decided on: 413 too large, 400 not JSON, 422
/// unusable. The one place where a [`Rejection`] of the wire format becomes a status.
pub fn rejection_status(kind: RejectionKind) -> u16 {
    match kind {
        RejectionKind::TooLarge => 413,
        RejectionKind::NotJson => 400,
        RejectionKind::Unusable => 422,
    }
}

/// Every error body: `{"status", "error", "field", "message"}`, the message naming the
/// problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The HTTP status.
    pub status: u16,
    /// Machine-readable code, e.g. `bad_json`, `body_too_large`, `unauthorized`.
    pub error: String,
    /// The field at fault, when there is one.
    pub field: Option<String>,
    /// What is wrong, in words.
    pub message: String,
}

impl ErrorBody {
    /// An error without a field.
    pub fn new(status: u16, error: &str, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            status,
            error: error.into(),
            field: None,
            message: message.into(),
        }
    }

    /// The body of a rejected request, with its status.
    pub fn of(r: &Rejection) -> ErrorBody {
        ErrorBody {
            status: rejection_status(r.kind),
            error: r.error.clone(),
            field: r.field.clone(),
            message: r.message.clone(),
        }
    }

    /// As JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            format!(
                "{{\"status\":{},\"error\":\"internal\",\"field\":null,\"message\":\"\"}}",
                self.status
            )
        })
    }
}

/// A response: status, content type and body, and who decided (for logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Content type of the body.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
    /// For a decision: its source and fallback reason.
    pub decided: Option<(Source, Option<Reason>)>,
}

impl Reply {
    /// A JSON reply.
    pub fn json(status: u16, body: String) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body,
            decided: None,
        }
    }

    /// A JSON error reply naming the problem.
    pub fn error(status: u16, error: &str, message: impl Into<String>) -> Reply {
        Reply::json(status, ErrorBody::new(status, error, message).to_json())
    }
}

/// Limits of the snapshot age as the startup line records them (minutes).
#[derive(Debug, Serialize)]
struct LimitsMinutes {
    max_age: f64,
    max_lead: f64,
    max_skew: f64,
}

/// The audit log's `startup` line.
#[derive(Debug, Serialize)]
struct StartupLine<'a> {
    server_version: &'a str,
    model_id: Option<&'a str>,
    reason: Option<Reason>,
    message: &'a str,
    distribution_check: &'a str,
    emergency_rules: &'a str,
    config_hash: &'a str,
    expert_hash: &'a str,
    fallback: &'a str,
    checkpoint_dir: Cow<'a, str>,
    limits_minutes: LimitsMinutes,
    pid: u32,
}

/// What a `decide` line records as the answer: the answer, or the error body.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Answered<'a> {
    Answer(&'a Answer),
    Error(&'a ErrorBody),
}

/// The audit log's `decide` line: the request (parsed JSON, or the raw body as text when
/// it is not JSON), the status and the answer exactly as sent.
#[derive(Debug, Serialize)]
struct DecideLine<'a> {
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_body: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_bytes: Option<usize>,
    answer: Answered<'a>,
}

/// The audit log's `rejected` line: a request refused at the HTTP level.
#[derive(Debug, Serialize)]
struct RejectedLine<'a> {
    status: u16,
    error: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

/// The answer to a reload, as sent and as the `reload` line records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadReply {
    /// 409 when refused (absent when it worked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `ok` or `refused`.
    pub result: String,
    /// Why it was refused: `no_checkpoint` or `checkpoint_damaged`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The model serving now (null: the expert fallback).
    pub model_id: Option<String>,
    /// In words.
    pub message: String,
}

/// The audit log's `reload` line.
#[derive(Debug, Serialize)]
struct ReloadLine<'a> {
    status: u16,
    trigger: &'a str,
    reply: &'a ReloadReply,
}

/// The audit log's `shutdown` line.
#[derive(Debug, Serialize)]
struct ShutdownLine<'a> {
    reason: &'a str,
    unfinished_connections: usize,
}

/// The answer of `/readyz`.
#[derive(Debug, Serialize)]
struct Readiness<'a> {
    ready: bool,
    decides_with: &'a str,
    model_id: Option<&'a str>,
    fallback: &'a str,
    reason: Option<Reason>,
    message: &'a str,
    distribution_check: &'a str,
    emergency_rules: &'a str,
    config_hash: &'a str,
    server_version: &'a str,
}

/// The answer of `/healthz`.
#[derive(Debug, Serialize)]
struct Health<'a> {
    status: &'a str,
    server_version: &'a str,
}

/// The server's state: the decider, the counters, the audit log and the loader.
pub struct Service {
    /// The decision function.
    pub decider: Decider,
    /// The counters of `/metrics`.
    pub metrics: Metrics,
    audit: Option<AuditLog>,
    loader: Loader,
    /// One reload at a time (HTTP and SIGHUP); decisions never take it.
    reloading: Mutex<()>,
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

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| {
        ErrorBody::new(500, "internal", format!("cannot serialize the answer: {e}")).to_json()
    })
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
            reloading: Mutex::new(()),
            checkpoint_dir: opts.checkpoint_dir,
            config_hash,
            expert_hash,
        };
        let st = s.decider.status();
        let lim = s.decider.limits();
        s.audit(
            "startup",
            &StartupLine {
                server_version: SERVER_VERSION,
                model_id: st.model_id.as_deref(),
                reason: st.reason,
                message: &st.message,
                distribution_check: &st.distribution_check,
                emergency_rules: st.emergency_rules,
                config_hash: &s.config_hash,
                expert_hash: &s.expert_hash,
                fallback: "expert",
                checkpoint_dir: s.checkpoint_dir.to_string_lossy(),
                limits_minutes: LimitsMinutes {
                    max_age: lim.max_age_ms as f64 / 60_000.0,
                    max_lead: lim.max_lead_ms as f64 / 60_000.0,
                    max_skew: lim.max_skew_ms as f64 / 60_000.0,
                },
                pid: std::process::id(),
            },
        )?;
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

    /// Whether answers wait for an `fdatasync` of their audit line (then callers on an
    /// async runtime run decisions where blocking is allowed).
    pub fn audit_syncs(&self) -> bool {
        self.audit.as_ref().is_some_and(|a| a.fsync())
    }

    /// Appends an audit line of `kind` with the fields of `fields`.
    fn audit<T: Serialize>(&self, kind: &str, fields: &T) -> io::Result<()> {
        if let Some(a) = &self.audit {
            a.append(kind, fields)?;
        }
        Ok(())
    }

    /// Decides for a request body: the answer (200) or a rejection (4xx), counted in the
    /// metrics and written to the audit log before it is returned. When the audit log cannot
    /// be written the reply is a 500 (`audit_failed`): no answer leaves unlogged.
    /// `request_id` (from the HTTP edge) goes into the audit line.
    pub fn decide_reply(&self, body: &[u8], request_id: Option<&str>) -> Reply {
        let t0 = Instant::now();
        let parsed = powermix_wire::parse_body(body);
        let result = match &parsed {
            Ok(v) => self.decider.decide_value_since(v, t0),
            Err(r) => Err(r.clone()),
        };
        let (status, out, decided, audited) = match &result {
            Ok(answer) => {
                self.metrics
                    .record_decision(answer.source, answer.reason, t0.elapsed());
                let audited = self.audit_decision(
                    parsed.as_ref().ok(),
                    body,
                    200,
                    request_id,
                    Answered::Answer(answer),
                );
                (
                    200,
                    to_json(answer),
                    Some((answer.source, answer.reason)),
                    audited,
                )
            }
            Err(r) => {
                let e = ErrorBody::of(r);
                self.metrics.record_rejection(e.status);
                let audited = self.audit_decision(
                    parsed.as_ref().ok(),
                    body,
                    e.status,
                    request_id,
                    Answered::Error(&e),
                );
                (e.status, e.to_json(), None, audited)
            }
        };
        if let Err(e) = audited {
            self.metrics.record_rejection(500);
            tracing::error!(error = %e, "audit log write failed; answering 500");
            return Reply::error(
                500,
                "audit_failed",
                format!("the audit log cannot be written ({e}); no answer is given unlogged"),
            );
        }
        Reply {
            decided,
            ..Reply::json(status, out)
        }
    }

    fn audit_decision(
        &self,
        parsed: Option<&Value>,
        body: &[u8],
        status: u16,
        request_id: Option<&str>,
        answer: Answered<'_>,
    ) -> io::Result<()> {
        if self.audit.is_none() {
            return Ok(());
        }
        let raw = parsed.is_none();
        self.audit(
            "decide",
            &DecideLine {
                status,
                request_id,
                request: parsed,
                request_body: raw.then(|| String::from_utf8_lossy(&body[..body.len().min(4096)])),
                request_bytes: raw.then_some(body.len()),
                answer,
            },
        )
    }

    /// Logs a request refused at the HTTP level (malformed, too large, timed out,
    /// unauthorized) and counts it.
    pub fn http_rejected(&self, status: u16, error: &str, message: &str, request_id: Option<&str>) {
        self.metrics.record_rejection(status);
        let line = RejectedLine {
            status,
            error,
            message,
            request_id,
        };
        if let Err(e) = self.audit("rejected", &line) {
            tracing::error!(error = %e, "audit log write failed");
        }
    }

    /// Reloads the checkpoint from the configured directory (`trigger`: `http` or
    /// `sighup`, for the audit log). A policy that loads replaces the current one (200); one
    /// that fails is refused (409 with the reason) and the current one keeps serving.
    /// Reloads run one at a time; decisions go on meanwhile with the old policy.
    pub fn reload(&self, trigger: &str) -> Reply {
        let _one = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let loaded = (self.loader)(&self.checkpoint_dir, self.decider.config());
        let result = self.decider.install(loaded);
        self.metrics.record_reload(result.is_ok());
        let st = self.decider.status();
        let reply = match &result {
            Ok(id) => ReloadReply {
                status: None,
                result: "ok".into(),
                error: None,
                model_id: Some(id.clone()),
                message: format!("policy {id} loaded from {}", self.checkpoint_dir.display()),
            },
            Err(e) => ReloadReply {
                status: Some(409),
                result: "refused".into(),
                error: Some(
                    match e.kind {
                        LoadErrorKind::NoCheckpoint => "no_checkpoint",
                        LoadErrorKind::Damaged => "checkpoint_damaged",
                    }
                    .into(),
                ),
                message: format!(
                    "reload refused: {}; still serving {}",
                    e.message,
                    st.model_id
                        .as_deref()
                        .map(|m| format!("policy {m}"))
                        .unwrap_or_else(|| "the expert fallback".into())
                ),
                model_id: st.model_id.clone(),
            },
        };
        let status = reply.status.unwrap_or(200);
        match &result {
            Ok(_) => tracing::info!(trigger, model_id = ?reply.model_id, "{}", reply.message),
            Err(_) => tracing::warn!(trigger, model_id = ?reply.model_id, "{}", reply.message),
        }
        let line = ReloadLine {
            status,
            trigger,
            reply: &reply,
        };
        if let Err(e) = self.audit("reload", &line) {
            tracing::error!(error = %e, "audit log write failed");
        }
        Reply::json(status, to_json(&reply))
    }

    /// Writes the `shutdown` line and flushes the audit log to disk (the end of a graceful
    /// shutdown).
    pub fn shutdown_audit(&self, reason: &str, unfinished_connections: usize) -> io::Result<()> {
        if let Some(a) = &self.audit {
            a.append(
                "shutdown",
                &ShutdownLine {
                    reason,
                    unfinished_connections,
                },
            )?;
            a.sync()?;
        }
        Ok(())
    }

    /// `GET /readyz`: always ready (the fallback is always loaded); says which decides.
    pub fn readyz(&self) -> Reply {
        let st = self.decider.status();
        Reply::json(
            200,
            to_json(&Readiness {
                ready: true,
                decides_with: if st.model_id.is_some() {
                    "policy"
                } else {
                    "fallback"
                },
                model_id: st.model_id.as_deref(),
                fallback: "expert",
                reason: st.reason,
                message: &st.message,
                distribution_check: &st.distribution_check,
                emergency_rules: st.emergency_rules,
                config_hash: &self.config_hash,
                server_version: SERVER_VERSION,
            }),
        )
    }

    /// `GET /healthz`: the process is up.
    pub fn healthz(&self) -> Reply {
        Reply::json(
            200,
            to_json(&Health {
                status: "ok",
                server_version: SERVER_VERSION,
            }),
        )
    }

    /// `GET /metrics`: Prometheus text.
    pub fn metrics_reply(&self) -> Reply {
        let st = self.decider.status();
        Reply {
            status: 200,
            content_type: "text/plain; version=0.0.4",
            body: self.metrics.render(st.model_id.as_deref()),
            decided: None,
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
            let reply = self.decide_reply(trimmed, None);
            out.write_all(reply.body.as_bytes())?;
            out.write_all(b"\n")?;
            n += 1;
        }
        out.flush()?;
        Ok(n)
    }
}
