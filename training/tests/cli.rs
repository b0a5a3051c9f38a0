//! The `train` binary's command line: help and docs agree, bad input exits 2 with clap's
//! message. (The training loop itself is tested through `run::train` in ppo_smoke.rs.)

#[path = "../../env/tests/common/readme_flags.rs"]
mod readme_flags;
use readme_flags::*;

const TRAIN: &str = env!("CARGO_BIN_EXE_train");

#[test]
fn help_agrees_with_the_readme() {
    assert_help_matches_readme(TRAIN, None, "train");
}

#[test]
fn bad_input_exits_2_with_clap_s_message() {
    assert_usage_error(TRAIN, &["--stesp", "10"], "--stesp");
    assert_usage_error(TRAIN, &["--steps=ten"], "ten");
    assert_usage_error(TRAIN, &["--val-period=2024"], "START..END");
    // A period outside the data is refused before any training, naming the flag.
    let out = run(
        TRAIN,
        &[
            "--val-period=2030-01-01..2030-02-01",
            "--out=/nonexistent/x",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--val-period") && err.contains("outside the data"),
        "{err}"
    );
    // A bad period after a further training file is clap's error; a missing file is
    // refused before any training, naming the flag and the file.
    assert_usage_error(
        TRAIN,
        &["--also-train=x.parquet:2019-13-01..2020-01-01"],
        "2019-13-01",
    );
    let out = run(
        TRAIN,
        &[
            "--also-train=/nonexistent/more.parquet",
            "--out=/nonexistent/x",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--also-train /nonexistent/more.parquet"),
        "{err}"
    );
}

const ENSEMBLE: &str = env!("CARGO_BIN_EXE_ensemble");

#[test]
fn ensemble_help_agrees_with_the_readme_and_bad_input_exits_2() {
    assert_help_matches_readme(ENSEMBLE, None, "ensemble");
    assert_usage_error(ENSEMBLE, &["--out", "/tmp/x"], "MEMBER");
    // A member that is no checkpoint: exit 2, naming the folder.
    let out = run(
        ENSEMBLE,
        &["--out", "/nonexistent/ens", "/nonexistent/member"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/member") && err.contains("no such checkpoint folder"),
        "{err}"
    );
}
