//! The `bench` binary's command line: help and docs agree, bad input exits 2 with clap's
//! message. (The figures themselves are measured in release builds, not in tests.)

#[path = "../../env/tests/common/readme_flags.rs"]
mod readme_flags;
use readme_flags::*;

const BENCH: &str = env!("CARGO_BIN_EXE_bench");

#[test]
fn help_agrees_with_the_readme() {
    for sub in ["env", "oracle", "infer"] {
        assert_help_matches_readme(BENCH, Some(sub), "bench");
    }
    assert_help_matches_readme(BENCH, Some("train"), "bench train");
    assert_help_matches_readme(BENCH, Some("policy"), "bench policy");
}

#[test]
fn bad_input_exits_2_with_clap_s_message() {
    assert_usage_error(BENCH, &["envv"], "envv");
    assert_usage_error(BENCH, &["env", "--jsn"], "--jsn");
    assert_usage_error(BENCH, &[], "Usage");
}

/// `bench policy` times the shipped checkpoint (a network of the 43 features from before
/// the desk's) without panicking: burn's forward pass once got the build's 96 features.
#[test]
fn bench_policy_runs_on_the_shipped_checkpoint() {
    let ckpt = concat!(env!("CARGO_MANIFEST_DIR"), "/../checkpoints/default");
    let out = std::process::Command::new(BENCH)
        .args(["--json", "policy", "--checkpoint", ckpt, "--reps", "400"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["obs_dim"], 43, "{v}");
    for part in ["act_raw_us", "act_snapshot_us", "burn_forward_batch1_us"] {
        assert!(v[part].as_f64().is_some_and(|us| us > 0.0), "{part}: {v}");
    }
}
