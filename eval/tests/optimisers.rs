//! The oracle and the day-ahead MPC on synthetic data, replayed through the env: the oracle
//! beats every rule policy and its replay earns what its LP promised; the MPC is
//! deterministic, beats always-on, and falls back to the expert rules when its LP fails.

use powermix_agent::{ExpertParams, Policy, rule_policy};
use powermix_data::synth;
use powermix_env::SnapshotBuf;
use powermix_env::market::{is_da_gate_local, is_pre_gate_local};
use powermix_env::time::parse_period;
use powermix_env::{Market, SiteConfig};
use powermix_eval::{Score, backtest};
use powermix_plan::mpc::{DayAheadHead, DayAheadMpc, WithHead};
use powermix_plan::oracle::{Scheduled, oracle_plan, oracle_policy};
use std::sync::{Arc, OnceLock};

fn market(year: i32) -> Arc<Market> {
    static M2024: OnceLock<Arc<Market>> = OnceLock::new();
    static M2021: OnceLock<Arc<Market>> = OnceLock::new();
    let build = || {
        Arc::new(Market::new(
            synth::synthetic_year(year, 1),
            SiteConfig::default_site(),
        ))
    };
    match year {
        2024 => M2024.get_or_init(build).clone(),
        2021 => M2021.get_or_init(build).clone(),
        _ => build(),
    }
}

/// Index of the interval starting at local midnight of `y-m-d`.
fn day_index(m: &Market, y: i32, mo: u32, d: u32) -> usize {
    let (ms, _) = parse_period(&format!("{y:04}-{mo:02}-{d:02}..2100-01-01")).expect("date");
    m.index_at(ms)
}

fn rules(m: &Arc<Market>, start: usize, end: usize, seed: u64) -> Vec<Score> {
    ["always-on", "threshold", "expert"]
        .iter()
        .map(|name| {
            let mut p = rule_policy(name, &m.cfg, &ExpertParams::default_params()).unwrap();
            backtest(m, start, end, p.as_mut(), seed).unwrap()
        })
        .collect()
}

/// Solves the oracle, replays it, checks it against the rules and its own LP objective.
fn check_oracle(m: &Arc<Market>, start: usize, end: usize, seed: u64) -> (f64, Score) {
    let plan = oracle_plan(m, start, end, seed).expect("oracle solves");
    let lp = plan.objective_usd;
    let mut replay = Scheduled::from_plan("oracle", m, start, plan);
    let oracle = backtest(m, start, end, &mut replay, seed).unwrap();
    for s in rules(m, start, end, seed) {
        eprintln!("{:<10} {:>14.0}", s.policy, s.profit_usd);
        assert!(
            oracle.profit_usd >= s.profit_usd,
            "{} earns {} > oracle {}",
            s.policy,
            s.profit_usd,
            oracle.profit_usd
        );
    }
    let gap = lp - oracle.profit_usd;
    eprintln!(
        "oracle lp {lp:.0} replay {:.0} gap {gap:.2}",
        oracle.profit_usd
    );
    // The LP is a relaxation: its schedule earns at most what it promised (up to solver
    // tolerance), and on these data the steps and holds it ignores cost almost nothing.
    assert!(
        gap > -1e-6 * lp.abs() - 1.0,
        "replay beats its LP by {}",
        -gap
    );
    assert!(gap < 1e-3 * lp.abs(), "gap {gap} of {lp}");
    (lp, oracle)
}

#[test]
fn oracle_july_beats_rules_and_earns_its_objective() {
    let m = market(2024);
    let start = day_index(&m, 2024, 7, 1);
    let end = day_index(&m, 2024, 8, 1);
    let (_, oracle) = check_oracle(&m, start, end, 3);
    // July is a 4CP month: the oracle runs no more than plant and inference in the peak.
    assert!(
        oracle.four_cp_load_mw <= 15.0 + 1e-6,
        "{}",
        oracle.four_cp_load_mw
    );
}

#[test]
fn oracle_uri_week_with_emergencies() {
    // Winter Storm Uri's notices (15-19 Feb 2021): EEA3 with load shed for days, every
    // award deployed.
    let m = market(2021);
    let start = day_index(&m, 2021, 2, 10);
    let end = day_index(&m, 2021, 2, 24);
    let shed = (start..end)
        .filter(|&t| m.hindsight().in_force[t].load_shed)
        .count();
    assert!(shed >= 2 * 96, "{shed}");
    check_oracle(&m, start, end, 5);
}

#[test]
fn oracle_window_starting_mid_hour() {
    let m = market(2024);
    let start = day_index(&m, 2024, 3, 5) + 2;
    check_oracle(&m, start, start + 3 * 96 + 1, 9);
}

#[test]
fn oracle_policy_replays_the_plan() {
    let m = market(2024);
    let start = day_index(&m, 2024, 8, 5);
    let end = start + 2 * 96;
    let plan = oracle_plan(&m, start, end, 4).unwrap();
    let mut p = oracle_policy(&m, start, end, 4).unwrap();
    assert_eq!(p.name(), "oracle");
    let s = backtest(&m, start, end, p.as_mut(), 4).unwrap();
    assert!((s.profit_usd - plan.objective_usd).abs() < 1e-6 * plan.objective_usd.abs() + 1.0);
}

#[test]
fn oracle_rejects_a_window_outside_the_data() {
    let m = market(2024);
    let e = oracle_plan(&m, 10, m.len() + 1, 1).unwrap_err().0;
    assert!(e.contains("outside"), "{e}");
    assert!(oracle_plan(&m, 5, 5, 1).is_err());
}

#[test]
fn mpc_is_deterministic_and_beats_always_on() {
    let m = market(2024);
    let start = day_index(&m, 2024, 7, 1);
    let end = day_index(&m, 2024, 8, 1);
    let seed = 3;
    let mut a = DayAheadMpc::new(&m.cfg);
    let sa = backtest(&m, start, end, &mut a, seed).unwrap();
    let mut b = DayAheadMpc::new(&m.cfg);
    let sb = backtest(&m, start, end, &mut b, seed).unwrap();
    assert_eq!(sa.trace.profit, sb.trace.profit);
    // Twice a day: at midnight and at the 10:00 day-ahead gate.
    assert_eq!(a.solves(), 62);
    assert_eq!(a.failures(), 0, "{:?}", a.last_error());
    let scores = rules(&m, start, end, seed);
    eprintln!("mpc {:.0}", sa.profit_usd);
    for s in &scores {
        eprintln!("{:<10} {:>14.0}", s.policy, s.profit_usd);
    }
    assert!(sa.profit_usd > scores[0].profit_usd);
    let plan = oracle_plan(&m, start, end, seed).unwrap();
    let mut replay = Scheduled::from_plan("oracle", &m, start, plan);
    let oracle = backtest(&m, start, end, &mut replay, seed).unwrap();
    eprintln!("oracle {:.0}", oracle.profit_usd);
    assert!(oracle.profit_usd >= sa.profit_usd);
}

#[test]
fn mpc_falls_back_to_expert_when_its_lp_fails() {
    let m = market(2024);
    let t = day_index(&m, 2024, 7, 15);
    let state = powermix_env::SiteState::initial(&m.cfg);
    let snap = m.snapshot(t, &state);
    // A non-finite published price makes the LP refuse the day.
    let mut da = snap.da_prices.to_vec();
    da[7] = f64::NAN;
    let bad = powermix_env::Snapshot {
        da_prices: &da,
        ..snap
    };
    let mut mpc = DayAheadMpc::new(&m.cfg);
    let mut expert = powermix_agent::Expert::new(&m.cfg, ExpertParams::default_params());
    assert_eq!(mpc.act(&bad), expert.act(&bad));
    assert_eq!(mpc.failures(), 1);
    let why = mpc.last_error().unwrap();
    assert!(why.contains("rt_price"), "{why}");
    // No published prices at all: also the expert, with the reason.
    let none = powermix_env::Snapshot {
        da_prices: &[],
        ..snap
    };
    let mut mpc = DayAheadMpc::new(&m.cfg);
    assert_eq!(mpc.act(&none), expert.act(&none));
    assert!(mpc.last_error().unwrap().contains("no day-ahead prices"));
    // A good snapshot plans the day.
    let mut mpc = DayAheadMpc::new(&m.cfg);
    let _ = mpc.act(&snap);
    assert_eq!((mpc.solves(), mpc.failures()), (1, 0));
}

/// `mpc-load-forecast` at scale `scale` over `[start, end)` of `m`.
fn load_forecast_run(m: &Arc<Market>, start: usize, end: usize, scale: f64) -> (Score, usize) {
    use powermix_env::forecast::LoadForecastModel;
    use powermix_plan::mpc::{LOAD_FORECAST_RULE, LoadForecastRule};
    let rule = LoadForecastRule {
        scale,
        ..LOAD_FORECAST_RULE
    };
    let mut p = DayAheadMpc::with_load_forecast(m, LoadForecastModel::ERCOT, rule).unwrap();
    let s = backtest(m, start, end, &mut p, 3).unwrap();
    (s, p.solves())
}

#[test]
fn load_forecast_mpc_is_the_mpc_outside_the_4cp_months() {
    // April: no 4CP expectation and no hourly replans, so the same dispatch to the bit.
    let m = market(2024);
    let (start, end) = (day_index(&m, 2024, 4, 1), day_index(&m, 2024, 4, 8));
    let mut plain = DayAheadMpc::new(&m.cfg);
    let a = backtest(&m, start, end, &mut plain, 3).unwrap();
    let (b, solves) = load_forecast_run(&m, start, end, 0.3);
    assert_eq!(a.trace.dispatch, b.trace.dispatch);
    assert_eq!(solves, plain.solves());
}

#[test]
fn load_forecast_mpc_replans_hourly_in_the_4cp_months_and_weighs_peaks_by_the_forecast() {
    let m = market(2024);
    let (start, end) = (day_index(&m, 2024, 7, 1), day_index(&m, 2024, 7, 8));
    let mut plain = DayAheadMpc::new(&m.cfg);
    let a = backtest(&m, start, end, &mut plain, 3).unwrap();
    // Seven days: midnight, the gate, and the tops of 11:00-20:00 (10:00 is the gate).
    let (zero, solves) = load_forecast_run(&m, start, end, 0.0);
    assert_eq!(plain.solves(), 14);
    assert_eq!(solves, 7 * 12);
    // Scale 0 expects no peak at all: the site runs through the afternoons' windows at
    // least as much as the MPC, which expects one peak spread over the month's weekdays.
    let (weighted, _) = load_forecast_run(&m, start, end, 0.3);
    let window_mw = |s: &Score| -> f64 {
        s.trace
            .site_load_mw
            .iter()
            .enumerate()
            .filter(|(k, _)| {
                let l = powermix_env::time::local_time(m.interval_start_ms(s.trace.start + k));
                (15..18).contains(&l.hour) && l.is_weekday()
            })
            .map(|(_, x)| f64::from(*x))
            .sum()
    };
    assert!(
        window_mw(&zero) >= window_mw(&a),
        "{} {}",
        window_mw(&zero),
        window_mw(&a)
    );
    assert_ne!(weighted.trace.dispatch, zero.trace.dispatch);
}

#[test]
fn load_forecast_mpc_reads_no_load_past_its_forecast_horizon() {
    // Loads from 10 July on scaled by 1.3: every decision before 8 July is the same, since
    // no forecast issued before then reaches 10 July (48 hours).
    let base = synth::synthetic_year(2024, 1);
    let mut changed = base.clone();
    let cut = Market::new(base.clone(), SiteConfig::default_site());
    let cut_at = day_index(&cut, 2024, 7, 10);
    for x in &mut changed.system_load_mw[cut_at..] {
        *x *= 1.3;
    }
    let a = Arc::new(cut);
    let b = Arc::new(Market::new(changed, SiteConfig::default_site()));
    let (start, end) = (day_index(&a, 2024, 7, 1), day_index(&a, 2024, 7, 8));
    let (sa, _) = load_forecast_run(&a, start, end, 0.3);
    let (sb, _) = load_forecast_run(&b, start, end, 0.3);
    assert_eq!(sa.trace.dispatch, sb.trace.dispatch);
    // And the forecast does move them when the change is inside the horizon.
    let (sa, _) = load_forecast_run(&a, start, day_index(&a, 2024, 7, 11), 0.3);
    let (sb, _) = load_forecast_run(&b, start, day_index(&a, 2024, 7, 11), 0.3);
    assert_ne!(sa.trace.dispatch, sb.trace.dispatch);
}

#[test]
fn load_forecast_mpc_refuses_a_bad_scale_by_name() {
    use powermix_env::forecast::LoadForecastModel;
    use powermix_plan::mpc::{LOAD_FORECAST_RULE, LoadForecastRule};
    let m = market(2024);
    let bad = |scale, last_year_share| {
        let rule = LoadForecastRule {
            scale,
            last_year_share,
            ..LOAD_FORECAST_RULE
        };
        DayAheadMpc::with_load_forecast(&m, LoadForecastModel::ERCOT, rule)
            .unwrap_err()
            .to_string()
    };
    let e = bad(f64::NAN, 1.0);
    assert!(e.contains("scale = NaN"), "{e}");
    let e = bad(LOAD_FORECAST_RULE.scale, -1.0);
    assert!(e.contains("last_year_share = -1"), "{e}");
}

#[test]
fn load_forecast_mpc_draws_its_forecast_errors_from_the_backtest_seed() {
    use powermix_eval::harness::PolicyFactory;
    let m = market(2024);
    let expert = ExpertParams::default_params();
    let (start, end) = (day_index(&m, 2024, 7, 1), day_index(&m, 2024, 7, 15));
    let run = |seed| {
        let f = PolicyFactory {
            market: &m,
            expert: &expert,
            seed,
            checkpoint: None,
            forecasts: None,
        };
        let mut p = f.make("mpc-load-forecast", start, end).unwrap();
        // The same deployments for both, so only the forecast's draws differ.
        backtest(&m, start, end, p.as_mut(), 3)
            .unwrap()
            .trace
            .dispatch
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

/// Runs the MPC through a backtest and feeds each of its snapshots to heads and to the
/// expert with the head ([`WithHead`]), comparing their answers at every decision.
struct HeadSpy {
    mpc: DayAheadMpc,
    /// In place (`observe`).
    head: DayAheadHead,
    /// The server's way: step, the job run on another thread, finish, take_offer.
    split: DayAheadHead,
    split_offer: Option<powermix_env::DayAheadOffer>,
    /// Never shown the interval before a gate: plans at the gate itself.
    late: DayAheadHead,
    late_offer: Option<powermix_env::DayAheadOffer>,
    with_head: WithHead,
    expert: powermix_agent::Expert,
    head_offer: Option<powermix_env::DayAheadOffer>,
    with_head_offer: Option<powermix_env::DayAheadOffer>,
    gates: usize,
    offered_mw: f64,
    /// The largest difference (MW, any hour and product) between the offer planned at
    /// 09:45 and the one planned at 10:00.
    early_max_diff_mw: f64,
    /// Snapshots of the intervals before the gates, and of the gates.
    pre_gate_snaps: Vec<SnapshotBuf>,
    gate_snaps: Vec<SnapshotBuf>,
}

impl Policy for HeadSpy {
    fn name(&self) -> &str {
        "spy"
    }
    fn act(&mut self, snap: &powermix_env::Snapshot<'_>) -> powermix_env::Action {
        let a = self.mpc.act(snap);
        self.head_offer = self.head.observe(snap);
        if let Some(job) = self.split.step(snap) {
            let plan = std::thread::spawn(move || job.run()).join().unwrap();
            self.split.finish(plan);
        }
        self.split_offer = self.split.take_offer(snap);
        if is_pre_gate_local(&snap.local) {
            self.late.record(snap);
            self.pre_gate_snaps.push(SnapshotBuf::of(snap));
        } else {
            self.late_offer = self.late.observe(snap);
        }
        if is_da_gate_local(&snap.local) {
            self.gate_snaps.push(SnapshotBuf::of(snap));
        }
        let (wa, wo) = powermix_agent::decide(&mut self.with_head, snap);
        // Every action is the inner policy's.
        assert_eq!(wa, self.expert.act(snap));
        self.with_head_offer = wo;
        a
    }
    fn day_ahead(
        &mut self,
        snap: &powermix_env::Snapshot<'_>,
        action: &powermix_env::Action,
    ) -> Option<powermix_env::DayAheadOffer> {
        let offer = self.mpc.day_ahead(snap, action);
        self.gates += 1;
        let at = snap.interval_start_ms;
        assert!(self.head_offer.is_some(), "gate {at}");
        assert_eq!(self.late_offer, offer, "gate {at}");
        assert_eq!(self.split_offer, self.head_offer, "gate {at}");
        assert_eq!(self.with_head_offer, self.head_offer, "gate {at}");
        if let (Some(early), Some(gate)) = (&self.head_offer, &offer) {
            assert_eq!(early.hours.len(), gate.hours.len(), "gate {at}");
            for (e, g) in early.hours.iter().zip(&gate.hours) {
                for (x, y) in e.mw.iter().zip(&g.mw) {
                    self.early_max_diff_mw = self.early_max_diff_mw.max((x - y).abs());
                }
            }
        }
        if let Some(o) = &offer {
            self.offered_mw += o
                .hours
                .iter()
                .map(|h| h.mw.iter().sum::<f64>())
                .sum::<f64>();
        }
        offer
    }
}

/// Over days that cross a month and the 4CP months' start: the head planned at the gate
/// offers exactly what the full MPC offers; the head as served plans at 09:45, offers the
/// same whether it plans in place (`observe`) or on another thread (the server's `step`,
/// `GateJob::run`, `finish`, `take_offer`), and within 1e-3 MW of the MPC; a policy with
/// the head acts as its inner policy and offers the head's offer. One LP a day.
#[test]
fn head_offers_equal_the_mpcs_when_planned_at_the_gate() {
    let m = market(2024);
    let start = day_index(&m, 2024, 5, 27);
    let end = day_index(&m, 2024, 6, 6);
    let params = ExpertParams::default_params();
    let mut spy = HeadSpy {
        mpc: DayAheadMpc::new(&m.cfg),
        head: DayAheadHead::new(&m.cfg),
        split: DayAheadHead::new(&m.cfg),
        split_offer: None,
        late: DayAheadHead::new(&m.cfg),
        late_offer: None,
        with_head: WithHead::new(
            Box::new(powermix_agent::Expert::new(&m.cfg, params.clone())),
            &m.cfg,
        ),
        expert: powermix_agent::Expert::new(&m.cfg, params),
        head_offer: None,
        with_head_offer: None,
        gates: 0,
        offered_mw: 0.0,
        early_max_diff_mw: 0.0,
        pre_gate_snaps: Vec::new(),
        gate_snaps: Vec::new(),
    };
    backtest(&m, start, end, &mut spy, 1).unwrap();
    assert_eq!(spy.gates, 10);
    assert!(spy.offered_mw > 0.0, "the MPC offered nothing to compare");
    // One LP a day against the MPC's two or more.
    assert_eq!(spy.head.solves(), 10);
    assert_eq!(spy.split.solves(), 10);
    assert_eq!(spy.late.solves(), 10);
    assert!(spy.mpc.solves() >= 20, "{}", spy.mpc.solves());
    // Tomorrow's offer hardly depends on the quarter of an hour: the plans from 09:45 and
    // from 10:00 differ at the solver's tolerance (about 1e-5 MW over a day here).
    assert!(spy.early_max_diff_mw < 1e-3, "{}", spy.early_max_diff_mw);

    // A plan waits for its own gate: the plan of day 1's gate is not day 2's offer.
    let mut head = DayAheadHead::new(&m.cfg);
    let (pre, gate1, gate2) = (
        spy.pre_gate_snaps[0].view(),
        spy.gate_snaps[0].view(),
        spy.gate_snaps[1].view(),
    );
    let job = head.step(&pre).expect("the interval before the gate plans");
    head.finish(job.run());
    assert!(head.ready_for(gate1.local.day_number));
    assert!(!head.ready_for(gate2.local.day_number));
    assert_eq!(head.take_offer(&pre), None, "not a gate");
    assert_eq!(head.take_offer(&gate2), None, "another day's gate");
    assert!(!head.ready_for(gate1.local.day_number), "dropped");
    // And a gate without a plan calls for one from its own snapshot.
    assert!(head.step(&gate2).is_some());
}
