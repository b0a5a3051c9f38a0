//! `forecast-mpc`, the day-ahead MPC planning with the shipped learned forecasts
//! (`checkpoints/forecast`), on synthetic data: it plans every hour, is deterministic,
//! reads nothing a live decision could not see, prices its reserve offer, and the harness
//! names its ablations.

use powermix_data::synth;
use powermix_env::time::parse_period;
use powermix_env::{Market, SiteConfig};
use powermix_eval::backtest;
use powermix_eval::harness::{PolicyFactory, forecast_parts};
use powermix_forecast::gate::GateForecast;
use powermix_forecast::live::LiveForecasts;
use powermix_plan::mpc::{DayAheadMpc, FORECASTS_NAME, ForecastParts, GatePart};
use std::path::PathBuf;
use std::sync::Arc;

fn models() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../checkpoints/forecast")
}

fn planner(cfg: &SiteConfig, parts: ForecastParts) -> DayAheadMpc {
    let dir = models();
    DayAheadMpc::with_forecasts(
        cfg,
        LiveForecasts::load(&dir).expect("shipped forecast models"),
        GateForecast::load(&dir).expect("shipped gate models"),
        parts,
    )
}

fn day_index(m: &Market, y: i32, mo: u32, d: u32) -> usize {
    let (ms, _) = parse_period(&format!("{y:04}-{mo:02}-{d:02}..2100-01-01")).expect("date");
    m.index_at(ms)
}

fn market(data: powermix_env::data::MarketData) -> Arc<Market> {
    Arc::new(Market::new(data, SiteConfig::default_site()))
}

#[test]
fn it_plans_every_hour_deterministically_and_not_as_the_mpc_on_a_synthetic_july() {
    let m = market(synth::synthetic_year(2024, 1));
    let (start, end) = (day_index(&m, 2024, 7, 1), day_index(&m, 2024, 8, 1));
    let mut a = planner(&m.cfg, ForecastParts::SHIPPED);
    let sa = backtest(&m, start, end, &mut a, 3).unwrap();
    let mut b = planner(&m.cfg, ForecastParts::SHIPPED);
    let sb = backtest(&m, start, end, &mut b, 3).unwrap();
    assert_eq!(sa.trace.dispatch, sb.trace.dispatch);
    assert_eq!(sa.profit_usd, sb.profit_usd);
    // Every hour (31 days x 24), and the gate's plan besides the 10:00 one.
    assert_eq!(a.failures(), 0, "{:?}", a.last_error());
    assert_eq!(a.solves(), 31 * 24);
    let mut mpc = DayAheadMpc::new(&m.cfg);
    let s_mpc = backtest(&m, start, end, &mut mpc, 3).unwrap();
    eprintln!(
        "forecast-mpc {:.0}  day-ahead-mpc {:.0}",
        sa.profit_usd, s_mpc.profit_usd
    );
    assert_ne!(sa.trace.dispatch, s_mpc.trace.dispatch);
}

#[test]
fn it_reads_nothing_published_after_its_decision() {
    // Every price, load and reserve price from 10 July on changed: no decision before the
    // day-ahead results of 10 July (13:30 on 9 July) can see it.
    let base = synth::synthetic_year(2024, 1);
    let cut = market(base.clone());
    let at = day_index(&cut, 2024, 7, 10);
    let mut changed = base;
    for u in at..changed.len() {
        let f = 1.5 + (u % 5) as f64 * 0.1;
        changed.rt_price[u] = changed.rt_price[u] * f + 40.0;
        changed.da_price[u] = changed.da_price[u] * f + 30.0;
        changed.system_load_mw[u] *= 1.2;
        changed.as_rrs[u] = changed.as_rrs[u] * f + 5.0;
    }
    let other = market(changed);
    let start = day_index(&cut, 2024, 7, 1);
    let day = ForecastParts {
        four_cp_by_hour: false,
        ..ForecastParts::SHIPPED
    };
    for parts in [ForecastParts::SHIPPED, day] {
        let run = |m: &Arc<Market>, end: usize| {
            let mut p = planner(&m.cfg, parts);
            backtest(m, start, end, &mut p, 3).unwrap()
        };
        let before = day_index(&cut, 2024, 7, 9);
        assert_eq!(
            run(&cut, before).trace.dispatch,
            run(&other, before).trace.dispatch,
            "{}",
            parts.name()
        );
        // The test can fail: over the changed days the decisions differ.
        let after = day_index(&cut, 2024, 7, 12);
        assert_ne!(
            run(&cut, after).trace.dispatch,
            run(&other, after).trace.dispatch,
            "{}",
            parts.name()
        );
    }
}

#[test]
fn its_reserve_offer_is_priced_at_the_option_value_and_the_mpcs_is_not() {
    use powermix_agent::Policy;
    use powermix_env::SiteState;
    use powermix_env::market::is_da_gate_local;
    let m = market(synth::synthetic_year(2024, 1));
    let (start, end) = (day_index(&m, 2024, 7, 1), day_index(&m, 2024, 7, 8));
    let state = SiteState::initial(&m.cfg);
    let offers = |parts: ForecastParts| {
        let mut p = planner(&m.cfg, parts);
        let mut out = Vec::new();
        for t in start..end {
            let s = m.snapshot(t, &state);
            let a = p.act(&s);
            if is_da_gate_local(&s.local)
                && let Some(o) = p.day_ahead(&s, &a)
            {
                out.push(o);
            }
        }
        out
    };
    let priced = offers(ForecastParts::SHIPPED);
    assert_eq!(ForecastParts::SHIPPED.gate, GatePart::PricedOffer);
    let any_price = offers(ForecastParts {
        gate: GatePart::Off,
        ..ForecastParts::SHIPPED
    });
    assert_eq!(priced.len(), 7);
    assert_eq!(any_price.len(), 7);
    let min_prices = |os: &[powermix_env::DayAheadOffer]| -> Vec<f64> {
        os.iter()
            .flat_map(|o| o.hours.iter().flat_map(|h| h.min_price))
            .collect()
    };
    assert!(min_prices(&any_price).iter().all(|&p| p == 0.0));
    let p = min_prices(&priced);
    assert!(p.iter().all(|&x| x.is_finite() && x >= 0.0));
    assert!(p.iter().any(|&x| x > 0.0), "no hour priced above $0");
}

#[test]
fn the_harness_builds_the_planner_and_its_ablations_and_refuses_a_missing_model_by_name() {
    for name in [
        FORECASTS_NAME,
        "forecast-mpc-no-rt",
        "forecast-mpc-no-4cp",
        "forecast-mpc-unpriced-offer",
        "forecast-mpc-gate-models",
        "forecast-mpc-day-4cp",
    ] {
        assert_eq!(forecast_parts(name).map(|p| p.name()), Some(name));
    }
    assert_eq!(forecast_parts("forecast-mpc-no-anything"), None);
    let m = market(synth::synthetic_year(2024, 1));
    let expert = powermix_agent::ExpertParams::default_params();
    let empty = std::env::temp_dir().join(format!("powermix-no-models-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let f = |forecasts| PolicyFactory {
        market: &m,
        expert: &expert,
        seed: 7,
        checkpoint: None,
        forecasts,
    };
    let e = f(None).make(FORECASTS_NAME, 0, 96).err().unwrap().0;
    assert!(e.contains("--forecasts"), "{e}");
    let e = f(Some(empty.as_path()))
        .make(FORECASTS_NAME, 0, 96)
        .err()
        .unwrap()
        .0;
    assert!(e.contains("rt_price.json"), "{e}");
    let dir = models();
    assert!(
        f(Some(dir.as_path()))
            .make("forecast-mpc-no-4cp", 0, 96)
            .is_ok()
    );
    // A folder of an earlier `fit` (no per-hour model) serves the variants that do not
    // read it; the planner itself is refused by the file's name.
    for file in [
        "fourcp.json",
        "rt_price.json",
        "rt_gate.json",
        "reserve_gate.json",
    ] {
        std::fs::copy(dir.join(file), empty.join(file)).unwrap();
    }
    for name in ["forecast-mpc-day-4cp", "forecast-mpc-no-4cp"] {
        assert!(f(Some(empty.as_path())).make(name, 0, 96).is_ok(), "{name}");
    }
    let e = f(Some(empty.as_path()))
        .make(FORECASTS_NAME, 0, 96)
        .err()
        .unwrap()
        .0;
    assert!(e.contains("fourcp_hours.json"), "{e}");
    assert!(f(Some(dir.as_path())).make(FORECASTS_NAME, 0, 96).is_ok());
    std::fs::remove_dir_all(empty).unwrap();
}

#[test]
fn the_day_4cp_variant_plans_every_hour_and_weighs_the_afternoon_otherwise() {
    let m = market(synth::synthetic_year(2024, 1));
    let (start, end) = (day_index(&m, 2024, 7, 1), day_index(&m, 2024, 7, 15));
    let day = ForecastParts {
        four_cp_by_hour: false,
        ..ForecastParts::SHIPPED
    };
    assert_eq!(day.name(), "forecast-mpc-day-4cp");
    let mut a = planner(&m.cfg, day);
    let sa = backtest(&m, start, end, &mut a, 3).unwrap();
    assert_eq!(a.failures(), 0, "{:?}", a.last_error());
    assert_eq!(a.solves(), 14 * 24);
    let mut b = planner(&m.cfg, ForecastParts::SHIPPED);
    let sb = backtest(&m, start, end, &mut b, 3).unwrap();
    assert_ne!(sa.trace.dispatch, sb.trace.dispatch);
}

#[test]
fn the_shipped_checkpoint_prices_its_offer_as_the_priced_head_and_the_plain_head_does_not() {
    use powermix_env::SiteState;
    use powermix_env::market::is_da_gate_local;
    let m = market(synth::synthetic_year(2024, 1));
    let expert = powermix_agent::ExpertParams::default_params();
    let shipped = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../checkpoints/default");
    // The same checkpoint with the offer at any price (the policy shipped before).
    let plain = std::env::temp_dir().join(format!("powermix-plain-head-{}", std::process::id()));
    std::fs::create_dir_all(&plain).unwrap();
    for f in ["model.bpk", "expert.toml"] {
        std::fs::copy(shipped.join(f), plain.join(f)).unwrap();
    }
    let meta = std::fs::read_to_string(shipped.join("meta.json")).unwrap();
    let at = meta
        .rfind("\"day_ahead_head\": \"day-ahead-mpc-priced\"")
        .unwrap();
    let meta = format!(
        "{}\"day_ahead_head\": \"day-ahead-mpc\"{}",
        &meta[..at],
        &meta[at + "\"day_ahead_head\": \"day-ahead-mpc-priced\"".len()..]
    );
    std::fs::write(plain.join("meta.json"), meta).unwrap();
    let dir = models();
    fn factory<'a>(
        m: &'a Arc<Market>,
        expert: &'a powermix_agent::ExpertParams,
        checkpoint: &'a std::path::Path,
        forecasts: Option<&'a std::path::Path>,
    ) -> PolicyFactory<'a> {
        PolicyFactory {
            market: m,
            expert,
            seed: 7,
            checkpoint: Some(checkpoint),
            forecasts,
        }
    }
    let e = factory(&m, &expert, &shipped, None)
        .make("ppo-priced-head", 0, 96)
        .err()
        .unwrap()
        .0;
    assert!(e.contains("--forecasts"), "{e}");
    let (start, end) = (day_index(&m, 2024, 7, 1), day_index(&m, 2024, 7, 5));
    let state = SiteState::initial(&m.cfg);
    let min_prices = |name: &str, checkpoint: &std::path::Path| -> Vec<f64> {
        let mut p = factory(&m, &expert, checkpoint, Some(dir.as_path()))
            .make(name, start, end)
            .unwrap();
        let mut out = Vec::new();
        for t in start..end {
            let s = m.snapshot(t, &state);
            let a = p.act(&s);
            if is_da_gate_local(&s.local)
                && let Some(o) = p.day_ahead(&s, &a)
            {
                out.extend(o.hours.iter().flat_map(|h| h.min_price));
            }
        }
        out
    };
    let shipped_prices = min_prices("ppo", &shipped);
    let plain_prices = min_prices("ppo", &plain);
    // The embedded gate models are the folder's: the shipped head's offer is the
    // evaluation candidate's, and the plain head's, with the same checkpoint, is not.
    let candidate = min_prices("ppo-priced-head", &plain);
    assert!(!plain_prices.is_empty() && plain_prices.len() == shipped_prices.len());
    assert!(plain_prices.iter().all(|&x| x == 0.0));
    assert!(shipped_prices.iter().all(|&x| x.is_finite() && x >= 0.0));
    assert!(
        shipped_prices.iter().any(|&x| x > 0.0),
        "no hour priced above $0"
    );
    assert_eq!(
        shipped_prices
            .iter()
            .map(|x| x.to_bits())
            .collect::<Vec<_>>(),
        candidate.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    std::fs::remove_dir_all(plain).unwrap();
}
