//! The decision function: request -> [`Snapshot`] -> policy or expert fallback -> safety
//! projection -> expected ledger. One function for HTTP, `--stdin`, tests and the bench.
//!
//! Every piece of it is the env's own code: the snapshot is the struct `Market::snapshot`
//! builds, observations come from [`Observer`], every action passes
//! [`Projector::project`], and the expected ledger is [`Settler::settle`].

use crate::loader::{LoadError, LoadErrorKind, PrimaryPolicy, TrainingStats};
use arc_swap::ArcSwap;
use powermix_agent::SharedPolicy;
use powermix_agent::rules::{Expert, ExpertParams};
use powermix_env::config::{RESERVES, SiteConfig};
use powermix_env::market::is_da_gate_local;
use powermix_env::obs::{OBS_DIM, OBS_NAMES, Observer, Snapshot, SnapshotBuf};
use powermix_env::safety::{ProjectionContext, Projector};
use powermix_env::settlement::{IntervalMarket, Ledger, Settler};
use powermix_env::site::{ACTION_NAMES, DayAheadOffer, Dispatch, HourOffer};
use powermix_env::time::{format_utc, local_time};
use powermix_plan::mpc::{DayAheadHead, GatePlan};
use powermix_wire::{
    Checked, DecideRequest, Problem, Problems, Rejection, ReserveMw, check, from_value, parse_body,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The server's version (the crate version), in every answer and the audit log.
pub const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why an answer came from the fallback (the expert rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// No checkpoint at the configured directory.
    NoCheckpoint,
    /// A checkpoint is there but did not load or validate, or the policy failed.
    CheckpointDamaged,
    /// The request had missing, mistyped or out-of-range values (listed in `problems`).
    InvalidInput,
    /// The snapshot is too old, or too far from the interval it decides for.
    StaleSnapshot,
    /// An observation feature lies far outside the policy's training statistics.
    OutOfDistribution,
    /// The policy returned a NaN or infinite action value.
    NonFiniteOutput,
    /// An emergency notice is in force: the rules curtail as the grid orders.
    Emergency,
}

impl Reason {
    /// Every reason, in metrics order.
    pub const ALL: [Reason; 7] = [
        Reason::NoCheckpoint,
        Reason::CheckpointDamaged,
        Reason::InvalidInput,
        Reason::StaleSnapshot,
        Reason::OutOfDistribution,
        Reason::NonFiniteOutput,
        Reason::Emergency,
    ];

    /// The machine-readable code (`no_checkpoint`, ...).
    pub fn code(self) -> &'static str {
        match self {
            Reason::NoCheckpoint => "no_checkpoint",
            Reason::CheckpointDamaged => "checkpoint_damaged",
            Reason::InvalidInput => "invalid_input",
            Reason::StaleSnapshot => "stale_snapshot",
            Reason::OutOfDistribution => "out_of_distribution",
            Reason::NonFiniteOutput => "non_finite_output",
            Reason::Emergency => "emergency",
        }
    }

    /// Index in [`Reason::ALL`].
    pub fn index(self) -> usize {
        Reason::ALL.iter().position(|&r| r == self).unwrap_or(0)
    }
}

/// Who decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The loaded primary policy.
    Policy,
    /// The expert rules.
    Fallback,
}

impl Source {
    /// `policy` or `fallback`.
    pub fn code(self) -> &'static str {
        match self {
            Source::Policy => "policy",
            Source::Fallback => "fallback",
        }
    }
}

/// The day-ahead reserve offer an answer at the gate (10:00 US/Central) carries: due now,
/// for every hour of the next operating day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayAheadAnswer {
    /// The operating day offered for (US/Central date, YYYY-MM-DD).
    pub operating_day: String,
    /// One entry per local hour of the day from midnight (25 are given; a 23- or 24-hour
    /// day reads the first ones).
    pub hours: Vec<HourOffer>,
}

impl DayAheadAnswer {
    fn new(gate_ms: i64, offer: DayAheadOffer) -> DayAheadAnswer {
        let day = local_time(gate_ms + 18 * 3_600_000);
        DayAheadAnswer {
            operating_day: format!("{:04}-{:02}-{:02}", day.year, day.month, day.day),
            hours: offer.hours,
        }
    }
}

/// The projected dispatch in MW.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerMw {
    /// AI inference (MW).
    pub inference: f64,
    /// AI training (MW).
    pub training: f64,
    /// Miners per tranche (MW), before any reserve deployment.
    pub tranches: [f64; 3],
    /// Day-ahead reserve awards the site carries this interval per product (MW).
    pub reserve_awards: ReserveMw,
}

/// The ledger the env expects for the answer: every line of [`Ledger`] by name, and the
/// total (see [`Decider`] for the assumptions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectedLedger {
    /// The lines, `energy_cost` to `wear`.
    #[serde(flatten)]
    pub lines: Ledger,
    /// Their sum ($).
    pub total: f64,
}

/// The answer to one decision request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The interval decided for (RFC 3339 UTC).
    pub interval_start_utc: String,
    /// The projected dispatch.
    pub mw: AnswerMw,
    /// At the day-ahead gate only: the reserve offer for the next operating day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_ahead_offer: Option<DayAheadAnswer>,
    /// Site load with balance of plant (MW).
    pub site_load_mw: f64,
    /// The ledger the env expects for this dispatch ($ per line).
    pub expected_ledger: ExpectedLedger,
    /// `policy` or `fallback`.
    pub source: Source,
    /// Why it fell back (null when the policy decided).
    pub reason: Option<Reason>,
    /// In words: who decided and why.
    pub message: String,
    /// For `invalid_input`: the fields at fault (at most 20).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
    /// The loaded model (null when none is loaded).
    pub model_id: Option<String>,
    /// Time taken by the decision, microseconds.
    pub elapsed_us: u64,
    /// Server version.
    pub server_version: String,
}

impl Answer {
    /// The projected dispatch of the answer.
    pub fn dispatch(&self) -> Dispatch {
        Dispatch {
            inference_mw: self.mw.inference,
            training_mw: self.mw.training,
            tranche_mw: self.mw.tranches,
            award_mw: self.mw.reserve_awards.to_array(),
        }
    }
}

/// A source of "now" for the age checks.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// A clock set by hand (tests).
#[derive(Debug, Default)]
pub struct FixedClock(pub AtomicI64);

impl FixedClock {
    /// A clock at `ms`.
    pub fn new(ms: i64) -> FixedClock {
        FixedClock(AtomicI64::new(ms))
    }

    /// Moves the clock.
    pub fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// What "now" is for the age check.
#[derive(Clone)]
pub enum TimeSource {
    /// A clock (the system clock in production).
    Clock(Arc<dyn Clock>),
    /// Replays: "now" is each request's own `snapshot_time_utc` (the age check passes; the
    /// interval-versus-snapshot check still applies). The default of `--stdin`.
    Replay,
}

impl TimeSource {
    /// The system clock.
    pub fn system() -> TimeSource {
        TimeSource::Clock(Arc::new(SystemClock))
    }
}

impl std::fmt::Debug for TimeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TimeSource::Clock(c) => write!(f, "Clock(now = {})", format_utc(c.now_ms())),
            TimeSource::Replay => f.write_str("Replay"),
        }
    }
}

/// Time limits of a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeLimits {
    /// Oldest accepted snapshot relative to "now", and latest an interval may start before
    /// the snapshot was assembled (ms). Default 20 minutes.
    pub max_age_ms: i64,
    /// Furthest ahead of the snapshot an interval may start (ms). Default 60 minutes.
    pub max_lead_ms: i64,
    /// How far a snapshot time may lie after "now" (clock skew, ms). Default 5 minutes.
    pub max_skew_ms: i64,
}

impl Default for TimeLimits {
    fn default() -> TimeLimits {
        TimeLimits {
            max_age_ms: 20 * 60_000,
            max_lead_ms: 60 * 60_000,
            max_skew_ms: 5 * 60_000,
        }
    }
}

/// A loaded primary policy, ready to serve (shared by every request, no lock).
struct Model {
    policy: Box<dyn SharedPolicy>,
    model_id: String,
    stats: Option<TrainingStats>,
    /// The checkpoint's emergency rules (a residual's base rules), built for the server's
    /// site; None: the server's fallback rules.
    emergency: Option<Box<Expert>>,
    /// Whether the answers at the gate carry the day-ahead head's offer.
    head: bool,
    /// Whether that offer is priced at the option value of curtailment (the checkpoint's
    /// `day_ahead_head` is `day-ahead-mpc-priced`).
    head_priced: bool,
}

/// The primary slot: a model, or why there is none.
enum Primary {
    Loaded(Model),
    Missing { reason: Reason, message: String },
}

/// What serves decisions now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimaryStatus {
    /// The loaded model, if any.
    pub model_id: Option<String>,
    /// Why there is none (`no_checkpoint` or `checkpoint_damaged`).
    pub reason: Option<Reason>,
    /// In words.
    pub message: String,
    /// The out-of-distribution check in words: on (against which statistics) or off (why).
    pub distribution_check: String,
    /// Which rules decide in an emergency: `checkpoint` (the loaded policy's base rules,
    /// as in its backtest) or `fallback` (the server's `--expert` rules).
    pub emergency_rules: &'static str,
}

/// Decides: holds the site's config, the env's observer, projector and settler, the
/// expert fallback and the swappable primary policy. Keeps no state between requests
/// besides the loaded policy.
///
/// The expected ledger settles the projected dispatch from the request's site state with:
/// the day-ahead price of interval t as the price forecast (the last real-time price when
/// there is no day-ahead price), the reserve prices of the current hour, the request's
/// hashprice, no 4CP weight (peaks are known only after the month) and no reserve
/// deployment.
pub struct Decider {
    cfg: SiteConfig,
    observer: Observer,
    projector: Projector,
    settler: Settler,
    expert: Expert,
    limits: TimeLimits,
    time: TimeSource,
    /// Swapped whole on reload; a request holds the `Arc` it started with.
    primary: ArcSwap<Primary>,
    /// The day-ahead MPC's offer for checkpoints with a head. It sees every decision's
    /// snapshot in order (whatever the primary), so that a reload keeps its day's curves;
    /// its LP runs once a day and only for a primary with a head.
    head: Mutex<DayAheadHead>,
    /// The next gate's LP, started on a thread of its own by the request of the interval
    /// before the gate (09:45 local), joined by the gate's request (10:00), a quarter of an
    /// hour later in operation.
    gate_lp: Mutex<Option<JoinHandle<GatePlan>>>,
    /// The last snapshot the head was fed, and the offer it gave at that interval (at a
    /// gate). Each interval feeds the head once, with its first snapshot: a retry gets the
    /// same offer, a conflicting second snapshot is logged and ignored, and an earlier
    /// interval (a replay sent to the live port) never feeds it.
    head_fed: Mutex<Option<(SnapshotBuf, Option<DayAheadOffer>)>>,
}

impl std::fmt::Debug for Decider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decider")
            .field("limits", &self.limits)
            .field("time", &self.time)
            .field("primary", &self.status())
            .finish()
    }
}

impl Decider {
    /// A decider with no primary policy yet (`no_checkpoint` until one is installed).
    pub fn new(
        cfg: SiteConfig,
        expert: ExpertParams,
        limits: TimeLimits,
        time: TimeSource,
    ) -> Decider {
        let cfg_for_head = cfg.clone();
        Decider {
            observer: Observer::new(&cfg),
            projector: Projector::new(&cfg),
            settler: Settler::new(&cfg),
            expert: Expert::new(&cfg, expert),
            cfg,
            limits,
            time,
            primary: ArcSwap::from_pointee(Primary::Missing {
                reason: Reason::NoCheckpoint,
                message: "no checkpoint loaded".into(),
            }),
            head: Mutex::new(DayAheadHead::new(&cfg_for_head)),
            gate_lp: Mutex::new(None),
            head_fed: Mutex::new(None),
        }
    }

    /// The site config.
    pub fn config(&self) -> &SiteConfig {
        &self.cfg
    }

    /// The time limits.
    pub fn limits(&self) -> TimeLimits {
        self.limits
    }

    fn current(&self) -> Arc<Primary> {
        self.primary.load_full()
    }

    /// What serves now: the model id, or why the fallback does.
    pub fn status(&self) -> PrimaryStatus {
        match &*self.current() {
            Primary::Loaded(m) => PrimaryStatus {
                model_id: Some(m.model_id.clone()),
                reason: None,
                message: format!("policy {} loaded", m.model_id),
                distribution_check: match &m.stats {
                    Some(s) => format!(
                        "on: non-price features within {} standard deviations of the \
                         checkpoint's training statistics",
                        s.z_limit
                    ),
                    None => "off: the checkpoint carries no training statistics (its \
                             normaliser is untrained)"
                        .into(),
                },
                emergency_rules: if m.emergency.is_some() {
                    "checkpoint"
                } else {
                    "fallback"
                },
            },
            Primary::Missing { reason, message } => PrimaryStatus {
                model_id: None,
                reason: Some(*reason),
                message: message.clone(),
                distribution_check: "off: no policy loaded".into(),
                emergency_rules: "fallback",
            },
        }
    }

    /// Installs the result of a load. A loaded policy (with valid stats) replaces the
    /// current one; a failure never replaces a loaded policy (it keeps serving) but does
    /// replace the reason of a missing one. Returns the new model id, or the failure.
    pub fn install(&self, loaded: Result<PrimaryPolicy, LoadError>) -> Result<String, LoadError> {
        let loaded = loaded.and_then(|lp| match lp.stats.as_ref().map(|s| s.validate()) {
            Some(Err(e)) => Err(LoadError {
                kind: LoadErrorKind::Damaged,
                message: format!("checkpoint {}: {e}", lp.model_id),
            }),
            _ => Ok(lp),
        });
        match loaded {
            Ok(lp) => {
                let id = lp.model_id.clone();
                self.primary.store(Arc::new(Primary::Loaded(Model {
                    policy: lp.policy,
                    model_id: lp.model_id,
                    stats: lp.stats,
                    emergency: lp
                        .emergency_rules
                        .map(|p| Box::new(Expert::new(&self.cfg, p))),
                    head: lp.day_ahead_head.is_some(),
                    head_priced: lp.day_ahead_head.as_deref()
                        == Some(powermix_plan::mpc::PRICED_HEAD),
                })));
                Ok(id)
            }
            Err(e) => {
                // Reloads come one at a time (the service serialises them), so the check
                // and the store below do not race with another install.
                if let Primary::Missing { .. } = *self.current() {
                    self.primary.store(Arc::new(Primary::Missing {
                        reason: match e.kind {
                            LoadErrorKind::NoCheckpoint => Reason::NoCheckpoint,
                            LoadErrorKind::Damaged => Reason::CheckpointDamaged,
                        },
                        message: e.message.clone(),
                    }));
                }
                Err(e)
            }
        }
    }

    /// Decides for a raw body (413/400/422 rejections as [`parse_body`] and
    /// [`from_value`] say).
    pub fn decide_body(&self, body: &[u8]) -> Result<Answer, Rejection> {
        let t0 = Instant::now();
        let v = parse_body(body)?;
        self.decide_value_since(&v, t0)
    }

    /// Decides for a parsed JSON body.
    pub fn decide_value(&self, v: &Value) -> Result<Answer, Rejection> {
        self.decide_value_since(v, Instant::now())
    }

    /// [`Decider::decide_value`] timing from `t0`.
    pub fn decide_value_since(&self, v: &Value, t0: Instant) -> Result<Answer, Rejection> {
        let (req, problems) = from_value(v)?;
        self.decide_inner(&req, problems, t0)
    }

    /// Decides for a typed request (in-process callers; the same checks apply).
    pub fn decide_request(&self, req: &DecideRequest) -> Result<Answer, Rejection> {
        self.decide_inner(req, Problems::default(), Instant::now())
    }

    /// The stale-snapshot message, if any; a snapshot time in the future of the clock is
    /// an input problem.
    fn time_check(&self, c: &mut Checked<'_>) -> Option<String> {
        let snap = c.snapshot_time_ms?;
        let now = match &self.time {
            TimeSource::Clock(clock) => clock.now_ms(),
            TimeSource::Replay => snap,
        };
        let min = |ms: i64| ms as f64 / 60_000.0;
        let lim = &self.limits;
        if snap - now > lim.max_skew_ms {
            c.problems.push(
                "snapshot_time_utc",
                format!("{:?}", format_utc(snap)),
                format!(
                    "is {:.1} minutes after the server clock ({}); limit {:.1}: check both clocks",
                    min(snap - now),
                    format_utc(now),
                    min(lim.max_skew_ms)
                ),
            );
            return None;
        }
        if now - snap > lim.max_age_ms {
            return Some(format!(
                "stale snapshot: assembled at {}, {:.1} minutes before the server clock ({}); limit {:.1} minutes",
                format_utc(snap),
                min(now - snap),
                format_utc(now),
                min(lim.max_age_ms)
            ));
        }
        let lead = c.interval_start_ms - snap;
        if lead > lim.max_lead_ms {
            return Some(format!(
                "stale snapshot: interval {} starts {:.1} minutes after the snapshot ({}); limit {:.1}: send a snapshot closer to the interval",
                format_utc(c.interval_start_ms),
                min(lead),
                format_utc(snap),
                min(lim.max_lead_ms)
            ));
        }
        if -lead > lim.max_age_ms {
            return Some(format!(
                "stale snapshot: interval {} started {:.1} minutes before the snapshot ({}); limit {:.1}: the interval is over",
                format_utc(c.interval_start_ms),
                min(-lead),
                format_utc(snap),
                min(lim.max_age_ms)
            ));
        }
        None
    }

    /// The head's part of a decision: it sees every request's snapshot; for a primary
    /// with a head (`wanted`), the request before a gate starts the gate's LP on a thread
    /// of its own, and the gate's request takes its offer. The lock is held only for
    /// records and bookkeeping, never through an LP, and they do not panic; were it
    /// poisoned, the head goes on as it is. A failed or panicking LP leaves the decider's
    /// own offer standing.
    fn head_step(&self, snap: &Snapshot<'_>, wanted: bool, priced: bool) -> Option<DayAheadOffer> {
        let gate = is_da_gate_local(&snap.local);
        let mut fed = self.head_fed.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((last, offer)) = fed.as_ref() {
            let last = last.view();
            if snap.interval_start_ms == last.interval_start_ms {
                if last != *snap {
                    tracing::warn!(
                        interval = %format_utc(snap.interval_start_ms),
                        "a second, different snapshot for an interval the day-ahead head has \
                         seen: the head keeps the first"
                    );
                }
                return offer.clone().filter(|_| wanted && gate);
            }
            if snap.interval_start_ms < last.interval_start_ms {
                tracing::warn!(
                    interval = %format_utc(snap.interval_start_ms),
                    last = %format_utc(last.interval_start_ms),
                    "a snapshot older than the day-ahead head's last: not fed to the head"
                );
                return None;
            }
        }
        let offer = self.head_feed(snap, wanted, gate, priced);
        *fed = Some((SnapshotBuf::of(snap), offer.clone()));
        offer
    }

    /// Feeds one interval's snapshot to the head (see [`Decider::head_step`]); `priced`:
    /// the served checkpoint's head prices its offer (set before the head plans, so a
    /// reload to the other head keeps the day's curves).
    fn head_feed(
        &self,
        snap: &Snapshot<'_>,
        wanted: bool,
        gate: bool,
        priced: bool,
    ) -> Option<DayAheadOffer> {
        let lock = || self.head.lock().unwrap_or_else(|e| e.into_inner());
        if wanted && gate {
            // The plan started a quarter of an hour ago: long done in operation.
            let started = self
                .gate_lp
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let Some(Ok(plan)) = started.map(JoinHandle::join) {
                lock().finish(plan);
            }
        }
        let job = {
            let mut head = lock();
            if wanted {
                head.set_priced(priced);
                head.step(snap)
            } else {
                head.record(snap);
                None
            }
        };
        if let Some(job) = job {
            if gate {
                // No plan was ready (no request before the gate): plan now, here.
                if let Ok(plan) = catch_unwind(AssertUnwindSafe(|| job.run())) {
                    lock().finish(plan);
                }
            } else {
                // Should no thread start, the gate plans for itself.
                let started = std::thread::Builder::new()
                    .name("gate-lp".into())
                    .spawn(move || job.run());
                *self.gate_lp.lock().unwrap_or_else(|e| e.into_inner()) = started.ok();
            }
        }
        (wanted && gate).then(|| lock().take_offer(snap)).flatten()
    }

    fn decide_inner(
        &self,
        req: &DecideRequest,
        problems: Problems,
        t0: Instant,
    ) -> Result<Answer, Rejection> {
        let mut c = check(req, &self.cfg, problems)?;
        let stale = self.time_check(&mut c);
        let snap = c.snapshot();
        let primary = self.current();
        let model_id = match &*primary {
            Primary::Loaded(m) => Some(m.model_id.clone()),
            Primary::Missing { .. } => None,
        };
        let (wanted, priced) = match &*primary {
            Primary::Loaded(m) => (m.head, m.head_priced),
            Primary::Missing { .. } => (false, false),
        };
        let head_offer = self.head_step(&snap, wanted, priced);

        let mut fallback: Option<(Reason, String)> = if !c.problems.is_empty() {
            Some((
                Reason::InvalidInput,
                format!(
                    "invalid input: {}; the expert rules decided on the repaired snapshot",
                    c.problems.summary()
                ),
            ))
        } else if let Some(m) = stale {
            Some((
                Reason::StaleSnapshot,
                format!("{m}; the expert rules decided"),
            ))
        } else if c.emergency.active() {
            let notice = req
                .emergency
                .as_ref()
                .map(|e| e.notice.as_str())
                .unwrap_or("");
            Some((
                Reason::Emergency,
                format!(
                    "emergency notice in force ({notice}): the {} rules and the safety projection curtail as ordered",
                    match &*primary {
                        Primary::Loaded(Model {
                            emergency: Some(_), ..
                        }) => "checkpoint's base",
                        _ => "fallback",
                    }
                ),
            ))
        } else {
            None
        };

        let mut action = None;
        if fallback.is_none() {
            match &*primary {
                Primary::Missing { reason, message } => {
                    fallback = Some((*reason, format!("{message}; the expert rules decided")));
                }
                Primary::Loaded(model) => {
                    // One observation for the distribution check and the policy.
                    let mut obs = [0.0f32; OBS_DIM];
                    self.observer.observe(&snap, &mut obs);
                    if let Some(stats) = &model.stats
                        && let Some((i, z)) = stats.outlier(&obs)
                    {
                        fallback = Some((
                            Reason::OutOfDistribution,
                            format!(
                                "observation {} = {} is {z:.1} standard deviations from its training mean (limit {}); the expert rules decided",
                                OBS_NAMES[i], obs[i], stats.z_limit
                            ),
                        ));
                    }
                    if fallback.is_none() {
                        let out = catch_unwind(AssertUnwindSafe(|| {
                            powermix_agent::decide_shared(&*model.policy, &snap, &obs)
                        }));
                        match out {
                            Ok((a, o)) => match a.to_array().iter().position(|x| !x.is_finite()) {
                                None => action = Some((a, o)),
                                Some(i) => {
                                    fallback = Some((
                                        Reason::NonFiniteOutput,
                                        format!(
                                            "the policy returned {} = {}; the expert rules decided",
                                            ACTION_NAMES[i],
                                            a.to_array()[i]
                                        ),
                                    ))
                                }
                            },
                            Err(_) => {
                                fallback = Some((
                                    Reason::CheckpointDamaged,
                                    format!(
                                        "policy {} failed (panicked); the expert rules decided",
                                        model.model_id
                                    ),
                                ))
                            }
                        }
                    }
                }
            }
        }

        let (source, reason, message, (action, offer)) = match (action, fallback) {
            (Some(a), _) => (
                Source::Policy,
                None,
                format!("decided by policy {}", model_id.as_deref().unwrap_or("?")),
                a,
            ),
            (None, f) => {
                let (r, m) = f.unwrap_or((Reason::CheckpointDamaged, "no decision".into()));
                // In an emergency a loaded residual policy's own base rules decide, as they
                // do in its backtest (`powermix_agent::residual_action`); otherwise, and for
                // every other reason, the server's fallback rules.
                let rules = match (&*primary, r) {
                    (
                        Primary::Loaded(Model {
                            emergency: Some(e), ..
                        }),
                        Reason::Emergency,
                    ) => e,
                    _ => &self.expert,
                };
                (
                    Source::Fallback,
                    Some(r),
                    m,
                    // The expert offers day ahead through its action values (flat offer).
                    (rules.decide(&snap), None),
                )
            }
        };

        let ctx = ProjectionContext {
            emergency: snap.emergency,
        };
        let d = self.projector.project(&action, &snap.state, ctx);
        let day_ahead_offer = is_da_gate_local(&snap.local).then(|| {
            // The head's offer, whoever decided the action (as `WithHead` in a backtest).
            let offer = DayAheadOffer::taken(head_offer.or(offer).as_ref(), &action, &self.cfg)
                .into_owned();
            DayAheadAnswer::new(snap.interval_start_ms, offer)
        });
        let market = IntervalMarket {
            rt_price: c.price_forecast(),
            reserve_price: snap.reserve_prices,
            hashprice: snap.hashprice,
            four_cp_weight: 0.0,
            deployed: [false; RESERVES],
        };
        let settled = self.settler.settle(&d, &snap.state, &market);
        Ok(Answer {
            interval_start_utc: format_utc(c.interval_start_ms),
            mw: AnswerMw {
                inference: d.inference_mw,
                training: d.training_mw,
                tranches: d.tranche_mw,
                reserve_awards: ReserveMw::from_array(d.award_mw),
            },
            day_ahead_offer,
            site_load_mw: settled.site_load_mw,
            expected_ledger: ExpectedLedger {
                lines: settled.ledger,
                total: settled.ledger.total(),
            },
            source,
            reason,
            message,
            problems: std::mem::take(&mut c.problems.list),
            model_id,
            elapsed_us: t0.elapsed().as_micros() as u64,
            server_version: SERVER_VERSION.to_string(),
        })
    }
}
