//! PPO on a small synthetic month: updates run, numbers stay finite, runs are reproducible,
//! and the global gradient clip holds.

use powermix_env::data::synth;
use powermix_env::{Market, SiteConfig};
use powermix_training::config::TrainConfig;
use powermix_training::ppo::Trainer;
use std::sync::Arc;

fn small() -> TrainConfig {
    let mut c = TrainConfig::default_config();
    c.n_envs = 2;
    c.n_steps = 48;
    c.minibatch = 32;
    c.epochs = 2;
    c.episode_days = 2;
    c.total_steps = 2 * 48 * 4;
    c.hidden = vec![16, 16];
    c
}

fn market() -> Arc<Market> {
    let year = synth::synthetic_year(2024, 2);
    Arc::new(Market::new(
        year.slice(0, 30 * 96),
        SiteConfig::default_site(),
    ))
}

fn weights(t: &Trainer) -> Vec<u8> {
    powermix_agent::checkpoint::model_bytes(&t.model).unwrap()
}

#[test]
fn updates_are_finite_reproducible_and_change_the_model() {
    let m = market();
    let mut a = Trainer::new(small(), m.clone(), 0, m.len(), 5).unwrap();
    let mut b = Trainer::new(small(), m.clone(), 0, m.len(), 5).unwrap();
    let before = weights(&a);
    for _ in 0..3 {
        // Wall times differ between runs; everything else must not.
        let untimed = |mut s: powermix_training::ppo::UpdateStats| {
            s.rollout_seconds = 0.0;
            s.optimise_seconds = 0.0;
            s
        };
        let sa = untimed(a.step());
        let sb = untimed(b.step());
        for x in [
            sa.policy_loss,
            sa.value_loss,
            sa.entropy,
            sa.approx_kl,
            sa.grad_norm,
            sa.learning_rate,
        ] {
            assert!(x.is_finite(), "{sa:?}");
        }
        assert_eq!(
            format!("{sa:?}"),
            format!("{sb:?}"),
            "same seed, same update"
        );
    }
    assert_eq!(a.env_steps, 3 * 2 * 48);
    assert_ne!(weights(&a), before, "the model learned something");
    assert_eq!(weights(&a), weights(&b), "same seed, same model bytes");
    // Linear annealing: the learning rate falls with each update.
    assert!(a.learning_rate() < small().learning_rate);
}

#[test]
fn the_untrained_policy_starts_as_always_on() {
    let m = market();
    let mut c = small();
    c.base_policy = "none".into();
    let t = Trainer::new(c, m.clone(), 0, m.len(), 5).unwrap();
    let actor = powermix_agent::net::FastActor::from_model(&t.model).unwrap();
    let mut out = [0.0f32; powermix_env::ACTION_DIM];
    actor.forward(&[0.0; powermix_env::OBS_DIM], &mut out);
    let clamped = powermix_agent::net::clamp_action(&out);
    for (k, want) in powermix_training::ppo::INITIAL_ACTION.iter().enumerate() {
        assert!((clamped[k] - want).abs() < 0.05, "{k}: {out:?}");
    }
}

/// A residual policy starts as the expert: its untrained network adds (almost) nothing.
#[test]
fn the_untrained_residual_policy_starts_as_the_expert() {
    let m = market();
    let t = Trainer::new(small(), m.clone(), 0, m.len(), 5).unwrap();
    assert_eq!(small().base_policy, "expert");
    let actor = powermix_agent::net::FastActor::from_model(&t.model).unwrap();
    let mut out = [0.0f32; powermix_env::ACTION_DIM];
    actor.forward(&[0.0; powermix_env::OBS_DIM], &mut out);
    for (k, x) in out.iter().enumerate() {
        assert!(x.abs() < 0.05, "{k}: {out:?}");
    }
}

/// A run saved after 2 updates and resumed for 2 more ends with the same model bytes as a
/// run of 4 updates: the envs, every random stream, the optimiser, the normaliser and the
/// reward scaler all continue where they were.
#[test]
fn a_resumed_run_equals_an_uninterrupted_one() {
    use powermix_agent::checkpoint::DataInfo;
    use powermix_training::run::{self, RunSpec, TrainerState};
    let m = market();
    let out = std::env::temp_dir().join(format!("powermix-resume-{}", std::process::id()));
    let spec = RunSpec {
        market: m.clone(),
        train: (0, m.len()),
        val: (0, m.len()),
        data: DataInfo {
            file: "synthetic".into(),
            hash: "0".into(),
            train_period: "test".into(),
            val_period: "test".into(),
        },
        seed: 5,
        out: out.clone(),
    };
    let mut straight = Trainer::new(small(), m.clone(), 0, m.len(), 5).unwrap();
    for _ in 0..4 {
        straight.step();
    }

    let mut first = Trainer::new(small(), m.clone(), 0, m.len(), 5).unwrap();
    first.step();
    first.step();
    let state = TrainerState {
        update: first.update,
        env_steps: first.env_steps,
        scaler: first.scaler.clone(),
        best_val_profit: None,
        rollout: None,
    };
    let dir = out.join("last");
    run::save(&first, &spec, &dir, &state, serde_json::Value::Null).unwrap();
    drop(first);

    let mut resumed = Trainer::new(small(), m.clone(), 0, m.len(), 5).unwrap();
    let back = run::resume(&mut resumed, &dir).unwrap();
    assert_eq!(back.update, 2);
    assert!(
        back.rollout.is_some(),
        "the save records the rollout progress"
    );
    resumed.step();
    resumed.step();
    assert_eq!(resumed.update, 4);
    assert_eq!(resumed.env_steps, straight.env_steps);
    assert_eq!(resumed.scaler, straight.scaler);
    assert_eq!(
        weights(&resumed),
        weights(&straight),
        "resumed model bytes equal the uninterrupted run's"
    );

    // Without the rollout progress (an older checkpoint) the envs restart from the seed:
    // the run continues but is not the same run, which this test can tell apart.
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("trainer.json")).unwrap()).unwrap();
    v["rollout"] = serde_json::Value::Null;
    std::fs::write(dir.join("trainer.json"), serde_json::to_vec(&v).unwrap()).unwrap();
    let mut restarted = Trainer::new(small(), m.clone(), 0, m.len(), 5).unwrap();
    run::resume(&mut restarted, &dir).unwrap();
    restarted.step();
    restarted.step();
    assert_ne!(weights(&restarted), weights(&straight));
    let _ = std::fs::remove_dir_all(&out);
}
