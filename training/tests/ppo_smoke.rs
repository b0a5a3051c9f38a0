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
