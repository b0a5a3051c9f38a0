//! The accounting identity against an independent computation, over real years: every
//! ledger line of every step is recomputed from the dispatch that ran, the prices of the
//! data file and the site config by a plain reference written here (not by summing the
//! lines the settler produced), and must match to the cent; so must the reward.
//!
//! The reference shares no code with `powermix_env::settlement`: it reads the config's
//! fields itself, finds the 4CP intervals from the system load with its own US/Central
//! calendar (chrono-tz), and tracks the site's previous dispatch itself. Actions are random
//! (seeded), so training restarts, miner starts, reserve awards, deployments and the
//! EEA days of the calendar all occur. Index and fixed-block contracts.
//!
//! Needs `../shared/data` (ignored by default; CI runs it).

use chrono::{Datelike, TimeZone};
use chrono_tz::US::Central;
use powermix_data::load_market_data;
use powermix_env::config::ContractKind;
use powermix_env::data::MarketData;
use powermix_env::{ACTION_DIM, Action, Env, Ledger, Market, OBS_DIM, SiteConfig, Window};
use std::path::Path;
use std::sync::Arc;

/// A tiny seeded generator (xorshift64*), so the actions depend on nothing in the crate.
struct Xs(u64);

impl Xs {
    fn unit(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// 4CP weight of each interval: in each configured local month, 1/k on each of the k
/// intervals at the month's highest system load.
fn reference_four_cp(data: &MarketData, months: &[u8]) -> Vec<f64> {
    let month_of = |ms: i64| {
        let t = Central.timestamp_millis_opt(ms).unwrap();
        (t.year(), t.month() as u8)
    };
    let keys: Vec<(i32, u8)> = data
        .interval_start_ms
        .iter()
        .map(|&t| month_of(t))
        .collect();
    let mut w = vec![0.0; data.len()];
    let mut start = 0;
    while start < data.len() {
        let mut end = start;
        while end < data.len() && keys[end] == keys[start] {
            end += 1;
        }
        if months.contains(&keys[start].1) {
            let load = &data.system_load_mw[start..end];
            let peak = load.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let at: Vec<usize> = (start..end)
                .filter(|&t| data.system_load_mw[t] == peak)
                .collect();
            for &t in &at {
                w[t] = 1.0 / at.len() as f64;
            }
        }
        start = end;
    }
    w
}

/// Every line of one interval, from first principles (DESIGN.md, "The site" and "The
/// market"): `d` is the dispatch that ran, `prev_*` the dispatch before it.
#[allow(clippy::too_many_arguments)]
fn reference_ledger(
    cfg: &SiteConfig,
    d: &powermix_env::Dispatch,
    prev_training_mw: f64,
    prev_tranche_mw: [f64; 3],
    rt: f64,
    reserve_price: [f64; 3],
    hashprice: f64,
    four_cp_weight: f64,
    deployed: [bool; 3],
) -> Ledger {
    let hours = 0.25;
    let mut l = Ledger::default();
    // Awards are covered by running miners, RRS first; the deployed products' covered MW
    // drop, least efficient machines first.
    let mut free = d.tranche_mw.iter().sum::<f64>();
    let mut dropped = 0.0;
    for p in 0..3 {
        let award = d.award_mw[p].max(0.0);
        let covered = award.min(free);
        free -= covered;
        l.reserve_revenue += award * reserve_price[p] * hours;
        l.reserve_shortfall -= (award - covered)
            * (reserve_price[p] + cfg.reserves.replacement_cost_usd_per_mw_h)
            * hours;
        if deployed[p] {
            dropped += covered;
        }
    }
    let mut running = d.tranche_mw;
    let mut order: Vec<usize> = (0..3).collect();
    order.sort_by(|&a, &b| {
        let e = |i: usize| cfg.mining.tranches[i].efficiency_j_per_th;
        e(b).total_cmp(&e(a))
    });
    for i in order {
        let cut = running[i].min(dropped);
        running[i] -= cut;
        dropped -= cut;
    }
    // Mining: MW / (J/TH) = 1e3 / (J/TH) PH/s per MW; hashprice is per PH/s per day.
    let ph: f64 = (0..3)
        .map(|i| running[i] * 1e3 / cfg.mining.tranches[i].efficiency_j_per_th)
        .sum();
    l.mining_revenue = ph * hashprice * (1.0 - cfg.mining.pool_fee) * hours / 24.0;
    let ai = &cfg.ai;
    l.ai_revenue = (d.inference_mw * ai.inference_revenue_usd_per_mwh
        + d.training_mw * ai.training_revenue_usd_per_mwh)
        * hours;
    let unserved = (ai.inference_mw - d.inference_mw).max(0.0);
    l.inference_penalty =
        -unserved * ai.inference_revenue_usd_per_mwh * ai.inference_penalty_multiple * hours;
    let restarted = (d.training_mw - prev_training_mw).max(0.0);
    l.training_restart_loss = -restarted * ai.restart_loss_hours * ai.training_revenue_usd_per_mwh;
    let load = cfg.plant.balance_of_plant_mw
        + d.inference_mw
        + d.training_mw
        + running.iter().sum::<f64>();
    let c = &cfg.contract;
    match c.kind {
        ContractKind::Index => l.energy_cost = -load * rt * hours,
        ContractKind::FixedBlock => {
            l.energy_cost = -c.block_mw * c.block_price_usd_per_mwh * hours
                - (load - c.block_mw).max(0.0) * rt * hours;
            l.power_credits = (c.block_mw - load).max(0.0) * rt * hours;
        }
    }
    // $/kW-year x 1000 kW/MW, a quarter per peak.
    l.four_cp_charge = -load * cfg.four_cp.rate_usd_per_kw_year * 1000.0 / 4.0 * four_cp_weight;
    let started: f64 = (0..3)
        .map(|i| (d.tranche_mw[i] - prev_tranche_mw[i]).max(0.0))
        .sum();
    l.wear = -started * cfg.mining.wear_usd_per_mw_start;
    l
}

fn check_year_by_year(cfg: SiteConfig, file: &Path) -> usize {
    let (data, _) = load_market_data(file, &cfg.data_fill).unwrap_or_else(|e| panic!("{e}"));
    let four_cp = reference_four_cp(&data, &cfg.four_cp.months);
    let market = Arc::new(Market::new(data.clone(), cfg.clone()));
    let mut env = Env::new(
        market.clone(),
        Window::Whole {
            start: 0,
            end: market.len(),
        },
        11,
    )
    .unwrap();
    let mut obs = vec![0.0; OBS_DIM];
    env.reset_into(Some(11), &mut obs);
    let mut rng = Xs(0x9E37_79B9_7F4A_7C15);
    let (mut prev_training, mut prev_tranche) = (cfg.ai.training_mw, [0.0; 3]);
    for (i, t) in cfg.mining.tranches.iter().enumerate() {
        prev_tranche[i] = t.capacity_mw;
    }
    let (mut sum_ref, mut sum_env) = (Ledger::default(), Ledger::default());
    let mut steps = 0;
    loop {
        // Mostly on, sometimes off: starts and stops happen often.
        let values: [f32; ACTION_DIM] = std::array::from_fn(|_| {
            let u = rng.unit();
            if u < 0.6 { 1.0 } else { rng.unit() }
        });
        let action = Action::from_slice(&values).unwrap();
        let (reward, info, terminated, truncated) = env.step_into(&action, &mut obs);
        let t = info.index;
        let d = &info.dispatch;
        let r = reference_ledger(
            &cfg,
            d,
            prev_training,
            prev_tranche,
            data.rt_price[t],
            [data.as_rrs[t], data.as_ecrs[t], data.as_nspin[t]],
            data.hashprice[t],
            four_cp[t],
            info.deployed,
        );
        let e = &info.settlement.ledger;
        for ((name, ours), (_, theirs)) in r.named().zip(e.named()) {
            assert!(
                (ours - theirs).abs() < 0.005,
                "{} interval {t}: {name} reference {ours} vs settled {theirs} ({d:?})",
                file.display()
            );
        }
        assert!(
            (r.total() - reward).abs() < 0.01,
            "interval {t}: reward {reward} vs reference total {}",
            r.total()
        );
        sum_ref.add(&r);
        sum_env.add(e);
        prev_training = d.training_mw;
        prev_tranche = d.tranche_mw;
        steps += 1;
        if terminated || truncated {
            break;
        }
    }
    // The run exercised the lines: each that can be non-zero here was, somewhere.
    for (name, v) in sum_ref.named() {
        let may_be_zero = matches!(name, "inference_penalty" | "reserve_shortfall")
            || name == "power_credits" && cfg.contract.kind == ContractKind::Index;
        assert!(may_be_zero || v != 0.0, "{name} never occurred");
    }
    // Over seven years the sums agree to the cent as well.
    for ((name, ours), (_, theirs)) in sum_ref.named().zip(sum_env.named()) {
        assert!((ours - theirs).abs() < 0.01, "{name}: {ours} vs {theirs}");
    }
    steps
}

#[test]
#[ignore = "needs ../shared/data (CI has it)"]
fn every_ledger_line_matches_an_independent_reference_over_real_years() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/ercot/hb_west_2018_2024.parquet");
    let index = SiteConfig::default_site();
    assert_eq!(index.contract.kind, ContractKind::Index);
    assert_eq!(check_year_by_year(index.clone(), &file), 245_472);
    let mut block = index;
    block.contract.kind = ContractKind::FixedBlock;
    block.contract.block_mw = 80.0;
    block.contract.block_price_usd_per_mwh = 45.0;
    assert_eq!(check_year_by_year(block, &file), 245_472);
}
