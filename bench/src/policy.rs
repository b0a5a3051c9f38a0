//! `bench policy`: the parts of one decision of a loaded checkpoint, one observation at a
//! time (formerly the ignored `inference_timing` test of agent/tests/checkpoint.rs).

use burn::tensor::{Device, Tensor, TensorData};
use powermix_agent::{Policy, load_checkpoint};
use powermix_data::synth;
use powermix_env::rng::Rng;
use powermix_env::{ACTION_DIM, Market, OBS_DIM, SiteConfig, SiteState};
use rand::RngExt;
use rand_distr::StandardNormal;
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

/// Times `act_raw` (normalise + plain-Rust actor; an ensemble's first member only), `act`
/// on a market snapshot (snapshot, observation, every member's actor, base policy), `Market::snapshot` alone, and burn's own forward pass
/// with a batch of one (what the plain-Rust actor replaces), for the checkpoint in `dir`,
/// `reps` decisions each (burn's pass: a fortieth of them). The forward pass reads the
/// network's own input width: a network from before the desk's features (the shipped one)
/// reads the observation's first `obs_dim` features, as `act_raw` does.
pub fn bench_policy(dir: &Path, reps: usize) -> Result<serde_json::Value, String> {
    let mut p = load_checkpoint(dir).map_err(|e| e.to_string())?;
    let cfg = SiteConfig::default_site();
    let market = Market::new(synth::synthetic_year(2024, 7), cfg.clone());
    let state = SiteState::initial(&cfg);
    let n = market.len();
    let mut rng = Rng::new(1);
    let obs: Vec<f32> = (0..1000 * OBS_DIM)
        .map(|i| {
            (rng.sample::<f64, _>(StandardNormal) * (1.0 + (i % 5) as f64) + (i % 3) as f64) as f32
        })
        .collect();
    let row = |k: usize| &obs[(k % 1000) * OBS_DIM..(k % 1000 + 1) * OBS_DIM];

    let reps = reps.max(1);
    let t0 = Instant::now();
    for k in 0..reps {
        black_box(p.act_raw(row(k))[k % ACTION_DIM]);
    }
    let raw_us = t0.elapsed().as_secs_f64() * 1e6 / reps as f64;

    let t0 = Instant::now();
    for k in 0..reps {
        let snap = market.snapshot((k * 7919) % n, &state);
        black_box(p.act(&snap));
    }
    let act_us = t0.elapsed().as_secs_f64() * 1e6 / reps as f64;

    let t0 = Instant::now();
    for k in 0..reps {
        black_box(market.snapshot((k * 7919) % n, &state));
    }
    let snap_us = t0.elapsed().as_secs_f64() * 1e6 / reps as f64;

    let dev = Device::flex();
    let breps = (reps / 40).max(1);
    let width = p.meta.obs_dim;
    let t0 = Instant::now();
    for k in 0..breps {
        let x = Tensor::<2>::from_data(TensorData::new(row(k)[..width].to_vec(), [1, width]), &dev);
        black_box(p.model.deterministic_action(x).into_data());
    }
    let burn_us = t0.elapsed().as_secs_f64() * 1e6 / breps as f64;
    Ok(serde_json::json!({
        "bench": "policy",
        "checkpoint": dir.display().to_string(),
        "obs_dim": width,
        "act_raw_us": raw_us,
        "act_snapshot_us": act_us,
        "market_snapshot_us": snap_us,
        "burn_forward_batch1_us": burn_us,
    }))
}
