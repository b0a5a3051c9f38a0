//! powermix-wire: the operator's request, the body of `POST /v1/decide`: parsing,
//! validation, and the [`Snapshot`] it becomes.
//!
//! The wire format has a crate of its own so that what writes requests (`evaluate
//! --decisions`, the replays that check live serving equals the backtest) and what reads them
//! (the `powermix-serve` server) share one definition without the writers depending on the
//! server. Beside serde it depends on `powermix-env` alone: no async runtime, no policy, no
//! ML framework.
//!
//! Three outcomes for a body:
//! - it cannot be used at all (not JSON, not an object, no usable `interval_start_utc`):
//!   a [`Rejection`] (HTTP 400 or 422) naming the problem;
//! - it is usable but some values are missing, of the wrong type or out of range: a list of
//!   [`Problem`]s (field, value, rule) and a *repaired* snapshot that the fallback decides
//!   on (see [`check`] for the repair of each field); the answer says `invalid_input`;
//! - it is valid: the snapshot carries exactly the request's values, the same
//!   [`Snapshot`] that `Market::snapshot` builds in a backtest.
#![warn(missing_docs)]

use chrono::DateTime;
use powermix_env::Emergency;
use powermix_env::config::{RESERVES, SiteConfig, TRANCHES};
use powermix_env::obs::{DA_HORIZON, DA_PAST, RT_HISTORY, Snapshot};
use powermix_env::price::PriceKind;
use powermix_env::site::SiteState;
use powermix_env::time::{INTERVAL_MS, LocalTime, format_utc, local_time};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Most problems an answer lists (the count of all of them is given too).
pub const MAX_PROBLEMS: usize = 20;

/// Largest request body accepted (bytes); larger ones get HTTP 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Highest plausible hashprice ($/PH/day); the all-time high is below $1,000.
pub const MAX_HASHPRICE: f64 = 100_000.0;

/// What the operator's system knows at decision time (the JSON body of `POST /v1/decide`).
/// Field docs with units: docs/serving.md, "The request", and `serve --example-request`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecideRequest {
    /// Start of the 15-minute interval decided for, RFC 3339 (UTC), on the 15-minute grid.
    pub interval_start_utc: String,
    /// When the operator's system assembled the snapshot, RFC 3339; used for the age check.
    pub snapshot_time_utc: String,
    /// Published real-time prices ($/MWh), oldest first; the last one is of the interval
    /// `rt_last_interval_utc`, which must be t - lag (t-2 by default: t-1 is still running
    /// when the decision for t is taken). The last 96 are used; may be empty.
    pub rt_prices: Vec<f64>,
    /// Start of the interval of the last value of `rt_prices` (RFC 3339), or null when
    /// `rt_prices` is empty. An interval that had not ended at `snapshot_time_utc` is
    /// refused (HTTP 422): its price could not have been known.
    pub rt_last_interval_utc: Option<String>,
    /// Published day-ahead prices ($/MWh) from interval t on, one per 15-minute interval;
    /// at least one; the first 96 are used. Values for a day not yet published at
    /// `snapshot_time_utc` (13:30 US/Central the day before) are refused (HTTP 422).
    pub day_ahead_prices: Vec<f64>,
    /// Published reserve prices ($/MW per hour) from interval t on, aligned with
    /// `day_ahead_prices`; the first is the current hour's.
    pub reserve_prices: ReserveWindows,
    /// Optional: the day-ahead prices ($/MWh) of the intervals of the last `rt_prices`,
    /// oldest first, aligned at the end with them (the last is of `rt_last_interval_utc`'s
    /// interval); the last 16 are used. The observation's real-time minus day-ahead spreads
    /// read them; absent or null, the spreads read 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_ahead_history: Option<Vec<f64>>,
    /// Hashprice of the last complete UTC day ($ per PH/s per day).
    pub hashprice_usd_per_ph_day: f64,
    /// Last published hourly ERCOT system load (MW).
    pub system_load_mw: f64,
    /// Highest published system load of the local month so far (MW).
    pub system_load_mtd_peak_mw: f64,
    /// The published system load as the decision one hour earlier saw it (MW), or null:
    /// the 4CP forecast in the observation reads the load's rise from it. Null or absent
    /// reads `system_load_mw` (no rise), which a backtest never does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_load_1h_ago_mw: Option<f64>,
    /// The same, two hours earlier, or null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_load_2h_ago_mw: Option<f64>,
    /// The site's state: what ran in the last interval and the reserve awards in force.
    pub site: SiteIn,
    /// An emergency (EEA) notice, or null.
    pub emergency: Option<EmergencyNotice>,
}

/// Published reserve prices per product ($/MW per hour), one per 15-minute interval.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReserveWindows {
    /// Responsive Reserve.
    pub rrs: Vec<f64>,
    /// ERCOT Contingency Reserve.
    pub ecrs: Vec<f64>,
    /// Non-Spinning Reserve.
    pub nspin: Vec<f64>,
}

/// MW per reserve product.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ReserveMw {
    /// Responsive Reserve (MW).
    pub rrs: f64,
    /// ERCOT Contingency Reserve (MW).
    pub ecrs: f64,
    /// Non-Spinning Reserve (MW).
    pub nspin: f64,
}

impl ReserveMw {
    /// The values in RRS, ECRS, Non-Spin order.
    pub fn to_array(self) -> [f64; RESERVES] {
        [self.rrs, self.ecrs, self.nspin]
    }

    /// From values in RRS, ECRS, Non-Spin order.
    pub fn from_array(a: [f64; RESERVES]) -> ReserveMw {
        ReserveMw {
            rrs: a[0],
            ecrs: a[1],
            nspin: a[2],
        }
    }
}

/// The site's state as the request carries it ([`SiteState`] with named products).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteIn {
    /// Miner load per tranche in the last interval (MW), exactly 3 values.
    pub tranche_mw: Vec<f64>,
    /// AI training load in the last interval (MW).
    pub training_mw: f64,
    /// Intervals training must still hold before it may step down.
    pub training_hold: u32,
    /// Day-ahead reserve awards in force in interval t (MW).
    pub award_mw: ReserveMw,
    /// Miner MW per tranche unavailable in interval t (optional; default none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable_mw: Option<Vec<f64>>,
}

impl SiteIn {
    /// The request form of a [`SiteState`].
    pub fn from_state(s: &SiteState) -> SiteIn {
        SiteIn {
            tranche_mw: s.tranche_mw.to_vec(),
            training_mw: s.training_mw,
            training_hold: s.training_hold,
            award_mw: ReserveMw::from_array(s.award_mw),
            unavailable_mw: s
                .unavailable_mw
                .iter()
                .any(|&x| x != 0.0)
                .then(|| s.unavailable_mw.to_vec()),
        }
    }
}

/// An emergency notice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmergencyNotice {
    /// The notice is in force.
    pub active: bool,
    /// EEA level 1 to 3; missing or unreadable with `active` counts as EEA3 with load shed
    /// (the conservative reading).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
    /// ERCOT ordered firm load shed.
    #[serde(default)]
    pub load_shed: bool,
    /// Its text, for the audit log.
    #[serde(default)]
    pub notice: String,
}

impl EmergencyNotice {
    /// The notice of an emergency state (None when there is none).
    pub fn from_state(e: Emergency, notice: &str) -> Option<EmergencyNotice> {
        e.active().then(|| EmergencyNotice {
            active: true,
            level: Some(e.level),
            load_shed: e.load_shed,
            notice: notice.to_string(),
        })
    }

    /// The emergency state it announces.
    pub fn state(&self) -> Emergency {
        if !self.active {
            return Emergency::NONE;
        }
        match self.level {
            Some(level @ 1..=3) => Emergency {
                level,
                load_shed: level == 3 && self.load_shed,
            },
            _ => Emergency {
                level: 3,
                load_shed: true,
            },
        }
    }
}

/// One problem of a usable request: the field (JSON path), its value, and the rule broken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// JSON path of the field, e.g. `rt_prices[3]` or `site.training_mw`.
    pub field: String,
    /// The value found (compact JSON, shortened), or `missing`.
    pub value: String,
    /// What is wrong with it.
    pub problem: String,
}

/// Why a body cannot be decided on at all. The wire format ends here: the server's edge
/// (`powermix_serve::rejection_status`) gives each kind its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectionKind {
    /// Larger than [`MAX_BODY_BYTES`].
    TooLarge,
    /// Not valid JSON.
    NotJson,
    /// JSON, but not an object with a usable `interval_start_utc` (or a field named in
    /// `field` that makes the whole body unusable).
    Unusable,
}

/// A body the server cannot decide on at all: its kind, a machine-readable code, the
/// field at fault if any, and a message naming the problem.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// What kind of rejection (the HTTP edge maps it to a status).
    pub kind: RejectionKind,
    /// Machine-readable code, e.g. `bad_json`, `body_too_large`, `invalid_field`.
    pub error: String,
    /// The field at fault, when there is one.
    pub field: Option<String>,
    /// What is wrong, in words.
    pub message: String,
}

impl Rejection {
    /// A rejection without a field.
    pub fn new(kind: RejectionKind, error: &str, message: impl Into<String>) -> Rejection {
        Rejection {
            kind,
            error: error.into(),
            field: None,
            message: message.into(),
        }
    }

    /// An unusable body, naming a field.
    pub fn field(field: &str, message: impl Into<String>) -> Rejection {
        Rejection {
            kind: RejectionKind::Unusable,
            error: "invalid_field".into(),
            field: Some(field.into()),
            message: message.into(),
        }
    }
}

/// The problems found in one request, each field at most once, at most [`MAX_PROBLEMS`]
/// kept (all counted).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Problems {
    /// The problems kept.
    pub list: Vec<Problem>,
    /// How many were found in all.
    pub total: usize,
}

impl Problems {
    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// True when `field` or a field containing it (`site` for `site.training_mw`) already
    /// has a problem.
    fn covers(&self, field: &str) -> bool {
        self.list.iter().any(|p| {
            field == p.field
                || (field.starts_with(p.field.as_str())
                    && matches!(field.as_bytes().get(p.field.len()), Some(b'.' | b'[')))
        })
    }

    /// Records a problem unless the field already has one.
    pub fn push(&mut self, field: &str, value: String, problem: impl Into<String>) {
        if self.covers(field) {
            return;
        }
        self.total += 1;
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(Problem {
                field: field.into(),
                value,
                problem: problem.into(),
            });
        }
    }

    /// A one-line summary: the first problem and how many more.
    pub fn summary(&self) -> String {
        match self.list.first() {
            None => String::new(),
            Some(p) => {
                let more = if self.total > 1 {
                    format!(" (and {} more)", self.total - 1)
                } else {
                    String::new()
                };
                format!("{} = {}: {}{more}", p.field, p.value, p.problem)
            }
        }
    }
}

/// A value as compact JSON, shortened to 60 characters.
fn show(v: &Value) -> String {
    let s = v.to_string();
    shorten(s)
}

fn shorten(s: String) -> String {
    if s.len() <= 60 {
        return s;
    }
    let mut end = 57;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

fn show_f64(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        format!("{x} (not a finite number)")
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

const MISSING: &str = "missing";

fn path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// A number field; NaN (with a problem) when missing or not a number.
fn number(obj: &Map<String, Value>, parent: &str, key: &str, p: &mut Problems) -> f64 {
    match obj.get(key) {
        None => {
            p.push(&path(parent, key), MISSING.into(), "required number");
            f64::NAN
        }
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        Some(v) => {
            p.push(
                &path(parent, key),
                show(v),
                format!("expected a number, got {}", type_name(v)),
            );
            f64::NAN
        }
    }
}

/// An optional top-level number: None when absent or null; NaN with a problem when it is
/// not a number.
fn optional_number(obj: &Map<String, Value>, key: &str, p: &mut Problems) -> Option<f64> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.as_f64().unwrap_or(f64::NAN)),
        Some(v) => {
            p.push(
                key,
                show(v),
                format!("expected a number or null, got {}", type_name(v)),
            );
            Some(f64::NAN)
        }
    }
}

/// An array of numbers; elements that are not numbers become NaN with a problem.
fn numbers(obj: &Map<String, Value>, parent: &str, key: &str, p: &mut Problems) -> Vec<f64> {
    let field = path(parent, key);
    match obj.get(key) {
        None => {
            p.push(&field, MISSING.into(), "required array of numbers");
            Vec::new()
        }
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
                _ => {
                    p.push(
                        &format!("{field}[{i}]"),
                        show(v),
                        format!("expected a number, got {}", type_name(v)),
                    );
                    f64::NAN
                }
            })
            .collect(),
        Some(v) => {
            p.push(
                &field,
                show(v),
                format!("expected an array of numbers, got {}", type_name(v)),
            );
            Vec::new()
        }
    }
}

/// An object field; an empty map (with a problem) when missing or not an object.
fn object<'v>(
    obj: &'v Map<String, Value>,
    parent: &str,
    key: &str,
    p: &mut Problems,
) -> Cow<'v, Map<String, Value>> {
    match obj.get(key) {
        Some(Value::Object(m)) => Cow::Borrowed(m),
        None => {
            p.push(&path(parent, key), MISSING.into(), "required object");
            Cow::Owned(Map::new())
        }
        Some(v) => {
            p.push(
                &path(parent, key),
                show(v),
                format!("expected an object, got {}", type_name(v)),
            );
            Cow::Owned(Map::new())
        }
    }
}

fn string(obj: &Map<String, Value>, key: &str, p: &mut Problems) -> String {
    match obj.get(key) {
        Some(Value::String(s)) => s.clone(),
        None => {
            p.push(key, MISSING.into(), "required RFC 3339 timestamp string");
            String::new()
        }
        Some(v) => {
            p.push(
                key,
                show(v),
                format!(
                    "expected an RFC 3339 timestamp string, got {}",
                    type_name(v)
                ),
            );
            String::new()
        }
    }
}

/// Reads a parsed JSON body into a [`DecideRequest`]. Missing or mistyped values are
/// recorded in `problems` and replaced by placeholders that [`check`] repairs. Rejects a
/// body that is not an object or has no usable `interval_start_utc` (HTTP 422).
pub fn from_value(v: &Value) -> Result<(DecideRequest, Problems), Rejection> {
    let Some(obj) = v.as_object() else {
        return Err(Rejection::field(
            "(body)",
            format!(
                "the body must be a JSON object (see `serve --example-request`), got {}",
                type_name(v)
            ),
        ));
    };
    let interval_start_utc = match obj.get("interval_start_utc") {
        Some(Value::String(s)) => s.clone(),
        None => {
            return Err(Rejection::field(
                "interval_start_utc",
                "interval_start_utc is missing: the answer must name the interval it decides for \
                 (RFC 3339 UTC, e.g. \"2024-07-15T20:00:00Z\")",
            ));
        }
        Some(other) => {
            return Err(Rejection::field(
                "interval_start_utc",
                format!(
                    "interval_start_utc = {}: expected an RFC 3339 timestamp string, got {}",
                    show(other),
                    type_name(other)
                ),
            ));
        }
    };
    let mut p = Problems::default();
    let snapshot_time_utc = string(obj, "snapshot_time_utc", &mut p);
    let rt_prices = numbers(obj, "", "rt_prices", &mut p);
    let rt_last_interval_utc = match obj.get("rt_last_interval_utc") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) => None,
        None => {
            p.push(
                "rt_last_interval_utc",
                MISSING.into(),
                "required: the RFC 3339 start of the last rt_prices interval (null when rt_prices is empty)",
            );
            None
        }
        Some(v) => {
            p.push(
                "rt_last_interval_utc",
                show(v),
                format!(
                    "expected an RFC 3339 timestamp string or null, got {}",
                    type_name(v)
                ),
            );
            None
        }
    };
    let day_ahead_prices = numbers(obj, "", "day_ahead_prices", &mut p);
    let day_ahead_history = match obj.get("day_ahead_history") {
        None | Some(Value::Null) => None,
        Some(_) => Some(numbers(obj, "", "day_ahead_history", &mut p)),
    };
    let rp = object(obj, "", "reserve_prices", &mut p);
    let reserve_prices = ReserveWindows {
        rrs: numbers(&rp, "reserve_prices", "rrs", &mut p),
        ecrs: numbers(&rp, "reserve_prices", "ecrs", &mut p),
        nspin: numbers(&rp, "reserve_prices", "nspin", &mut p),
    };
    let hashprice_usd_per_ph_day = number(obj, "", "hashprice_usd_per_ph_day", &mut p);
    let system_load_mw = number(obj, "", "system_load_mw", &mut p);
    let system_load_mtd_peak_mw = number(obj, "", "system_load_mtd_peak_mw", &mut p);
    let system_load_1h_ago_mw = optional_number(obj, "system_load_1h_ago_mw", &mut p);
    let system_load_2h_ago_mw = optional_number(obj, "system_load_2h_ago_mw", &mut p);
    let so = object(obj, "", "site", &mut p);
    let tranche_mw = numbers(&so, "site", "tranche_mw", &mut p);
    let training_mw = number(&so, "site", "training_mw", &mut p);
    let training_hold = match so.get("training_hold") {
        Some(Value::Number(n)) => match n.as_u64() {
            Some(h) if h <= u32::MAX as u64 => h as u32,
            _ => {
                p.push(
                    "site.training_hold",
                    n.to_string(),
                    "must be a whole number of intervals >= 0",
                );
                0
            }
        },
        None => {
            p.push(
                "site.training_hold",
                MISSING.into(),
                "required whole number",
            );
            0
        }
        Some(v) => {
            p.push(
                "site.training_hold",
                show(v),
                format!("expected a whole number, got {}", type_name(v)),
            );
            0
        }
    };
    let oo = object(&so, "site", "award_mw", &mut p);
    let award_mw = ReserveMw {
        rrs: number(&oo, "site.award_mw", "rrs", &mut p),
        ecrs: number(&oo, "site.award_mw", "ecrs", &mut p),
        nspin: number(&oo, "site.award_mw", "nspin", &mut p),
    };
    let unavailable_mw = match so.get("unavailable_mw") {
        None | Some(Value::Null) => None,
        Some(_) => Some(numbers(&so, "site", "unavailable_mw", &mut p)),
    };
    // An unreadable notice counts as an active one (the conservative reading).
    let unreadable = Some(EmergencyNotice {
        active: true,
        level: None,
        load_shed: true,
        notice: "(unreadable emergency field)".into(),
    });
    let emergency = match obj.get("emergency") {
        Some(Value::Null) => None,
        Some(Value::Object(m)) => {
            let notice = match m.get("notice") {
                Some(Value::String(s)) => s.clone(),
                _ => String::new(),
            };
            let level = match m.get("level") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) if matches!(n.as_u64(), Some(1..=3)) => {
                    n.as_u64().map(|l| l as u8)
                }
                Some(v) => {
                    p.push(
                        "emergency.level",
                        show(v),
                        "expected 1, 2 or 3 (an unreadable level counts as EEA3 with load shed)",
                    );
                    None
                }
            };
            let load_shed = matches!(m.get("load_shed"), Some(Value::Bool(true)));
            match m.get("active") {
                Some(Value::Bool(active)) => Some(EmergencyNotice {
                    active: *active,
                    level,
                    load_shed,
                    notice,
                }),
                other => {
                    p.push(
                        "emergency.active",
                        other.map(show).unwrap_or_else(|| MISSING.into()),
                        "expected true or false (an unreadable notice counts as active)",
                    );
                    unreadable
                }
            }
        }
        None => {
            p.push(
                "emergency",
                MISSING.into(),
                "required: null or {\"active\": true, \"notice\": \"...\"} (a missing notice counts as active)",
            );
            unreadable
        }
        Some(v) => {
            p.push(
                "emergency",
                show(v),
                format!(
                    "expected null or an object, got {} (an unreadable notice counts as active)",
                    type_name(v)
                ),
            );
            unreadable
        }
    };
    Ok((
        DecideRequest {
            interval_start_utc,
            snapshot_time_utc,
            rt_prices,
            rt_last_interval_utc,
            day_ahead_prices,
            day_ahead_history,
            reserve_prices,
            hashprice_usd_per_ph_day,
            system_load_mw,
            system_load_mtd_peak_mw,
            system_load_1h_ago_mw,
            system_load_2h_ago_mw,
            site: SiteIn {
                tranche_mw,
                training_mw,
                training_hold,
                award_mw,
                unavailable_mw,
            },
            emergency,
        },
        p,
    ))
}

/// Parses a request body: too large when larger than [`MAX_BODY_BYTES`], not JSON when it is not
/// JSON (the message gives line and column), 422 when it is not a usable object.
pub fn parse_body(body: &[u8]) -> Result<Value, Rejection> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Rejection::new(
            RejectionKind::TooLarge,
            "body_too_large",
            format!(
                "the body has {} bytes; the limit is {MAX_BODY_BYTES}",
                body.len()
            ),
        ));
    }
    serde_json::from_slice::<Value>(body).map_err(|e| {
        Rejection::new(
            RejectionKind::NotJson,
            "bad_json",
            format!("the body is not valid JSON: {e}"),
        )
    })
}

/// Parses an RFC 3339 timestamp into UTC milliseconds.
pub fn parse_time(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|d| d.timestamp_millis())
}

/// A validated (or repaired) request, ready to become a [`Snapshot`].
#[derive(Debug, Clone, PartialEq)]
pub struct Checked<'a> {
    /// Interval decided for, UTC milliseconds (floored to the grid when it was off it).
    pub interval_start_ms: i64,
    /// Its US/Central calendar.
    pub local: LocalTime,
    /// When the snapshot was assembled, UTC milliseconds (None when unreadable).
    pub snapshot_time_ms: Option<i64>,
    /// Real-time prices used (at most [`RT_HISTORY`], the last ones).
    pub rt: Cow<'a, [f64]>,
    /// Day-ahead prices used (at most [`DA_HORIZON`]).
    pub da: Cow<'a, [f64]>,
    /// Past day-ahead prices used (at most [`DA_PAST`]).
    pub da_past: Cow<'a, [f64]>,
    /// Reserve price windows used, aligned with `da`.
    pub reserves: [Cow<'a, [f64]>; RESERVES],
    /// Hashprice used.
    pub hashprice: f64,
    /// System load used.
    pub system_load_mw: f64,
    /// Month-to-date peak used.
    pub system_load_mtd_peak_mw: f64,
    /// Load one hour earlier used (`system_load_mw` when the request has none).
    pub system_load_1h_ago_mw: f64,
    /// Load two hours earlier used (the same rule).
    pub system_load_2h_ago_mw: f64,
    /// The emergency notice in force.
    pub emergency: Emergency,
    /// The site state used.
    pub state: SiteState,
    /// Everything found wrong (empty for a valid request).
    pub problems: Problems,
}

impl Checked<'_> {
    /// The snapshot the policy sees: the same struct `Market::snapshot` builds.
    pub fn snapshot(&self) -> Snapshot<'_> {
        Snapshot {
            interval_start_ms: self.interval_start_ms,
            as_of_ms: self.snapshot_time_ms.unwrap_or(self.interval_start_ms),
            local: self.local,
            rt_history: &self.rt,
            da_prices: &self.da,
            da_history: &self.da_past,
            reserve_prices: [0, 1, 2].map(|p| self.reserves[p].first().copied().unwrap_or(0.0)),
            reserve_price_windows: [&self.reserves[0], &self.reserves[1], &self.reserves[2]],
            hashprice: self.hashprice,
            system_load_mw: self.system_load_mw,
            system_load_mtd_peak_mw: self.system_load_mtd_peak_mw,
            system_load_1h_ago_mw: self.system_load_1h_ago_mw,
            system_load_2h_ago_mw: self.system_load_2h_ago_mw,
            emergency: self.emergency,
            state: self.state,
        }
    }

    /// The price the expected ledger settles at: the day-ahead price of the interval (the
    /// last real-time price when there is none, 0 with neither).
    pub fn price_forecast(&self) -> f64 {
        self.da.first().or(self.rt.last()).copied().unwrap_or(0.0)
    }
}

/// Checks prices against the shared rule of what a published price is
/// ([`powermix_env::price`], which the data loader applies too); problems name each bad
/// element. Returns the index of the first and the last bad element.
fn check_prices(
    xs: &[f64],
    field: &str,
    kind: PriceKind,
    p: &mut Problems,
) -> Option<(usize, usize)> {
    let mut bad: Option<(usize, usize)> = None;
    for (i, &x) in xs.iter().enumerate() {
        if !kind.is_valid(x) {
            bad = Some(match bad {
                None => (i, i),
                Some((first, _)) => (first, i),
            });
            p.push(&format!("{field}[{i}]"), show_f64(x), kind.rule());
        }
    }
    bad
}

/// Validates a request against the site config and repairs what is wrong. Errors only when
/// `interval_start_utc` is not an RFC 3339 timestamp (HTTP 422). Repairs, each recorded as a
/// [`Problem`]:
/// - an interval off the 15-minute grid is floored to it;
/// - real-time prices: only those after the last bad one are used;
/// - day-ahead and reserve prices: only those before the first bad one, all windows cut to
///   the shortest (a missing current reserve price counts as 0: no offers);
/// - hashprice, system load and its peak: the site config's `[data_fill]` defaults (what the
///   env uses for missing data); the loads of one and two hours earlier: the system load
///   (as when they are absent);
/// - site state: finite values are clamped into range; missing ones are the initial state
///   (everything running, training not held, no offers);
/// - an unreadable emergency notice counts as active.
pub fn check<'a>(
    req: &'a DecideRequest,
    cfg: &SiteConfig,
    mut p: Problems,
) -> Result<Checked<'a>, Rejection> {
    let raw_ms = parse_time(&req.interval_start_utc).ok_or_else(|| {
        Rejection::field(
            "interval_start_utc",
            format!(
                "interval_start_utc = {:?}: not an RFC 3339 timestamp (e.g. \"2024-07-15T20:00:00Z\")",
                req.interval_start_utc
            ),
        )
    })?;
    let interval_start_ms = raw_ms.div_euclid(INTERVAL_MS) * INTERVAL_MS;
    if interval_start_ms != raw_ms {
        p.push(
            "interval_start_utc",
            format!("{:?}", req.interval_start_utc),
            format!(
                "not on the 15-minute grid (:00, :15, :30, :45 with zero seconds); decided for {}",
                format_utc(interval_start_ms)
            ),
        );
    }
    let snapshot_time_ms = parse_time(&req.snapshot_time_utc);
    if snapshot_time_ms.is_none() {
        p.push(
            "snapshot_time_utc",
            format!("{:?}", req.snapshot_time_utc),
            "not an RFC 3339 timestamp (e.g. \"2024-07-15T19:58:30Z\")",
        );
    }
    let local = local_time(interval_start_ms);

    // Values that could not have been known at the snapshot time are refused: a live
    // request holding them would decide on information a backtest never has.
    if let Some(as_of) = snapshot_time_ms {
        check_knowable(req, cfg, interval_start_ms, as_of, &mut p)?;
    }

    // Real-time prices: the valid suffix, the last RT_HISTORY of it.
    let rt_all = &req.rt_prices[..];
    let rt_start = match check_prices(rt_all, "rt_prices", PriceKind::Energy, &mut p) {
        Some((_, last_bad)) => last_bad + 1,
        None => 0,
    };
    let rt = &rt_all[rt_start.max(rt_all.len().saturating_sub(RT_HISTORY))..];
    // Past day-ahead prices: the same rule, the last DA_PAST of the valid suffix.
    let dah_all = req.day_ahead_history.as_deref().unwrap_or(&[]);
    let dah_start = match check_prices(dah_all, "day_ahead_history", PriceKind::Energy, &mut p) {
        Some((_, last_bad)) => last_bad + 1,
        None => 0,
    };
    let da_past = &dah_all[dah_start.max(dah_all.len().saturating_sub(DA_PAST))..];

    // Day-ahead and reserve windows: the valid prefix, aligned.
    let da_all = &req.day_ahead_prices[..];
    if da_all.is_empty() && !p.covers("day_ahead_prices") {
        p.push(
            "day_ahead_prices",
            "[]".into(),
            "needs at least 1 value (the day-ahead price of the interval decided for)",
        );
    }
    let mut len = match check_prices(da_all, "day_ahead_prices", PriceKind::Energy, &mut p) {
        Some((first_bad, _)) => first_bad,
        None => da_all.len(),
    };
    let windows = [
        (&req.reserve_prices.rrs, "reserve_prices.rrs"),
        (&req.reserve_prices.ecrs, "reserve_prices.ecrs"),
        (&req.reserve_prices.nspin, "reserve_prices.nspin"),
    ];
    for (w, field) in windows {
        if w.len() != da_all.len() {
            p.push(
                field,
                format!("{} values", w.len()),
                format!(
                    "must have as many values as day_ahead_prices ({}), aligned from interval t on",
                    da_all.len()
                ),
            );
        }
        let ok = match check_prices(w, field, PriceKind::Reserve, &mut p) {
            Some((first_bad, _)) => first_bad,
            None => w.len(),
        };
        len = len.min(ok);
    }
    let len = len.min(DA_HORIZON);
    let da = &da_all[..len];
    let reserves = [
        Cow::Borrowed(&req.reserve_prices.rrs[..len]),
        Cow::Borrowed(&req.reserve_prices.ecrs[..len]),
        Cow::Borrowed(&req.reserve_prices.nspin[..len]),
    ];

    // Scalars.
    let fill = &cfg.data_fill;
    let mut scalar = |x: f64, field: &str, ok: bool, rule: &str, default: f64| {
        if ok {
            x
        } else {
            p.push(field, show_f64(x), rule.to_string());
            default
        }
    };
    let h = req.hashprice_usd_per_ph_day;
    let hashprice = scalar(
        h,
        "hashprice_usd_per_ph_day",
        h.is_finite() && h > 0.0 && h <= MAX_HASHPRICE,
        "must be a finite hashprice in (0, 100000] $/PH/day",
        fill.hashprice_usd_per_ph_day,
    );
    let l = req.system_load_mw;
    let system_load_mw = scalar(
        l,
        "system_load_mw",
        l.is_finite() && l >= 0.0,
        "must be a finite load >= 0 MW",
        fill.system_load_mw,
    );
    let pk = req.system_load_mtd_peak_mw;
    let system_load_mtd_peak_mw = scalar(
        pk,
        "system_load_mtd_peak_mw",
        pk.is_finite() && pk >= 0.0,
        "must be a finite load >= 0 MW",
        fill.system_load_mw,
    );
    let mut earlier = |x: Option<f64>, field: &str| match x {
        None => system_load_mw,
        Some(x) => scalar(
            x,
            field,
            x.is_finite() && x >= 0.0,
            "must be a finite load >= 0 MW, or null",
            system_load_mw,
        ),
    };
    let system_load_1h_ago_mw = earlier(req.system_load_1h_ago_mw, "system_load_1h_ago_mw");
    let system_load_2h_ago_mw = earlier(req.system_load_2h_ago_mw, "system_load_2h_ago_mw");

    // Site state.
    let initial = SiteState::initial(cfg);
    let s = &req.site;
    let mut state = initial;
    if s.tranche_mw.len() != TRANCHES {
        p.push(
            "site.tranche_mw",
            format!("{} values", s.tranche_mw.len()),
            "must have exactly 3 values (MW per tranche)",
        );
    }
    let mut mw = |x: f64, field: String, hi: f64, missing: f64| -> f64 {
        if x.is_finite() && (0.0..=hi + 1e-9).contains(&x) {
            x
        } else {
            p.push(
                &field,
                show_f64(x),
                format!("must be a finite power in [0, {hi}] MW"),
            );
            if x.is_finite() {
                x.max(0.0).min(hi)
            } else {
                missing
            }
        }
    };
    for i in 0..TRANCHES {
        let cap = cfg.mining.tranches[i].capacity_mw;
        state.tranche_mw[i] = match s.tranche_mw.get(i) {
            Some(&x) => mw(x, format!("site.tranche_mw[{i}]"), cap, cap),
            None => cap,
        };
    }
    state.training_mw = mw(
        s.training_mw,
        "site.training_mw".into(),
        cfg.ai.training_mw,
        initial.training_mw,
    );
    let miner_cap = cfg.miner_capacity_mw();
    let awards = s.award_mw.to_array();
    for (k, name) in ["rrs", "ecrs", "nspin"].iter().enumerate() {
        state.award_mw[k] = mw(awards[k], format!("site.award_mw.{name}"), miner_cap, 0.0);
    }
    let unavailable = s.unavailable_mw.as_deref().unwrap_or(&[]);
    for (i, &x) in unavailable.iter().enumerate().take(TRANCHES) {
        let cap = cfg.mining.tranches[i].capacity_mw;
        state.unavailable_mw[i] = mw(x, format!("site.unavailable_mw[{i}]"), cap, 0.0);
    }
    if s.unavailable_mw.is_some() && unavailable.len() != TRANCHES {
        p.push(
            "site.unavailable_mw",
            format!("{} values", unavailable.len()),
            "must have exactly 3 values (MW per tranche)",
        );
    }
    let max_hold = cfg.ai.training_min_on_intervals;
    state.training_hold = if s.training_hold <= max_hold {
        s.training_hold
    } else {
        p.push(
            "site.training_hold",
            s.training_hold.to_string(),
            format!("must be <= ai.training_min_on_intervals ({max_hold})"),
        );
        max_hold
    };

    let emergency = req
        .emergency
        .as_ref()
        .map(EmergencyNotice::state)
        .unwrap_or(Emergency::NONE);
    Ok(Checked {
        interval_start_ms,
        local,
        snapshot_time_ms,
        rt: Cow::Borrowed(rt),
        da_past: Cow::Borrowed(da_past),
        da: Cow::Borrowed(da),
        reserves,
        hashprice,
        system_load_mw,
        system_load_mtd_peak_mw,
        system_load_1h_ago_mw,
        system_load_2h_ago_mw,
        emergency,
        state,
        problems: p,
    })
}

/// Refuses (HTTP 422, naming the field) values a request could not have known at its
/// snapshot time `as_of`: a real-time price of an interval that had not ended, or day-ahead
/// values of a day not yet published (13:30 US/Central the day before). A last real-time
/// price of another interval than t - lag is a problem (the policy reads the last price as
/// that of t - lag), answered by the fallback.
fn check_knowable(
    req: &DecideRequest,
    cfg: &SiteConfig,
    t_ms: i64,
    as_of: i64,
    p: &mut Problems,
) -> Result<(), Rejection> {
    let lag = cfg.information.rt_price_lag_intervals as i64;
    if !req.rt_prices.is_empty() {
        match req
            .rt_last_interval_utc
            .as_deref()
            .map(|s| (s, parse_time(s)))
        {
            Some((_, Some(last))) => {
                if last + INTERVAL_MS > as_of {
                    return Err(Rejection::field(
                        "rt_last_interval_utc",
                        format!(
                            "rt_last_interval_utc = {}: that interval ends at {}, after snapshot_time_utc {}: its real-time price could not have been published",
                            format_utc(last),
                            format_utc(last + INTERVAL_MS),
                            format_utc(as_of)
                        ),
                    ));
                }
                let want = t_ms - lag * INTERVAL_MS;
                if last != want {
                    p.push(
                        "rt_last_interval_utc",
                        format!("{:?}", format_utc(last)),
                        format!(
                            "the last real-time price must be of interval t - {lag} ({}), the latest a decision for t can know",
                            format_utc(want)
                        ),
                    );
                }
            }
            Some((text, None)) => p.push(
                "rt_last_interval_utc",
                format!("{text:?}"),
                "not an RFC 3339 timestamp",
            ),
            None => p.push(
                "rt_last_interval_utc",
                "null".into(),
                "required when rt_prices is not empty",
            ),
        }
    }
    let published_end = powermix_env::market::day_ahead_published_end_ms(as_of);
    let windows = [
        (req.day_ahead_prices.len(), "day_ahead_prices"),
        (req.reserve_prices.rrs.len(), "reserve_prices.rrs"),
        (req.reserve_prices.ecrs.len(), "reserve_prices.ecrs"),
        (req.reserve_prices.nspin.len(), "reserve_prices.nspin"),
    ];
    for (n, field) in windows {
        let end = t_ms + n as i64 * INTERVAL_MS;
        if n > 0 && end > published_end {
            return Err(Rejection::field(
                field,
                format!(
                    "{field} has {n} values, through {}; at snapshot_time_utc {} day-ahead results were published only through {} (a day's results come at 13:30 US/Central the day before)",
                    format_utc(end),
                    format_utc(as_of),
                    format_utc(published_end)
                ),
            ));
        }
    }
    Ok(())
}

/// The request an operator's system sends for interval `t` of a backtest market with the
/// site in `state`: real-time prices settled before t, the day-ahead and reserve prices
/// published by t, the last published load and its month-to-date peak, the last complete
/// UTC day's hashprice, and the emergency the grid declared, assembled `age_ms` before t.
/// Valid requests from it decide on exactly `market.snapshot(t, state)` (tested), which is
/// how replays check that live serving equals the backtest.
pub fn request_from_market(
    market: &powermix_env::Market,
    t: usize,
    state: &SiteState,
) -> DecideRequest {
    request_from_snapshot(&market.snapshot(t, state))
}

/// The request that carries exactly `snap` (what [`check`] turns back into the same
/// snapshot), assembled at its information cutoff. [`Market::snapshot`] decides what is
/// visible; this only writes it down.
///
/// [`Market::snapshot`]: powermix_env::Market::snapshot
pub fn request_from_snapshot(snap: &Snapshot<'_>) -> DecideRequest {
    let rt_last = (!snap.rt_history.is_empty()).then(|| {
        // The last published price is of the interval that ended at the cutoff.
        format_utc(snap.as_of_ms - INTERVAL_MS)
    });
    DecideRequest {
        interval_start_utc: format_utc(snap.interval_start_ms),
        snapshot_time_utc: format_utc(snap.as_of_ms),
        rt_prices: snap.rt_history.to_vec(),
        rt_last_interval_utc: rt_last,
        day_ahead_prices: snap.da_prices.to_vec(),
        day_ahead_history: Some(snap.da_history.to_vec()),
        reserve_prices: ReserveWindows {
            rrs: snap.reserve_price_windows[0].to_vec(),
            ecrs: snap.reserve_price_windows[1].to_vec(),
            nspin: snap.reserve_price_windows[2].to_vec(),
        },
        hashprice_usd_per_ph_day: snap.hashprice,
        system_load_mw: snap.system_load_mw,
        system_load_mtd_peak_mw: snap.system_load_mtd_peak_mw,
        system_load_1h_ago_mw: Some(snap.system_load_1h_ago_mw),
        system_load_2h_ago_mw: Some(snap.system_load_2h_ago_mw),
        site: SiteIn::from_state(&snap.state),
        emergency: EmergencyNotice::from_state(snap.emergency, "ERCOT EEA notice"),
    }
}

/// A valid example request for the interval starting at the next 15-minute boundary at or
/// after `now_ms`, assembled at `now_ms` (what `serve --example-request` prints).
pub fn example_request(now_ms: i64) -> DecideRequest {
    let interval = (now_ms + INTERVAL_MS - 1).div_euclid(INTERVAL_MS) * INTERVAL_MS;
    let snap = now_ms.div_euclid(1000) * 1000;
    DecideRequest {
        interval_start_utc: format_utc(interval),
        snapshot_time_utc: format_utc(snap),
        rt_prices: vec![31.2, 28.75, 35.1, 42.0, 39.5, 36.25, 33.0, 30.8],
        rt_last_interval_utc: Some(format_utc(interval - 2 * INTERVAL_MS)),
        day_ahead_prices: vec![34.5, 34.5, 34.5, 34.5, 38.9, 38.9, 38.9, 38.9],
        day_ahead_history: Some(vec![30.1, 30.1, 30.1, 30.1, 32.4, 32.4, 32.4, 32.4]),
        reserve_prices: ReserveWindows {
            rrs: vec![6.2, 6.2, 6.2, 6.2, 7.1, 7.1, 7.1, 7.1],
            ecrs: vec![3.4, 3.4, 3.4, 3.4, 4.0, 4.0, 4.0, 4.0],
            nspin: vec![1.1, 1.1, 1.1, 1.1, 1.3, 1.3, 1.3, 1.3],
        },
        hashprice_usd_per_ph_day: 48.5,
        system_load_mw: 61_250.0,
        system_load_mtd_peak_mw: 78_900.0,
        system_load_1h_ago_mw: Some(60_400.0),
        system_load_2h_ago_mw: Some(59_100.0),
        site: SiteIn {
            tranche_mw: vec![30.0, 20.0, 15.0],
            training_mw: 20.0,
            training_hold: 0,
            award_mw: ReserveMw::default(),
            unavailable_mw: None,
        },
        emergency: None,
    }
}

/// The field docs printed by `serve --example-request` (on stderr; the JSON goes to
/// stdout). docs/serving.md, "The request", carries the same fields with their units.
pub const FIELD_DOCS: &str = "\
POST /v1/decide body (JSON object; all fields but the optional ones required, unknown fields ignored):
  interval_start_utc        RFC 3339 UTC start of the 15-minute interval decided for (t), on the grid
  snapshot_time_utc         RFC 3339 time the operator's system assembled this snapshot (age check)
  rt_prices                 published real-time prices $/MWh, oldest first, the last of interval t-2; last 96 used; may be []
  rt_last_interval_utc      RFC 3339 start of the last rt_prices interval (t-2; null when rt_prices is []); 422 if it had not ended at snapshot_time_utc
  day_ahead_prices          published day-ahead prices $/MWh, one per 15-min interval from t on; >= 1; first 96 used;
                            422 for values of a day not published at snapshot_time_utc (13:30 US/Central the day before)
  day_ahead_history         optional: day-ahead prices $/MWh of the intervals of the last rt_prices, aligned at the end; last 16 used
  reserve_prices.rrs|ecrs|nspin  published reserve prices $/MW-h from t on, same length as day_ahead_prices
  hashprice_usd_per_ph_day  hashprice of the last complete UTC day, $ per PH/s per day
  system_load_mw            last published hourly ERCOT system load, MW
  system_load_mtd_peak_mw   highest published system load of the local month so far, MW
  system_load_1h_ago_mw     optional: the system_load_mw of the request one hour earlier (t-4), MW; absent: no rise
  system_load_2h_ago_mw     optional: the same two hours earlier (t-8), MW
  site.tranche_mw           [3] miner MW per tranche that ran in interval t-1
  site.training_mw          AI training MW that ran in interval t-1
  site.training_hold        intervals training must still hold before it may step down (0..=min-on)
  site.award_mw.rrs|ecrs|nspin  day-ahead reserve awards in force in interval t, MW
  site.unavailable_mw       optional [3] miner MW per tranche the site cannot run in interval t
  emergency                 null, or {\"active\": true, \"level\": 1|2|3, \"load_shed\": false, \"notice\": \"EEA2 ...\"}
                            while an ERCOT EEA notice is in force (no level: counted as EEA3 with load shed)
At 10:00 US/Central (the day-ahead gate) the answer also carries day_ahead_offer: the reserve offer for every hour
of the next operating day, due at 10:00.
Energy prices must be finite in [-10000, 90000] $/MWh and reserve prices in [0, 90000] $/MW-h (powermix_env::price:
the rule the data loader applies; ERCOT publishes prices above the offer cap through its adders).
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_is_valid_and_on_the_grid() {
        let cfg = SiteConfig::default_site();
        let now = 1_721_073_650_000; // 2024-07-15T20:00:50Z
        let req = example_request(now);
        assert_eq!(req.interval_start_utc, "2024-07-15T20:15:00Z");
        let v = serde_json::to_value(&req).unwrap();
        let (r2, p) = from_value(&v).unwrap();
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(r2, req);
        let c = check(&r2, &cfg, p).unwrap();
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        assert_eq!(c.da.len(), 8);
    }

    #[test]
    fn problems_name_fields_and_dedupe() {
        let cfg = SiteConfig::default_site();
        let mut v = serde_json::to_value(example_request(0)).unwrap();
        v["rt_prices"][2] = Value::String("NaN".into());
        v["site"] = Value::Bool(true);
        v["day_ahead_prices"][0] = serde_json::json!(1e9);
        let (req, p) = from_value(&v).unwrap();
        let c = check(&req, &cfg, p).unwrap();
        let fields: Vec<&str> = c.problems.list.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["rt_prices[2]", "site", "day_ahead_prices[0]"]);
        assert_eq!(c.rt.len(), 5, "the valid suffix after the bad price");
        assert!(c.da.is_empty());
        assert_eq!(c.state, SiteState::initial(&cfg));
    }

    #[test]
    fn past_day_ahead_prices_are_optional_and_checked() {
        let cfg = SiteConfig::default_site();
        let mut v = serde_json::to_value(example_request(0)).unwrap();
        let past = |v: &Value| {
            let (req, p) = from_value(v).unwrap();
            let c = check(&req, &cfg, p).unwrap();
            let fields: Vec<String> = c.problems.list.iter().map(|p| p.field.clone()).collect();
            (c.snapshot().da_history.to_vec(), fields)
        };
        assert_eq!(past(&v).0.len(), 8);
        // The last DA_PAST of a longer history.
        v["day_ahead_history"] = serde_json::json!((0..40).map(f64::from).collect::<Vec<_>>());
        let (h, fields) = past(&v);
        assert_eq!((h.len(), h[0], fields.len()), (DA_PAST, 24.0, 0));
        // A bad price: named, and only the prices after it are used.
        v["day_ahead_history"] = serde_json::json!([30.0, 1e12, 31.0, 32.0]);
        assert_eq!(
            past(&v),
            (vec![31.0, 32.0], vec!["day_ahead_history[1]".to_string()])
        );
        // Absent: empty, no problem.
        v.as_object_mut().unwrap().remove("day_ahead_history");
        assert_eq!(past(&v), (vec![], vec![]));
    }

    #[test]
    fn earlier_loads_are_optional_and_checked() {
        let cfg = SiteConfig::default_site();
        let mut v = serde_json::to_value(example_request(0)).unwrap();
        let snap_of = |v: &Value| {
            let (req, p) = from_value(v).unwrap();
            let c = check(&req, &cfg, p).unwrap();
            let s = c.snapshot();
            let fields: Vec<String> = c.problems.list.iter().map(|p| p.field.clone()).collect();
            (s.system_load_1h_ago_mw, s.system_load_2h_ago_mw, fields)
        };
        assert_eq!(snap_of(&v), (60_400.0, 59_100.0, vec![]));
        // Absent or null: the current load (no rise), and no problem.
        v.as_object_mut().unwrap().remove("system_load_1h_ago_mw");
        v["system_load_2h_ago_mw"] = Value::Null;
        assert_eq!(snap_of(&v), (61_250.0, 61_250.0, vec![]));
        // Not a load: a problem naming the field, and the current load stands in.
        v["system_load_1h_ago_mw"] = serde_json::json!("high");
        v["system_load_2h_ago_mw"] = serde_json::json!(-5.0);
        assert_eq!(
            snap_of(&v),
            (
                61_250.0,
                61_250.0,
                vec![
                    "system_load_1h_ago_mw".to_string(),
                    "system_load_2h_ago_mw".to_string()
                ]
            )
        );
    }
}
