//! A residual policy whose base is the day-ahead MPC (`base_planner = "day-ahead-mpc"`):
//! saved and loaded as a checkpoint, built by `planned_policy`, it is the MPC plus the
//! network's output, makes the MPC's day-ahead offers, and leaves emergencies to the rules.

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use powermix_agent::checkpoint::{CheckpointInfo, save_checkpoint};
use powermix_agent::net::ActorCriticConfig;
use powermix_agent::{Expert, ExpertParams, Policy, load_checkpoint};
use powermix_data::synth;
use powermix_env::time::parse_period;
use powermix_env::{Market, SiteConfig};
use powermix_eval::{backtest, planned_policy};
use powermix_plan::mpc::{DayAheadMpc, planner_base};
use std::path::PathBuf;
use std::sync::Arc;

/// A checkpoint of a network whose output is exactly 0 (last actor layer zeroed) with the
/// MPC as its base, saved in a fresh temp folder.
fn zero_correction_checkpoint(name: &str) -> PathBuf {
    let device = Device::flex();
    let mut model = ActorCriticConfig::default().init_seeded(4, &device);
    let last = model.actor.last_mut().unwrap();
    let [d_in, d_out] = last.weight.val().dims();
    last.weight = Param::initialized(
        last.weight.id,
        Tensor::<2>::from_data(
            TensorData::new(vec![0.0f32; d_in * d_out], [d_in, d_out]),
            &device,
        ),
    );
    if let Some(b) = last.bias.take() {
        last.bias = Some(Param::initialized(
            b.id,
            Tensor::<1>::from_data(TensorData::new(vec![0.0f32; d_out], [d_out]), &device),
        ));
    }
    let info = CheckpointInfo {
        base_policy: Some(ExpertParams::default_params()),
        base_planner: Some("day-ahead-mpc".into()),
        ..CheckpointInfo::untrained(SiteConfig::default_site(), 4)
    };
    let dir = std::env::temp_dir()
        .join(format!("powermix-planner-{name}-{}", std::process::id()))
        .join("ckpt");
    let _ = std::fs::remove_dir_all(&dir);
    save_checkpoint(&dir, &model, &info, &[]).unwrap();
    dir
}

/// With a zero correction the policy is the MPC: every interval's dispatch, every ledger
/// line and the reserve revenue of a 3-week backtest equal the MPC's to the bit (no emergency in
/// 2024). The policy is named after the checkpoint, and the meta says what it corrects.
#[test]
fn a_zero_correction_of_the_mpc_is_the_mpc() {
    let m = Arc::new(Market::new(
        synth::synthetic_year(2024, 3).slice(0, 21 * 96),
        SiteConfig::default_site(),
    ));
    let dir = zero_correction_checkpoint("zero");
    let loaded = load_checkpoint(&dir).unwrap();
    assert_eq!(loaded.planner(), Some("day-ahead-mpc"));
    let mut policy = planned_policy(loaded, &m.cfg);
    assert!(policy.name().starts_with("ppo:"), "{}", policy.name());
    let ours = backtest(&m, 0, m.len(), policy.as_mut(), 7).unwrap();
    let mpc = backtest(&m, 0, m.len(), &mut DayAheadMpc::new(&m.cfg), 7).unwrap();
    assert!(
        ours.ledger.reserve_revenue > 0.0,
        "the MPC's offers won awards"
    );
    assert_eq!(ours.profit_usd.to_bits(), mpc.profit_usd.to_bits());
    assert_eq!(ours.ledger, mpc.ledger);
    assert_eq!(ours.trace.profit, mpc.trace.profit);
}

/// In an ERCOT emergency (the notice of 6 September 2023) the base is the rules' action,
/// elsewhere the MPC's; the MPC decides at every interval either way.
#[test]
fn in_an_emergency_the_base_is_the_rules() {
    let m = Market::new(synth::synthetic_year(2023, 1), SiteConfig::default_site());
    let (s, _) = parse_period("2023-09-06..2023-09-07").unwrap();
    let day = m.index_at(s);
    let rules = Expert::new(&m.cfg, ExpertParams::default_params());
    let mut mpc = DayAheadMpc::new(&m.cfg);
    let mut shadow = DayAheadMpc::new(&m.cfg);
    let state = powermix_env::SiteState::initial(&m.cfg);
    let (mut emergencies, mut normal) = (0, 0);
    for t in day..day + 96 {
        let snap = m.snapshot(t, &state);
        let (base, _) = planner_base(&mut mpc, &rules, &snap);
        let planned = shadow.act(&snap).to_array();
        if snap.emergency.active() {
            emergencies += 1;
            assert_eq!(base, rules.decide(&snap).to_array(), "interval {t}");
        } else {
            normal += 1;
            assert_eq!(base, planned, "interval {t}");
        }
    }
    assert!(emergencies > 0 && normal > 0, "{emergencies} {normal}");
}
