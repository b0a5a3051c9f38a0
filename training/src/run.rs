//! A training run: the PPO loop ([`train`]) with periodic validation through the evaluation
//! harness' backtest, checkpoints (best and last) and metrics.
//!
//! Run folder layout: `DIR/best/` (the checkpoint with the best validation profit),
//! `DIR/last/` (the latest, for `--resume`), `DIR/start/` (the starting policy, update 0),
//! `DIR/metrics.csv` (one row per update, the
//! fields of [`UpdateStats`]).

use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::ppo::{TrainSource, Trainer, UpdateStats};
use crate::resume::{self, TrainerState};
pub use crate::spec::{RunSpec, info};
use indicatif::{ProgressBar, ProgressStyle};
use powermix_agent::ExpertParams;
use powermix_agent::checkpoint::{DataInfo, save_checkpoint};
use powermix_eval::harness::PolicyFactory;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A resumed run must train on what it trained on before: the same data (by hash) over
/// the same periods, and the same further files in the same order (each env keeps its
/// source across the resume). It must validate on the same windows too: `best/` is kept
/// by comparing profits summed over them, which other windows would not match. And it must
/// correct the same rules (`base_policy`, from `--expert` or the config's `[expert]`).
fn same_training_data(
    dir: &Path,
    now: &DataInfo,
    rules: Option<&ExpertParams>,
) -> Result<(), TrainError> {
    let meta = powermix_agent::read_meta(dir)?;
    let before = meta.data;
    let key = |d: &DataInfo| {
        let also: Vec<_> = (d.also_train.iter())
            .map(|a| format!("{} ({})", a.train_period, a.hash))
            .collect();
        format!(
            "{} ({}), further files [{}]",
            d.train_period,
            d.hash,
            also.join(", ")
        )
    };
    let val_key = |d: &DataInfo| {
        let files: Vec<_> = (d.val_data.iter())
            .map(|v| format!("{} ({})", v.val_period, v.hash))
            .collect();
        format!("{} on --data, files [{}]", d.val_period, files.join(", "))
    };
    let mismatch = |what: &str, before: String, now: String, flags: &str| {
        Err(TrainError::Resume {
            path: dir.join(powermix_agent::checkpoint::META_FILE),
            message: format!(
                "the run {what} {before}; this command gives {now} (same {flags} as the run)"
            ),
        })
    };
    if key(&before) != key(now) {
        return mismatch(
            "trained on",
            key(&before),
            key(now),
            "--data, --train-period and --also-train",
        );
    }
    if val_key(&before) != val_key(now) {
        return mismatch(
            "validated on",
            val_key(&before),
            val_key(now),
            "--val-period or --val-data",
        );
    }
    if meta.base_policy.as_ref() != rules {
        let text = |r: Option<&ExpertParams>| {
            r.map_or("no rules".to_string(), |r| {
                serde_json::to_string(r).expect("expert parameters serialise")
            })
        };
        return mismatch(
            "corrected",
            text(meta.base_policy.as_ref()),
            text(rules),
            "--expert or [expert] table",
        );
    }
    Ok(())
}

/// Validation of one policy snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Validation {
    /// Profit on the validation period ($).
    pub profit_usd: f64,
    /// Value captured against always-on and the oracle on the same period.
    pub value_captured: f64,
}

/// Reference profits of the validation windows (summed over them).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct References {
    /// Always-on profit.
    pub always_on: f64,
    /// Oracle profit.
    pub oracle: f64,
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Env steps done (including those before a resume).
    pub env_steps: u64,
    /// Wall time of this invocation's training loop (s).
    pub seconds: f64,
    /// The best checkpoint (`DIR/best`).
    pub best: PathBuf,
    /// The last validation, if any ran.
    pub last_validation: Option<Validation>,
    /// Always-on and oracle profits of the validation window.
    pub references: References,
}

/// Trains `cfg` on `spec` (continuing the checkpoint `resume`, a run folder or its
/// `last/`, when given): PPO updates until `cfg.updates()`, validation every
/// `validate_every` updates and at the end, `best/` and `last/` saved after each
/// validation, one metrics row per update. `progress` shows a progress bar on stderr.
pub fn train(
    cfg: &TrainConfig,
    spec: &RunSpec,
    resume: Option<&Path>,
    progress: bool,
) -> Result<RunSummary, TrainError> {
    std::fs::create_dir_all(&spec.out).map_err(|reason| TrainError::Io {
        path: spec.out.clone(),
        reason,
    })?;
    let mut sources = vec![TrainSource {
        market: spec.market.clone(),
        start: spec.train.0,
        end: spec.train.1,
    }];
    sources.extend(spec.also_train.iter().cloned());
    let mut trainer = Trainer::with_sources(cfg.clone(), &sources, spec.seed)?;
    let mut state = TrainerState::fresh(&trainer);
    if let Some(dir) = resume {
        let last = if dir.join("last").exists() {
            dir.join("last")
        } else {
            dir.to_path_buf()
        };
        same_training_data(&last, &spec.data, trainer.base_params().as_ref())?;
        state = resume::resume(&mut trainer, &last)?;
        eprintln!("resumed {} at update {}", last.display(), state.update);
        if let Some(planner) = trainer.base_planner() {
            eprintln!(
                "note: each env's {planner} starts afresh (its plans are not in trainer.json): \
                 the run continues close to, not exactly as, an uninterrupted one"
            );
        }
    }
    let refs = references(spec)?;
    let updates = cfg.updates();
    let bar = if progress {
        ProgressBar::new(updates as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} updates {msg}")
            .expect("a valid progress template"),
    );
    bar.set_position(trainer.update as u64);
    let started = Instant::now();
    let steps_at_start = trainer.env_steps;
    let mut last_val = None;
    let metrics = spec.out.join("metrics.csv");
    if trainer.update == 0 {
        // A fresh run in a folder that held another one: its rows would land under the old
        // header (whose columns may differ) and beside the other run's. best/, last/ and
        // start/ are replaced below; the metrics start over too. (`--resume` appends.)
        if metrics.exists() {
            std::fs::remove_file(&metrics).map_err(|reason| TrainError::Io {
                path: metrics.clone(),
                reason,
            })?;
        }
        // The starting policy (the base rules, for a residual policy: the output layer starts
        // at zero) is a candidate for best/ too, so a run whose every update validates worse
        // than where it started ships where it started.
        // It is also kept as start/, so that it can be scored as a candidate of its own.
        let v = validate(&trainer, spec, &refs)?;
        let json = validation_json(spec, &refs, &v, 0);
        state.best_val_profit = Some(v.profit_usd);
        resume::save(
            &trainer,
            spec,
            &spec.out.join("start"),
            &state,
            json.clone(),
        )?;
        resume::save(&trainer, spec, &spec.out.join("best"), &state, json)?;
    }
    while trainer.update < updates {
        let mut stats = trainer.step();
        stats.env_steps_per_sec =
            (trainer.env_steps - steps_at_start) as f64 / started.elapsed().as_secs_f64().max(1e-9);
        let due = cfg.validate_every > 0 && trainer.update % cfg.validate_every == 0;
        let val = if due || trainer.update == updates {
            Some(validate(&trainer, spec, &refs)?)
        } else {
            None
        };
        stats.val_profit = val.map(|v| v.profit_usd);
        stats.val_value_captured = val.map(|v| v.value_captured);
        append_metrics(&metrics, &stats)?;
        state.update = trainer.update;
        state.env_steps = trainer.env_steps;
        state.scaler = trainer.scaler.clone();
        if let Some(v) = val {
            last_val = Some(v);
            let json = validation_json(spec, &refs, &v, trainer.update);
            if state.best_val_profit.is_none_or(|b| v.profit_usd > b) {
                state.best_val_profit = Some(v.profit_usd);
                resume::save(&trainer, spec, &spec.out.join("best"), &state, json.clone())?;
            }
            resume::save(&trainer, spec, &spec.out.join("last"), &state, json)?;
        }
        bar.set_message(format!(
            "{:.0} steps/s | episode ${} | val {}",
            stats.env_steps_per_sec,
            stats
                .episode_profit
                .map(|p| format!("{:.0}k", p / 1e3))
                .unwrap_or("-".into()),
            last_val
                .map(|v| format!("{:.3} of oracle", v.value_captured))
                .unwrap_or("-".into())
        ));
        bar.inc(1);
    }
    bar.finish();
    Ok(RunSummary {
        env_steps: trainer.env_steps,
        seconds: started.elapsed().as_secs_f64(),
        best: spec.out.join("best"),
        last_validation: last_val,
        references: refs,
    })
}

/// The `validation` object of a checkpoint's `meta.json`: validation `v` at `update`.
fn validation_json(
    spec: &RunSpec,
    refs: &References,
    v: &Validation,
    update: usize,
) -> serde_json::Value {
    let mut json = serde_json::json!({"period": spec.data.val_period, "profit_usd": v.profit_usd, "value_captured": v.value_captured, "always_on_usd": refs.always_on, "oracle_usd": refs.oracle, "update": update});
    if !spec.data.val_data.is_empty() {
        json["val_data"] = serde_json::json!(spec.data.val_data);
    }
    json
}

/// Runs `job` on every validation window, one thread each (validation happens between
/// updates, when the trainer's threads are idle), and returns the results in order.
fn per_window<T: Send>(
    spec: &RunSpec,
    job: impl Fn(&TrainSource) -> Result<T, TrainError> + Sync,
) -> Result<Vec<T>, TrainError> {
    if spec.val.is_empty() {
        return Err(TrainError::NoValidation);
    }
    if spec.val.len() == 1 {
        return Ok(vec![job(&spec.val[0])?]);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = (spec.val.iter()).map(|w| scope.spawn(|| job(w))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// Profits of always-on and the oracle summed over the validation windows (oracle: an LP
/// of a year, a few seconds each).
pub fn references(spec: &RunSpec) -> Result<References, TrainError> {
    let expert = powermix_agent::ExpertParams::default_params();
    let each = per_window(spec, |w| {
        let f = PolicyFactory {
            market: &w.market,
            expert: &expert,
            seed: spec.seed,
            checkpoint: None,
            forecasts: None,
        };
        let a = f.run("always-on", w.start, w.end)?;
        let o = f.run("oracle", w.start, w.end)?;
        Ok((a.profit_usd, o.profit_usd))
    })?;
    Ok(References {
        always_on: each.iter().map(|r| r.0).sum(),
        oracle: each.iter().map(|r| r.1).sum(),
    })
}

/// Validates the current model: the deterministic policy (mean clamped to [0, 1]) through
/// the harness' backtest on each validation window (profits summed), with the serving
/// code path.
pub fn validate(t: &Trainer, spec: &RunSpec, refs: &References) -> Result<Validation, TrainError> {
    let tmp = spec.out.join(".validation");
    save_checkpoint(&tmp, &t.model, &info(t, spec, serde_json::Value::Null), &[])?;
    let profits = per_window(spec, |w| {
        let loaded = powermix_agent::load_checkpoint(&tmp)?;
        let mut policy = powermix_eval::planned_policy(loaded, &w.market.cfg);
        let score = powermix_eval::backtest(&w.market, w.start, w.end, policy.as_mut(), spec.seed)?;
        Ok(score.profit_usd)
    });
    let _ = std::fs::remove_dir_all(&tmp);
    let profit: f64 = profits?.iter().sum();
    let head = refs.oracle - refs.always_on;
    Ok(Validation {
        profit_usd: profit,
        value_captured: if head.abs() > 1e-6 {
            (profit - refs.always_on) / head
        } else {
            0.0
        },
    })
}

/// Appends one metrics row (writing the header first if the file is new).
pub fn append_metrics(path: &Path, s: &UpdateStats) -> Result<(), TrainError> {
    let new = !path.exists();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|reason| TrainError::Io {
            path: path.to_path_buf(),
            reason,
        })?;
    let err = |reason| TrainError::Metrics {
        path: path.to_path_buf(),
        reason,
    };
    let mut w = csv::WriterBuilder::new().has_headers(new).from_writer(file);
    w.serialize(s).map_err(err)?;
    w.flush().map_err(|e| err(e.into()))
}
