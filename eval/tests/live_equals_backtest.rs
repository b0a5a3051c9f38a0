//! Backtest equals live, with the shipped policy: a period replayed through
//! `evaluate --checkpoint checkpoints/default --decisions` and the same requests answered by
//! `serve --stdin --checkpoint checkpoints/default` give the same dispatch, to the bit, in
//! every interval (policy answers, and the emergency fallback, where the residual policy
//! defers to the expert rules exactly as the server does), and the same day-ahead offer at
//! every gate.
//!
//! Needs the `serve` binary beside `evaluate`: `cargo test --workspace` builds both.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn shipped_checkpoint() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../checkpoints/default")
}

fn serve_binary() -> PathBuf {
    let evaluate = PathBuf::from(env!("CARGO_BIN_EXE_evaluate"));
    let serve = evaluate.with_file_name(format!("serve{}", std::env::consts::EXE_SUFFIX));
    assert!(
        serve.exists(),
        "{} is missing: run the workspace's tests (cargo test --workspace), which build it",
        serve.display()
    );
    serve
}

/// The 8 MW values of a dispatch as evaluate writes it, as bits.
fn backtest_bits(d: &Value) -> Vec<u64> {
    let mut v = vec![d["inference_mw"].as_f64(), d["training_mw"].as_f64()];
    for k in 0..3 {
        v.push(d["tranche_mw"][k].as_f64());
    }
    for k in 0..3 {
        v.push(d["offer_mw"][k].as_f64());
    }
    v.into_iter()
        .map(|x| x.expect("number").to_bits())
        .collect()
}

/// The same 8 values from a server answer.
fn answer_bits(a: &Value) -> Vec<u64> {
    let mw = &a["mw"];
    let mut v = vec![mw["inference"].as_f64(), mw["training"].as_f64()];
    for k in 0..3 {
        v.push(mw["tranches"][k].as_f64());
    }
    for p in ["rrs", "ecrs", "nspin"] {
        v.push(mw["reserve_awards"][p].as_f64());
    }
    v.into_iter()
        .map(|x| x.expect("number").to_bits())
        .collect()
}

/// An offer's hours (MW and minimum price per product) as bits.
fn offer_bits(hours: &Value) -> Vec<u64> {
    hours
        .as_array()
        .expect("hours")
        .iter()
        .flat_map(|h| {
            (0..3).flat_map(move |k| {
                [&h["mw"][k], &h["min_price"][k]].map(|x| x.as_f64().expect("number").to_bits())
            })
        })
        .collect()
}

/// Replays `evaluate --checkpoint checkpoints/default --policies ppo --period PERIOD
/// --decisions` (plus `data_args`) through `serve --stdin` and checks every interval's
/// dispatch and every gate's offer to the bit. Returns (policy answers, emergency
/// answers, gates); any other fallback fails.
fn replay_through_stdin(data_args: &[&str], period: &str) -> (usize, usize, usize) {
    replay_checkpoint_through_stdin(&shipped_checkpoint(), data_args, period)
}

/// [`replay_through_stdin`] with the checkpoint `ckpt`.
fn replay_checkpoint_through_stdin(
    ckpt: &Path,
    data_args: &[&str],
    period: &str,
) -> (usize, usize, usize) {
    let ckpt = ckpt.to_path_buf();
    assert!(
        ckpt.join("meta.json").exists(),
        "{} missing",
        ckpt.display()
    );
    let dir = std::env::temp_dir().join(format!(
        "powermix-live-eq-{}-{}-{}",
        std::process::id(),
        period.replace('.', "_"),
        ckpt.file_name().unwrap().to_string_lossy()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let decisions = dir.join("decisions.jsonl");

    // 1. The backtest, the shipped policy only.
    let out = Command::new(env!("CARGO_BIN_EXE_evaluate"))
        .args(data_args)
        .arg("--checkpoint")
        .arg(&ckpt)
        .args(["--period", period, "--policies", "ppo"])
        .args(["--no-weeks", "--decisions"])
        .arg(&decisions)
        .output()
        .expect("evaluate runs");
    assert!(
        out.status.success(),
        "evaluate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = std::fs::read_to_string(&decisions)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().all(|l| l["policy"] == "ppo"));

    // 2. Live: the same requests through `serve --stdin`.
    let mut input = Vec::new();
    for l in &lines {
        serde_json::to_writer(&mut input, &l["request"]).unwrap();
        input.push(b'\n');
    }
    let mut child = Command::new(serve_binary())
        .arg("--stdin")
        .arg("--checkpoint")
        .arg(&ckpt)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve runs");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let served = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        served.status.success(),
        "serve failed: {}",
        String::from_utf8_lossy(&served.stderr)
    );
    let answers: Vec<Value> = std::str::from_utf8(&served.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), lines.len());

    // 3. Same dispatch, to the bit, interval by interval, and the same day-ahead offer at
    //    every gate (the shipped policy's is the day-ahead MPC's, from its head).
    let (mut by_policy, mut emergencies, mut gates) = (0, 0, 0);
    for (l, a) in lines.iter().zip(&answers) {
        let at = &l["request"]["interval_start_utc"];
        assert_eq!(&a["interval_start_utc"], at);
        match (a["source"].as_str(), a["reason"].as_str()) {
            (Some("policy"), _) => by_policy += 1,
            (Some("fallback"), Some("emergency")) => emergencies += 1,
            other => panic!("{at}: unexpected answer {other:?}: {}", a["message"]),
        }
        assert_eq!(
            backtest_bits(&l["dispatch"]),
            answer_bits(a),
            "{at}: backtest {} vs live {}",
            l["dispatch"],
            a["mw"]
        );
        assert_eq!(
            l["day_ahead_offer"].is_null(),
            a["day_ahead_offer"].is_null(),
            "{at}: an offer on one side only"
        );
        if !l["day_ahead_offer"].is_null() {
            gates += 1;
            let (b, live) = (
                &l["day_ahead_offer"]["hours"],
                &a["day_ahead_offer"]["hours"],
            );
            assert_eq!(
                offer_bits(b),
                offer_bits(live),
                "{at}: backtest {b} vs live {live}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "{period}: {by_policy} policy answers and {emergencies} emergency answers equal to the bit, {gates} offers"
    );
    (by_policy, emergencies, gates)
}

#[test]
fn shipped_policy_decides_the_same_in_backtest_and_live_to_the_bit() {
    // A July week of the embedded synthetic year (4CP month, with an emergency).
    let (by_policy, _, gates) = replay_through_stdin(&[], "2024-07-08..2024-07-15");
    assert_eq!(gates, 7, "one offer a day");
    assert!(by_policy > 600, "policy answered {by_policy} of 672");
}

/// A network that makes the miners' price decision (rules with `miners_follow_price =
/// false`: the rules fix every other value, and the tranches at likely 4CP intervals), its
/// output scaled so that it acts: the server fixes the same values as the backtest.
#[test]
fn a_network_that_makes_the_miners_price_decision_decides_the_same_live() {
    use burn::module::Param;
    use burn::tensor::Device;
    use powermix_agent::checkpoint::{CheckpointInfo, save_checkpoint};
    use powermix_agent::net::ActorCriticConfig;
    let device = Device::flex();
    let mut model = ActorCriticConfig::default().init_seeded(4, &device);
    let last = model.actor.last_mut().unwrap();
    last.weight = Param::initialized(last.weight.id, last.weight.val() * 100.0);
    let ship = powermix_agent::load_checkpoint(&shipped_checkpoint()).unwrap();
    let rules = powermix_agent::ExpertParams {
        miners_follow_price: false,
        ..ship.meta.base_policy.clone().unwrap()
    };
    let info = CheckpointInfo {
        base_policy: Some(rules),
        day_ahead_head: ship.meta.day_ahead_head.clone(),
        ..CheckpointInfo::untrained(powermix_env::SiteConfig::default_site(), 4)
    };
    let dir = std::env::temp_dir()
        .join(format!("powermix-live-eq-prices-{}", std::process::id()))
        .join("net-prices-miners");
    let _ = std::fs::remove_dir_all(&dir);
    save_checkpoint(&dir, &model, &info, &[]).unwrap();
    let (by_policy, _, gates) =
        replay_checkpoint_through_stdin(&dir, &[], "2024-07-08..2024-07-15");
    assert_eq!(gates, 7, "one offer a day");
    assert!(by_policy > 600, "policy answered {by_policy} of 672");
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}

/// A whole real year through `serve --stdin`: HB_WEST 2023, with the $5,215.59 spike of
/// 6 September (above the offer cap, through ERCOT's adders) and the EEA2 of that evening.
/// The server once refused every request whose 96-price history held such a price.
#[test]
#[ignore = "needs ../shared/data (CI has it)"]
fn a_whole_real_year_decides_the_same_through_serve_stdin() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/ercot/hb_west_2018_2024.parquet");
    let data = data.to_str().unwrap();
    let (by_policy, emergencies, gates) =
        replay_through_stdin(&["--data", data], "2023-01-01..2024-01-01");
    assert_eq!(by_policy + emergencies, 35_040);
    assert_eq!(emergencies, 5, "the EEA of 6 September 2023");
    assert_eq!(gates, 365);
}
