//! `bench`: throughput and latency figures of powermix, measured in release builds.
//!
//! ```text
//! cargo run --release --bin bench -- env [--json]
//! cargo run --release --bin bench -- oracle [--json]
//! cargo run --release --bin bench -- infer [--json]
//! cargo run --release --bin bench -- train [--json] [--config FILE]
//! cargo run --release --bin bench -- policy [--json] [--checkpoint DIR]
//! ```
//! `bench --help` lists every flag.
//! - `env`: `env_steps_per_sec` (64 envs in a VecEnv, random actions, one thread, at least
//!   one second of stepping) and `year_rollout_ms` (one env over one synthetic year, best
//!   of 5 runs).
//! - `oracle`: `oracle_year_seconds` (the perfect-foresight LP over one synthetic year,
//!   built and solved, wall clock), the LP's size, solver iterations and objective, and the
//!   profit of its schedule replayed through the env.
//! - `infer`: the server's decision function in process (`decide_p50_us`, `decide_p99_us`:
//!   request struct -> snapshot -> policy or fallback -> projected action and expected
//!   ledger, 100,000 decisions over 21 whole days of consecutive intervals, the requests
//!   before each gate followed by an untimed 20 ms pause, as the 15 minutes of operation
//!   give the gate's LP time to finish on its own thread; `decide_gate_*_us`: the gates'
//!   decisions alone; `gate_lp_*_ms`: that LP timed alone) and over
//!   loopback HTTP (`http_p99_ms`, `http_req_per_sec`: 10,000 keep-alive requests from 4
//!   client threads to an in-process server on 127.0.0.1:0, no audit log; and
//!   `http_p99_ms_under_idle`: 1,000 req/s from 64 clients while 1,000 idle connections
//!   are open, see `infer_load.rs`).

mod infer_load;

use clap::{Parser, Subcommand};
use powermix_agent::rules::ExpertParams;
use powermix_data::synth;
use powermix_env::env::{Env, VecEnv, Window};
use powermix_env::market::is_pre_gate_local;
use powermix_env::rng::Rng;
use powermix_env::{ACTION_DIM, Action, Market, OBS_DIM, SiteConfig, SiteState};
use powermix_plan::mpc::DayAheadHead;
use powermix_plan::oracle::{Scheduled, oracle_plan};
use powermix_serve::{ServeOptions, Service, Source, TimeSource, load_primary};
use powermix_wire::{DecideRequest, request_from_market};
use rand::RngExt;
use std::hint::black_box;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

mod policy;

/// Speed figures of powermix, printed as JSON (release builds only give meaningful numbers).
#[derive(Parser, Debug)]
#[command(name = "bench", version)]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
    /// Print one JSON line instead of pretty-printed JSON
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum Bench {
    /// env_steps_per_sec (64 envs, random actions, one thread) and year_rollout_ms
    Env,
    /// oracle_year_seconds: the perfect-foresight LP over one synthetic year
    Oracle,
    /// The server's decision function in process and over loopback HTTP
    Infer,
    /// train_env_steps_per_sec: PPO rollouts and updates for 10 seconds
    Train {
        /// Hyperparameters TOML [default: the embedded configs/train.toml]
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// A loaded checkpoint's decision, part by part (act_raw, act on a snapshot, the
    /// snapshot alone, burn's forward pass with a batch of one)
    Policy {
        /// The checkpoint folder
        #[arg(long, value_name = "DIR", default_value = "checkpoints/default")]
        checkpoint: PathBuf,
        /// Decisions timed per part (the burn forward pass: a fortieth of them); the tests
        /// pass a few so that the command is checked end to end without the wait
        #[arg(long, value_name = "N", default_value_t = 200_000, hide = true)]
        reps: usize,
    },
}

fn synthetic_market() -> Arc<Market> {
    Arc::new(Market::new(
        synth::synthetic_year(2024, 7),
        SiteConfig::default_site(),
    ))
}

/// A pool of random actions (drawn once, so the timing measures the env, not the RNG).
fn action_pool(rows: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    (0..rows * ACTION_DIM).map(|_| r.random::<f32>()).collect()
}

fn bench_env() -> serde_json::Value {
    let market = synthetic_market();
    let n_envs = 64;
    let window = Window::Random {
        start: 0,
        end: market.len(),
        len: 96 * 14,
    };
    let mut venv = VecEnv::new(market.clone(), window, n_envs, 1).expect("bench window fits");
    let pool_rows = 1024;
    let pool = action_pool(pool_rows * n_envs, 2);
    // Warm up, then step in rounds until a second has passed.
    for k in 0..200 {
        let off = (k % pool_rows) * n_envs * ACTION_DIM;
        venv.step(&pool[off..off + n_envs * ACTION_DIM])
            .expect("valid actions");
    }
    let started = Instant::now();
    let mut steps = 0u64;
    let mut k = 0;
    while started.elapsed().as_secs_f64() < 1.5 {
        for _ in 0..256 {
            let off = (k % pool_rows) * n_envs * ACTION_DIM;
            venv.step(&pool[off..off + n_envs * ACTION_DIM])
                .expect("valid actions");
            k += 1;
            steps += n_envs as u64;
        }
        black_box(venv.obs());
    }
    let secs = started.elapsed().as_secs_f64();

    // One env over the whole year.
    let year_pool = action_pool(market.len(), 3);
    let actions: Vec<Action> = year_pool
        .chunks_exact(ACTION_DIM)
        .map(|a| Action::from_slice(a).expect("valid"))
        .collect();
    let mut best = f64::INFINITY;
    let mut profit = 0.0;
    for _ in 0..5 {
        let mut env = Env::new(
            market.clone(),
            Window::Whole {
                start: 0,
                end: market.len(),
            },
            5,
        )
        .expect("whole year");
        let mut obs = vec![0.0; OBS_DIM];
        let t0 = Instant::now();
        env.reset_into(Some(5), &mut obs);
        profit = 0.0;
        for a in &actions {
            let (r, _, term, trunc) = env.step_into(a, &mut obs);
            profit += r;
            if term || trunc {
                break;
            }
        }
        best = best.min(t0.elapsed().as_secs_f64() * 1e3);
    }
    serde_json::json!({
        "bench": "env",
        "env_steps_per_sec": (steps as f64 / secs).round(),
        "n_envs": n_envs,
        "seconds": secs,
        "year_rollout_ms": best,
        "year_intervals": market.len(),
        "year_profit_random_actions_usd": profit.round(),
    })
}

fn bench_oracle() -> Result<serde_json::Value, String> {
    let market = synthetic_market();
    let (start, end, seed) = (0, market.len(), 1);
    let t0 = Instant::now();
    let plan = oracle_plan(&market, start, end, seed).map_err(|e| e.0)?;
    let secs = t0.elapsed().as_secs_f64();
    let stats = plan.stats.clone();
    let objective = plan.objective_usd;
    let mut replay = Scheduled::from_plan("oracle", &market, start, plan);
    let score = powermix_eval::backtest(&market, start, end, &mut replay, seed).map_err(|e| e.0)?;
    Ok(serde_json::json!({
        "bench": "oracle",
        "oracle_year_seconds": secs,
        "build_seconds": stats.build_seconds,
        "solve_seconds": stats.solve_seconds,
        "year_intervals": market.len(),
        "variables": stats.variables,
        "constraints": stats.constraints,
        "nonzeros": stats.nonzeros,
        "iterations": stats.iterations,
        "status": stats.status,
        "retried_with_refinement": stats.retried,
        "objective_usd": objective.round(),
        "replayed_profit_usd": score.profit_usd.round(),
    }))
}

/// The request an operator sends for interval `t` of a market, the site in its initial
/// state, assembled a minute before t.
fn infer_request(m: &Market, t: usize) -> DecideRequest {
    request_from_market(m, t, &SiteState::initial(&m.cfg))
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// The shipped checkpoint, wherever the bench runs from.
const SHIPPED_CHECKPOINT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../checkpoints/default");

fn bench_infer() -> Result<serde_json::Value, String> {
    let market = synthetic_market();
    let cfg = market.cfg.clone();
    // 2,000 requests spread over the year (full 24 h price windows), for HTTP.
    let requests: Vec<DecideRequest> = (0..2000)
        .map(|k| infer_request(&market, 96 + k * (market.len() - 200) / 2000))
        .collect();
    // In process, what a server sees in operation: whole days of consecutive intervals
    // (21 days spread over the year), so that the head records each day's curves and plans
    // each gate from the interval before it.
    let days = 21;
    let day_requests: Vec<(DecideRequest, bool)> = (0..days)
        .flat_map(|k| {
            let (start, end) = market.day_range(96 + k * (market.len() - 400) / days);
            (start..end).map(|t| {
                (
                    infer_request(&market, t),
                    is_pre_gate_local(&market.local[t]),
                )
            })
        })
        .collect();
    let gate_lp_ms = gate_lp_times(&market, days);
    // A fresh server for each pass over the days: the day-ahead head is fed each interval
    // once, in order, so a second pass over the same days on one server would skip the
    // gate's LP (an older interval never feeds the head) and time a path operators never run.
    let fresh_service = || -> Result<Arc<Service>, String> {
        Ok(Arc::new(
            Service::new(
                cfg.clone(),
                ExpertParams::default_params(),
                ServeOptions {
                    // The shipped policy (residual PPO on the expert): the path operators run.
                    checkpoint_dir: SHIPPED_CHECKPOINT.into(),
                    time: TimeSource::Replay,
                    ..ServeOptions::default()
                },
                Arc::new(load_primary),
            )
            .map_err(|e| e.to_string())?,
        ))
    };
    let mut service = fresh_service()?;
    let n = 100_000;
    for (r, _) in &day_requests {
        black_box(service.decider.decide_request(r).map_err(|e| e.message)?);
    }
    let mut lat = Vec::with_capacity(n);
    let mut gate_lat: Vec<f64> = Vec::new();
    let mut fallback = 0usize;
    for k in 0..n {
        if k % day_requests.len() == 0 {
            service = fresh_service()?;
        }
        let (r, pre_gate) = &day_requests[k % day_requests.len()];
        let t0 = Instant::now();
        let a = service.decider.decide_request(r);
        let us = t0.elapsed().as_secs_f64() * 1e6;
        lat.push(us);
        let a = a.map_err(|e| e.message)?;
        fallback += (a.source == Source::Fallback) as usize;
        if a.day_ahead_offer.is_some() {
            gate_lat.push(us);
        }
        black_box(a);
        if *pre_gate {
            // The next request (the gate's) comes 15 minutes later in operation; the gate's
            // LP, started by this one on its own thread, takes about 5 ms. Not timed.
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    lat.sort_by(f64::total_cmp);
    gate_lat.sort_by(f64::total_cmp);

    // HTTP (closed loop, and under 1,000 idle connections): see infer_load.
    let bodies: Vec<Vec<u8>> = requests
        .iter()
        .map(|r| serde_json::to_vec(r).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let body_bytes = bodies.iter().map(Vec::len).sum::<usize>() / bodies.len();
    let day_bodies: Vec<(Vec<u8>, bool)> = day_requests
        .iter()
        .map(|(r, pre_gate)| {
            serde_json::to_vec(r)
                .map(|b| (b, *pre_gate))
                .map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    let http = infer_load::http_figures(fresh_service()?, bodies, &day_bodies)?;
    let mut out = serde_json::json!({
        "bench": "infer",
        "decide_p50_us": percentile(&lat, 0.50),
        "decide_p99_us": percentile(&lat, 0.99),
        "decide_max_us": percentile(&lat, 1.0),
        "decide_gate_p50_us": percentile(&gate_lat, 0.50),
        "decide_gate_max_us": percentile(&gate_lat, 1.0),
        "gate_lp_p50_ms": percentile(&gate_lp_ms, 0.50),
        "gate_lp_max_ms": percentile(&gate_lp_ms, 1.0),
        "decisions": n,
        "decisions_by_fallback": fallback,
        "policy": match &service.decider.status().model_id {
            Some(id) => format!("checkpoints/default ({id})"),
            None => "expert fallback (checkpoints/default did not load)".to_string(),
        },
        "http_body_bytes_mean": body_bytes,
    });
    if let Some(o) = out.as_object_mut() {
        o.extend(http);
    }
    Ok(out)
}

/// The day-ahead head's gate LP (run off the request path by the server), timed alone on
/// `days` days spread over the market's year: ms per LP, sorted.
fn gate_lp_times(m: &Market, days: usize) -> Vec<f64> {
    let state = SiteState::initial(&m.cfg);
    let mut head = DayAheadHead::new(&m.cfg);
    let mut out = Vec::with_capacity(days);
    for k in 0..days {
        let (start, end) = m.day_range(96 + k * (m.len() - 400) / days);
        for t in start..end {
            let snap = m.snapshot(t, &state);
            if let Some(job) = head.step(&snap) {
                let t0 = Instant::now();
                head.finish(black_box(job.run()));
                out.push(t0.elapsed().as_secs_f64() * 1e3);
            }
            head.take_offer(&snap);
        }
    }
    out.sort_by(f64::total_cmp);
    out
}

/// PPO throughput with the default hyperparameters (configs/train.toml): rollouts plus
/// updates, on the synthetic year, for at least 10 seconds after one warm-up update.
fn bench_train(config: Option<&std::path::Path>) -> Result<serde_json::Value, String> {
    use powermix_training::config::TrainConfig;
    use powermix_training::ppo::Trainer;
    let market = synthetic_market();
    let cfg = match config {
        Some(p) => TrainConfig::load(p).map_err(|e| e.to_string())?,
        None => TrainConfig::default_config(),
    };
    let mut t =
        Trainer::new(cfg.clone(), market.clone(), 0, market.len(), 1).map_err(|e| e.to_string())?;
    t.step();
    let (steps0, started) = (t.env_steps, Instant::now());
    let (mut updates, mut rollout, mut optimise) = (0, 0.0, 0.0);
    while started.elapsed().as_secs_f64() < 10.0 {
        let s = t.step();
        rollout += s.rollout_seconds;
        optimise += s.optimise_seconds;
        updates += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(serde_json::json!({
        "bench": "train",
        "train_env_steps_per_sec": ((t.env_steps - steps0) as f64 / secs).round(),
        "updates": updates,
        "seconds": secs,
        "rollout_share": rollout / secs,
        "optimise_share": optimise / secs,
        "batch": cfg.batch(),
        "epochs": cfg.epochs,
        "minibatch": cfg.minibatch,
    }))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.bench {
        Bench::Env => Ok(bench_env()),
        Bench::Oracle => bench_oracle(),
        Bench::Infer => bench_infer(),
        Bench::Train { config } => bench_train(config.as_deref()),
        Bench::Policy { checkpoint, reps } => policy::bench_policy(checkpoint, *reps),
    };
    let v = match result {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if cli.json {
        println!("{v}");
    } else {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    }
    ExitCode::SUCCESS
}
