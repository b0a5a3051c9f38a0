//! The oracle and the day-ahead MPC on synthetic data, replayed through the env.

use powermix_agent::{ExpertParams, rule_policy};
use powermix_env::data::synth;
use powermix_env::{Market, SiteConfig};
use powermix_eval::backtest;
use powermix_eval::oracle::{Scheduled, oracle_plan};
use std::sync::Arc;

fn market_2024() -> Arc<Market> {
    Arc::new(Market::new(
        synth::synthetic_year(2024, 1),
        SiteConfig::default_site(),
    ))
}

#[test]
fn oracle_month_beats_rules() {
    let market = market_2024();
    // July: a 4CP month with summer spikes.
    let start = market.data.index_at(1_719_810_000_000); // 2024-07-01 05:00 UTC
    let end = start + 31 * 96;
    let seed = 3;
    let t0 = std::time::Instant::now();
    let plan = oracle_plan(&market, start, end, seed).expect("oracle solves");
    eprintln!("solve {:?} {:?}", t0.elapsed(), plan.stats);
    let lp = plan.objective_usd;
    let mut replay = Scheduled::from_plan("oracle", &market, start, plan);
    let oracle = backtest(&market, start, end, &mut replay, seed).unwrap();
    eprintln!(
        "oracle lp {lp:.0} replay {:.0} gap {:.0} ({:.4}%)",
        oracle.profit_usd,
        lp - oracle.profit_usd,
        100.0 * (lp - oracle.profit_usd) / lp
    );
    eprintln!("{:?}", oracle.ledger);
    let cfg = market.cfg.clone();
    for name in ["always-on", "threshold", "expert"] {
        let mut p = rule_policy(name, &cfg, &ExpertParams::default_params()).unwrap();
        let s = backtest(&market, start, end, p.as_mut(), seed).unwrap();
        eprintln!("{name} {:.0} {:?}", s.profit_usd, s.ledger);
        assert!(oracle.profit_usd >= s.profit_usd, "{name}");
    }
}
