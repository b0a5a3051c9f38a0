//! The network is what acts: a checkpoint with its network's output forced to zero
//! (`ppo-base`, `LoadedPolicy::with_network_off`) decides exactly as its base (the rules it
//! corrects, with the same day-ahead head), and a network whose output is not near zero
//! decides otherwise. So the tables that show `ppo` beside `ppo-base` measure the network.

use burn::module::Param;
use burn::tensor::Device;
use powermix_agent::checkpoint::{CheckpointInfo, save_checkpoint};
use powermix_agent::net::ActorCriticConfig;
use powermix_agent::{Expert, load_checkpoint};
use powermix_data::synth;
use powermix_env::{Market, SiteConfig};
use powermix_eval::harness::PolicyFactory;
use powermix_eval::{Score, backtest};
use powermix_plan::mpc::WithHead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../checkpoints/default")
}

/// Two July weeks of a generated year: a 4CP month, with the day-ahead gates.
fn market() -> Arc<Market> {
    let year = synth::synthetic_year(2024, 3);
    let start = year.index_at(1_720_000_000_000); // 2024-07-03
    Arc::new(Market::new(
        year.slice(start, start + 14 * 96),
        SiteConfig::default_site(),
    ))
}

fn run(m: &Arc<Market>, policy: &str, ckpt: &Path) -> Score {
    let expert = powermix_agent::ExpertParams::default_params();
    PolicyFactory {
        market: m,
        expert: &expert,
        seed: 7,
        checkpoint: Some(ckpt),
        forecasts: None,
    }
    .run(policy, 0, m.len())
    .unwrap()
}

/// Intervals whose dispatch differs between two backtests.
fn differing(a: &Score, b: &Score) -> usize {
    a.trace
        .dispatch
        .iter()
        .zip(&b.trace.dispatch)
        .filter(|(x, y)| x != y)
        .count()
}

#[test]
fn the_network_off_is_exactly_the_base_rules_with_the_head() {
    let m = market();
    let loaded = load_checkpoint(&shipped()).unwrap();
    let rules = loaded
        .meta
        .base_policy
        .clone()
        .expect("a residual of rules");
    assert_eq!(
        loaded.day_ahead_head(),
        Some(powermix_plan::mpc::PRICED_HEAD)
    );
    let base = run(&m, "ppo-base", &shipped());
    let head =
        powermix_plan::mpc::DayAheadHead::named(powermix_plan::mpc::PRICED_HEAD, &m.cfg).unwrap();
    assert!(head.priced());
    let mut rules_with_head = WithHead::of(Box::new(Expert::new(&m.cfg, rules)), head);
    let reference = backtest(&m, 0, m.len(), &mut rules_with_head, 7).unwrap();
    assert_eq!(differing(&base, &reference), 0);
    assert_eq!(base.trace.offers, reference.trace.offers);
    assert_eq!(base.profit_usd.to_bits(), reference.profit_usd.to_bits());
}

/// A checkpoint on the shipped rules and head whose network's output layer is scaled to
/// act (the untrained start scales it by 0.01), in a fresh temp folder.
fn acting_checkpoint() -> PathBuf {
    let device = Device::flex();
    let mut model = ActorCriticConfig::default().init_seeded(4, &device);
    let last = model.actor.last_mut().unwrap();
    last.weight = Param::initialized(last.weight.id, last.weight.val() * 100.0);
    let ship = load_checkpoint(&shipped()).unwrap();
    let info = CheckpointInfo {
        base_policy: ship.meta.base_policy.clone(),
        day_ahead_head: ship.meta.day_ahead_head.clone(),
        ..CheckpointInfo::untrained(SiteConfig::default_site(), 4)
    };
    let dir = std::env::temp_dir()
        .join(format!("powermix-contribution-{}", std::process::id()))
        .join("ckpt");
    let _ = std::fs::remove_dir_all(&dir);
    save_checkpoint(&dir, &model, &info, &[]).unwrap();
    dir
}

#[test]
fn a_network_that_acts_differs_from_its_base() {
    let m = market();
    let dir = acting_checkpoint();
    let with_net = run(&m, "ppo", &dir);
    let base = run(&m, "ppo-base", &dir);
    let n = differing(&with_net, &base);
    assert!(
        n > m.len() / 10,
        "{n} of {} intervals differ from the base",
        m.len()
    );
    // Its base is the shipped checkpoint's base: the same rules and head.
    let shipped_base = run(&m, "ppo-base", &shipped());
    assert_eq!(differing(&base, &shipped_base), 0);
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}
