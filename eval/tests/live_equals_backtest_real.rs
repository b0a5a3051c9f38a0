//! Live equals backtest on real data, every interval of every year and hub in
//! `../shared/data`: each interval's request (what an operator's system would send,
//! `request_from_market`) goes through the server's decision path in process
//! (`Decider::decide_request`, the function HTTP and `--stdin` call), and the answer must
//! be the backtest's dispatch and day-ahead offer to the bit. Run for the shipped checkpoint
//! and for a server with no checkpoint (the expert fallback) against the expert's backtest.
//!
//! Every fallback met is counted per year with its reason, and must be one a live operator
//! would get too: an emergency notice in force (or, with no checkpoint, `no_checkpoint`).
//! Prices above the offer cap (adders: $9,310 in 2021, $5,215.59 in September 2023) are
//! valid inputs, never `invalid_input`.
//!
//! Needs `../shared/data` (ignored by default; CI runs it). About 3 minutes in release.

use powermix_agent::rules::ExpertParams;
use powermix_env::time::local_time;
use powermix_env::{Market, SiteConfig};
use powermix_eval::harness::PolicyFactory;
use powermix_serve::{Decider, Source, TimeLimits, TimeSource, load_primary};
use powermix_wire::request_from_market;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn shared_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/ercot")
}

fn shipped_checkpoint() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../checkpoints/default")
}

/// Per local year: (answers by the policy, fallbacks by reason).
type Counts = BTreeMap<i32, (usize, BTreeMap<String, usize>)>;

/// Replays the backtest of `policy` over the whole market through a decider holding
/// `checkpoint` (None: the fallback only) and returns the counts per year.
fn replay(market: &Arc<Market>, policy: &str, checkpoint: Option<&Path>) -> Counts {
    let cfg = market.cfg.clone();
    let expert = ExpertParams::default_params();
    let factory = PolicyFactory {
        market,
        expert: &expert,
        seed: 7,
        checkpoint,
        forecasts: None,
    };
    let score = factory.run(policy, 0, market.len()).expect("backtest");
    let tr = &score.trace;
    let decider = Decider::new(
        cfg.clone(),
        expert.clone(),
        TimeLimits::default(),
        TimeSource::Replay,
    );
    if let Some(dir) = checkpoint {
        decider
            .install(load_primary(dir, &cfg))
            .expect("the shipped checkpoint loads");
    }
    let mut counts = Counts::new();
    let mut offers = tr.offers.iter().peekable();
    let mut mismatches = Vec::new();
    for (k, (state, dispatch)) in tr.states.iter().zip(&tr.dispatch).enumerate() {
        let t = tr.start + k;
        let req = request_from_market(market, t, state);
        let a = decider.decide_request(&req).expect("a valid request");
        let year = local_time(market.interval_start_ms(t)).year;
        let entry = counts.entry(year).or_default();
        match (a.source, a.reason) {
            (Source::Policy, _) => entry.0 += 1,
            (Source::Fallback, Some(r)) => *entry.1.entry(r.code().to_string()).or_default() += 1,
            (Source::Fallback, None) => {
                panic!("{}: a fallback without reason", req.interval_start_utc)
            }
        }
        let live = a.dispatch();
        let same = |x: f64, y: f64| x.to_bits() == y.to_bits();
        let equal = same(live.inference_mw, dispatch.inference_mw)
            && same(live.training_mw, dispatch.training_mw)
            && (0..3).all(|i| same(live.tranche_mw[i], dispatch.tranche_mw[i]))
            && (0..3).all(|i| same(live.award_mw[i], dispatch.award_mw[i]));
        if !equal && mismatches.len() < 5 {
            mismatches.push(format!(
                "{} ({:?} {:?}): backtest {dispatch:?}, live {live:?}",
                req.interval_start_utc, a.source, a.reason
            ));
        }
        match offers.next_if(|(at, _)| *at == k) {
            Some((_, offer)) => {
                let live = a
                    .day_ahead_offer
                    .as_ref()
                    .unwrap_or_else(|| panic!("{}: no live offer", req.interval_start_utc));
                assert_eq!(
                    live.hours, offer.hours,
                    "{}: day-ahead offer differs",
                    req.interval_start_utc
                );
            }
            None => assert!(
                a.day_ahead_offer.is_none(),
                "{}: a live offer the backtest did not make",
                req.interval_start_utc
            ),
        }
    }
    assert!(
        mismatches.is_empty(),
        "{policy} on {}: dispatches differ, first ones:\n{}",
        market.settlement_point(),
        mismatches.join("\n")
    );
    counts
}

fn hub_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(shared_data())
        .expect("../shared/data/ercot")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    files
}

#[test]
#[ignore = "needs ../shared/data (CI has it)"]
fn every_real_interval_decides_the_same_live_and_in_backtest() {
    let cfg = SiteConfig::default_site();
    let mut report = Vec::new();
    for file in hub_files() {
        let (data, _) = powermix_data::load_market_data(&file, &cfg.data_fill)
            .unwrap_or_else(|e| panic!("{e}"));
        let market = Arc::new(Market::new(data, cfg.clone()));
        let hub = market.settlement_point().to_string();
        for (policy, ckpt) in [("ppo", Some(shipped_checkpoint())), ("expert", None)] {
            let counts = replay(&market, policy, ckpt.as_deref());
            for (year, (by_policy, fallbacks)) in &counts {
                for reason in fallbacks.keys() {
                    let expected = match policy {
                        "ppo" => reason == "emergency",
                        _ => reason == "no_checkpoint" || reason == "emergency",
                    };
                    assert!(
                        expected,
                        "{hub} {year} {policy}: fallback {reason} ({fallbacks:?})"
                    );
                }
                report.push(format!(
                    "{hub} {year} {policy:<6} policy {by_policy:>6} fallbacks {fallbacks:?}"
                ));
            }
        }
    }
    // The per-year table of docs/serving.md ("Live equals backtest").
    eprintln!("{}", report.join("\n"));
}
