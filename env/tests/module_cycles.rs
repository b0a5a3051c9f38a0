//! No import circles between the modules of any crate of the workspace: the direction of
//! imports inside each crate is checked here (ARCHITECTURE.md, "Dependencies").
//!
//! A module's imports are the `crate::a::b` paths in its code (comments and its
//! `#[cfg(test)]` part left out), resolved to the longest module that exists. The crate
//! root (`lib.rs`, `main.rs`) only declares and re-exports, so its edges are not counted,
//! and neither are a facade's (`mod.rs`) re-exports of its own submodules. Cargo already
//! refuses circles between crates; rustc allows them between modules, which is how five
//! of them grew.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The module path of a source file relative to `src` (`a/b.rs` and `a/b/mod.rs` are
/// `a::b`; the crate root is empty).
fn module_of(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts.join("::")
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            // Binaries are crates of their own.
            if p.file_name().is_some_and(|n| n != "bin") {
                rs_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without comments and without its `#[cfg(test)]` part.
fn code_of(text: &str) -> String {
    let body = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    body.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Import edges between the modules of the crate whose sources are in `src`.
fn edges(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rs_files(src, &mut files);
    let modules: BTreeSet<String> = files
        .iter()
        .map(|f| module_of(f.strip_prefix(src).unwrap()))
        .collect();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let from = module_of(f.strip_prefix(src).unwrap());
        if from.is_empty() {
            continue;
        }
        let facade = f.file_name().is_some_and(|n| n == "mod.rs");
        let code = code_of(&std::fs::read_to_string(f).unwrap());
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            // `crate::a::{b, c}` names a; `crate::a::b::X` names a::b when it exists.
            let path: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut best = String::new();
            let mut prefix = String::new();
            for seg in path.split("::").filter(|s| !s.is_empty()) {
                if !prefix.is_empty() {
                    prefix.push_str("::");
                }
                prefix.push_str(seg);
                if modules.contains(&prefix) {
                    best = prefix.clone();
                }
            }
            let own_child = facade && best.starts_with(&format!("{from}::"));
            if !best.is_empty() && best != from && !own_child {
                out.entry(from.clone()).or_default().insert(best);
            }
        }
    }
    out
}

/// Every pair of modules that reach each other.
fn circles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<(String, String)> {
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_string()];
        while let Some(m) = stack.pop() {
            for n in g.get(&m).into_iter().flatten() {
                if seen.insert(n.clone()) {
                    stack.push(n.clone());
                }
            }
        }
        seen
    };
    let mut out = Vec::new();
    for a in g.keys() {
        for b in reach(a) {
            if a < &b && reach(&b).contains(a) {
                out.push((a.clone(), b));
            }
        }
    }
    out
}

#[test]
fn no_crate_has_an_import_circle_between_its_modules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    let mut crates = 0;
    for e in std::fs::read_dir(&root).unwrap() {
        let src = e.unwrap().path().join("src");
        if !src.is_dir() || !src.parent().unwrap().join("Cargo.toml").is_file() {
            continue;
        }
        crates += 1;
        let name = src
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for (a, b) in circles(&edges(&src)) {
            found.push(format!("{name}: {a} <-> {b}"));
        }
    }
    assert!(crates >= 8, "found {crates} crates");
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

#[test]
fn a_circle_is_found() {
    let dir = std::env::temp_dir().join(format!("powermix-cycles-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("c")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod a; pub mod b; pub mod c;").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::b::X;\n// crate::c\n").unwrap();
    std::fs::write(src.join("b.rs"), "use crate::c::d::{Y, Z};").unwrap();
    std::fs::write(src.join("c/mod.rs"), "pub use crate::c::d::Y;").unwrap();
    std::fs::write(src.join("c/d.rs"), "fn f() { crate::a::g() }").unwrap();
    let g = edges(&src);
    assert_eq!(g["b"], BTreeSet::from(["c::d".to_string()]));
    assert!(
        !g.contains_key("c"),
        "a facade's re-export of its child is no edge"
    );
    let found = circles(&g);
    assert!(found.contains(&("a".into(), "b".into())), "{found:?}");
    assert!(found.contains(&("a".into(), "c::d".into())), "{found:?}");
    let _ = std::fs::remove_dir_all(dir);
}
