//! Checkpoint save/load: round trip to the bit, determinism, atomic replacement and recovery,
//! and clear refusals of damaged or incompatible folders.

use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};
use powermix_agent::checkpoint::{
    self, CheckpointErrorKind, CheckpointInfo, DataInfo, META_FILE, MODEL_FILE, OPTIMIZER_FILE,
};
use powermix_agent::net::{ActorCritic, ActorCriticConfig, ObsNormalizer, outputs_finite};
use powermix_agent::{LoadedPolicy, Policy, load_checkpoint, save_checkpoint};
use powermix_data::synth::synthetic_year;
use powermix_env::rng::Rng;
use powermix_env::{ACTION_DIM, Market, OBS_DIM, SiteConfig, SiteState};
use rand::RngExt;
use rand_distr::StandardNormal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "powermix-ckpt-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A seeded model whose means spread over and beyond [0, 1] (so clamping is exercised).
fn model(seed: u64) -> ActorCritic {
    let m = ActorCriticConfig::default().init_seeded(seed, &Device::flex());
    let n = m.actor.len();
    ActorCritic {
        actor: m
            .actor
            .into_iter()
            .enumerate()
            .map(|(l, layer)| {
                if l + 1 == n {
                    Linear {
                        weight: layer.weight.map(|w| w.mul_scalar(60.0)),
                        bias: layer.bias.map(|b| b.map(|b| b.add_scalar(0.5))),
                    }
                } else {
                    layer
                }
            })
            .collect(),
        ..m
    }
}

fn random_obs(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n * OBS_DIM)
        .map(|i| {
            (rng.sample::<f64, _>(StandardNormal) * (1.0 + (i % 5) as f64) + (i % 3) as f64) as f32
        })
        .collect()
}

fn normalizer() -> ObsNormalizer {
    let mut n = ObsNormalizer::new(OBS_DIM, 5.0);
    n.update(&random_obs(&mut Rng::new(77), 500));
    n
}

fn info() -> CheckpointInfo {
    CheckpointInfo {
        normalizer: normalizer(),
        site_config: SiteConfig::default_site(),
        data: DataInfo {
            file: "embedded:synthetic-2024-seed7".into(),
            hash: checkpoint::hash_hex(b"data"),
            train_period: "2024-01-01..2024-10-01".into(),
            val_period: "2024-10-01..2025-01-01".into(),
            also_train: Vec::new(),
            val_data: Vec::new(),
        },
        seed: 7,
        hyperparameters: serde_json::json!({"lr": 3e-4, "gamma": 0.99}),
        commit: None,
        validation: serde_json::json!({"value_captured": 0.5}),
        command: checkpoint::command_line(),
        base_policy: None,
        base_planner: None,
        day_ahead_head: None,
    }
}

fn save(dir: &Path, m: &ActorCritic) -> checkpoint::CheckpointMeta {
    save_checkpoint(dir, m, &info(), &[]).unwrap()
}

/// Saves a fresh model whose actor gives the first `act_dim` action values, as a
/// checkpoint of a build that had only those (`action_names` cut to match).
fn save_with_actions(dir: &Path, act_dim: usize, seed: u64) -> ActorCritic {
    let cfg = ActorCriticConfig {
        act_dim,
        ..ActorCriticConfig::default()
    };
    let m = cfg.init_seeded(seed, &Device::flex());
    save(dir, &m);
    edit_meta(dir, |v| {
        v["action_names"].as_array_mut().unwrap().truncate(act_dim);
    });
    m
}

fn edit_meta(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let p = dir.join(META_FILE);
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

fn err_of(dir: &Path) -> checkpoint::CheckpointError {
    match load_checkpoint(dir) {
        Ok(_) => panic!("{} loaded but should not", dir.display()),
        Err(e) => e,
    }
}

#[test]
fn round_trip_gives_bit_identical_actions() {
    let root = scratch("roundtrip");
    let dir = root.join("ckpt");
    let m = model(1);
    let meta = save(&dir, &m);
    let loaded = load_checkpoint(&dir).unwrap();
    assert_eq!(loaded.meta, meta);
    assert_eq!(loaded.name(), format!("ppo:{}", meta.model_id));
    assert_eq!(loaded.source_dir, dir);
    let original = LoadedPolicy::from_parts(meta.clone(), m.clone(), dir.clone()).unwrap();

    let n = 200;
    let obs = random_obs(&mut Rng::new(3), n);
    let mut norm = vec![0.0f32; obs.len()];
    meta.normalizer.normalize_batch(&obs, &mut norm);
    let burn_mean: Vec<f32> = loaded
        .model
        .mean(Tensor::<2>::from_data(
            TensorData::new(norm, [n, OBS_DIM]),
            &Device::flex(),
        ))
        .into_data()
        .try_to_vec()
        .unwrap();
    let (mut below, mut above) = (0, 0);
    for r in 0..n {
        let o = &obs[r * OBS_DIM..(r + 1) * OBS_DIM];
        let (a, b) = (original.act_raw(o), loaded.act_raw(o));
        assert_eq!(a.map(f32::to_bits), b.map(f32::to_bits), "row {r}");
        assert!(outputs_finite(&a));
        for j in 0..ACTION_DIM {
            assert!((a[j] - burn_mean[r * ACTION_DIM + j]).abs() <= 1e-5);
            below += (a[j] < 0.0) as usize;
            above += (a[j] > 1.0) as usize;
        }
        let act = powermix_agent::net::clamp_action(&b);
        assert!(act.iter().all(|x| (0.0..=1.0).contains(x)));
    }
    assert!(
        below > 0 && above > 0,
        "means should leave [0, 1]: {below} {above}"
    );
    // A single-file run writes no `also_train`; a run with more training files keeps each
    // one's name, hash and period.
    let text = std::fs::read_to_string(dir.join(META_FILE)).unwrap();
    assert!(!text.contains("also_train"), "{text}");
    let mut more = info();
    more.data.also_train = vec![checkpoint::TrainData {
        file: "runs/synth-train/y2019-2022-s201.parquet".into(),
        hash: checkpoint::hash_hex(b"synth"),
        train_period: "2019-01-01..2023-01-01".into(),
    }];
    let dir2 = root.join("more");
    let meta2 = save_checkpoint(&dir2, &m, &more, &[]).unwrap();
    let loaded2 = load_checkpoint(&dir2).unwrap();
    assert_eq!(loaded2.meta, meta2);
    assert_eq!(loaded2.meta.data.also_train, more.data.also_train);
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn saves_are_deterministic_and_replace_atomically() {
    let root = scratch("determinism");
    let (a, b) = (root.join("a"), root.join("b"));
    let m = model(2);
    let ma = save(&a, &m);
    let mb = save(&b, &model(2));
    let bytes_a = std::fs::read(a.join(MODEL_FILE)).unwrap();
    assert_eq!(bytes_a, std::fs::read(b.join(MODEL_FILE)).unwrap());
    assert_eq!(ma.model_id, mb.model_id);
    assert_ne!(ma.model_id, save(&b, &model(3)).model_id);

    // A loaded model saves to the same bytes again.
    let loaded = load_checkpoint(&a).unwrap();
    assert_eq!(checkpoint::model_bytes(&loaded.model).unwrap(), bytes_a);

    // Replacing an existing folder leaves no temp or old folders behind, and no stale extras.
    save_checkpoint(&a, &m, &info(), &[(OPTIMIZER_FILE, b"adam state")]).unwrap();
    assert_eq!(
        checkpoint::read_extra(&a, OPTIMIZER_FILE).unwrap(),
        b"adam state"
    );
    save(&a, &model(4));
    assert_eq!(
        checkpoint::read_extra(&a, OPTIMIZER_FILE).unwrap_err().kind,
        CheckpointErrorKind::Missing
    );
    let names: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let bad = save_checkpoint(&a, &m, &info(), &[("../x", b"")]).unwrap_err();
    assert_eq!(bad.kind, CheckpointErrorKind::InvalidInput);
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn leftovers_of_killed_saves_do_not_break_loading() {
    let root = scratch("killed");
    let dir = root.join("ckpt");
    let meta = save(&dir, &model(5));
    // A save killed while writing: a partial temp folder beside.
    let partial = root.join("ckpt.tmp-999999");
    std::fs::create_dir_all(&partial).unwrap();
    std::fs::write(partial.join(MODEL_FILE), b"half a mod").unwrap();
    assert_eq!(load_checkpoint(&dir).unwrap().meta.model_id, meta.model_id);
    // A later save in this process still works with the leftover there.
    save(&dir, &model(6));
    assert!(load_checkpoint(&dir).is_ok());

    // Killed between the two renames: DIR is gone, DIR.old-<pid> is the last checkpoint.
    let old = root.join("ckpt.old-424242");
    std::fs::rename(&dir, &old).unwrap();
    let p = load_checkpoint(&dir).unwrap();
    assert_eq!(p.source_dir, old);
    // Only a partial temp folder: a clear "missing" error.
    std::fs::remove_dir_all(&old).unwrap();
    let e = err_of(&dir);
    assert_eq!(e.kind, CheckpointErrorKind::Missing);
    assert!(e.to_string().contains("no such checkpoint folder"), "{e}");
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn damaged_files_are_refused_with_the_file_and_problem() {
    let root = scratch("damaged");
    let fresh = |name: &str| {
        let d = root.join(name);
        save(&d, &model(8));
        d
    };

    // Truncated model file.
    let d = fresh("truncated");
    let bytes = std::fs::read(d.join(MODEL_FILE)).unwrap();
    std::fs::write(d.join(MODEL_FILE), &bytes[..bytes.len() / 2]).unwrap();
    let e = err_of(&d);
    assert_eq!(e.kind, CheckpointErrorKind::Damaged);
    assert!(e.path.ends_with(MODEL_FILE), "{e}");
    assert!(e.message.contains("does not match model_id"), "{e}");

    // Deleted model file.
    let d = fresh("deleted");
    std::fs::remove_file(d.join(MODEL_FILE)).unwrap();
    let e = err_of(&d);
    assert_eq!(e.kind, CheckpointErrorKind::Missing);
    assert!(e.path.ends_with(MODEL_FILE), "{e}");

    // meta.json: not JSON, cut short, a missing field, a wrong type.
    let d = fresh("badjson");
    std::fs::write(d.join(META_FILE), b"{ \"format_version\": 1, ").unwrap();
    let e = err_of(&d);
    assert_eq!(e.kind, CheckpointErrorKind::Damaged);
    assert!(
        e.path.ends_with(META_FILE) && e.message.contains("not valid JSON"),
        "{e}"
    );
    let d = fresh("nofield");
    edit_meta(&d, |v| {
        v.as_object_mut().unwrap().remove("normalizer");
    });
    let e = err_of(&d);
    assert!(e.message.contains("normalizer"), "{e}");
    let d = fresh("badvar");
    edit_meta(&d, |v| v["normalizer"]["var"][4] = serde_json::json!(-2.0));
    assert!(err_of(&d).message.contains("var[4]"));
    let d = fresh("nometa");
    std::fs::remove_file(d.join(META_FILE)).unwrap();
    let e = err_of(&d);
    assert_eq!(e.kind, CheckpointErrorKind::Missing);
    assert!(e.path.ends_with(META_FILE));

    // A byte flipped anywhere, meta.json patched to the new hash: an error or a model, never a
    // panic, and never non-finite outputs from a model that loaded.
    let d = fresh("flipped");
    let bytes = std::fs::read(d.join(MODEL_FILE)).unwrap();
    let mut rng = Rng::new(12);
    let mut refused = 0;
    for k in 0..60 {
        let mut b = bytes.clone();
        let at = if k < 30 {
            k * 7 % 400
        } else {
            rng.random_range(0..b.len())
        };
        b[at] ^= 0x5a;
        std::fs::write(d.join(MODEL_FILE), &b).unwrap();
        edit_meta(&d, |v| v["model_id"] = checkpoint::hash_hex(&b).into());
        match load_checkpoint(&d) {
            Ok(p) => assert!(outputs_finite(&p.act_raw(&[0.0; OBS_DIM]))),
            Err(e) => {
                assert!(e.path.ends_with(MODEL_FILE), "{e}");
                refused += 1;
            }
        }
    }
    assert!(refused > 0);
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn incompatible_layouts_are_refused_naming_the_difference() {
    let root = scratch("incompatible");
    let fresh = |name: &str| {
        let d = root.join(name);
        save(&d, &model(9));
        d
    };
    let d = fresh("order");
    edit_meta(&d, |v| {
        let names = v["obs_names"].as_array_mut().unwrap();
        names.swap(3, 4);
    });
    let e = err_of(&d);
    assert_eq!(e.kind, CheckpointErrorKind::Incompatible);
    assert!(
        e.message
            .contains("obs_names[3] is 'rt_mean_24h' in the checkpoint but 'rt_mean_4h'"),
        "{e}"
    );
    let d = fresh("actions");
    edit_meta(&d, |v| {
        v["action_names"].as_array_mut().unwrap().pop();
    });
    let e = err_of(&d);
    assert!(
        e.message.contains("action_names has 10 names") && e.message.contains("da_peak_withhold"),
        "{e}"
    );
    let d = fresh("dims");
    edit_meta(&d, |v| v["obs_dim"] = 41.into());
    assert!(err_of(&d).message.contains("obs_dim is 41"));
    let d = fresh("version");
    edit_meta(&d, |v| v["format_version"] = 2.into());
    let e = err_of(&d);
    assert_eq!(e.kind, CheckpointErrorKind::Incompatible);
    assert!(e.message.contains("unknown format_version 2"), "{e}");

    // meta.json claims other hidden sizes than the model file has.
    let d = fresh("hidden");
    edit_meta(&d, |v| v["hidden"] = serde_json::json!([64, 32]));
    let e = err_of(&d);
    assert_eq!(e.kind, CheckpointErrorKind::Damaged);
    assert!(
        e.path.ends_with(MODEL_FILE) && e.message.contains("[64, 32]"),
        "{e}"
    );

    // A model with a non-finite weight saves but does not load.
    let d = root.join("nan");
    let m = model(10);
    let mut layers = m.actor.clone();
    layers[0] = Linear {
        weight: layers[0].weight.clone().map(|w| w.mul_scalar(f32::NAN)),
        bias: layers[0].bias.clone(),
    };
    save(&d, &ActorCritic { actor: layers, ..m });
    let e = err_of(&d);
    assert!(e.message.contains("actor.0.weight[0] = NaN"), "{e}");
    let _ = std::fs::remove_dir_all(root);
}

/// A checkpoint from before `da_peak_withhold` (10 action values) loads and acts: its 10
/// outputs as they were, the missing value 0 (a flat day-ahead offer). Fewer values, or
/// names that are not this build's first ten, are refused.
#[test]
fn checkpoints_from_before_the_peak_withhold_act_with_it_at_zero() {
    use powermix_agent::checkpoint::LEGACY_ACTION_DIM;
    let root = scratch("legacy");
    let legacy = |name: &str, act_dim: usize| {
        let d = root.join(name);
        (d.clone(), save_with_actions(&d, act_dim, 21))
    };
    let (d, m) = legacy("ten", LEGACY_ACTION_DIM);
    let p = load_checkpoint(&d).unwrap();
    let mut rng = Rng::new(5);
    for o in random_obs(&mut rng, 20).chunks_exact(OBS_DIM) {
        let got = p.act_raw(o);
        let mut norm = vec![0.0f32; OBS_DIM];
        p.meta.normalizer.normalize(o, &mut norm);
        let want = m
            .mean(Tensor::<2>::from_data(
                TensorData::new(norm, [1, OBS_DIM]),
                &Device::flex(),
            ))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(want.len(), LEGACY_ACTION_DIM);
        for k in 0..LEGACY_ACTION_DIM {
            assert!(
                (got[k] - want[k]).abs() <= 1e-5,
                "value {k}: {} vs {}",
                got[k],
                want[k]
            );
        }
        assert_eq!(
            got[ACTION_DIM - 1],
            0.0,
            "da_peak_withhold of a legacy checkpoint"
        );
    }
    let (d, _) = legacy("nine", 9);
    let e = err_of(&d);
    assert_eq!(e.kind, CheckpointErrorKind::Incompatible);
    assert!(e.message.contains("act_dim is 9"), "{e}");
    // Ten values under other names: refused by name.
    let (d, _) = legacy("renamed", LEGACY_ACTION_DIM);
    edit_meta(&d, |v| v["action_names"][9] = "da_peak_withhold".into());
    let e = err_of(&d);
    assert!(
        e.message.contains("action_names[9] is 'da_peak_withhold'"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn loaded_policy_decides_from_snapshots() {
    let root = scratch("policy");
    let dir = root.join("ckpt");
    save(&dir, &model(11));
    let mut p = load_checkpoint(&dir).unwrap();
    let cfg = SiteConfig::default_site();
    let market = Market::new(synthetic_year(2024, 7), cfg.clone());
    let state = SiteState::initial(&cfg);
    let mut distinct = std::collections::BTreeSet::new();
    for t in (0..market.len()).step_by(997) {
        let snap = market.snapshot(t, &state);
        let a = p.act(&snap);
        let raw = p.act_raw(&p.observe(&snap));
        assert_eq!(p.base_action(&snap), [0.0; ACTION_DIM], "no base policy");
        assert_eq!(a.to_array(), powermix_agent::net::clamp_action(&raw));
        assert_eq!(Ok(a), p.try_act(&snap));
        let v = a.to_array();
        assert!(v.iter().all(|x| (0.0..=1.0).contains(x)));
        distinct.insert(v.map(f32::to_bits));
    }
    assert!(
        distinct.len() > 10,
        "actions should vary: {}",
        distinct.len()
    );
    let _ = std::fs::remove_dir_all(root);
}

/// A residual checkpoint decides expert action + network output, clamped; with a zero
/// output layer it is exactly the expert.
#[test]
fn residual_checkpoints_add_the_network_to_the_expert() {
    use powermix_agent::rules::{Expert, ExpertParams};
    let root = scratch("residual");
    let cfg = SiteConfig::default_site();
    let market = Market::new(synthetic_year(2024, 7), cfg.clone());
    let expert = Expert::new(&cfg, ExpertParams::default_params());
    let mut residual_info = info();
    residual_info.base_policy = Some(ExpertParams::default_params());

    // Zero output layer: the residual policy is the expert, interval by interval.
    let mut zero = model(5);
    if let Some(last) = zero.actor.last_mut() {
        let d = Device::flex();
        let [i, o] = last.weight.val().dims();
        last.weight = burn::module::Param::initialized(
            last.weight.id,
            Tensor::<2>::from_data(TensorData::new(vec![0.0f32; i * o], [i, o]), &d),
        );
        if let Some(b) = last.bias.take() {
            last.bias = Some(burn::module::Param::initialized(
                b.id,
                Tensor::<1>::from_data(TensorData::new(vec![0.0f32; o], [o]), &d),
            ));
        }
    }
    let dir = root.join("zero");
    save_checkpoint(&dir, &zero, &residual_info, &[]).unwrap();
    let mut p = load_checkpoint(&dir).unwrap();
    let mut offers = 0;
    for t in (0..market.len()).filter(|&t| t % 389 == 0 || (market.is_da_gate(t) && t % 7 == 0)) {
        let state = SiteState::initial(&cfg);
        let snap = market.snapshot(t, &state);
        let want = expert.decide(&snap);
        offers += usize::from(want.da_offer.iter().any(|&x| x > 0.0));
        // The network path is f32: the expert's action as f32 values.
        let want = powermix_env::Action::from_values_unchecked(&want.to_array());
        assert_eq!(p.act(&snap), want, "t={t}");
    }
    assert!(offers > 0, "the sample should include reserve offers");

    // The same network on rules that blend the day-ahead price: it acts as those rules do,
    // and its id differs (the id of the rules without the blend stays the model id).
    let blend = ExpertParams {
        price_da_weight: 0.5,
        ..ExpertParams::default_params()
    };
    let blended_expert = Expert::new(&cfg, blend.clone());
    let mut blend_info = residual_info.clone();
    blend_info.base_policy = Some(blend);
    let bdir = root.join("zero-blend");
    save_checkpoint(&bdir, &zero, &blend_info, &[]).unwrap();
    let mut b = load_checkpoint(&bdir).unwrap();
    assert_eq!(
        p.model_id(),
        p.meta.model_id,
        "w = 0: the model id, as before"
    );
    assert_eq!(b.meta.model_id, p.meta.model_id, "the same network");
    assert_ne!(b.model_id(), p.model_id(), "other rules, another policy id");
    assert_eq!(b.name(), format!("ppo:{}", b.model_id()));
    let mut differ = 0;
    for t in (0..market.len()).step_by(389) {
        let snap = market.snapshot(t, &SiteState::initial(&cfg));
        let want = blended_expert.decide(&snap);
        differ += usize::from(want.tranche != expert.decide(&snap).tranche);
        let want = powermix_env::Action::from_values_unchecked(&want.to_array());
        assert_eq!(b.act(&snap), want, "t={t}");
    }
    assert!(differ > 0, "the blend should change some decisions");

    // A real network: expert + raw output, clamped.
    let dir = root.join("net");
    save_checkpoint(&dir, &model(6), &residual_info, &[]).unwrap();
    let mut p = load_checkpoint(&dir).unwrap();
    for t in (0..market.len()).step_by(997) {
        let state = SiteState::initial(&cfg);
        let snap = market.snapshot(t, &state);
        let raw = p.act_raw(&p.observe(&snap));
        let base = expert.decide(&snap).to_array();
        let sum = powermix_agent::policy::residual_action(&base, &raw, &expert.fixed_values(&snap));
        if !snap.emergency.active() {
            assert_eq!(sum, std::array::from_fn(|k| raw[k] + base[k]));
        }
        assert_eq!(
            p.act(&snap).to_array(),
            powermix_agent::net::clamp_action(&sum),
            "t={t}"
        );
    }

    // Rules that leave the miners' price decision to the network: the network corrects the
    // tranches and nothing else, and not the tranches at a likely 4CP interval.
    let pricing = ExpertParams {
        miners_follow_price: false,
        ..ExpertParams::default_params()
    };
    let pricing_expert = Expert::new(&cfg, pricing.clone());
    let mut pricing_info = residual_info.clone();
    pricing_info.base_policy = Some(pricing.clone());
    let pdir = root.join("net-prices");
    save_checkpoint(&pdir, &model(6), &pricing_info, &[]).unwrap();
    let mut q = load_checkpoint(&pdir).unwrap();
    let (mut corrected, mut peaks) = (0, 0);
    for t in 0..market.len() {
        let snap = market.snapshot(t, &SiteState::initial(&cfg));
        if snap.emergency.active() {
            continue;
        }
        let base = pricing_expert.decide(&snap).to_array();
        let got = q.act(&snap).to_array();
        let n = powermix_env::config::TRANCHES;
        assert_eq!(
            got[n..],
            base[n..],
            "t={t}: only the tranches take the network"
        );
        if pricing_expert.likely_peak(&snap, pricing.four_cp_load_ratio) {
            peaks += 1;
            assert_eq!(got[..n], [0.0; 3], "t={t}: the 4CP stop binds");
        } else if got[..n] != base[..n] {
            corrected += 1;
        }
    }
    assert!(peaks > 0, "the year should hold likely peaks");
    assert!(corrected > 0, "the network should correct some tranches");

    // A base policy with out-of-range parameters is refused, naming the field.
    edit_meta(&dir, |v| {
        v["base_policy"]["four_cp_load_ratio"] = serde_json::json!(7.0);
    });
    let e = err_of(&dir);
    assert!(e.to_string().contains("four_cp_load_ratio"), "{e}");

    // A planner base: known names load (and say so), others are refused by name.
    save_checkpoint(&dir, &model(6), &residual_info, &[]).unwrap();
    edit_meta(&dir, |v| {
        v["base_planner"] = serde_json::json!("day-ahead-mpc")
    });
    assert_eq!(
        load_checkpoint(&dir).unwrap().planner(),
        Some("day-ahead-mpc")
    );
    edit_meta(&dir, |v| {
        v["base_planner"] = serde_json::json!("crystal-ball")
    });
    let e = err_of(&dir);
    assert!(
        e.to_string().contains("base_planner \"crystal-ball\""),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn resume_path_trains_on_the_autodiff_device() {
    // What PPO does: a model on the autodiff device, saved with an optimiser blob, loaded back
    // onto the autodiff device (resume) with gradients flowing to every parameter.
    let root = scratch("resume");
    let dir = root.join("ckpt");
    let train = Device::flex().autodiff();
    let m = ActorCriticConfig::default().init_seeded(13, &train);
    let meta = save_checkpoint(&dir, &m, &info(), &[(OPTIMIZER_FILE, b"opt")]).unwrap();
    let m2 = checkpoint::load_model(&dir, &checkpoint::read_meta(&dir).unwrap(), &train).unwrap();
    assert_eq!(
        checkpoint::model_bytes(&m2).unwrap(),
        checkpoint::model_bytes(&m).unwrap()
    );
    assert_eq!(meta.model_id, load_checkpoint(&dir).unwrap().meta.model_id);

    let obs = Tensor::<2>::from_data(
        TensorData::new(random_obs(&mut Rng::new(5), 8), [8, OBS_DIM]),
        &train,
    );
    let (mean, log_std, value) = m2.forward(obs);
    let actions = mean.clone().detach().add_scalar(0.1);
    let logp = powermix_agent::net::gaussian_log_prob(mean, log_std.clone(), actions);
    let loss = logp.mean().neg()
        + value.powi_scalar(2).mean()
        + powermix_agent::net::gaussian_entropy(log_std).mul_scalar(-0.01);
    let grads = loss.backward();
    assert!(m2.log_std.val().grad(&grads).is_some());
    for l in m2.actor.iter().chain(&m2.critic) {
        assert!(l.weight.val().grad(&grads).is_some());
    }
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn loaded_policy_is_shareable_between_threads() {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<LoadedPolicy>();
    send_sync::<powermix_agent::FastActor>();
}

/// meta.json's command names the program by its file name, the same on every machine.
#[test]
fn command_line_names_the_program_without_its_folder() {
    let line = checkpoint::command_line();
    let program = line.split(' ').next().unwrap();
    assert!(!program.is_empty() && !program.contains('/'), "{line}");
    let argv0 = std::env::args().next().unwrap();
    assert!(argv0.ends_with(program), "{argv0} vs {program}");
}

/// An ensemble acts, value by value, as the median of its members' actions, under an id of
/// its own that depends on the members and their order.
#[test]
fn ensembles_act_as_the_median_of_their_members() {
    let root = scratch("ensemble");
    let dirs: Vec<PathBuf> = (0..3)
        .map(|i| {
            let d = root.join(format!("m{i}"));
            save(&d, &model(20 + i));
            d
        })
        .collect();
    let out = root.join("ens");
    let top = checkpoint::save_ensemble(&out, &dirs, "ensemble m0 m1 m2", None).unwrap();
    let spec = top.ensemble.clone().unwrap();
    assert_eq!(spec.combine, "median");
    assert_eq!(spec.command, "ensemble m0 m1 m2");
    assert_eq!(spec.members.len(), 2);
    let ens = load_checkpoint(&out).unwrap();
    assert_eq!(ens.member_count(), 3);
    assert_eq!(ens.meta, top, "meta.json as written");
    assert_ne!(ens.model_id(), top.model_id, "the ensemble's own id");
    assert_eq!(ens.name(), format!("ppo:{}", ens.model_id()));
    // Members keep their own meta.json and model, byte for byte.
    for (d, rel) in dirs[1..].iter().zip(&spec.members) {
        for f in [META_FILE, MODEL_FILE] {
            assert_eq!(
                std::fs::read(d.join(f)).unwrap(),
                std::fs::read(out.join(rel).join(f)).unwrap()
            );
        }
    }

    let singles: Vec<LoadedPolicy> = dirs.iter().map(|d| load_checkpoint(d).unwrap()).collect();
    let cfg = SiteConfig::default_site();
    let market = Market::new(synthetic_year(2024, 7), cfg.clone());
    let state = SiteState::initial(&cfg);
    let mut spread = 0;
    for t in (0..market.len()).step_by(401) {
        let snap = market.snapshot(t, &state);
        let a: Vec<[f32; ACTION_DIM]> = singles
            .iter()
            .map(|p| p.try_act(&snap).unwrap().to_array())
            .collect();
        let e = ens.try_act(&snap).unwrap().to_array();
        for k in 0..ACTION_DIM {
            let mut v = [a[0][k], a[1][k], a[2][k]];
            v.sort_by(f32::total_cmp);
            assert_eq!(e[k].to_bits(), v[1].to_bits(), "t {t}, value {k}: {v:?}");
            spread += (v[0] < v[1] && v[1] < v[2]) as usize;
        }
    }
    assert!(spread > 50, "members should disagree: {spread}");

    // Another order is another ensemble.
    let other = root.join("ens-other");
    let order = [dirs[1].clone(), dirs[0].clone(), dirs[2].clone()];
    checkpoint::save_ensemble(&other, &order, "x", None).unwrap();
    assert_ne!(load_checkpoint(&other).unwrap().model_id(), ens.model_id());
    // A member whose output is not finite makes the ensemble's decision fail (the server
    // then falls back), as for a single network.
    let mut huge = model(5);
    let n = huge.actor.len();
    huge.actor[n - 1].weight = huge.actor[n - 1]
        .weight
        .clone()
        .map(|w| w.mul_scalar(0.0).add_scalar(f32::MAX));
    let huge = LoadedPolicy::from_parts(top.clone(), huge, root.clone())
        .unwrap()
        .with_members(vec![singles[1].clone(), singles[2].clone()]);
    let snap = market.snapshot(5000, &state);
    assert!(huge.try_act(&snap).unwrap_err().contains("not finite"));
    let _ = std::fs::remove_dir_all(root);
}

/// Ensembles refuse, naming the folder and the problem: nested ensembles, a member given
/// twice, members of another data split, other base rules or another action layout, member
/// paths outside the folder, an unknown
/// combination, a missing member.
#[test]
fn ensembles_refuse_members_that_do_not_fit() {
    let root = scratch("ensemble-bad");
    let (a, b) = (root.join("a"), root.join("b"));
    save(&a, &model(1));
    save(&b, &model(2));
    let ens = root.join("ens");
    checkpoint::save_ensemble(&ens, &[a.clone(), b.clone()], "x", None).unwrap();

    let msg = |r: Result<checkpoint::CheckpointMeta, checkpoint::CheckpointError>| {
        let e = r.unwrap_err();
        (e.kind, e.to_string())
    };
    let (kind, m) = msg(checkpoint::save_ensemble(
        &root.join("n"),
        &[a.clone(), ens.clone()],
        "x",
        None,
    ));
    assert_eq!(kind, CheckpointErrorKind::InvalidInput);
    assert!(m.contains("is an ensemble itself"), "{m}");
    let (_, m) = msg(checkpoint::save_ensemble(
        &root.join("d"),
        &[a.clone(), a.clone()],
        "x",
        None,
    ));
    assert!(m.contains("given twice"), "{m}");
    let (_, m) = msg(checkpoint::save_ensemble(&root.join("e"), &[], "x", None));
    assert!(m.contains("1 to 15 members, 0 given"), "{m}");
    // A member that does not match the first one: refused as incompatible, by name.
    let mismatched = |name: &str, member: &Path, want: &[&str]| {
        let (kind, m) = msg(checkpoint::save_ensemble(
            &root.join(name),
            &[a.clone(), member.to_path_buf()],
            "x",
            None,
        ));
        assert_eq!(kind, CheckpointErrorKind::Incompatible, "{m}");
        assert!(want.iter().all(|w| m.contains(w)), "{m}");
    };
    let c = root.join("c");
    let mut other = info();
    other.data.val_period = "2024-11-01..2025-01-01".into();
    save_checkpoint(&c, &model(3), &other, &[]).unwrap();
    mismatched("f", &c, &["data split differs", "2024-11-01"]);
    let r = root.join("r");
    let residual = CheckpointInfo {
        base_policy: Some(powermix_agent::ExpertParams::default_params()),
        ..info()
    };
    save_checkpoint(&r, &model(4), &residual, &[]).unwrap();
    mismatched("g", &r, &["base_policy differs"]);
    // A checkpoint from before da_peak_withhold (10 action values) with one of 11.
    let l = root.join("l");
    save_with_actions(&l, checkpoint::LEGACY_ACTION_DIM, 5);
    mismatched("h", &l, &["act_dim is 10, the first member's 11"]);

    // Damaged ensemble folders.
    let copy = |name: &str| {
        let d = root.join(name);
        checkpoint::save_ensemble(&d, &[a.clone(), b.clone()], "x", None).unwrap();
        d
    };
    let d = copy("up");
    edit_meta(&d, |v| v["ensemble"]["members"][0] = "../a".into());
    let e = err_of(&d);
    assert_eq!(e.kind, CheckpointErrorKind::Incompatible);
    assert!(
        e.to_string().contains("\"../a\" is not a folder below"),
        "{e}"
    );
    let d = copy("combine");
    edit_meta(&d, |v| v["ensemble"]["combine"] = "mean".into());
    let e = err_of(&d);
    assert!(e.to_string().contains("ensemble.combine \"mean\""), "{e}");
    let d = copy("missing");
    let rel = load_checkpoint(&d).unwrap().meta.ensemble.unwrap().members[0].clone();
    std::fs::remove_dir_all(d.join(&rel)).unwrap();
    let e = err_of(&d);
    assert_eq!(e.kind, CheckpointErrorKind::Missing);
    assert!(e.path.starts_with(d.join(&rel)), "{e}");
    let d = copy("damaged");
    std::fs::write(d.join(&rel).join(MODEL_FILE), b"not a model").unwrap();
    assert_eq!(err_of(&d).kind, CheckpointErrorKind::Damaged);
    let _ = std::fs::remove_dir_all(root);
}

/// A day-ahead head is written into the ensemble's meta.json, read back, and makes the
/// policy's id differ from the same networks without it; an unknown planner, a head on a
/// planner's residual and a member with a head other than the ensemble's are refused by
/// name; a member with the ensemble's own head is accepted.
#[test]
fn day_ahead_heads_are_named_checked_and_change_the_id() {
    let root = scratch("ensemble-head");
    let (a, b) = (root.join("a"), root.join("b"));
    save(&a, &model(3));
    save(&b, &model(4));
    let (plain, headed) = (root.join("plain"), root.join("headed"));
    checkpoint::save_ensemble(&plain, &[a.clone(), b.clone()], "x", None).unwrap();
    let top =
        checkpoint::save_ensemble(&headed, &[a.clone(), b.clone()], "x", Some("day-ahead-mpc"))
            .unwrap();
    assert_eq!(top.day_ahead_head.as_deref(), Some("day-ahead-mpc"));
    let (p, h) = (
        load_checkpoint(&plain).unwrap(),
        load_checkpoint(&headed).unwrap(),
    );
    assert_eq!(p.day_ahead_head(), None);
    assert_eq!(h.day_ahead_head(), Some("day-ahead-mpc"));
    assert_ne!(p.model_id(), h.model_id());
    assert_eq!(h.name(), format!("ppo:{}", h.model_id()));
    // Same networks: the same actions (the head only makes the offer).
    let cfg = SiteConfig::default_site();
    let market = Market::new(synthetic_year(2024, 7), cfg.clone());
    let snap = market.snapshot(500, &SiteState::initial(&cfg));
    assert_eq!(p.try_act(&snap).unwrap(), h.try_act(&snap).unwrap());
    // The priced head is a head of this build too, with an id of its own.
    let priced = checkpoint::save_ensemble(
        &root.join("priced"),
        &[a.clone(), b.clone()],
        "x",
        Some("day-ahead-mpc-priced"),
    )
    .unwrap();
    assert_eq!(
        priced.day_ahead_head.as_deref(),
        Some("day-ahead-mpc-priced")
    );
    let q = load_checkpoint(&root.join("priced")).unwrap();
    assert_eq!(q.day_ahead_head(), Some("day-ahead-mpc-priced"));
    assert_ne!(q.model_id(), h.model_id());

    let e = checkpoint::save_ensemble(
        &root.join("u"),
        std::slice::from_ref(&a),
        "x",
        Some("oracle"),
    )
    .unwrap_err();
    assert_eq!(e.kind, CheckpointErrorKind::InvalidInput);
    assert!(e.to_string().contains("day_ahead_head \"oracle\""), "{e}");

    // Hand-edited meta.json files: an unknown head, and a head on a planner's residual.
    let edit = |name: &str, f: &dyn Fn(&mut serde_json::Value)| {
        let d = root.join(name);
        checkpoint::save_ensemble(&d, std::slice::from_ref(&a), "x", Some("day-ahead-mpc"))
            .unwrap();
        let path = d.join(META_FILE);
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        f(&mut v);
        std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
        load_checkpoint(&d).unwrap_err()
    };
    let e = edit("unknown", &|v| {
        v["day_ahead_head"] = "lp-of-the-future".into()
    });
    assert_eq!(e.kind, CheckpointErrorKind::Incompatible, "{e}");
    assert!(e.to_string().contains("lp-of-the-future"), "{e}");
    let e = edit("both", &|v| v["base_planner"] = "day-ahead-mpc".into());
    assert_eq!(e.kind, CheckpointErrorKind::Incompatible, "{e}");
    assert!(e.to_string().contains("base_planner"), "{e}");

    // A member (a single network, its meta.json edited) with a head of its own.
    let c = root.join("c");
    save(&c, &model(5));
    let path = c.join(META_FILE);
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v["day_ahead_head"] = "day-ahead-mpc".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    assert_eq!(
        load_checkpoint(&c).unwrap().day_ahead_head(),
        Some("day-ahead-mpc")
    );
    let e =
        checkpoint::save_ensemble(&root.join("m"), &[a.clone(), c.clone()], "x", None).unwrap_err();
    assert_eq!(e.kind, CheckpointErrorKind::Incompatible, "{e}");
    assert!(e.to_string().contains("day-ahead head of its own"), "{e}");
    // The ensemble's own head (runs of the default config carry it): accepted, loaded.
    let d = root.join("same");
    checkpoint::save_ensemble(&d, &[a.clone(), c], "x", Some("day-ahead-mpc")).unwrap();
    assert_eq!(
        load_checkpoint(&d).unwrap().day_ahead_head(),
        Some("day-ahead-mpc")
    );
}

/// The shipped checkpoint corrects the rules of `checkpoints/default/expert.toml`, value for
/// value: the file that `train --expert` reads and the rules that `evaluate` and `serve`
/// run (its `meta.json`'s `base_policy`) cannot drift apart when one of them is changed.
#[test]
fn the_shipped_checkpoint_runs_the_shipped_rules_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let file =
        powermix_agent::rules::ExpertParams::load(&root.join("checkpoints/default/expert.toml"))
            .unwrap();
    let meta = checkpoint::read_meta(&root.join("checkpoints/default")).unwrap();
    assert_eq!(meta.base_policy.as_ref(), Some(&file));
}

#[test]
fn a_network_of_the_legacy_observation_reads_its_first_features_and_a_forecast_id_is_checked() {
    use powermix_env::obs::LEGACY_OBS_DIM;
    let root = scratch("legacy-obs");
    // A network of the 43 features from before the desk's: it loads, names its features
    // by the build's first 43, carries no forecast id, and acts on the first 43 features.
    let legacy = root.join("legacy");
    let cfg = ActorCriticConfig {
        obs_dim: LEGACY_OBS_DIM,
        ..ActorCriticConfig::default()
    };
    let m = cfg.init_seeded(4, &Device::flex());
    let info = checkpoint::CheckpointInfo {
        normalizer: ObsNormalizer::new(LEGACY_OBS_DIM, 10.0),
        ..info()
    };
    let meta = save_checkpoint(&legacy, &m, &info, &[]).unwrap();
    assert_eq!(meta.obs_names.len(), LEGACY_OBS_DIM);
    assert_eq!(meta.rt_forecast_id, None);
    let p = load_checkpoint(&legacy).unwrap();
    let mut obs: Vec<f32> = (0..OBS_DIM).map(|i| (i as f32 * 0.37).sin()).collect();
    let a = p.act_raw(&obs);
    // The desk's features change nothing for it.
    for x in &mut obs[LEGACY_OBS_DIM..] {
        *x += 5.0;
    }
    assert_eq!(p.act_raw(&obs), a);
    // A network of this build's observation carries the forecast's id; another id is
    // refused, and the message says why.
    let new = root.join("new");
    let meta = save(&new, &model(2));
    assert_eq!(
        meta.rt_forecast_id.as_deref(),
        Some(checkpoint::rt_forecast_id().as_str())
    );
    edit_meta(&new, |v| {
        v["rt_forecast_id"] = serde_json::json!("0123456789abcdef")
    });
    let e = err_of(&new).to_string();
    assert!(e.contains("rt_forecast_id") && e.contains("retrain"), "{e}");
    edit_meta(&new, |v| {
        v.as_object_mut().unwrap().remove("rt_forecast_id");
    });
    assert!(err_of(&new).to_string().contains("rt_forecast_id is None"));
    // The shipped policy is such a legacy network.
    let shipped =
        load_checkpoint(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../checkpoints/default"))
            .unwrap();
    assert_eq!(shipped.meta.obs_dim, LEGACY_OBS_DIM);
}
