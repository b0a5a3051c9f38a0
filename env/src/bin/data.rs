//! `data`: inspect market data parquet files and generate synthetic years.
//!
//! ```text
//! data inspect FILE [--json]
//! data generate --year Y --seed S --out FILE
//! ```
use powermix_env::data::stats::{YearStats, yearly_stats};
use powermix_env::data::synth::generate_year;
use powermix_env::data::{OptionalColumn, RawMarketData, read_parquet, write_parquet};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "\
data: inspect ERCOT market data parquet files and generate synthetic years

USAGE:
    data inspect FILE [--json]
        Yearly (US/Central) real-time price figures and column coverage of FILE.
        --json    print one JSON object instead of tables
    data generate --year Y --seed S --out FILE
        Write a synthetic local year Y (1900 to 2200) generated from seed S (an unsigned
        integer) to FILE as zstd parquet, then print a one-line summary.
    data --help
        Print this text.

Errors print `error: ...` on stderr and exit with status 2.";

/// Years the generator accepts from the command line.
const YEARS: std::ops::RangeInclusive<i32> = 1900..=2200;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            eprintln!("run `data --help` for usage");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let Some((command, rest)) = args.split_first() else {
        println!("{USAGE}");
        return Ok(());
    };
    match command.as_str() {
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        "inspect" => inspect(rest),
        "generate" => generate(rest),
        other => Err(format!(
            "unknown command `{other}` (expected inspect or generate)"
        )),
    }
}

fn inspect(args: &[String]) -> Result<(), String> {
    let mut file = None;
    let mut json = false;
    for arg in args {
        match arg.as_str() {
            "--json" => json = true,
            flag if flag.starts_with('-') => return Err(format!("inspect: unknown flag `{flag}`")),
            path if file.is_none() => file = Some(path),
            extra => {
                return Err(format!(
                    "inspect: unexpected argument `{extra}` (one FILE only)"
                ));
            }
        }
    }
    let file = file.ok_or("inspect: missing FILE")?;
    let raw = read_parquet(Path::new(file)).map_err(|e| e.to_string())?;
    let stats = yearly_stats(&raw);
    if json {
        let value = serde_json::json!({
            "file": file,
            "settlement_point": raw.settlement_point,
            "rows": raw.len(),
            "years": stats,
        });
        println!("{value}");
    } else {
        print_tables(file, &raw, &stats);
    }
    Ok(())
}

fn print_tables(file: &str, raw: &RawMarketData, stats: &[YearStats]) {
    println!("file: {file}");
    println!("settlement point: {}", raw.settlement_point);
    println!("rows: {}", raw.len());
    println!();
    println!(
        "{:>5} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6} {:>7} {:>9}",
        "year",
        "rows",
        "mean",
        "median",
        "p99",
        "max",
        "min",
        "%<0",
        "%>100",
        "%>1000",
        "hashprice"
    );
    for s in stats {
        let hash = s
            .hashprice_mean
            .map_or_else(|| "-".to_string(), |h| format!("{h:.1}"));
        println!(
            "{:>5} {:>7} {:>8.2} {:>8.2} {:>8.1} {:>8.1} {:>8.1} {:>6.2} {:>6.2} {:>7.3} {:>9}",
            s.year,
            s.rows,
            s.rt_mean,
            s.rt_median,
            s.rt_p99,
            s.rt_max,
            s.rt_min,
            s.pct_negative,
            s.pct_above_100,
            s.pct_above_1000,
            hash
        );
    }
    println!();
    println!("coverage (% of rows non-null):");
    let names: Vec<&str> = OptionalColumn::ALL.iter().map(|c| c.name()).collect();
    let widths: Vec<usize> = names.iter().map(|n| n.len().max(6)).collect();
    let mut header = format!("{:>5}", "year");
    for (n, w) in names.iter().zip(&widths) {
        header.push_str(&format!(" {n:>w$}"));
    }
    println!("{header}");
    for s in stats {
        let mut line = format!("{:>5}", s.year);
        for (n, w) in names.iter().zip(&widths) {
            let pct = s.coverage.get(*n).copied().unwrap_or(0.0) * 100.0;
            line.push_str(&format!(" {pct:>w$.1}"));
        }
        println!("{line}");
    }
}

/// Value of `flag` in `args`: `--flag VALUE` or `--flag=VALUE`.
struct Flags<'a> {
    year: Option<&'a str>,
    seed: Option<&'a str>,
    out: Option<&'a str>,
}

fn parse_generate_flags(args: &[String]) -> Result<Flags<'_>, String> {
    let mut flags = Flags {
        year: None,
        seed: None,
        out: None,
    };
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (arg, None),
        };
        let slot = match name {
            "--year" => &mut flags.year,
            "--seed" => &mut flags.seed,
            "--out" => &mut flags.out,
            _ if name.starts_with('-') => return Err(format!("generate: unknown flag `{name}`")),
            _ => return Err(format!("generate: unexpected argument `{arg}`")),
        };
        let value = match inline {
            Some(v) => v,
            None => {
                i += 1;
                match args.get(i) {
                    Some(v) if !v.starts_with("--") => v.as_str(),
                    _ => return Err(format!("generate: flag `{name}` needs a value")),
                }
            }
        };
        if value.is_empty() {
            return Err(format!("generate: flag `{name}` needs a value"));
        }
        if slot.replace(value).is_some() {
            return Err(format!("generate: flag `{name}` given twice"));
        }
        i += 1;
    }
    Ok(flags)
}

fn generate(args: &[String]) -> Result<(), String> {
    let flags = parse_generate_flags(args)?;
    let year_text = flags.year.ok_or("generate: missing --year")?;
    let seed_text = flags.seed.ok_or("generate: missing --seed")?;
    let out = flags.out.ok_or("generate: missing --out")?;
    let year: i32 = year_text
        .parse()
        .ok()
        .filter(|y| YEARS.contains(y))
        .ok_or_else(|| {
            format!(
                "generate: --year `{year_text}` is not a year from {} to {}",
                YEARS.start(),
                YEARS.end()
            )
        })?;
    let seed: u64 = seed_text
        .parse()
        .map_err(|_| format!("generate: --seed `{seed_text}` is not an unsigned integer"))?;

    let started = Instant::now();
    let raw = generate_year(year, seed);
    let elapsed = started.elapsed();
    write_parquet(&raw, Path::new(out)).map_err(|e| e.to_string())?;
    let stats = yearly_stats(&raw);
    let summary = stats
        .iter()
        .find(|s| s.year == year)
        .map(|s| {
            format!(
                "rt mean {:.2} median {:.2} max {:.2} min {:.2}",
                s.rt_mean, s.rt_median, s.rt_max, s.rt_min
            )
        })
        .unwrap_or_default();
    println!(
        "wrote {out}: synthetic {year} seed {seed}, {} rows, {summary} (generated in {:.1} ms)",
        raw.len(),
        elapsed.as_secs_f64() * 1000.0
    );
    Ok(())
}
