//! `bench`: throughput and latency figures of powermix, measured in release builds.
//!
//! ```text
//! cargo run --release --bin bench -- env [--json]
//! cargo run --release --bin bench -- oracle [--json]
//! ```
//! - `env`: `env_steps_per_sec` (64 envs in a VecEnv, random actions, one thread, at least
//!   one second of stepping) and `year_rollout_ms` (one env over one synthetic year, best
//!   of 5 runs).
//! - `oracle`: `oracle_year_seconds` (the perfect-foresight LP over one synthetic year,
//!   built and solved, wall clock), the LP's size, solver iterations and objective, and the
//!   profit of its schedule replayed through the env.

use powermix_env::data::synth;
use powermix_env::env::{Env, VecEnv, Window};
use powermix_env::rng::Rng;
use powermix_env::{ACTION_DIM, Action, Market, OBS_DIM, SiteConfig};
use powermix_eval::oracle::{Scheduled, oracle_plan};
use std::hint::black_box;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

const USAGE: &str = "usage: bench env|oracle [--json]";

fn synthetic_market() -> Arc<Market> {
    Arc::new(Market::new(
        synth::synthetic_year(2024, 7),
        SiteConfig::default_site(),
    ))
}

/// A pool of random actions (drawn once, so the timing measures the env, not the RNG).
fn action_pool(rows: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    (0..rows * ACTION_DIM).map(|_| r.uniform_f32()).collect()
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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let which = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(String::as_str);
    let v = match which {
        Some("env") => bench_env(),
        Some("oracle") => match bench_oracle() {
            Ok(v) => v,
            Err(e) => {
                eprintln!("bench oracle: {e}");
                return ExitCode::FAILURE;
            }
        },
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if json {
        println!("{v}");
    } else {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    }
    ExitCode::SUCCESS
}
