//! The harness's bookkeeping: weeks, regimes, errors.

use powermix_agent::rules::ExpertParams;
use powermix_data::synth;
use powermix_env::time::parse_period;
use powermix_env::{Market, SiteConfig};
use powermix_eval::harness::{EvalRequest, SCARCITY_PRICE, evaluate, weeks};
use std::sync::Arc;

fn synthetic_2024() -> Arc<Market> {
    Arc::new(Market::new(
        synth::synthetic_year(2024, 3),
        SiteConfig::default_site(),
    ))
}

#[test]
fn weeks_partition_the_period_and_are_classified() {
    let m = synthetic_2024();
    let ws = weeks(&m, 0, m.len());
    assert_eq!(ws.first().unwrap().start, 0);
    assert_eq!(ws.last().unwrap().end, m.len());
    for pair in ws.windows(2) {
        assert_eq!(pair[0].end, pair[1].start);
    }
    // 366 days: 52 full weeks and 2 days. DST weeks have 668 or 676 intervals.
    assert_eq!(ws.len(), 53);
    for w in &ws[..52] {
        assert!(
            [668, 672, 676].contains(&(w.end - w.start)),
            "{}",
            w.end - w.start
        );
    }
    for w in &ws {
        let scarce = m.hindsight().data.rt_price[w.start..w.end]
            .iter()
            .any(|&p| p > SCARCITY_PRICE);
        assert_eq!(w.regimes.contains(&"scarcity_weeks".to_string()), scarce);
        assert_eq!(w.regimes.contains(&"calm_weeks".to_string()), !scarce);
    }
    // Weeks start on Mondays (2024-01-01 is one). June 1 (a Saturday) falls in the week of
    // May 27; September 30 is a Monday starting the last 4CP week: (Sep 30 - May 27) / 7 + 1.
    let cp = ws
        .iter()
        .filter(|w| w.regimes.contains(&"four_cp_weeks".to_string()))
        .count();
    assert_eq!(cp, 19);
    assert!(
        ws.iter()
            .all(|w| !w.regimes.contains(&"emergency_weeks".to_string())),
        "no ERCOT emergency in 2024"
    );
}

#[test]
fn weeks_with_an_ercot_notice_are_emergency_weeks() {
    let m = Market::new(synth::synthetic_year(2021, 1), SiteConfig::default_site());
    let (s, e) = parse_period("2021-02-01..2021-03-01").unwrap();
    let ws = weeks(&m, m.index_at(s), m.index_at(e));
    let em: Vec<_> = ws
        .iter()
        .filter(|w| w.regimes.contains(&"emergency_weeks".to_string()))
        .collect();
    // Uri's notices (15-19 Feb) fall in the week starting Feb 15 only.
    assert_eq!(em.len(), 1);
    let l = m.local[em[0].start];
    assert_eq!((l.month, l.day), (2, 15));
}

#[test]
fn unknown_policy_is_named() {
    let m = synthetic_2024();
    let policies = vec!["expert".to_string(), "magic".to_string()];
    let err = evaluate(EvalRequest {
        market: &m,
        start: 0,
        end: 96,
        policies: &policies,
        expert: &ExpertParams::default_params(),
        seed: 1,
        period: "x",
        by_week: false,
        checkpoint: None,
        forecasts: None,
    })
    .unwrap_err();
    assert!(err.0.contains("unknown policy `magic`"), "{err}");
    assert!(err.0.contains("day-ahead-mpc"), "{err}");
}
