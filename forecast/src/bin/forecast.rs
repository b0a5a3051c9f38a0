//! `forecast`: fit the 4CP and real-time price forecasts on a market file, and score them
//! against naive baselines. `forecast fit --data FILE --out DIR` writes `DIR/fourcp.json`, `DIR/fourcp_lf.json`,
//! `DIR/rt_price.json` and `DIR/rt_spread.json` (split: fit 2018-2022, select 2023, score
//! 2024); `forecast score --model DIR --data FILE [--data FILE ...]` prints the score table.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use powermix_forecast::features::{fourcp_feature_names, price_feature_names};
use powermix_forecast::price::{self, Target};
use powermix_forecast::{History, ModelFile, Split, fourcp};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "forecast",
    about = "Fit and score the 4CP and real-time price forecasts"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Fit on local years 2018-2022 of a market file, select on 2023, write the models.
    Fit {
        /// Market parquet file (the fitting hub).
        #[arg(long)]
        data: PathBuf,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Full-batch Adam steps per candidate (the best step is selected on 2023).
        #[arg(long, default_value_t = 300)]
        steps: usize,
    },
    /// Score the models and the baselines on the selection and score years of each file.
    Score {
        /// Folder written by `fit`.
        #[arg(long)]
        model: PathBuf,
        /// Market parquet files (repeat the flag).
        #[arg(long, required = true)]
        data: Vec<PathBuf>,
    },
}

fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}

fn load(path: &Path) -> Result<History> {
    History::load(path).with_context(|| format!("reading {}", path.display()))
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Fit { data, out, steps } => fit(&data, &out, steps),
        Cmd::Score { model, data } => score(&model, &data),
    }
}

fn fit(data: &Path, out: &Path, steps: usize) -> Result<()> {
    let start = Instant::now();
    let h = load(data)?;
    let split = Split::standard(h.settlement_point());
    let cmd = command_line();
    let (fit_y, sel_y) = (
        split.fit_years[0]..=split.fit_years[1],
        split.select_year..=split.select_year,
    );
    let (fr, sr) = (
        fourcp::rows(&h, fit_y.clone()),
        fourcp::rows(&h, sel_y.clone()),
    );
    println!(
        "4CP: {} fitting rows ({} peak hours), {} selection rows",
        fr.len(),
        fr.iter().filter(|r| r.peak_hour).count(),
        sr.len()
    );
    // Without and with the simulated ERCOT load forecast (second round, 2026-12-07).
    for with_lf in [false, true] {
        let (m, log) = fourcp::fit_and_select(with_lf, &fr, &sr, split.clone(), steps, &cmd);
        log.iter().for_each(|l| println!("  {l}"));
        let path = out.join(format!("{}.json", m.kind));
        let id = m.save(&path)?;
        println!(
            "  wrote {} (model id {id}, selection {:?})",
            path.display(),
            m.selection
        );
    }
    let (fr, sr) = (price::rows(&h, fit_y), price::rows(&h, sel_y));
    for target in [Target::Price, Target::Spread] {
        let (m, log) = price::fit_and_select(target, &fr, &sr, split.clone(), steps, &cmd);
        log.iter().for_each(|l| println!("  {l}"));
        let path = out.join(format!("{}.json", target.kind()));
        let id = m.save(&path)?;
        println!(
            "  wrote {} (model id {id}, selection {:?})",
            path.display(),
            m.selection
        );
    }
    println!("fit in {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

fn score(dir: &Path, data: &[PathBuf]) -> Result<()> {
    let (fcp, fcp_id) = ModelFile::load(
        &dir.join("fourcp.json"),
        fourcp::KIND,
        &fourcp_feature_names(),
        &fourcp::output_names(),
    )?;
    let split = fcp.split.clone();
    // The variant with the load forecast, when the folder holds it.
    let lf_path = dir.join(format!("{}.json", fourcp::KIND_LF));
    let fcp_lf = if lf_path.exists() {
        let (kind, names) = fourcp::kind_and_features(true);
        let (m, id) = ModelFile::load(&lf_path, kind, &names, &fourcp::output_names())?;
        println!("  {kind} model id {id}");
        Some(m)
    } else {
        None
    };
    println!(
        "forecast score: models {} (fourcp {fcp_id}), split fit {}-{} / select {} / score {} on {}",
        dir.display(),
        split.fit_years[0],
        split.fit_years[1],
        split.select_year,
        split.score_year,
        split.fit_settlement_point
    );
    let mut price_models = Vec::new();
    for target in [Target::Price, Target::Spread] {
        let path = dir.join(format!("{}.json", target.kind()));
        let (m, id) = ModelFile::load(
            &path,
            target.kind(),
            &price_feature_names(),
            &price::output_names(),
        )?;
        println!("  {} model id {id}", target.kind());
        price_models.push((target, m));
    }
    let fit_y = split.fit_years[0]..=split.fit_years[1];
    let years = [("select", split.select_year), ("score", split.score_year)];
    println!(
        "\n4CP (hourly decisions in June-September; probability of the hour / the day holding the month's peak)\n"
    );
    println!(
        "| data | split | forecaster | Brier hour | log loss hour | Brier day | log loss day | peaks caught @2% | false h/summer @2% | caught @5% | false @5% | caught @11% | false @11% |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut price_lines = Vec::new();
    for file in data {
        let h = load(file)?;
        let hub = h.settlement_point().to_string();
        let fit_rows = fourcp::rows(&h, fit_y.clone());
        let new_max = fourcp::calibrated_binary(&fit_rows, |r| r.new_max);
        let expert = fourcp::calibrated_binary(&fit_rows, |r| r.expert);
        let pfit = price::rows(&h, fit_y.clone());
        for (name, y) in years {
            if name == "select" && hub != split.fit_settlement_point {
                continue;
            }
            let rows = fourcp::rows(&h, y..=y);
            if rows.is_empty() {
                continue;
            }
            let th = fourcp::THRESHOLDS;
            let line = |who: &str, s: fourcp::Scores| {
                let at: Vec<String> =
                    s.at.iter()
                        .map(|(_, c, n, f)| format!("{c}/{n} | {f:.1}"))
                        .collect();
                println!(
                    "| {hub} | {name} {y} | {who} | {:.5} | {:.5} | {:.4} | {:.4} | {} |",
                    s.brier_hour,
                    s.logloss_hour,
                    s.brier_day,
                    s.logloss_day,
                    at.join(" | ")
                );
            };
            line(
                "model",
                fourcp::score(&rows, &fourcp::predict(&fcp, &rows), &th),
            );
            if let Some(m) = &fcp_lf {
                line(
                    "model with load forecast",
                    fourcp::score(&rows, &fourcp::predict(m, &rows), &th),
                );
            }
            let b = |f: &dyn Fn(&fourcp::Row) -> (f64, f64),
                     alert: &dyn Fn(&fourcp::Row) -> bool| {
                let p: Vec<(f64, f64)> = rows.iter().map(f).collect();
                let mut s = fourcp::score(&rows, &p, &[]);
                let a: Vec<(f64, f64)> = rows
                    .iter()
                    .map(|r| (if alert(r) { 1.0 } else { 0.0 }, 0.0))
                    .collect();
                let at = fourcp::score(&rows, &a, &[0.5]).at[0];
                s.at = vec![at; 3];
                s
            };
            line("new MTD max 14-19h (alert)", b(&new_max, &|r| r.new_max));
            line("expert likely_peak 0.96 (alert)", b(&expert, &|r| r.expert));
            // Prices.
            let prow = price::rows(&h, y..=y);
            for (target, m) in &price_models {
                let mut entries: Vec<(String, Vec<Option<price::Quantiles>>)> = vec![(
                    "model".into(),
                    price::predict(m, &prow).into_iter().map(Some).collect(),
                )];
                for (bn, point) in [
                    ("persistence", price::persistence(*target)),
                    ("day-ahead", price::day_ahead(*target)),
                ] {
                    if *target == Target::Spread && bn == "day-ahead" {
                        entries.push((
                            "spread 0 (day-ahead)".into(),
                            price::baseline_quantiles(&*point, *target, None, &prow),
                        ));
                        entries.push((
                            "spread 0 + fit-year error quantiles".into(),
                            price::baseline_quantiles(&*point, *target, Some(&pfit), &prow),
                        ));
                        continue;
                    }
                    entries.push((
                        bn.into(),
                        price::baseline_quantiles(&*point, *target, None, &prow),
                    ));
                    entries.push((
                        format!("{bn} + fit-year error quantiles"),
                        price::baseline_quantiles(&*point, *target, Some(&pfit), &prow),
                    ));
                }
                // Every forecaster on the same rows: those where all are defined.
                let common: Vec<usize> = (0..prow.len())
                    .filter(|&i| {
                        entries.iter().all(|(_, q)| q[i].is_some())
                            && (0..price::HORIZONS).all(|k| prow[i].y(*target, k).is_some())
                    })
                    .collect();
                let rows_c: Vec<price::Row> = common.iter().map(|&i| prow[i].clone()).collect();
                for (who, q) in &entries {
                    let qc: Vec<Option<price::Quantiles>> = common.iter().map(|&i| q[i]).collect();
                    let s = price::score(&rows_c, &qc, *target);
                    price_lines.push(format!(
                        "| {hub} | {name} {y} | {} | {who} | {} | {:.2} | {:.2} | {:.2} | {:.3} | {:.3} | {:.3} | {} |",
                        target.kind(), s.rows, s.pinball[0], s.pinball[1], s.pinball[2], s.coverage[0], s.coverage[1], s.coverage[2],
                        s.pinball50_by_horizon.iter().map(|x| format!("{x:.2}")).collect::<Vec<_>>().join(" / ")
                    ));
                }
            }
        }
    }
    println!(
        "\nReal-time price quantiles (hourly decisions; mean RT price of each of the next 4 hours; pinball in $/MWh averaged over horizons; coverage = share at or below the quantile)\n"
    );
    println!(
        "| data | split | target | forecaster | rows | pinball q10 | q50 | q90 | coverage q10 | q50 | q90 | pinball q50 by horizon 1/2/3/4 h |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    price_lines.iter().for_each(|l| println!("{l}"));
    Ok(())
}
