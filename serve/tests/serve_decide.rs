//! The decision function: the example request decides, and every fallback reason is
//! triggered by a crafted request and named.

mod common;

use common::{decider, temp_dir, test_loader};
use powermix_agent::rules::ExpertParams;
use powermix_env::SiteConfig;
use powermix_serve::{
    Answer, Decider, FixedClock, LoadErrorKind, Reason, Source, TimeLimits, TimeSource,
    example_request, load_primary, rejection_status,
};
use powermix_wire::{DecideRequest, EmergencyNotice};
use serde_json::{Value, json};
use std::sync::Arc;

/// 2024-07-15T20:00:50Z: the example's interval is 20:15 (a Monday, 15:15 CDT).
const NOW: i64 = 1_721_073_650_000;

fn clock() -> TimeSource {
    TimeSource::Clock(Arc::new(FixedClock::new(NOW)))
}

fn body(req: &DecideRequest) -> Vec<u8> {
    serde_json::to_vec(req).unwrap()
}

fn with(f: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v = serde_json::to_value(example_request(NOW)).unwrap();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}

fn assert_feasible(a: &Answer) {
    let cfg = SiteConfig::default_site();
    assert!(a.site_load_mw <= cfg.grid.import_limit_mw + 1e-9, "{a:?}");
    assert!(a.expected_ledger.total.is_finite());
    let awarded = a.mw.reserve_awards.rrs + a.mw.reserve_awards.ecrs + a.mw.reserve_awards.nspin;
    assert!(awarded <= a.mw.tranches.iter().sum::<f64>() + 1e-9);
}

fn const_meta(id: &str) -> Value {
    json!({"model_id": id, "kind": "const", "action": [1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0]})
}

#[test]
fn example_request_decides_with_the_fallback_when_no_checkpoint() {
    let d = decider(clock(), None);
    let a = d.decide_body(&body(&example_request(NOW))).unwrap();
    assert_eq!(a.source, Source::Fallback);
    assert_eq!(a.reason, Some(Reason::NoCheckpoint));
    assert_eq!(a.interval_start_utc, "2024-07-15T20:15:00Z");
    assert!(a.problems.is_empty());
    assert_feasible(&a);
    // The JSON names every ledger line and the total.
    let v: Value = serde_json::to_value(&a).unwrap();
    for line in powermix_env::LEDGER_LINES.iter().chain(&["total"]) {
        assert!(v["expected_ledger"][*line].is_number(), "{line}");
    }
    assert_eq!(v["reason"], "no_checkpoint");
    assert!(v["model_id"].is_null());
}

#[test]
fn default_loader_says_no_checkpoint_or_not_a_checkpoint() {
    let cfg = SiteConfig::default_site();
    let dir = temp_dir("default-loader");
    let e = load_primary(&dir.join("missing"), &cfg).unwrap_err();
    assert_eq!(e.kind, LoadErrorKind::NoCheckpoint);
    assert!(e.message.contains("does not exist"), "{}", e.message);
    std::fs::write(dir.join("meta.json"), "{not json").unwrap();
    let e = load_primary(&dir, &cfg).unwrap_err();
    assert_eq!(e.kind, LoadErrorKind::Damaged);
    assert!(e.message.contains("meta.json"), "{}", e.message);
    std::fs::write(dir.join("meta.json"), "{}").unwrap();
    let e = load_primary(&dir, &cfg).unwrap_err();
    assert_eq!(e.kind, LoadErrorKind::Damaged);
}

#[test]
fn a_loaded_policy_decides() {
    let d = decider(clock(), Some(const_meta("run-a")));
    let a = d.decide_body(&body(&example_request(NOW))).unwrap();
    assert_eq!(a.source, Source::Policy);
    assert_eq!(a.reason, None);
    assert_eq!(a.model_id.as_deref(), Some("run-a"));
    assert_eq!(a.mw.tranches, [30.0, 20.0, 0.0]);
    assert_feasible(&a);
}

#[test]
fn every_fallback_reason_is_triggered_and_named() {
    let cfg = SiteConfig::default_site();
    // no_checkpoint
    let a = decider(clock(), None)
        .decide_body(&body(&example_request(NOW)))
        .unwrap();
    assert_eq!(a.reason, Some(Reason::NoCheckpoint));

    // checkpoint_damaged: a meta.json the loader refuses.
    let dir = temp_dir("damaged");
    std::fs::write(dir.join("meta.json"), "{\"model_id\": 3}").unwrap();
    let d = decider(clock(), None);
    assert!(d.install(test_loader()(&dir, &cfg)).is_err());
    let a = d.decide_body(&body(&example_request(NOW))).unwrap();
    assert_eq!(a.reason, Some(Reason::CheckpointDamaged));
    assert!(a.message.contains("meta.json"), "{}", a.message);
    // A policy that panics counts as damaged too.
    let d = decider(clock(), Some(json!({"model_id": "p", "kind": "panic"})));
    let a = d.decide_body(&body(&example_request(NOW))).unwrap();
    assert_eq!(a.reason, Some(Reason::CheckpointDamaged));

    let d = decider(clock(), Some(const_meta("run-b")));
    // invalid_input, with the field named.
    let a = d
        .decide_body(&with(|v| v["rt_prices"][1] = json!(-20_000.0)))
        .unwrap();
    assert_eq!(a.reason, Some(Reason::InvalidInput));
    assert_eq!(a.problems[0].field, "rt_prices[1]");
    assert!(a.message.contains("rt_prices[1] = -20000"), "{}", a.message);
    assert_eq!(a.model_id.as_deref(), Some("run-b"));

    // stale_snapshot: 30 minutes old (for the interval of 19:45, with its t-2 price).
    let a = d
        .decide_body(&with(|v| {
            v["interval_start_utc"] = json!("2024-07-15T19:45:00Z");
            v["snapshot_time_utc"] = json!("2024-07-15T19:30:50Z");
            v["rt_last_interval_utc"] = json!("2024-07-15T19:15:00Z");
        }))
        .unwrap();
    assert_eq!(a.reason, Some(Reason::StaleSnapshot), "{:?}", a.problems);
    assert!(a.message.contains("limit 20.0 minutes"), "{}", a.message);
    // ... or an interval far from its snapshot (no rt price could be of its t-2).
    let a = d
        .decide_body(&with(|v| {
            v["interval_start_utc"] = json!("2024-07-15T23:00:00Z");
            v["rt_prices"] = json!([]);
            v["rt_last_interval_utc"] = Value::Null;
        }))
        .unwrap();
    assert_eq!(a.reason, Some(Reason::StaleSnapshot), "{:?}", a.problems);

    // emergency
    let mut req = example_request(NOW);
    req.emergency = Some(EmergencyNotice {
        active: true,
        level: Some(2),
        load_shed: false,
        notice: "EEA2 in effect".into(),
    });
    let a = d.decide_body(&body(&req)).unwrap();
    assert_eq!(a.reason, Some(Reason::Emergency));
    assert!(a.message.contains("EEA2"), "{}", a.message);
    assert_eq!(a.mw.tranches, [0.0; 3], "the expert stops miners in an EEA");
    assert_eq!(
        a.mw.training, 20.0,
        "EEA2 without load shed curtails no training"
    );
    // Firm load shed curtails training as site.toml says (load_shed_max_training_fraction 0).
    req.emergency = Some(EmergencyNotice {
        active: true,
        level: Some(3),
        load_shed: true,
        notice: "EEA3 load shed".into(),
    });
    let a = d.decide_body(&body(&req)).unwrap();
    assert_eq!(a.mw.training, 0.0, "training curtailed under load shed");
    assert_eq!(a.mw.inference, 10.0, "inference stays");
    // An inactive notice is no emergency.
    req.emergency = Some(EmergencyNotice {
        active: false,
        level: None,
        load_shed: false,
        notice: String::new(),
    });
    assert_eq!(d.decide_body(&body(&req)).unwrap().source, Source::Policy);

    // non_finite_output
    let d = decider(clock(), Some(json!({"model_id": "n", "kind": "nan"})));
    let a = d.decide_body(&body(&example_request(NOW))).unwrap();
    assert_eq!(a.reason, Some(Reason::NonFiniteOutput));
    assert!(a.message.contains("ai_training = NaN"), "{}", a.message);

    // out_of_distribution (only when the policy provides training stats)
    let d = decider(
        clock(),
        Some(json!({"model_id": "o", "kind": "const", "stats": {"std": 1e-3, "z_limit": 5.0}})),
    );
    let a = d.decide_body(&body(&example_request(NOW))).unwrap();
    assert_eq!(a.reason, Some(Reason::OutOfDistribution));
    assert!(a.message.contains("standard deviations"), "{}", a.message);
    let d = decider(
        clock(),
        Some(json!({"model_id": "i", "kind": "const", "stats": {"std": 1e6, "z_limit": 5.0}})),
    );
    assert_eq!(
        d.decide_body(&body(&example_request(NOW))).unwrap().source,
        Source::Policy
    );
}

#[test]
fn invalid_values_are_named_with_their_value() {
    let d = decider(clock(), None);
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|v| v["day_ahead_prices"][0] = json!(90_000.01)),
            "day_ahead_prices[0]",
        ),
        (
            Box::new(|v| v["day_ahead_prices"] = json!([])),
            "day_ahead_prices",
        ),
        (
            Box::new(|v| v["reserve_prices"]["ecrs"] = json!([1.0])),
            "reserve_prices.ecrs",
        ),
        (
            Box::new(|v| v["reserve_prices"]["nspin"][2] = json!(-1.0)),
            "reserve_prices.nspin[2]",
        ),
        (
            Box::new(|v| v["hashprice_usd_per_ph_day"] = json!("48")),
            "hashprice_usd_per_ph_day",
        ),
        (
            Box::new(|v| v["system_load_mw"] = json!(-5.0)),
            "system_load_mw",
        ),
        (
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("system_load_mtd_peak_mw");
            }),
            "system_load_mtd_peak_mw",
        ),
        (
            Box::new(|v| v["site"]["tranche_mw"] = json!([30.0, 20.0])),
            "site.tranche_mw",
        ),
        (
            Box::new(|v| v["site"]["tranche_mw"][0] = json!(-1.0)),
            "site.tranche_mw[0]",
        ),
        (
            Box::new(|v| v["site"]["training_mw"] = json!(25.0)),
            "site.training_mw",
        ),
        (
            Box::new(|v| v["site"]["training_hold"] = json!(-1)),
            "site.training_hold",
        ),
        (
            Box::new(|v| v["site"]["training_hold"] = json!(9)),
            "site.training_hold",
        ),
        (
            Box::new(|v| v["site"]["award_mw"]["rrs"] = json!(1e300)),
            "site.award_mw.rrs",
        ),
        (
            Box::new(|v| v["interval_start_utc"] = json!("2024-07-15T20:07:00Z")),
            "interval_start_utc",
        ),
        (
            Box::new(|v| v["snapshot_time_utc"] = json!("yesterday")),
            "snapshot_time_utc",
        ),
        (
            Box::new(|v| v["snapshot_time_utc"] = json!("2024-07-15T21:00:00Z")),
            "snapshot_time_utc",
        ),
        (Box::new(|v| v["emergency"] = json!("no")), "emergency"),
        (
            Box::new(|v| v["emergency"] = json!({"notice": "x"})),
            "emergency.active",
        ),
    ];
    for (f, field) in cases {
        let a = d.decide_body(&with(|v| f(v))).unwrap();
        assert_eq!(
            a.reason,
            Some(Reason::InvalidInput),
            "{field}: {}",
            a.message
        );
        assert_eq!(a.problems[0].field, field, "{:?}", a.problems);
        assert!(a.message.contains(field), "{}", a.message);
        assert_feasible(&a);
    }
}

#[test]
fn unusable_bodies_are_rejected_naming_the_problem() {
    let d = decider(clock(), None);
    let e = d.decide_body(b"{\"interval_start_utc\": ").unwrap_err();
    assert_eq!(
        (rejection_status(e.kind), e.error.as_str()),
        (400, "bad_json")
    );
    assert!(e.message.contains("line 1 column"), "{}", e.message);
    let e = d.decide_body(b"[1, 2]").unwrap_err();
    assert_eq!(rejection_status(e.kind), 422);
    let e = d
        .decide_body(&with(|v| {
            v.as_object_mut().unwrap().remove("interval_start_utc");
        }))
        .unwrap_err();
    assert_eq!(
        (rejection_status(e.kind), e.field.as_deref()),
        (422, Some("interval_start_utc"))
    );
    let e = d
        .decide_body(&with(|v| v["interval_start_utc"] = json!("noon")))
        .unwrap_err();
    assert!(e.message.contains("\"noon\""), "{}", e.message);
    let e = d.decide_body(&vec![b' '; 70_000]).unwrap_err();
    assert_eq!(rejection_status(e.kind), 413);
    // A number JSON cannot hold as f64.
    let text = String::from_utf8(with(|_| {})).unwrap();
    let huge = text.replace("\"system_load_mw\":61250.0", "\"system_load_mw\":1e999");
    assert_ne!(huge, text);
    let e = d.decide_body(huge.as_bytes()).unwrap_err();
    assert_eq!(rejection_status(e.kind), 400);
    assert!(e.message.contains("out of range"), "{}", e.message);
}

/// Values that could not have been published at `snapshot_time_utc` are refused with 422
/// naming the field: an rt price of an interval still running, day-ahead values of a day
/// whose results come at 13:30 the day before.
#[test]
fn values_unknowable_at_the_snapshot_time_are_refused() {
    let d = decider(clock(), None);
    // The example: interval 20:15Z, snapshot 20:00:50Z, last rt price of 19:45Z (t-2).
    // An rt price of 20:00Z (t-1) had not ended at 20:00:50Z.
    let e = d
        .decide_body(&with(|v| {
            v["rt_last_interval_utc"] = json!("2024-07-15T20:00:00Z")
        }))
        .unwrap_err();
    assert_eq!(powermix_serve::rejection_status(e.kind), 422);
    assert_eq!(e.field.as_deref(), Some("rt_last_interval_utc"));
    assert!(
        e.message.contains("could not have been published"),
        "{}",
        e.message
    );
    // t-3 is known but is not the price the policy reads as the latest: fallback, named.
    let a = d
        .decide_body(&with(|v| {
            v["rt_last_interval_utc"] = json!("2024-07-15T19:30:00Z")
        }))
        .unwrap();
    assert_eq!(a.reason, Some(Reason::InvalidInput));
    assert_eq!(a.problems[0].field, "rt_last_interval_utc");
    // 15:00 CDT (20:00Z): tomorrow's day-ahead prices are published (13:30), the day after
    // tomorrow's are not. From 20:15Z, 96 x 15 min reaches 20:15Z tomorrow: fine; 200
    // values reach into the 17th.
    let ok = d
        .decide_body(&with(|v| {
            v["day_ahead_prices"] = json!(vec![30.0; 96]);
            for p in ["rrs", "ecrs", "nspin"] {
                v["reserve_prices"][p] = json!(vec![1.0; 96]);
            }
        }))
        .unwrap();
    assert!(ok.problems.is_empty(), "{:?}", ok.problems);
    let e = d
        .decide_body(&with(|v| {
            v["day_ahead_prices"] = json!(vec![30.0; 200]);
            for p in ["rrs", "ecrs", "nspin"] {
                v["reserve_prices"][p] = json!(vec![1.0; 200]);
            }
        }))
        .unwrap_err();
    assert_eq!(
        (powermix_serve::rejection_status(e.kind), e.field.as_deref()),
        (422, Some("day_ahead_prices"))
    );
    assert!(e.message.contains("13:30"), "{}", e.message);
    // Before 13:30 local (a 12:00 CDT snapshot), tomorrow's are not published either.
    let early = |v: &mut Value| {
        v["interval_start_utc"] = json!("2024-07-15T17:15:00Z");
        v["snapshot_time_utc"] = json!("2024-07-15T17:00:50Z");
        v["rt_last_interval_utc"] = json!("2024-07-15T16:45:00Z");
        v["day_ahead_prices"] = json!(vec![30.0; 60]);
        for p in ["rrs", "ecrs", "nspin"] {
            v["reserve_prices"][p] = json!(vec![1.0; 60]);
        }
    };
    let e = decider(
        TimeSource::Clock(Arc::new(FixedClock::new(1_721_062_850_000))),
        None,
    )
    .decide_body(&with(early))
    .unwrap_err();
    assert_eq!(
        e.field.as_deref(),
        Some("day_ahead_prices"),
        "{}",
        e.message
    );
}

#[test]
fn readme_example_request_decides() {
    let readme = include_str!("../../docs/serving.md");
    let at = readme
        .find("<!-- example-request -->")
        .expect("docs/serving.md marks the example");
    let start = readme[at..].find("```json").unwrap() + at + "```json".len();
    let end = readme[start..].find("```").unwrap() + start;
    let body = &readme.as_bytes()[start..end];
    // Without a checkpoint the expert decides it ...
    let fallback = decider(clock(), None).decide_body(body).unwrap();
    assert_eq!(
        (fallback.source, fallback.reason),
        (Source::Fallback, Some(Reason::NoCheckpoint)),
        "{}",
        fallback.message
    );
    // ... and the documented answer is the shipped policy's answer.
    let cfg = SiteConfig::default_site();
    let d = Decider::new(
        cfg.clone(),
        ExpertParams::default_params(),
        TimeLimits::default(),
        clock(),
    );
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../checkpoints/default");
    d.install(load_primary(&shipped, &cfg))
        .expect("the shipped checkpoint loads");
    let a = d.decide_body(body).unwrap();
    assert_eq!(
        (a.source, a.reason),
        (Source::Policy, None),
        "{}",
        a.message
    );
    assert!(a.problems.is_empty());
    let id = a.model_id.clone().unwrap();
    assert!(readme.contains(&format!("\"model_id\": \"{id}\"")), "{id}");
    assert!(
        readme.contains(&format!("\"total\": {}", a.expected_ledger.total)),
        "{}",
        serde_json::to_string(&a).unwrap()
    );
    // ... and it is the example the binary prints, at that time.
    let v: Value = serde_json::from_str(&readme[start..end]).unwrap();
    assert_eq!(v, serde_json::to_value(example_request(NOW)).unwrap());
}

#[test]
fn a_saved_checkpoint_loads_and_decides_as_the_policy() {
    use powermix_agent::checkpoint::{CheckpointInfo, save_checkpoint};
    use powermix_agent::net::ActorCriticConfig;
    let cfg = SiteConfig::default_site();
    let dir = temp_dir("real-checkpoint").join("ckpt");
    let model = ActorCriticConfig::default().init_seeded(3, &burn::tensor::Device::flex());
    let info = CheckpointInfo::untrained(cfg.clone(), 3);
    let meta = save_checkpoint(&dir, &model, &info, &[]).unwrap();
    let loaded = load_primary(&dir, &cfg).unwrap();
    assert_eq!(loaded.model_id, meta.model_id);
    // An untrained normaliser holds no statistics: the distribution check is off.
    assert!(loaded.stats.is_none());
    // One with statistics turns it on.
    let mut trained = info.clone();
    trained
        .normalizer
        .update(&vec![0.5f32; 4 * powermix_env::OBS_DIM]);
    let with_stats = temp_dir("real-checkpoint-stats").join("ckpt");
    save_checkpoint(&with_stats, &model, &trained, &[]).unwrap();
    assert!(load_primary(&with_stats, &cfg).unwrap().stats.is_some());

    // An ensemble of this network and another is served under the ensemble's own id.
    let second = temp_dir("real-checkpoint-2").join("ckpt");
    let model2 = ActorCriticConfig::default().init_seeded(4, &burn::tensor::Device::flex());
    save_checkpoint(&second, &model2, &info, &[]).unwrap();
    let ens = temp_dir("ensemble-checkpoint").join("ckpt");
    powermix_agent::save_ensemble(&ens, &[dir.clone(), second], "test", None).unwrap();
    let served = load_primary(&ens, &cfg).unwrap();
    let direct = powermix_agent::load_checkpoint(&ens).unwrap();
    assert_eq!(direct.member_count(), 2);
    assert_eq!(served.model_id, direct.model_id());
    assert_ne!(served.model_id, meta.model_id);

    // The same network as a correction of the day-ahead MPC: the server has no planner, so
    // it refuses the checkpoint (and would serve the expert) instead of answering with the
    // correction added to the rules.
    let planned = temp_dir("planner-checkpoint").join("ckpt");
    let info = CheckpointInfo {
        base_policy: Some(ExpertParams::default_params()),
        base_planner: Some("day-ahead-mpc".into()),
        day_ahead_head: None,
        ..info
    };
    save_checkpoint(&planned, &model, &info, &[]).unwrap();
    let err = match load_primary(&planned, &cfg) {
        Ok(_) => panic!("a planner residual was loaded"),
        Err(e) => e,
    };
    assert!(err.message.contains("\"day-ahead-mpc\""), "{}", err.message);
}

/// A checkpoint whose (finite) weights make the actor output NaN, saved with the agent's
/// checkpoint API and loaded by the real loader: the server falls back to the expert with
/// `non_finite_output`, on the path every HTTP request takes. (`Policy::act`, which
/// backtests use, clamps NaN to 0; the server never goes through it.)
#[test]
fn a_checkpoint_whose_weights_give_nan_falls_back_on_the_real_path() {
    use burn::module::Param;
    use burn::tensor::{Device, Tensor, TensorData};
    use powermix_agent::checkpoint::{CheckpointInfo, save_checkpoint};
    use powermix_agent::net::{ActorCriticConfig, ObsNormalizer};
    use powermix_env::OBS_DIM;
    let cfg = SiteConfig::default_site();
    let device = Device::flex();
    let mut model = ActorCriticConfig::default().init_seeded(5, &device);
    // The emergency features (0 in the example request, 0.5 in the direct check below)
    // normalise to the clip (+5): mean -1, std 0.1, so z is 10 or 15, inside the server's
    // distribution limit (50). In the first layer 5 * 3e38 overflows to +inf and
    // 5 * -3e38 to -inf: their sum is NaN, and NaN runs through every later layer.
    // The other features get a wide spread, so that no observation is out of distribution.
    let pos = |name: &str| {
        powermix_env::OBS_NAMES
            .iter()
            .position(|n| *n == name)
            .unwrap()
    };
    let (e0, e1) = (pos("emergency"), pos("emergency_load_shed"));
    let mut normalizer = ObsNormalizer::new(OBS_DIM, 5.0);
    normalizer.var.fill(1e12);
    for i in [e0, e1] {
        normalizer.mean[i] = -1.0;
        normalizer.var[i] = 0.01;
    }
    let first = &mut model.actor[0];
    let [d_in, d_out] = first.weight.val().dims();
    let mut w = vec![0.0f32; d_in * d_out];
    w[e0 * d_out..(e0 + 1) * d_out].fill(3.0e38);
    w[e1 * d_out..(e1 + 1) * d_out].fill(-3.0e38);
    first.weight = Param::initialized(
        first.weight.id,
        Tensor::<2>::from_data(TensorData::new(w, [d_in, d_out]), &device),
    );
    let info = CheckpointInfo {
        normalizer,
        ..CheckpointInfo::untrained(cfg.clone(), 5)
    };
    let dir = temp_dir("nan-checkpoint").join("ckpt");
    save_checkpoint(&dir, &model, &info, &[]).unwrap();

    // The weights really give NaN (not a stub): every raw output of the loaded actor.
    let ckpt = powermix_agent::load_checkpoint(&dir).unwrap();
    let obs = [0.5f32; OBS_DIM];
    assert!(ckpt.act_raw(&obs).iter().all(|x| x.is_nan()));

    let d = Decider::new(
        cfg.clone(),
        ExpertParams::default_params(),
        TimeLimits::default(),
        clock(),
    );
    let id = d.install(load_primary(&dir, &cfg)).expect("loads");
    let a = d.decide_body(&body(&example_request(NOW))).unwrap();
    assert_eq!(
        (a.source, a.reason, a.model_id.as_deref()),
        (
            Source::Fallback,
            Some(Reason::NonFiniteOutput),
            Some(id.as_str())
        ),
        "{}",
        a.message
    );
    assert!(a.message.contains("= NaN"), "{}", a.message);
    // The fallback's answer is the expert's.
    let expert = decider(clock(), None)
        .decide_body(&body(&example_request(NOW)))
        .unwrap();
    assert_eq!(a.mw, expert.mw);
}

/// In an emergency the server and the backtest of a checkpoint decide with the same rules:
/// the checkpoint's base rules (its residual defers to them), not the server's fallback
/// rules. At a price between the two rule sets' training stops (the shipped rules stop AI
/// training at $2,500, `configs/expert.toml` at $1,500) the two would part.
#[test]
fn in_an_emergency_the_checkpoint_base_rules_decide_as_in_its_backtest() {
    use powermix_agent::Policy;
    use powermix_agent::rules::Expert;
    use powermix_env::safety::{ProjectionContext, Projector};
    use powermix_wire::{Problems, check};
    let cfg = SiteConfig::default_site();
    let ckpt = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../checkpoints/default");
    let loaded = powermix_agent::load_checkpoint(&ckpt).unwrap();
    let base = loaded
        .meta
        .base_policy
        .clone()
        .expect("a residual of rules");
    let fallback = ExpertParams::default_params();
    let price = 2000.0;
    assert!(fallback.training_stop_price_usd_per_mwh < price);
    assert!(price < base.training_stop_price_usd_per_mwh);

    let d = Decider::new(
        cfg.clone(),
        fallback.clone(),
        TimeLimits::default(),
        clock(),
    );
    d.install(load_primary(&ckpt, &cfg)).unwrap();
    assert_eq!(d.status().emergency_rules, "checkpoint");
    let mut req = example_request(NOW);
    req.rt_prices.iter_mut().for_each(|p| *p = price);
    req.day_ahead_prices.iter_mut().for_each(|p| *p = price);
    req.emergency = Some(EmergencyNotice {
        active: true,
        level: Some(2),
        load_shed: false,
        notice: "EEA2".into(),
    });
    let a = d.decide_request(&req).unwrap();
    assert_eq!(a.reason, Some(Reason::Emergency), "{}", a.message);
    assert!(
        a.message.contains("checkpoint's base rules"),
        "{}",
        a.message
    );

    // The backtest's decision on the same snapshot: the loaded policy acts (its residual
    // defers to its base rules in an emergency), then the shared projection.
    let c = check(&req, &cfg, Problems::default()).unwrap();
    let snap = c.snapshot();
    let mut policy = loaded.with_site_config(&cfg);
    let action = policy.act(&snap);
    let projector = Projector::new(&cfg);
    let ctx = ProjectionContext {
        emergency: snap.emergency,
    };
    let backtest = projector.project(&action, &snap.state, ctx);
    assert_eq!(a.dispatch(), backtest);
    assert_eq!(
        a.mw.training, cfg.ai.training_mw,
        "the base rules keep training"
    );
    // The fallback rules would have stopped training: the test can tell the two apart.
    let other = Expert::new(&cfg, fallback).decide(&snap);
    assert_eq!(projector.project(&other, &snap.state, ctx).training_mw, 0.0);
}
