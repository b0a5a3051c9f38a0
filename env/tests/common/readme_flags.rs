//! Keeps the README's flag lists and the binaries' `--help` in agreement. Included by the
//! `cli` test of each crate that owns a binary (`#[path]`), so it is written once.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::process::{Command, Output};

/// The README of the workspace.
pub fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md beside the crates")
}

/// Runs `exe` with `args`.
pub fn run(exe: &str, args: &[&str]) -> Output {
    Command::new(exe)
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Long flags (`--name`) in `text`, without `--help` and `--version`.
pub fn long_flags(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i + 2 < b.len() {
        let boundary = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'-');
        if boundary && b[i] == b'-' && b[i + 1] == b'-' && b[i + 2].is_ascii_lowercase() {
            let mut j = i + 2;
            while j < b.len() && (b[j].is_ascii_lowercase() || b[j] == b'-') {
                j += 1;
            }
            let flag = &text[i..j];
            if flag != "--help" && flag != "--version" {
                out.insert(flag.trim_end_matches('-').to_string());
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// The README paragraph that starts with `Flags of `name``, up to the next blank line.
pub fn readme_paragraph(name: &str) -> String {
    let readme = readme();
    let head = format!("Flags of `{name}`");
    let start = readme
        .find(&head)
        .unwrap_or_else(|| panic!("README has no paragraph `{head}`"));
    let rest = &readme[start..];
    let end = rest.find("\n\n").unwrap_or(rest.len());
    rest[..end].to_string()
}

/// `exe [subcommand] --help` lists exactly the long flags of the README paragraph
/// `Flags of `title``, and documents a default for each flag that has one.
pub fn assert_help_matches_readme(exe: &str, subcommand: Option<&str>, title: &str) {
    let mut args: Vec<&str> = subcommand.into_iter().collect();
    args.push("--help");
    let out = run(exe, &args);
    assert!(out.status.success(), "{title} --help failed");
    let help = String::from_utf8(out.stdout).unwrap();
    let paragraph = readme_paragraph(title);
    assert_eq!(
        long_flags(&help),
        long_flags(&paragraph),
        "the flags of `{title} --help` (left) and of the README paragraph (right) differ:\n{help}\n{paragraph}"
    );
}

/// A bad invocation exits with status 2 and clap's message on stderr.
pub fn assert_usage_error(exe: &str, args: &[&str], needle: &str) {
    let out = run(exe, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: `{err}` lacks `{needle}`");
}
