//! `data`: inspect market data parquet files, generate synthetic years and import ERCOT
//! reports and gridstatus exports (docs/data-import.md).
//! `data --help` and `data <command> --help` list every flag.
//!
//! Errors print `error: ...` on stderr and exit with status 2 (clap's message for flags).
use anyhow::{Context, Result};
use clap::builder::TypedValueParser;
use clap::{Parser, Subcommand};
use powermix_data::import::{ImportOptions, import_to_file};
use powermix_data::stats::{YearStats, yearly_stats};
use powermix_data::synth::{
    Congestion, GenParams, ReserveRegime, WeekendPeaks, generate_year_with,
};
use powermix_data::{OptionalColumn, RawMarketData, read_parquet, write_parquet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Inspect ERCOT market data parquet files, generate synthetic years, import downloaded
/// ERCOT reports and gridstatus exports.
#[derive(Parser, Debug)]
#[command(name = "data", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Yearly (US/Central) real-time price figures and column coverage of FILE (any codec
    /// pandas, pyarrow or polars write: snappy, gzip, zstd, lz4, brotli, uncompressed)
    Inspect {
        /// The market data parquet file
        file: PathBuf,
        /// Print one JSON object instead of tables
        #[arg(long)]
        json: bool,
    },
    /// Write a synthetic local year (or several, back to back) to FILE as zstd parquet, then
    /// print a one-line summary per year
    Generate {
        /// Local (US/Central) year to generate, 1900 to 2200
        #[arg(long, value_parser = clap::value_parser!(i32).range(1900..=2200))]
        year: i32,
        /// Seed of the generator (the same seed gives the same file)
        #[arg(long)]
        seed: u64,
        /// Consecutive years to write, from --year; year k (from 0) uses seed --seed + k,
        /// so `--years 1` of any of them gives the same year alone
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=100))]
        years: u16,
        /// Output parquet file (written through a temporary file, then renamed)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Level of the reserve prices: the generator's own (historical, yearly mean RRS
        /// about $7-8/MW-h), or with storage in the reserve markets at 2024 levels
        /// (storage-2024, about $5.7) or early-2025 levels (storage-2025, about $2.5)
        #[arg(
            long,
            value_name = "REGIME",
            default_value = "historical",
            value_parser = clap::builder::PossibleValuesParser::new(
                ReserveRegime::ALL.map(ReserveRegime::name)
            ).map(|s| s.parse::<ReserveRegime>().expect("a listed name"))
        )]
        reserve_regime: ReserveRegime,
        /// Add West-hub congestion episodes: short hub price spikes (or deep negative
        /// prices) at windy nights and sunny middays, not at system scarcity, unforeseen by
        /// the day-ahead price
        #[arg(long)]
        congestion: bool,
        /// Add weekend heat waves in June to September, so that some months' system load
        /// peak falls on a weekend afternoon
        #[arg(long)]
        weekend_peaks: bool,
    },
    /// Assemble a market file for one settlement point and period from a folder of
    /// downloaded ERCOT reports (CSV or zip: NP6-905-CD, NP4-190-CD, NP4-188-CD, NP6-331-CD,
    /// NP6-345-CD), gridstatus exports (CSV or parquet of get_spp, get_as_prices, get_load)
    /// and a daily bitcoin file; see docs/data-import.md
    Import {
        /// Folder of downloaded files (searched recursively)
        dir: PathBuf,
        /// Settlement point, a hub or load zone (e.g. HB_WEST, LZ_HOUSTON)
        #[arg(long, value_name = "NAME")]
        point: String,
        /// Settlement point type to keep where the real-time files list two for the point
        /// (ERCOT lists a load zone as LZ and as energy-weighted LZEW), e.g. LZ, LZEW, HU
        #[arg(long, value_name = "TYPE")]
        point_type: Option<String>,
        /// START..END in US/Central dates, end exclusive (e.g. 2024-01-01..2025-01-01)
        #[arg(long)]
        period: String,
        /// Output parquet file (written through a temporary file, then renamed; nothing is
        /// written on error)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Count transaction fees (column fees_btc_per_block) in hashprice; the schema's
        /// hashprice excludes them
        #[arg(long)]
        include_fees: bool,
        /// Print the import report as one JSON object
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect { file, json } => inspect(&file, json),
        Command::Generate {
            year,
            seed,
            years,
            out,
            reserve_regime,
            congestion,
            weekend_peaks,
        } => {
            let params = GenParams {
                reserve_regime,
                congestion: congestion.then(Congestion::default),
                weekend_peaks: weekend_peaks.then(WeekendPeaks::default),
            };
            generate(year, seed, years, &params, &out)
        }
        Command::Import {
            dir,
            point,
            point_type,
            period,
            out,
            include_fees,
            json,
        } => {
            let opts = ImportOptions {
                dir,
                settlement_point: point,
                point_type,
                period,
                include_fees,
                skip: None,
            };
            import(&opts, &out, json)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn inspect(file: &Path, json: bool) -> Result<()> {
    let raw = read_parquet(file)?;
    let stats = yearly_stats(&raw);
    let file = file.display().to_string();
    if json {
        let value = serde_json::json!({
            "file": file,
            "settlement_point": raw.settlement_point,
            "rows": raw.len(),
            "years": stats,
        });
        println!("{value}");
    } else {
        print_tables(&file, &raw, &stats);
    }
    Ok(())
}

fn print_tables(file: &str, raw: &RawMarketData, stats: &[YearStats]) {
    println!("file: {file}");
    println!("settlement point: {}", raw.settlement_point);
    println!("rows: {}", raw.len());
    println!();
    println!("{}", YearStats::TABLE_HEADER);
    for s in stats {
        println!("{}", s.table_row());
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

fn generate(first: i32, seed: u64, years: u16, params: &GenParams, out: &Path) -> Result<()> {
    let started = Instant::now();
    let last = first + i32::from(years) - 1;
    if last > 2200 {
        anyhow::bail!("--years {years}: the last year, {last}, is after 2200");
    }
    let mut raw = generate_year_with(first, seed, params);
    for k in 1..years {
        raw.append(generate_year_with(
            first + i32::from(k),
            seed + u64::from(k),
            params,
        ));
    }
    // The regimes a non-default run adds, for its summary lines.
    let mut regimes = String::new();
    if params.reserve_regime != ReserveRegime::default() {
        regimes.push_str(&format!(", reserves {}", params.reserve_regime.name()));
    }
    if params.congestion.is_some() {
        regimes.push_str(", congestion");
    }
    if params.weekend_peaks.is_some() {
        regimes.push_str(", weekend peaks");
    }
    let elapsed = started.elapsed();
    write_parquet(&raw, out).context("writing the synthetic years")?;
    for s in yearly_stats(&raw) {
        println!(
            "wrote {}: synthetic {} seed {}{regimes}, {} rows, rt mean {:.2} median {:.2} max {:.2} min {:.2}",
            out.display(),
            s.year,
            seed + (s.year - first) as u64,
            s.rows,
            s.rt_mean,
            s.rt_median,
            s.rt_max,
            s.rt_min
        );
    }
    eprintln!("generated in {:.1} ms", elapsed.as_secs_f64() * 1000.0);
    Ok(())
}

fn import(opts: &ImportOptions, out: &Path, json: bool) -> Result<()> {
    let started = Instant::now();
    let report = import_to_file(opts, out)?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.summary());
        println!("wrote {}", out.display());
    }
    eprintln!(
        "imported in {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(())
}
