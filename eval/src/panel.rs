//! The scorecard: the same policies on a list of (data file, period) panels, one table.
//!
//! A panel file (`configs/panel.toml` by default) lists the panels; relative data paths
//! are read from the panel file's folder. Each panel is scored by [`evaluate`] (every
//! policy through the same env, against always-on and the oracle of that panel), and the
//! scorecard keeps one value captured per policy and panel, with the mean and the worst
//! panel of each policy.
//!
//! Honest numbers: a trained policy's checkpoint names the data and periods it trained and
//! was selected on (`meta.json`: `data.hash`, `train_period`, `val_period`). Each panel is
//! marked against them: `trained` (same data file, overlapping the training period),
//! `selected` (same file, overlapping the validation period that chose the checkpoint),
//! `same-years` (another file, overlapping either period: the hubs share the system-wide
//! reserve prices, load and hashprice) or `unseen`. The mean over unseen panels is
//! reported beside the mean over all.

use crate::EvalError;
use crate::attribution::{Attribution, attribute};
use crate::cli::{CliError, Period};
use crate::harness::{EvalRequest, evaluate};
use powermix_agent::rules::ExpertParams;
use powermix_data::load_market_data;
use powermix_env::{Market, SiteConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What can go wrong reading or running a panel file.
#[derive(Debug, thiserror::Error)]
pub enum PanelError {
    /// The panel file cannot be read.
    #[error("panel file {path}: {reason}")]
    Io {
        /// The panel file.
        path: PathBuf,
        /// Why.
        reason: std::io::Error,
    },
    /// The panel file is not valid TOML of the expected shape.
    #[error("panel file {path}: {message}")]
    Parse {
        /// The panel file.
        path: PathBuf,
        /// What is wrong (names the field).
        message: String,
    },
    /// A panel's data or period is unusable.
    #[error("panel `{panel}`: {reason}")]
    Panel {
        /// The panel's name.
        panel: String,
        /// Why.
        reason: CliError,
    },
    /// A panel's period does not parse.
    #[error("panel `{panel}`: {reason}")]
    Period {
        /// The panel's name.
        panel: String,
        /// Why.
        reason: powermix_env::time::PeriodError,
    },
    /// Scoring a panel failed.
    #[error("panel `{panel}`: {reason}")]
    Eval {
        /// The panel's name.
        panel: String,
        /// Why.
        reason: EvalError,
    },
}

/// One panel as written in the panel file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PanelSpec {
    /// Column name in the table, e.g. `HB_WEST 2024`.
    pub name: String,
    /// Market data parquet; relative paths are read from the panel file's folder.
    pub data: PathBuf,
    /// `START..END`, US/Central dates, end exclusive.
    pub period: String,
}

/// A panel file: the seed of the deployment draws and the panels.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PanelFile {
    /// Seed of the reserve deployment draws of every panel (the oracle plans with them).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The panels, in column order.
    pub panel: Vec<PanelSpec>,
}

fn default_seed() -> u64 {
    7
}

impl PanelFile {
    /// Reads and checks a panel file; data paths become relative to its folder.
    pub fn load(path: &Path) -> Result<PanelFile, PanelError> {
        let text = std::fs::read_to_string(path).map_err(|reason| PanelError::Io {
            path: path.to_path_buf(),
            reason,
        })?;
        let mut file: PanelFile = toml::from_str(&text).map_err(|e| PanelError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if file.panel.is_empty() {
            return Err(PanelError::Parse {
                path: path.to_path_buf(),
                message: "no [[panel]] entries".into(),
            });
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        for p in &mut file.panel {
            if p.data.is_relative() {
                p.data = dir.join(&p.data);
            }
            p.period
                .parse::<Period>()
                .map_err(|reason| PanelError::Period {
                    panel: p.name.clone(),
                    reason,
                })?;
        }
        Ok(file)
    }
}

/// How a panel relates to the data a checkpoint was trained and selected on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exposure {
    /// Same data file, overlapping the training period.
    Trained,
    /// Same data file, overlapping the validation (checkpoint selection) period.
    Selected,
    /// Another data file, overlapping the training or validation years (system-wide series
    /// such as reserve prices are shared between hubs).
    SameYears,
    /// Neither: a fair test.
    Unseen,
}

impl Exposure {
    /// The mark printed after a value in the table.
    pub fn mark(self) -> &'static str {
        match self {
            Exposure::Trained => " T",
            Exposure::Selected => " S",
            Exposure::SameYears => " Y",
            Exposure::Unseen => "",
        }
    }
}

/// What a checkpoint saw: its data file's hash and its training and validation periods.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// Hash of the training data file (`meta.json` `data.hash`).
    pub data_hash: String,
    /// Training period, UTC milliseconds `[start, end)`.
    pub train: (i64, i64),
    /// Validation period on the training data file, UTC milliseconds `[start, end)`
    /// (None when the run validated on other files).
    pub val: Option<(i64, i64)>,
    /// The further training files (`meta.json` `data.also_train`): hash and period.
    pub also_train: Vec<(String, (i64, i64))>,
    /// The validation files (`meta.json` `data.val_data`): hash and period.
    pub val_data: Vec<(String, (i64, i64))>,
}

impl Seen {
    /// From a checkpoint's `meta.json` (None if its periods do not parse).
    pub fn from_meta(meta: &powermix_agent::CheckpointMeta) -> Option<Seen> {
        let t: Period = meta.data.train_period.parse().ok()?;
        let val = if meta.data.val_period.is_empty() && !meta.data.val_data.is_empty() {
            None
        } else {
            let v: Period = meta.data.val_period.parse().ok()?;
            Some((v.start_ms, v.end_ms))
        };
        let window = |hash: &str, period: &str| {
            let p: Period = period.parse().ok()?;
            Some((hash.to_string(), (p.start_ms, p.end_ms)))
        };
        let also_train = (meta.data.also_train.iter())
            .map(|a| window(&a.hash, &a.train_period))
            .collect::<Option<_>>()?;
        let val_data = (meta.data.val_data.iter())
            .map(|v| window(&v.hash, &v.val_period))
            .collect::<Option<_>>()?;
        Some(Seen {
            data_hash: meta.data.hash.clone(),
            train: (t.start_ms, t.end_ms),
            val,
            also_train,
            val_data,
        })
    }

    /// How the panel of data hash `hash` and period `[s, e)` relates to what was seen.
    pub fn exposure(&self, hash: &str, (s, e): (i64, i64)) -> Exposure {
        let overlaps = |(a, b): (i64, i64)| s < b && a < e;
        let same = hash == self.data_hash;
        let file = |(h, p): &(String, (i64, i64))| h == hash && overlaps(*p);
        let years = |(_, p): &(String, (i64, i64))| overlaps(*p);
        let val_here = self.val.is_some_and(|v| same && overlaps(v));
        if (same && overlaps(self.train)) || self.also_train.iter().any(file) {
            Exposure::Trained
        } else if val_here || self.val_data.iter().any(file) {
            Exposure::Selected
        } else if overlaps(self.train)
            || self.val.is_some_and(overlaps)
            || self.also_train.iter().any(years)
            || self.val_data.iter().any(years)
        {
            Exposure::SameYears
        } else {
            Exposure::Unseen
        }
    }
}

/// One panel's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PanelResult {
    /// The panel as given.
    pub panel: PanelSpec,
    /// Settlement point of its data.
    pub settlement_point: String,
    /// How the trained policy's checkpoint relates to it (None without a checkpoint).
    pub exposure: Option<Exposure>,
    /// Always-on's profit ($).
    pub always_on_usd: f64,
    /// The oracle's profit ($).
    pub oracle_usd: f64,
    /// Value captured per policy (None when the oracle gains nothing over always-on).
    pub value_captured: BTreeMap<String, Option<f64>>,
    /// Profit per policy ($).
    pub profit_usd: BTreeMap<String, f64>,
    /// Gap attribution per policy, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution: Option<Vec<Attribution>>,
    /// Policies that beat the oracle here (always a bug).
    pub oracle_breaches: Vec<String>,
}

/// A policy's row of the scorecard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyRow {
    /// Policy name.
    pub policy: String,
    /// Mean value captured over all panels.
    pub mean: Option<f64>,
    /// Mean over the panels the checkpoint did not see (None without any).
    pub mean_unseen: Option<f64>,
    /// The worst panel's value captured.
    pub worst: Option<f64>,
    /// The worst panel's name.
    pub worst_panel: Option<String>,
}

/// The scorecard: one row per policy, one column per panel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scorecard {
    /// Seed of the deployment draws.
    pub seed: u64,
    /// Policies in row order.
    pub policies: Vec<String>,
    /// Panels in column order.
    pub panels: Vec<PanelResult>,
    /// Per policy: mean, mean over unseen panels, worst.
    pub rows: Vec<PolicyRow>,
    /// The trained policy's checkpoint folder, if any.
    pub checkpoint: Option<String>,
}

/// What to run.
pub struct ScorecardRequest<'a> {
    /// The panels.
    pub file: &'a PanelFile,
    /// The site every panel runs.
    pub site: &'a SiteConfig,
    /// Policy names, in row order.
    pub policies: &'a [String],
    /// Expert rule parameters.
    pub expert: &'a ExpertParams,
    /// Checkpoint of the `ppo` policy.
    pub checkpoint: Option<&'a Path>,
    /// Forecast model folder of `forecast-mpc`.
    pub forecasts: Option<&'a Path>,
    /// Also split each policy's gap to the oracle ([`crate::attribution`]).
    pub attribution: bool,
}

/// Runs every panel. Data files are loaded once each; `progress` is told each panel's name
/// before it runs.
pub fn run_scorecard(
    req: ScorecardRequest<'_>,
    mut progress: impl FnMut(&str),
) -> Result<Scorecard, PanelError> {
    let seen = req
        .checkpoint
        .map(|d| powermix_agent::read_meta(&crate::harness::checkpoint_dir(d)))
        .transpose()
        .map_err(|e| PanelError::Eval {
            panel: "(checkpoint)".into(),
            reason: EvalError(format!("checkpoint: {e}")),
        })?
        .as_ref()
        .and_then(Seen::from_meta);
    let mut policies: Vec<String> = req.policies.to_vec();
    if req.attribution {
        for p in crate::attribution::NEEDED {
            if !policies.iter().any(|q| q == p) {
                policies.push(p.to_string());
            }
        }
    }
    let mut markets: BTreeMap<PathBuf, (Arc<Market>, String)> = BTreeMap::new();
    let mut panels = Vec::new();
    for spec in &req.file.panel {
        progress(&spec.name);
        let wrap = |reason: CliError| PanelError::Panel {
            panel: spec.name.clone(),
            reason,
        };
        if !markets.contains_key(&spec.data) {
            let (data, _) = load_market_data(&spec.data, &req.site.data_fill)
                .map_err(|e| wrap(CliError::Data(e)))?;
            let hash = powermix_agent::checkpoint::hash_file(&spec.data).map_err(|e| {
                PanelError::Eval {
                    panel: spec.name.clone(),
                    reason: EvalError(e.to_string()),
                }
            })?;
            let m = Arc::new(Market::new(data, req.site.clone()));
            markets.insert(spec.data.clone(), (m, hash));
        }
        let (market, hash) = &markets[&spec.data];
        let period: Period = spec.period.parse().map_err(|reason| PanelError::Period {
            panel: spec.name.clone(),
            reason,
        })?;
        let (start, end) = period.window(market).map_err(wrap)?;
        let ev = evaluate(EvalRequest {
            market,
            start,
            end,
            policies: &policies,
            expert: req.expert,
            seed: req.file.seed,
            period: &spec.period,
            by_week: false,
            checkpoint: req.checkpoint,
            forecasts: req.forecasts,
        })
        .map_err(|reason| PanelError::Eval {
            panel: spec.name.clone(),
            reason,
        })?;
        let profit = |name: &str| {
            ev.results
                .iter()
                .find(|r| r.policy == name)
                .map(|r| r.profit_usd)
        };
        let always_on = profit("always-on").unwrap_or(f64::NAN);
        let oracle = profit("oracle").unwrap_or(f64::NAN);
        let attribution = req
            .attribution
            .then(|| attribute(&ev))
            .transpose()
            .map_err(|reason| PanelError::Eval {
                panel: spec.name.clone(),
                reason,
            })?;
        panels.push(PanelResult {
            panel: spec.clone(),
            settlement_point: market.settlement_point().to_string(),
            exposure: seen
                .as_ref()
                .map(|s| s.exposure(hash, (period.start_ms, period.end_ms))),
            always_on_usd: always_on,
            oracle_usd: oracle,
            value_captured: ev
                .results
                .iter()
                .map(|r| (r.policy.clone(), r.value_captured))
                .collect(),
            profit_usd: ev
                .results
                .iter()
                .map(|r| (r.policy.clone(), r.profit_usd))
                .collect(),
            attribution,
            oracle_breaches: ev.oracle_breaches.clone(),
        });
    }
    let rows = policies.iter().map(|p| row(p, &panels)).collect();
    Ok(Scorecard {
        seed: req.file.seed,
        policies,
        panels,
        rows,
        checkpoint: req.checkpoint.map(|d| d.display().to_string()),
    })
}

fn row(policy: &str, panels: &[PanelResult]) -> PolicyRow {
    let values: Vec<(&PanelResult, f64)> = panels
        .iter()
        .filter_map(|p| Some((p, p.value_captured.get(policy).copied().flatten()?)))
        .collect();
    let mean = |xs: &[f64]| (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64);
    let all: Vec<f64> = values.iter().map(|(_, v)| *v).collect();
    let unseen: Vec<f64> = values
        .iter()
        .filter(|(p, _)| p.exposure == Some(Exposure::Unseen))
        .map(|(_, v)| *v)
        .collect();
    let worst = values
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(p, v)| (p.panel.name.clone(), *v));
    PolicyRow {
        policy: policy.to_string(),
        mean: mean(&all),
        mean_unseen: mean(&unseen),
        worst: worst.as_ref().map(|w| w.1),
        worst_panel: worst.map(|w| w.0),
    }
}

/// The scorecard as a text table: value captured per policy and panel, the mean, the mean
/// over unseen panels and the worst panel; exposure marks after the trained policy's values.
pub fn format_scorecard(card: &Scorecard) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let width = card
        .panels
        .iter()
        .map(|p| p.panel.name.len())
        .max()
        .unwrap_or(0)
        .max(9);
    let _ = write!(out, "{:<22}", "value captured");
    for p in &card.panels {
        let _ = write!(out, " {:>width$}", p.panel.name);
    }
    let _ = writeln!(out, " {:>7} {:>11} {:>7}", "mean", "mean unseen", "worst");
    let fmt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |x| format!("{x:.3}"));
    for (policy, row) in card.policies.iter().zip(&card.rows) {
        let _ = write!(out, "{policy:<22}");
        for p in &card.panels {
            let v = p.value_captured.get(policy).copied().flatten();
            let mark = if policy == "ppo" {
                p.exposure.map_or("", Exposure::mark)
            } else {
                ""
            };
            let _ = write!(out, " {:>width$}", format!("{}{mark}", fmt(v)));
        }
        let _ = writeln!(
            out,
            " {:>7} {:>11} {:>7}",
            fmt(row.mean),
            fmt(row.mean_unseen),
            fmt(row.worst)
        );
    }
    if card.checkpoint.is_some() {
        let _ = writeln!(
            out,
            "marks on ppo: T trained on this data and period, S its checkpoint was selected on it, \
             Y other hub in its training or selection years, none: unseen"
        );
    }
    out
}
