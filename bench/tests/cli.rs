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
