//! The `evaluate` binary's command line: help and docs agree, `--flag=value` works, bad
//! input exits 2 with clap's message, and `--checkpoint` is never ignored.

#[path = "../../env/tests/common/readme_flags.rs"]
mod readme_flags;
use readme_flags::*;

const EVALUATE: &str = env!("CARGO_BIN_EXE_evaluate");

#[test]
fn help_agrees_with_the_readme() {
    assert_help_matches_readme(EVALUATE, None, "evaluate");
}

#[test]
fn bad_input_exits_2_with_clap_s_message() {
    assert_usage_error(EVALUATE, &["--polices", "expert"], "--polices");
    assert_usage_error(EVALUATE, &["--policies=expert,best"], "best");
    assert_usage_error(EVALUATE, &["--period=2024-02-01..2024-01-01"], "not after");
    assert_usage_error(EVALUATE, &["--seed", "seven"], "seven");
    // A scorecard is its panels' data and periods: --data or --period with --panel is
    // refused, not silently ignored.
    assert_usage_error(EVALUATE, &["--panel", "--data", "x.parquet"], "--data");
    assert_usage_error(
        EVALUATE,
        &["--panel=p.toml", "--period=2024-01-01..2024-01-02"],
        "--period",
    );
    // `ppo` needs a checkpoint: refused, saying why.
    assert_usage_error(EVALUATE, &["--policies=ppo"], "--checkpoint");
}

/// `--checkpoint` with a `--policies` list that lacks `ppo` adds it (and says so).
#[test]
fn a_checkpoint_adds_its_policy_to_a_given_list() {
    let ckpt = concat!(env!("CARGO_MANIFEST_DIR"), "/../checkpoints/default");
    let out = run(
        EVALUATE,
        &[
            "--period=2024-07-08..2024-07-09",
            "--policies=always-on,expert",
            "--no-weeks",
            &format!("--checkpoint={ckpt}"),
        ],
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("adds the policy ppo"), "{stderr}");
    for p in ["always-on", "expert", "ppo"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(p)),
            "{p} missing:\n{stdout}"
        );
    }
}

/// A missing panel file exits 2 naming it.
#[test]
fn a_missing_panel_file_is_named() {
    let out = run(EVALUATE, &["--panel=no-such-panel.toml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no-such-panel.toml"), "{err}");
}

/// `--seed` replaces a panel file's seed; without it the file's seed holds.
#[test]
fn seed_replaces_the_panel_file_s_seed() {
    let d = std::env::temp_dir().join(format!("powermix-cli-seed-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    powermix_data::write_parquet(
        &powermix_data::synth::generate_year(2024, 5),
        &d.join("a.parquet"),
    )
    .unwrap();
    let panel = d.join("p.toml");
    std::fs::write(
        &panel,
        "seed = 9\n[[panel]]\nname = \"A\"\ndata = \"a.parquet\"\nperiod = \"2024-07-08..2024-07-09\"\n",
    )
    .unwrap();
    let card = |extra: &[&str]| {
        let mut args = vec![format!("--panel={}", panel.display())];
        args.push("--policies=always-on,expert".into());
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(EVALUATE, &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(card(&[]).contains("deployment seed 9"));
    assert!(card(&["--seed", "3"]).contains("deployment seed 3"));
    std::fs::remove_dir_all(&d).ok();
}
