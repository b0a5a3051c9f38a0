//! The `forecast` binary's command line: help and docs agree, bad input exits 2, a
//! missing model folder is an error that names the file.

#[path = "../../env/tests/common/readme_flags.rs"]
mod readme_flags;
use readme_flags::*;

const FORECAST: &str = env!("CARGO_BIN_EXE_forecast");

#[test]
fn help_agrees_with_the_docs() {
    assert_help_matches_readme(FORECAST, Some("fit"), "forecast fit");
    assert_help_matches_readme(FORECAST, Some("score"), "forecast score");
}

#[test]
fn bad_input_exits_2_and_a_missing_model_names_its_file() {
    assert_usage_error(FORECAST, &["fit", "--data=x.parquet"], "--out");
    assert_usage_error(FORECAST, &["score", "--model=x"], "--data");
    let out = run(
        FORECAST,
        &["score", "--model=/nonexistent-forecast", "--data=x.parquet"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent-forecast/fourcp.json"), "{err}");
}
