//! Shared helpers of the serve tests: a test checkpoint loader and services built on it.
#![allow(dead_code)]

use powermix_agent::SharedPolicy;
use powermix_agent::rules::{Expert, ExpertParams};
use powermix_env::{Action, OBS_DIM, SiteConfig, Snapshot};
use powermix_serve::{
    Decider, LoadError, LoadErrorKind, Loader, PrimaryPolicy, ServeOptions, Service, TimeLimits,
    TimeSource, TrainingStats,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A policy that always asks for the same action (or panics).
pub struct ConstPolicy {
    pub action: Action,
    pub panic: bool,
}

impl SharedPolicy for ConstPolicy {
    fn name(&self) -> &str {
        "const"
    }
    fn act_observed(&self, _: &Snapshot<'_>, _: &[f32]) -> Action {
        if self.panic {
            panic!("test policy panics on purpose");
        }
        self.action
    }
}

/// The expert rules as a "trained" policy (for backtests through the policy path).
pub struct ExpertAsPolicy(pub Expert);

impl SharedPolicy for ExpertAsPolicy {
    fn name(&self) -> &str {
        "expert-as-policy"
    }
    fn act_observed(&self, s: &Snapshot<'_>, _: &[f32]) -> Action {
        self.0.decide(s)
    }
}

/// A test checkpoint format: `meta.json` with
/// `{"model_id": "...", "kind": "const" | "nan" | "panic" | "expert", "action": [ACTION_DIM numbers],
///   "stats": {"std": x, "z_limit": z}}` (stats optional: mean 0 and the same std for
/// every feature). No meta.json: no_checkpoint; anything else wrong: damaged.
pub fn test_loader() -> Loader {
    Arc::new(|dir: &Path, cfg: &SiteConfig| {
        let meta = dir.join("meta.json");
        if !meta.is_file() {
            return Err(LoadError {
                kind: LoadErrorKind::NoCheckpoint,
                message: format!("no checkpoint at {}", dir.display()),
            });
        }
        let damaged = |m: String| LoadError {
            kind: LoadErrorKind::Damaged,
            message: format!("{}: {m}", meta.display()),
        };
        let text = std::fs::read_to_string(&meta).map_err(|e| damaged(e.to_string()))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| damaged(e.to_string()))?;
        let model_id = v["model_id"]
            .as_str()
            .ok_or_else(|| damaged("no model_id".into()))?
            .to_string();
        let action = match v["action"].as_array() {
            Some(a) if a.len() == powermix_env::ACTION_DIM => {
                let f: Vec<f32> = a.iter().map(|x| x.as_f64().unwrap_or(0.0) as f32).collect();
                Action::from_slice(&f).map_err(|e| damaged(e.0))?
            }
            _ => Action::ALL_ON,
        };
        let policy: Box<dyn SharedPolicy> = match v["kind"].as_str() {
            Some("const") => Box::new(ConstPolicy {
                action,
                panic: false,
            }),
            Some("nan") => Box::new(ConstPolicy {
                action: Action {
                    training: f64::NAN,
                    ..action
                },
                panic: false,
            }),
            Some("panic") => Box::new(ConstPolicy {
                action,
                panic: true,
            }),
            Some("expert") => Box::new(ExpertAsPolicy(Expert::new(
                cfg,
                ExpertParams::default_params(),
            ))),
            other => return Err(damaged(format!("unknown kind {other:?}"))),
        };
        let stats = v
            .get("stats")
            .filter(|s| !s.is_null())
            .map(|s| TrainingStats {
                mean: vec![0.0; OBS_DIM],
                std: vec![s["std"].as_f64().unwrap_or(1.0); OBS_DIM],
                z_limit: s["z_limit"].as_f64().unwrap_or(5.0),
            });
        Ok(PrimaryPolicy {
            policy,
            model_id,
            stats,
            emergency_rules: None,
            day_ahead_head: None,
        })
    })
}

/// A fresh temporary directory under the target dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let base = std::env::temp_dir().join(format!("powermix-serve-tests-{}", std::process::id()));
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let k = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let d = base.join(format!("{name}-{k}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Writes a test checkpoint's meta.json.
pub fn write_meta(dir: &Path, meta: &Value) {
    std::fs::write(dir.join("meta.json"), meta.to_string()).expect("write meta.json");
}

/// A decider on the default site with the given clock and a policy from a test meta.json
/// (None: no checkpoint).
pub fn decider(time: TimeSource, meta: Option<Value>) -> Decider {
    let cfg = SiteConfig::default_site();
    let d = Decider::new(
        cfg.clone(),
        ExpertParams::default_params(),
        TimeLimits::default(),
        time,
    );
    if let Some(m) = meta {
        let dir = temp_dir(&format!(
            "decider-{}",
            m["model_id"].as_str().unwrap_or("x")
        ));
        write_meta(&dir, &m);
        d.install(test_loader()(&dir, &cfg))
            .expect("test checkpoint loads");
    }
    d
}

/// A response read by [`Client`].
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    /// The first header with this (lowercase) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP client for the tests (ureq: keep-alive connections, any status returned as a
/// response), optionally with a bearer token.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
}

impl Client {
    pub fn new(addr: std::net::SocketAddr) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(30)))
            .build()
            .into();
        Client {
            agent,
            base: format!("http://{addr}"),
            token: None,
        }
    }

    /// Sends `Authorization: Bearer <token>` with every request.
    pub fn with_token(mut self, token: &str) -> Client {
        self.token = Some(token.to_string());
        self
    }

    /// Sends a request (GET without a body, POST with `body` as JSON) and reads the answer;
    /// panics on a transport error.
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> Resp {
        self.try_request(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub fn try_request(&self, method: &str, path: &str, body: &[u8]) -> Result<Resp, ureq::Error> {
        let url = format!("{}{path}", self.base);
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut resp = match method {
            "GET" => {
                let mut r = self.agent.get(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()?
            }
            "POST" => {
                let mut r = self
                    .agent
                    .post(&url)
                    .header("Content-Type", "application/json");
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.send(body)?
            }
            other => panic!("the test client sends GET or POST, not {other}"),
        };
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        Ok(Resp {
            status: resp.status().as_u16(),
            headers,
            body: resp.body_mut().read_to_string()?,
        })
    }
}

/// A service on [`test_loader`] with the system clock, default limits and an audit log at
/// `audit` (not fsynced), for the HTTP tests.
pub fn audited_service(checkpoint_dir: &Path, audit: &Path) -> Arc<Service> {
    Arc::new(
        Service::new(
            SiteConfig::default_site(),
            ExpertParams::default_params(),
            ServeOptions {
                checkpoint_dir: checkpoint_dir.to_path_buf(),
                limits: TimeLimits::default(),
                time: TimeSource::system(),
                audit_log: Some(audit.to_path_buf()),
                audit_fsync: false,
            },
            test_loader(),
        )
        .unwrap(),
    )
}
