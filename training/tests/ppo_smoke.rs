//! PPO on a small synthetic month: updates run, numbers stay finite, runs are reproducible,
//! the sequential and the parallel paths agree, resumed runs equal uninterrupted ones, and
//! the real training loop (`run::train`) writes its run folder.

use powermix_data::synth;
use powermix_env::{Market, SiteConfig};
use powermix_training::config::TrainConfig;
use powermix_training::ppo::{TrainSource, Trainer};
use std::sync::Arc;

/// The default hyperparameters at a small size, on the embedded expert rules (their price
/// rule on) with GAE advantages: the plain residual PPO that most tests here check. The
/// main job's rules and forks are tested by name where they matter.
fn small() -> TrainConfig {
    let mut c = TrainConfig::default_config();
    c.expert = None;
    c.advantage = "gae".into();
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

/// A run on `m` with the given windows, writing into `out`.
fn spec(
    m: &Arc<Market>,
    train: (usize, usize),
    val: (usize, usize),
    out: &std::path::Path,
) -> powermix_training::run::RunSpec {
    powermix_training::run::RunSpec {
        market: m.clone(),
        train,
        val: vec![TrainSource {
            market: m.clone(),
            start: val.0,
            end: val.1,
        }],
        also_train: Vec::new(),
        data: powermix_agent::checkpoint::DataInfo {
            file: "synthetic".into(),
            hash: "0".into(),
            train_period: "test".into(),
            val_period: "test".into(),
            also_train: Vec::new(),
            val_data: Vec::new(),
        },
        seed: 5,
        out: out.to_path_buf(),
    }
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
    use powermix_training::resume::{self, TrainerState};
    let m = market();
    let out = std::env::temp_dir().join(format!("powermix-resume-{}", std::process::id()));
    let spec = spec(&m, (0, m.len()), (0, m.len()), &out);
    let mut straight = Trainer::new(small(), m.clone(), 0, m.len(), 5).unwrap();
    for _ in 0..4 {
        straight.step();
    }

    let mut first = Trainer::new(small(), m.clone(), 0, m.len(), 5).unwrap();
    first.step();
    first.step();
    let state = TrainerState::fresh(&first);
    let dir = out.join("last");
    resume::save(&first, &spec, &dir, &state, serde_json::Value::Null).unwrap();
    drop(first);

    let mut resumed = Trainer::new(small(), m.clone(), 0, m.len(), 5).unwrap();
    let back = resume::resume(&mut resumed, &dir).unwrap();
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
    resume::resume(&mut restarted, &dir).unwrap();
    restarted.step();
    restarted.step();
    assert_ne!(weights(&restarted), weights(&straight));

    // A checkpoint from before da_peak_withhold (10 action values) serves, but is not
    // trained further: refused by name before anything is read into the trainer.
    let meta = dir.join("meta.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    v["act_dim"] = 10.into();
    v["action_names"].as_array_mut().unwrap().truncate(10);
    std::fs::write(&meta, serde_json::to_vec(&v).unwrap()).unwrap();
    let mut legacy = Trainer::new(small(), m.clone(), 0, m.len(), 5).unwrap();
    let e = resume::resume(&mut legacy, &dir).unwrap_err().to_string();
    assert!(
        e.contains("act_dim is 10") && e.contains("not trained further"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// Flattened weights of the model (for comparisons within a tolerance).
fn weight_values(t: &Trainer) -> Vec<f32> {
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::tensor::Tensor;
    struct Collect(Vec<f32>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.0.extend(
                p.val()
                    .into_data()
                    .convert::<f32>()
                    .try_to_vec::<f32>()
                    .unwrap(),
            );
        }
    }
    let mut c = Collect(Vec::new());
    t.model.visit(&mut c);
    c.0
}

fn with_threads(threads: usize, minibatch: usize) -> TrainConfig {
    let mut c = small();
    c.n_envs = 4;
    c.n_steps = 24;
    c.threads = threads;
    c.minibatch = minibatch;
    c
}

/// The parallel path splits the envs into parts, one per thread: the rollout is the same
/// to the bit as the sequential path's (env streams are numbered across the parts, the
/// normaliser is frozen during a rollout and updated in env order afterwards).
#[test]
fn parallel_rollouts_equal_sequential_rollouts_to_the_bit() {
    let m = market();
    let mut seq = Trainer::new(with_threads(1, 32), m.clone(), 0, m.len(), 5).unwrap();
    let mut par = Trainer::new(with_threads(2, 32), m.clone(), 0, m.len(), 5).unwrap();
    // Twice: the second rollout starts from the envs, streams and statistics the first left.
    for _ in 0..2 {
        let (a, pa) = seq.collect();
        let (b, pb) = par.collect();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.obs), bits(&b.obs));
        assert_eq!(bits(&a.actions), bits(&b.actions));
        assert_eq!(bits(&a.log_probs), bits(&b.log_probs));
        assert_eq!(bits(&a.values), bits(&b.values));
        assert_eq!(bits(&a.rewards), bits(&b.rewards));
        assert_eq!(bits(&a.next_values), bits(&b.next_values));
        assert_eq!(a.episode_end, b.episode_end);
        assert_eq!(pa.is_some(), pb.is_some());
        assert_eq!(seq.normalizer, par.normalizer);
        assert_eq!(seq.scaler, par.scaler);
    }
}

/// With the day-ahead MPC as the base, each env has its own MPC (a fresh one at each
/// episode start), and the parts of the parallel path take their envs' MPCs with them: the
/// rollout is the same to the bit as the sequential one.
#[test]
fn mpc_residual_rollouts_are_the_same_on_every_thread_count() {
    let m = market();
    let mpc = |threads| {
        let mut c = with_threads(threads, 32);
        c.base_policy = "day-ahead-mpc".into();
        // The MPC makes the offer itself: no head beside it (`TrainConfig::validate`).
        c.day_ahead_head = "none".into();
        // Episodes of 2 days over 2 rollouts of 48 steps: resets happen.
        Trainer::new(c, m.clone(), 0, m.len(), 5).unwrap()
    };
    let (mut seq, mut par) = (mpc(1), mpc(2));
    assert_eq!(seq.base_planner(), Some("day-ahead-mpc"));
    assert!(seq.base_params().is_some(), "the rules for emergencies");
    for _ in 0..5 {
        let (a, _) = seq.collect();
        let (b, _) = par.collect();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.obs), bits(&b.obs));
        assert_eq!(bits(&a.rewards), bits(&b.rewards));
    }
    // The MPC is a different base from the expert: the same seed gives other rewards.
    let mut expert = Trainer::new(with_threads(1, 32), m.clone(), 0, m.len(), 5).unwrap();
    let mut mpc1 = mpc(1);
    let rewards = |t: &mut Trainer| -> Vec<u32> {
        (0..5)
            .flat_map(|_| t.collect().0.rewards)
            .map(f32::to_bits)
            .collect()
    };
    assert_ne!(rewards(&mut expert), rewards(&mut mpc1));
}

/// `head_in_rollouts`: each env's head makes the offer the env settles at the gate, the
/// network's own day-ahead values are then masked out, the rollout is the same to the bit
/// on 1 and 2 threads, and the awards it leads to differ from those of the network's own
/// flat offer.
#[test]
fn head_rollouts_settle_the_heads_offer_on_every_thread_count() {
    let m = market();
    let trainer = |threads: usize, head: bool| {
        let mut c = with_threads(threads, 32);
        c.mask_inert_actions = true;
        c.day_ahead_head = "day-ahead-mpc".into();
        c.head_in_rollouts = head;
        Trainer::new(c, m.clone(), 0, m.len(), 5).unwrap()
    };
    let (mut seq, mut par, mut own) = (trainer(1, true), trainer(2, true), trainer(1, false));
    assert_eq!(seq.base_planner(), None, "a head is not a base");
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let award = powermix_env::OBS_NAMES
        .iter()
        .position(|&n| n == "award_rrs")
        .unwrap();
    let (mut gates_own, mut awards_differ) = (0, false);
    for _ in 0..8 {
        let (a, _) = seq.collect();
        let (b, _) = par.collect();
        assert_eq!(bits(&a.obs), bits(&b.obs));
        assert_eq!(bits(&a.rewards), bits(&b.rewards));
        assert_eq!(bits(&a.masks), bits(&b.masks));
        // The head offers at every gate (its LP does not fail here): no row reads the
        // network's day-ahead values.
        for row in a.masks.chunks_exact(powermix_env::ACTION_DIM) {
            assert_eq!(&row[..4], &[1.0; 4]);
            assert!(row[4..].iter().all(|&x| x == 0.0), "{row:?}");
        }
        let (c, _) = own.collect();
        gates_own += c
            .masks
            .chunks_exact(powermix_env::ACTION_DIM)
            .filter(|row| row[4] == 1.0)
            .count();
        let awards = |r: &powermix_training::buffer::Rollout| {
            r.obs
                .chunks_exact(powermix_env::OBS_DIM)
                .map(|o| o[award].to_bits())
                .collect::<Vec<_>>()
        };
        awards_differ |= awards(&a) != awards(&c);
    }
    assert!(gates_own > 0, "the rollouts crossed a gate");
    assert!(awards_differ, "the head's offer was settled");
}

/// `mask_inert_actions`: the six day-ahead values count in a row's log-probability only at
/// a day-ahead gate (about 1 row in 96) and never when the MPC makes the offer; the other
/// four values always count (no emergency in the synthetic 2024). Masked runs update on
/// 1 and 2 threads alike.
#[test]
fn masked_log_probs_count_only_the_values_the_env_read() {
    let m = market();
    let masked = |threads: usize, base: &str| {
        let mut c = with_threads(threads, 32);
        c.mask_inert_actions = true;
        c.base_policy = base.into();
        if base == "day-ahead-mpc" {
            c.day_ahead_head = "none".into();
        }
        Trainer::new(c, m.clone(), 0, m.len(), 5).unwrap()
    };
    let (mut t, mut mpc) = (masked(1, "expert"), masked(1, "day-ahead-mpc"));
    let (mut rows, mut offer_rows) = (0, 0);
    for _ in 0..8 {
        let (r, _) = t.collect();
        assert_eq!(r.masks.len(), r.actions.len());
        for row in r.masks.chunks_exact(powermix_env::ACTION_DIM) {
            assert_eq!(&row[..4], &[1.0; 4]);
            assert!(row[4..].iter().all(|&x| x == row[4]), "{row:?}");
            offer_rows += usize::from(row[4] == 1.0);
            rows += 1;
        }
        let (r, _) = mpc.collect();
        for row in r.masks.chunks_exact(powermix_env::ACTION_DIM) {
            assert_eq!(&row[..4], &[1.0; 4]);
            assert!(row[4..].iter().all(|&x| x == 0.0), "{row:?}");
        }
    }
    assert!(
        offer_rows > 0 && offer_rows * 40 < rows,
        "{offer_rows} of {rows}"
    );
    // Without the mask the rollout stores none.
    let mut plain = small();
    plain.mask_inert_actions = false;
    let mut plain = Trainer::new(plain, m.clone(), 0, m.len(), 5).unwrap();
    assert!(plain.collect().0.masks.is_empty());
    // Sharded gradients carry the mask: 1 and 2 threads agree within rounding.
    let (mut seq, mut par) = (masked(1, "expert"), masked(2, "expert"));
    let (a, b) = (seq.step(), par.step());
    assert!((a.policy_loss - b.policy_loss).abs() < 1e-5, "{a:?} {b:?}");
    assert!(a.approx_kl.is_finite() && a.approx_kl >= 0.0);
}

/// The main job's rules leave the miners' price decision to the network and fix every
/// other value (`Expert::fixed_values`): a row's log-probability counts the three tranches
/// and nothing else, and not even them at a likely 4CP interval (the synthetic July holds
/// some); the same holds on 2 threads.
#[test]
fn under_the_main_jobs_rules_only_the_tranches_count() {
    let year = synth::synthetic_year(2024, 2);
    let july = year.index_at(1_720_000_000_000); // 2024-07-03
    let m = Arc::new(Market::new(
        year.slice(july, july + 30 * 96),
        SiteConfig::default_site(),
    ));
    let rules = TrainConfig::default_config().expert;
    assert!(rules.as_ref().is_some_and(|r| !r.miners_follow_price));
    let trainer = |threads: usize| {
        let mut c = with_threads(threads, 32);
        c.mask_inert_actions = true;
        c.expert = rules.clone();
        Trainer::new(c, m.clone(), 0, m.len(), 5).unwrap()
    };
    let (mut seq, mut par) = (trainer(1), trainer(2));
    let (mut rows, mut fixed_rows) = (0, 0);
    for _ in 0..8 {
        let (a, _) = seq.collect();
        let (b, _) = par.collect();
        assert_eq!(a.masks, b.masks);
        for row in a.masks.chunks_exact(powermix_env::ACTION_DIM) {
            assert!(row[3..].iter().all(|&x| x == 0.0), "{row:?}");
            assert!(row[..3] == [1.0; 3] || row[..3] == [0.0; 3], "{row:?}");
            fixed_rows += usize::from(row[0] == 0.0);
            rows += 1;
        }
    }
    assert!(
        fixed_rows > 0 && fixed_rows < rows,
        "{fixed_rows} of {rows}"
    );
}

/// With minibatches too small to shard (at most 3 rows: one shard), the only thing the
/// threads change is who steps which envs, so the parallel run's model bytes equal the
/// sequential run's.
#[test]
fn parallel_training_equals_sequential_training_to_the_bit_with_one_shard() {
    let m = market();
    let mut seq = Trainer::new(with_threads(1, 3), m.clone(), 0, m.len(), 5).unwrap();
    let mut par = Trainer::new(with_threads(2, 3), m.clone(), 0, m.len(), 5).unwrap();
    for _ in 0..2 {
        seq.step();
        par.step();
    }
    assert_eq!(weights(&seq), weights(&par));
}

/// With two gradient shards the minibatch gradient is summed in another order: the update
/// equals the sequential one within float rounding.
#[test]
fn sharded_gradients_equal_sequential_gradients_within_rounding() {
    let m = market();
    let mut seq = Trainer::new(with_threads(1, 32), m.clone(), 0, m.len(), 5).unwrap();
    let mut par = Trainer::new(with_threads(2, 32), m.clone(), 0, m.len(), 5).unwrap();
    let before = weight_values(&seq);
    let (sa, sb) = (seq.step(), par.step());
    let (a, b) = (weight_values(&seq), weight_values(&par));
    assert_eq!(a.len(), b.len());
    let mut moved = 0.0f32;
    for ((x, y), w) in a.iter().zip(&b).zip(&before) {
        assert!((x - y).abs() <= 1e-5 * (1.0 + x.abs()), "{x} vs {y}");
        moved = moved.max((x - w).abs());
    }
    assert!(moved > 1e-4, "the update moved the weights ({moved})");
    assert!(
        (sa.policy_loss - sb.policy_loss).abs() < 1e-5,
        "{sa:?} {sb:?}"
    );
    assert!((sa.value_loss - sb.value_loss).abs() < 1e-4 * (1.0 + sa.value_loss.abs()));
    assert!((sa.grad_norm - sb.grad_norm).abs() < 1e-4 * (1.0 + sa.grad_norm));
}

/// The training loop of the `train` binary, on a tiny run: metrics rows, best/ and last/
/// checkpoints that load, and a resume that continues to the configured length.
#[test]
fn the_training_loop_writes_its_run_folder_and_resumes() {
    use powermix_training::run;
    let m = market();
    let out = std::env::temp_dir().join(format!("powermix-train-loop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let spec = spec(&m, (0, 21 * 96), (21 * 96, 28 * 96), &out);
    let mut cfg = small();
    cfg.total_steps = 2 * 48 * 3;
    cfg.validate_every = 2;
    let first = run::train(&cfg, &spec, None, false).unwrap();
    assert_eq!(first.env_steps, 2 * 48 * 3);
    assert!(first.last_validation.is_some());
    powermix_agent::load_checkpoint(&out.join("best")).unwrap();
    powermix_agent::load_checkpoint(&out.join("last")).unwrap();
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let lines: Vec<&str> = metrics.lines().collect();
    assert_eq!(lines.len(), 1 + 3, "{metrics}");
    assert!(lines[0].starts_with("update,env_steps,learning_rate,policy_loss"));
    assert!(lines[0].ends_with("env_steps_per_sec,val_profit,val_value_captured"));
    // Validated at updates 2 and 3 (the end): only those rows carry a validation profit.
    let has_val: Vec<bool> = lines[1..].iter().map(|l| !l.ends_with(",,")).collect();
    assert_eq!(has_val, [false, true, true], "{metrics}");

    // A longer run resumed from last/: refused with other training data (here one more
    // file, as `--also-train` gives), then it continues at update 3 and appends rows.
    cfg.total_steps = 2 * 48 * 4;
    let mut more = spec.clone();
    more.data
        .also_train
        .push(powermix_agent::checkpoint::TrainData {
            file: "more.parquet".into(),
            hash: "1".into(),
            train_period: "test".into(),
        });
    more.also_train.push(TrainSource {
        market: m.clone(),
        start: 0,
        end: 21 * 96,
    });
    let err = run::train(&cfg, &more, Some(&out), false).err().unwrap();
    assert!(
        err.to_string().contains("further files [test (1)]"),
        "{err}"
    );
    // ... and refused with other validation windows (here a --val-data file): best/ is kept
    // by comparing summed validation profits, which other windows would not match.
    let mut other_val = spec.clone();
    other_val.data.val_period = String::new();
    other_val
        .data
        .val_data
        .push(powermix_agent::checkpoint::ValData {
            file: "val.parquet".into(),
            hash: "2".into(),
            val_period: "test".into(),
        });
    let err = run::train(&cfg, &other_val, Some(&out), false)
        .err()
        .unwrap();
    assert!(err.to_string().contains("validated on"), "{err}");
    assert!(err.to_string().contains("files [test (2)]"), "{err}");
    let second = run::train(&cfg, &spec, Some(&out), false).unwrap();
    assert_eq!(second.env_steps, 2 * 48 * 4);
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 1 + 4, "{metrics}");
    // A fresh run into the same folder (no --resume) starts the metrics over: one header,
    // its own rows, none of the run before (whose file might have had other columns).
    std::fs::write(out.join("metrics.csv"), "old,header\n1,2\n").unwrap();
    cfg.total_steps = 2 * 48 * 2;
    run::train(&cfg, &spec, None, false).unwrap();
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let lines: Vec<&str> = metrics.lines().collect();
    assert_eq!(lines.len(), 1 + 2, "{metrics}");
    assert!(lines[0].starts_with("update,env_steps,"), "{metrics}");
    assert!(lines[1].starts_with("1,"), "{metrics}");
    let _ = std::fs::remove_dir_all(&out);
}

/// The starting policy is validated too (update 0): best/ holds the better of it and the
/// updates. Here a large learning rate makes the updates worse than the expert the run
/// starts at, so best/ is the start (update 0), about the expert's own profit.
#[test]
fn best_is_never_worse_than_where_the_run_started() {
    use powermix_eval::harness::PolicyFactory;
    use powermix_training::run;
    let m = market();
    let out = std::env::temp_dir().join(format!("powermix-train-best0-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let spec = spec(&m, (0, 21 * 96), (21 * 96, 28 * 96), &out);
    let mut cfg = small();
    cfg.total_steps = 2 * 48 * 3;
    cfg.validate_every = 100;
    cfg.learning_rate = 0.05;
    // The network's own offer, so that the start is the expert's (with the MPC's offer it
    // is the expert's dispatch beside another offer).
    cfg.day_ahead_head = "none".into();
    let summary = run::train(&cfg, &spec, None, false).unwrap();
    let end = summary.last_validation.unwrap().profit_usd;
    let best = powermix_agent::load_checkpoint(&out.join("best")).unwrap();
    assert_eq!(best.meta.validation["update"], 0);
    // start/ is that same policy, kept whatever best/ becomes.
    let start_dir = powermix_agent::load_checkpoint(&out.join("start")).unwrap();
    assert_eq!(start_dir.meta.model_id, best.meta.model_id);
    assert_eq!(start_dir.meta.validation, best.meta.validation);
    let start = best.meta.validation["profit_usd"].as_f64().unwrap();
    assert!(
        end < start,
        "the updates were meant to lose: {end} against {start}"
    );
    // The start is about the expert: a residual policy whose output layer starts scaled by
    // 0.01 (agent::net), so its corrections are small but not 0 (within 0.04 % of the
    // expert's profit on this month with the 64 features of the observation).
    let expert = powermix_agent::ExpertParams::default_params();
    let f = PolicyFactory {
        market: &spec.market,
        expert: &expert,
        seed: spec.seed,
        checkpoint: None,
        forecasts: None,
    };
    let rules = f
        .run("expert", spec.val[0].start, spec.val[0].end)
        .unwrap()
        .profit_usd;
    assert!(
        (start / rules - 1.0).abs() < 1e-3,
        "{start} against {rules}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// `day_ahead_head` reaches the checkpoints a run writes (best/ and last/), so evaluate,
/// validation and serve make the MPC's offer for them; "none" leaves it out.
#[test]
fn runs_write_their_day_ahead_head() {
    use powermix_training::run;
    let m = market();
    for head in ["day-ahead-mpc", "none"] {
        let out =
            std::env::temp_dir().join(format!("powermix-train-head-{head}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let spec = spec(&m, (0, 14 * 96), (14 * 96, 16 * 96), &out);
        let mut cfg = small();
        cfg.total_steps = 2 * 48;
        cfg.day_ahead_head = head.into();
        run::train(&cfg, &spec, None, false).unwrap();
        for dir in ["best", "last"] {
            let p = powermix_agent::load_checkpoint(&out.join(dir)).unwrap();
            let want = (head != "none").then_some(head);
            assert_eq!(p.day_ahead_head(), want, "{dir}");
        }
        let _ = std::fs::remove_dir_all(&out);
    }
}

/// The rules a residual corrects (`[expert]` in the config, `train --expert FILE`): the
/// trainer's base, the run's `meta.json` (`base_policy`) and the loaded checkpoint's id
/// follow them; the default is the embedded configs/expert.toml; a base of "none" refuses
/// them, naming the field.
#[test]
fn runs_write_the_rules_they_correct() {
    use powermix_agent::ExpertParams;
    use powermix_training::run;
    let m = market();
    let rules = ExpertParams {
        price_da_weight: 0.1,
        four_cp_stop_training: true,
        four_cp_training_min_da_price_usd_per_mwh: Some(500.0),
        ..ExpertParams::default_params()
    };
    let mut ids = Vec::new();
    for expert in [None, Some(rules.clone())] {
        let out = std::env::temp_dir().join(format!(
            "powermix-train-rules-{}-{}",
            expert.is_some(),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&out);
        let mut cfg = small();
        cfg.total_steps = 2 * 48;
        cfg.expert = expert.clone();
        cfg.validate().unwrap();
        let t = Trainer::new(cfg.clone(), m.clone(), 0, m.len(), 5).unwrap();
        let want = expert.clone().unwrap_or_else(ExpertParams::default_params);
        assert_eq!(t.base_params(), Some(want.clone()));
        let run_spec = spec(&m, (0, 14 * 96), (14 * 96, 16 * 96), &out);
        run::train(&cfg, &run_spec, None, false).unwrap();
        let p = powermix_agent::load_checkpoint(&out.join("start")).unwrap();
        assert_eq!(p.meta.base_policy, Some(want));
        // Resuming with other rules is refused: the run would correct two sets of rules.
        let mut other = cfg.clone();
        other.total_steps = 4 * 48;
        other.expert = match expert {
            None => Some(rules.clone()),
            Some(_) => None,
        };
        let e = run::train(&other, &run_spec, Some(&out), false).unwrap_err();
        assert!(e.to_string().contains("the run corrected"), "{e}");
        ids.push((p.meta.model_id.clone(), p.model_id().to_string()));
        let _ = std::fs::remove_dir_all(&out);
    }
    assert_eq!(
        ids[0].0, ids[1].0,
        "the same seed: the same starting network"
    );
    assert_ne!(ids[1].1, ids[0].1, "other rules: another policy id");
    let mut cfg = small();
    cfg.base_policy = "none".into();
    cfg.expert = Some(rules);
    let e = cfg.validate().unwrap_err().0;
    assert!(e.starts_with("expert = "), "{e}");
}

/// Several sources (`train --also-train`): env `e` runs on source `e % sources`. The same
/// market given twice is the one-source rollout to the bit (sharing out changes no random
/// stream, and each env keeps its source's always-on baseline); with a second market the
/// envs on it see its data, the others are unchanged; the parallel path equals the sequential one; and a source on
/// another site is refused, named.
#[test]
fn envs_are_shared_out_over_the_sources_in_turn() {
    let m = market();
    let other = Arc::new(Market::new(
        synth::synthetic_year(2023, 9).slice(0, 30 * 96),
        SiteConfig::default_site(),
    ));
    let src = |m: &Arc<Market>| TrainSource {
        market: m.clone(),
        start: 0,
        end: m.len(),
    };
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let n = 4;
    // Env e's values of a step-major rollout.
    let env_rows = |v: &[f32], e: usize, width: usize| -> Vec<u32> {
        v.chunks_exact(width)
            .skip(e)
            .step_by(n)
            .flatten()
            .map(|x| x.to_bits())
            .collect()
    };

    // The first rollout of a trainer with `threads` on `sources`.
    let rollout = |threads: usize, sources: &[TrainSource]| {
        let mut t = Trainer::with_sources(with_threads(threads, 32), sources, 5).unwrap();
        t.collect().0
    };
    let (one, _) = Trainer::new(with_threads(1, 32), m.clone(), 0, m.len(), 5)
        .unwrap()
        .collect();
    let twice = rollout(1, &[src(&m), src(&m)]);
    assert_eq!(bits(&one.obs), bits(&twice.obs));
    assert_eq!(bits(&one.rewards), bits(&twice.rewards));
    assert_eq!(bits(&one.actions), bits(&twice.actions));

    let mixed = rollout(1, &[src(&m), src(&other)]);
    let mixed_par = rollout(2, &[src(&m), src(&other)]);
    assert_eq!(bits(&mixed.obs), bits(&mixed_par.obs));
    assert_eq!(bits(&mixed.rewards), bits(&mixed_par.rewards));
    let obs = powermix_env::OBS_DIM;
    for e in 0..n {
        let same_obs = env_rows(&one.obs, e, obs) == env_rows(&mixed.obs, e, obs);
        let act = powermix_env::ACTION_DIM;
        let same_actions = env_rows(&one.actions, e, act) == env_rows(&mixed.actions, e, act);
        // Envs 0 and 2 on `m` as before; 1 and 3 on `other`. (Rewards are scaled by
        // statistics shared by all envs, so they differ everywhere.)
        assert_eq!(same_obs, e % 2 == 0, "env {e} observations");
        assert_eq!(same_actions, e % 2 == 0, "env {e} actions");
    }

    let mut site = SiteConfig::default_site();
    site.mining.pool_fee += 0.01;
    let elsewhere = Arc::new(Market::new(
        synth::synthetic_year(2023, 9).slice(0, 30 * 96),
        site,
    ));
    let err = Trainer::with_sources(small(), &[src(&m), src(&elsewhere)], 5)
        .err()
        .expect("a source on another site is refused");
    assert!(err.to_string().contains("training source 1"), "{err}");
    // A window too short for an episode is refused, naming its source.
    let short = TrainSource {
        market: other.clone(),
        start: 0,
        end: 96,
    };
    let err = Trainer::with_sources(small(), &[src(&m), short], 5)
        .err()
        .expect("a window shorter than an episode is refused");
    assert!(
        err.to_string().contains("training source 1: window"),
        "{err}"
    );
}

/// Validation on several windows (`train --val-data`, here two data files): best/'s
/// validation profit is the sum of its backtests on each window, its references the sums
/// of always-on's and the oracle's, and meta.json names the files instead of a period on
/// the training data.
#[test]
fn validation_on_several_files_sums_their_profits() {
    use powermix_agent::checkpoint::ValData;
    use powermix_eval::harness::PolicyFactory;
    use powermix_training::run;
    let m = market();
    let other = Arc::new(Market::new(
        synth::synthetic_year(2024, 9).slice(0, 10 * 96),
        SiteConfig::default_site(),
    ));
    let out = std::env::temp_dir().join(format!("powermix-train-valdata-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let mut spec = spec(&m, (0, 21 * 96), (21 * 96, 28 * 96), &out);
    spec.val.push(TrainSource {
        market: other.clone(),
        start: 2 * 96,
        end: 9 * 96,
    });
    spec.data.val_period = String::new();
    spec.data.val_data = vec![
        ValData {
            file: "a.parquet".into(),
            hash: "a".into(),
            val_period: "2024-01-22..2024-01-29".into(),
        },
        ValData {
            file: "b.parquet".into(),
            hash: "b".into(),
            val_period: "2024-01-03..2024-01-10".into(),
        },
    ];
    let mut cfg = small();
    cfg.total_steps = 2 * 48 * 2;
    cfg.validate_every = 1;
    run::train(&cfg, &spec, None, false).unwrap();
    let best = powermix_agent::load_checkpoint(&out.join("best")).unwrap();
    assert_eq!(best.meta.data.val_data, spec.data.val_data);
    assert_eq!(best.meta.data.val_period, "");
    assert_eq!(best.meta.validation["val_data"][1]["file"], "b.parquet");
    let start = powermix_agent::load_checkpoint(&out.join("start")).unwrap();
    assert_eq!(start.meta.validation["update"], 0);
    let expert = powermix_agent::ExpertParams::default_params();
    let (mut profit, mut always_on) = (0.0, 0.0);
    for w in &spec.val {
        let mut policy = powermix_eval::planned_policy(
            powermix_agent::load_checkpoint(&out.join("best")).unwrap(),
            &w.market.cfg,
        );
        profit += powermix_eval::backtest(&w.market, w.start, w.end, policy.as_mut(), spec.seed)
            .unwrap()
            .profit_usd;
        let f = PolicyFactory {
            market: &w.market,
            expert: &expert,
            seed: spec.seed,
            checkpoint: None,
            forecasts: None,
        };
        always_on += f.run("always-on", w.start, w.end).unwrap().profit_usd;
    }
    let v = &best.meta.validation;
    assert!(
        (v["profit_usd"].as_f64().unwrap() - profit).abs() < 1e-6,
        "{v} against {profit}"
    );
    assert!(
        (v["always_on_usd"].as_f64().unwrap() - always_on).abs() < 1e-6,
        "{v}"
    );
    // Each window alone is a different figure (the sum is not one window counted twice).
    let one = run::references(&run::RunSpec {
        val: spec.val[..1].to_vec(),
        ..spec.clone()
    })
    .unwrap();
    assert!((one.always_on - always_on).abs() > 1.0);
    // No window at all is refused.
    let none = run::RunSpec {
        val: Vec::new(),
        ..spec.clone()
    };
    let err = run::train(&cfg, &none, None, false).err().unwrap();
    assert!(err.to_string().contains("no validation window"), "{err}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn same_input_advantages_run_the_forks_and_report_how_much_variance_they_explain() {
    let m = market();
    let mut c = small();
    c.advantage = "same_input".into();
    c.same_input_horizon = 8;
    let mut a = Trainer::new(c.clone(), m.clone(), 0, m.len(), 5).unwrap();
    let mut b = Trainer::new(c, m.clone(), 0, m.len(), 5).unwrap();
    let before = weights(&a);
    let sa = a.step();
    let sb = b.step();
    let ev = sa
        .same_input_explained_variance
        .expect("reported with forks");
    assert!(ev.is_finite() && ev <= 1.0, "{ev}");
    // The forks and their advantages are deterministic, like the rest of a run.
    assert_eq!(
        sa.same_input_explained_variance,
        sb.same_input_explained_variance
    );
    assert_eq!(weights(&a), weights(&b));
    assert_ne!(weights(&a), before);
    // Plain GAE reports no fork figure.
    let mut g = Trainer::new(small(), m.clone(), 0, m.len(), 5).unwrap();
    assert_eq!(g.step().same_input_explained_variance, None);
    // Forks run the base rules: a policy without a base is refused by name.
    let mut c = small();
    c.advantage = "same_input".into();
    c.base_policy = "none".into();
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("advantage") && e.contains("base_policy"), "{e}");
    let mut c = small();
    c.advantage = "td".into();
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("advantage = \"td\""), "{e}");
}

#[test]
fn residual_l2_pulls_the_output_to_its_base_and_is_checked() {
    // The same rollout, one update with and one without the pull: the pulled network's
    // output ends nearer 0 (its base) on the rollout's observations.
    let m = market();
    let out_norm = |l2: f64| {
        let mut c = small();
        c.residual_l2 = l2;
        c.init_log_std = -2.0;
        let mut t = Trainer::new(c, m.clone(), 0, m.len(), 5).unwrap();
        for _ in 0..3 {
            t.step();
        }
        let actor = powermix_agent::net::FastActor::from_model(&t.model).unwrap();
        let mut out = [0.0f32; powermix_env::ACTION_DIM];
        let mut sum = 0.0f64;
        for k in 0..50 {
            let obs: Vec<f32> = (0..powermix_env::OBS_DIM)
                .map(|i| ((i * 7 + k * 13) % 11) as f32 / 5.0 - 1.0)
                .collect();
            actor.forward(&obs, &mut out);
            sum += out.iter().map(|x| (*x as f64).powi(2)).sum::<f64>();
        }
        sum
    };
    assert!(out_norm(100.0) < out_norm(0.0));
    let mut c = small();
    c.residual_l2 = f64::NAN;
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("residual_l2 = NaN"), "{e}");
}

#[test]
fn hindsight_labels_add_their_loss_and_are_checked() {
    let m = market();
    let mut c = small();
    c.hindsight_coef = 1.0;
    let mut t = Trainer::new(c, m.clone(), 0, m.len(), 5).unwrap();
    let s = t.step();
    let h = s.hindsight_loss.expect("reported with labels");
    assert!(h.is_finite() && h >= 0.0, "{h}");
    let mut g = Trainer::new(small(), m.clone(), 0, m.len(), 5).unwrap();
    assert_eq!(g.step().hindsight_loss, None);
    let mut c = small();
    c.hindsight_coef = 1.0;
    c.base_policy = "none".into();
    let e = c.validate().unwrap_err().to_string();
    assert!(
        e.contains("hindsight_coef") && e.contains("base_policy"),
        "{e}"
    );
    let mut c = small();
    c.hindsight_weight_cap = -1.0;
    assert!(
        c.validate()
            .unwrap_err()
            .to_string()
            .contains("hindsight_weight_cap = -1")
    );
}

#[test]
fn a_trainer_refuses_a_config_that_validate_refuses() {
    // A config built in code skips `TrainConfig::load`; the trainer checks it itself rather
    // than dividing by a zero env count later.
    let m = market();
    let mut c = small();
    c.n_envs = 0;
    let err = match Trainer::new(c, m.clone(), 0, m.len(), 5) {
        Ok(_) => panic!("a trainer with no envs was built"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("n_envs = 0"), "{err}");
    let mut c = small();
    c.advantage = "critic".into();
    let err = Trainer::new(c, m.clone(), 0, m.len(), 5)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("advantage"), "{err}");
}
