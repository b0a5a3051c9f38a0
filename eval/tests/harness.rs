//! The harness's bookkeeping: weeks, regimes, errors.

use powermix_agent::rules::ExpertParams;
use powermix_env::data::synth;
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
        let scarce = m.data.rt_price[w.start..w.end]
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
            .all(|w| !w.regimes.iter().any(|r| r.ends_with("uri_week")))
    );
}

#[test]
fn the_uri_window_is_a_regime_in_2021() {
    let mut cfg = SiteConfig::default_site();
    cfg.emergency.windows[0].name = "Winter Storm Uri".into();
    let m = Market::new(synth::synthetic_year(2021, 1), cfg);
    let (s, e) = parse_period("2021-02-01..2021-03-01").unwrap();
    let ws = weeks(&m, m.data.index_at(s), m.data.index_at(e));
    let uri: Vec<_> = ws
        .iter()
        .filter(|w| w.regimes.contains(&"winter_storm_uri_week".to_string()))
        .collect();
    // Feb 14-19 spans the weeks starting Feb 8 and Feb 15.
    assert_eq!(uri.len(), 2);
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
    })
    .unwrap_err();
    assert!(err.0.contains("unknown policy `magic`"), "{err}");
    assert!(err.0.contains("day-ahead-mpc"), "{err}");
}
