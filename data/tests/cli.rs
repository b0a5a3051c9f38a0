//! The `data` binary's command line: help and docs agree, `--flag=value` works, bad
//! input exits 2 with clap's message.

#[path = "../../env/tests/common/readme_flags.rs"]
mod readme_flags;
use readme_flags::*;

const DATA: &str = env!("CARGO_BIN_EXE_data");

#[test]
fn help_agrees_with_the_readme() {
    assert_help_matches_readme(DATA, Some("inspect"), "data inspect");
    assert_help_matches_readme(DATA, Some("generate"), "data generate");
}

#[test]
fn flags_take_equals_values_and_bad_input_exits_2() {
    let dir = std::env::temp_dir().join(format!("powermix-data-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("y.parquet");
    let arg = format!("--out={}", out.display());
    let ok = run(DATA, &["generate", "--year=2023", "--seed=3", &arg]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let inspect = run(DATA, &["inspect", out.to_str().unwrap(), "--json"]);
    assert!(inspect.status.success());
    assert!(String::from_utf8_lossy(&inspect.stdout).contains("\"rows\":35040"));
    // Two years back to back: the second is the same as generating it alone with seed + 1.
    let two = dir.join("two.parquet");
    let two_arg = format!("--out={}", two.display());
    let ok = run(
        DATA,
        &["generate", "--year=2023", "--seed=3", "--years=2", &two_arg],
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let both = powermix_data::read_parquet(&two).unwrap();
    let first = powermix_data::read_parquet(&out).unwrap();
    let second = powermix_data::synth::generate_year(2024, 4);
    assert_eq!(both.len(), first.len() + second.len());
    assert_eq!(
        both.interval_start_ms[..first.len()],
        first.interval_start_ms[..]
    );
    assert_eq!(
        both.interval_start_ms[first.len()..],
        second.interval_start_ms[..]
    );
    assert_eq!(both.rt_price[first.len()..], second.rt_price[..]);
    assert_usage_error(
        DATA,
        &["generate", "--year=2023", "--seed=3", "--years=0", &two_arg],
        "0",
    );

    // The opt-in regimes: the same table as the library's, a named summary, bad names
    // refused.
    let regimes = dir.join("regimes.parquet");
    let regimes_arg = format!("--out={}", regimes.display());
    let ok = run(
        DATA,
        &[
            "generate",
            "--year=2024",
            "--seed=4",
            "--reserve-regime=storage-2025",
            "--congestion",
            "--weekend-peaks",
            &regimes_arg,
        ],
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let summary = String::from_utf8_lossy(&ok.stdout);
    assert!(
        summary.contains("seed 4, reserves storage-2025, congestion, weekend peaks,"),
        "{summary}"
    );
    use powermix_data::synth::{Congestion, GenParams, ReserveRegime, WeekendPeaks};
    let params = GenParams {
        reserve_regime: ReserveRegime::Storage2025,
        congestion: Some(Congestion::default()),
        weekend_peaks: Some(WeekendPeaks::default()),
    };
    let want = powermix_data::synth::generate_year_with(2024, 4, &params);
    let got = powermix_data::read_parquet(&regimes).unwrap();
    assert_eq!(got.rt_price, want.rt_price);
    assert_eq!(got.optional, want.optional);
    assert_ne!(got.rt_price, second.rt_price);
    assert_usage_error(
        DATA,
        &[
            "generate",
            "--year=2024",
            "--seed=4",
            "--reserve-regime=storage-2030",
            &regimes_arg,
        ],
        "storage-2030",
    );

    assert_usage_error(DATA, &["inspect", "x.parquet", "--jsn"], "--jsn");
    assert_usage_error(DATA, &["generate", "--year=1800", "--seed=1", &arg], "1800");
    assert_usage_error(DATA, &["generate", "--year=2024", "--seed=-1", &arg], "-1");
    assert_usage_error(DATA, &["generate", "--seed=1", &arg], "--year");
    assert_usage_error(DATA, &["frobnicate"], "frobnicate");
    // A file error is not a usage error, but exits 2 too, naming the file.
    let missing = run(DATA, &["inspect", "/nonexistent/m.parquet"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/m.parquet"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn import_help_agrees_with_its_doc_and_the_binary_imports() {
    // The paragraph `Flags of `data import`` lives in docs/data-import.md.
    assert_help_matches_readme(DATA, Some("import"), "data import");

    let dir = std::env::temp_dir().join(format!("powermix-data-cli-import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let downloads = dir.join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let mut csv = String::from(
        "DeliveryDate,DeliveryHour,DeliveryInterval,SettlementPointName,SettlementPointType,SettlementPointPrice,DSTFlag\n",
    );
    for h in 1..=24 {
        for i in 1..=4 {
            csv.push_str(&format!(
                "01/02/2025,{h},{i},LZ_WEST,LZ,{}.5,N\n",
                h * 4 + i
            ));
        }
    }
    std::fs::write(downloads.join("rt.csv"), &csv).unwrap();
    let out = dir.join("lz_west.parquet");
    let args = [
        "import",
        downloads.to_str().unwrap(),
        "--point=LZ_WEST",
        "--period=2025-01-02..2025-01-03",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ];
    let ok = run(DATA, &args);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let report = String::from_utf8_lossy(&ok.stdout);
    assert!(report.contains("\"rows\":96"), "{report}");
    assert!(report.contains("\"report\":\"NP6-905-CD\""), "{report}");
    let inspect = run(DATA, &["inspect", out.to_str().unwrap(), "--json"]);
    assert!(inspect.status.success());
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(text.contains("\"settlement_point\":\"LZ_WEST\""), "{text}");

    // A settlement point the files do not hold: exit 2, the file list in the message,
    // nothing written.
    let bad = dir.join("bad.parquet");
    let args = [
        "import",
        downloads.to_str().unwrap(),
        "--point=HB_WEST",
        "--period=2025-01-02..2025-01-03",
        "--out",
        bad.to_str().unwrap(),
    ];
    let e = run(DATA, &args);
    assert_eq!(e.status.code(), Some(2));
    let err = String::from_utf8_lossy(&e.stderr);
    assert!(
        err.contains("`HB_WEST` is not in the files; they hold: LZ_WEST"),
        "{err}"
    );
    assert!(!bad.exists());
    assert_usage_error(
        DATA,
        &["import", "x", "--period=2025-01-01..2025-01-02"],
        "--point",
    );
    let _ = std::fs::remove_dir_all(dir);
}
