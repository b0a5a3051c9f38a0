//! Keeps the documented flag lists and the binaries' `--help` in agreement. Each binary's
//! flags are documented once, in a paragraph `Flags of `NAME`` of README.md or of a
//! Markdown file under docs/ (`serve`'s in docs/serving.md, `train`'s in docs/training.md,
//! ...). Included by the `cli` test of each crate that owns a binary (`#[path]`), so it is
//! written once.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root (the folder above the crate running the test).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The README of the workspace.
pub fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).expect("README.md beside the crates")
}

/// The workspace's documents: README.md and every `.md` file under docs/, with their
/// paths relative to the root, in a stable order.
pub fn documents() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p);
            }
        }
    }
    let root = root();
    let mut files = vec![root.join("README.md")];
    let mut docs = Vec::new();
    walk(&root.join("docs"), &mut docs);
    docs.sort();
    files.extend(docs);
    files
        .into_iter()
        .map(|p| {
            let text =
                std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let rel = p.strip_prefix(&root).unwrap_or(&p).display().to_string();
            (rel, text)
        })
        .collect()
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

/// The paragraph that starts with `Flags of `name``, up to the next blank line, from the
/// one document (README.md or docs/**/*.md) that holds it. Panics if no document or more
/// than one holds such a paragraph: each binary's flags are documented in one place.
pub fn readme_paragraph(name: &str) -> String {
    let head = format!("Flags of `{name}`");
    let found: Vec<(String, String)> = documents()
        .into_iter()
        .flat_map(|(file, text)| {
            let head = head.as_str();
            text.match_indices(head)
                .map(|(start, _)| {
                    let rest = &text[start..];
                    let end = rest.find("\n\n").unwrap_or(rest.len());
                    (file.clone(), rest[..end].to_string())
                })
                .collect::<Vec<_>>()
        })
        .collect();
    match found.as_slice() {
        [(_, paragraph)] => paragraph.clone(),
        [] => panic!("no paragraph `{head}` in README.md or docs/**/*.md"),
        more => panic!(
            "`{head}` is documented {} times ({}); keep one",
            more.len(),
            more.iter()
                .map(|(f, _)| f.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `exe [subcommand] --help` lists exactly the long flags of the documented paragraph
/// `Flags of `title`` (README.md or docs/), and documents a default for each flag that has
/// one.
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
        "the flags of `{title} --help` (left) and of the documented paragraph (right) differ:\n{help}\n{paragraph}"
    );
}

/// A bad invocation exits with status 2 and clap's message on stderr.
pub fn assert_usage_error(exe: &str, args: &[&str], needle: &str) {
    let out = run(exe, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: `{err}` lacks `{needle}`");
}
