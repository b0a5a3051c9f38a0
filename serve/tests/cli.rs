//! The `serve` binary's command line: help and docs/serving.md's flag table agree, and a bad
//! flag or value exits 2 with clap's message.

#[path = "../../env/tests/common/readme_flags.rs"]
mod readme_flags;
use readme_flags::*;

const SERVE: &str = env!("CARGO_BIN_EXE_serve");

#[test]
fn help_agrees_with_the_readme() {
    assert_help_matches_readme(SERVE, None, "serve");
}

#[test]
fn bad_input_exits_2_with_clap_s_message() {
    assert_usage_error(SERVE, &["--lisen", "127.0.0.1:1"], "--lisen");
    assert_usage_error(SERVE, &["--log-format=xml"], "xml");
    assert_usage_error(SERVE, &["--workers", "two"], "two");
}
