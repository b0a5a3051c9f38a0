#!/usr/bin/env python3
"""Crates that `pip install ./python` would compile with other features than the workspace
build (`cargo test --workspace`), and so compile twice: the feature pins in
python/Cargo.toml exist to keep this list to the crates of this workspace. Prints the
differences; exit status 1 when a crate from crates.io differs. Standard library only.
Usage: scripts/feature_pins.py (from anywhere in the repository)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def features(*args):
    """{package: set of features} from `cargo tree ARGS`."""
    out = subprocess.run(
        ["cargo", "tree", "--prefix", "none", "-f", "{p}|{f}", *args],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    sets = {}
    for line in out.splitlines():
        package, _, feats = line.replace(" (*)", "").partition("|")
        sets[package] = {f for f in feats.split(",") if f}
    return sets


def main():
    workspace = features("--workspace")
    wheel = features("-p", "powermix-python", "-e", "normal,build")
    outside = 0
    for package in sorted(wheel):
        if package in workspace and workspace[package] != wheel[package]:
            ours = f"({ROOT}" in package
            outside += not ours
            extra = sorted(workspace[package] - wheel[package])
            print(f"{'ours' if ours else 'PIN?'} {package}: the workspace adds {extra}")
    return 1 if outside else 0


if __name__ == "__main__":
    sys.exit(main())
