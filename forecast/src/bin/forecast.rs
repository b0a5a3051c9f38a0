//! `forecast`: fit the 4CP, real-time price and day-ahead gate forecasts on a market file,
//! and score them against naive baselines. `forecast fit --data FILE --out DIR` writes
//! `DIR/fourcp.json`, `DIR/fourcp_lf.json`, `DIR/rt_price.json`, `DIR/rt_spread.json`,
//! `DIR/rt_gate.json` and `DIR/reserve_gate.json` (split: fit 2018-2022, select 2023, score
//! 2024); `forecast score --model DIR --data FILE [--data FILE ...]` prints the score tables.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use powermix_forecast::features::{fourcp_feature_names, price_feature_names};
use powermix_forecast::gate::{self, GateForecast};
use powermix_forecast::price::{self, Target};
use powermix_forecast::{History, ModelFile, Split, fourcp};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "forecast",
    about = "Fit and score the 4CP, real-time price and day-ahead gate forecasts"
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
        /// A generated market file (`data generate`) whose every year joins the 4CP
        /// models' fitting rows (repeat the flag); selection stays on the real 2023.
        #[arg(long = "also-fit")]
        also_fit: Vec<PathBuf>,
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
        Cmd::Fit {
            data,
            out,
            steps,
            also_fit,
        } => fit(&data, &out, steps, &also_fit),
        Cmd::Score { model, data } => score(&model, &data),
    }
}

fn fit(data: &Path, out: &Path, steps: usize, also_fit: &[PathBuf]) -> Result<()> {
    let start = Instant::now();
    let h = load(data)?;
    let split = Split::standard(h.settlement_point());
    let cmd = command_line();
    let (fit_y, sel_y) = (
        split.fit_years[0]..=split.fit_years[1],
        split.select_year..=split.select_year,
    );
    let (mut fr, sr) = (
        fourcp::rows(&h, fit_y.clone()),
        fourcp::rows(&h, sel_y.clone()),
    );
    // Generated years join the 4CP fit only: the price models (and the real-time model
    // every observation embeds) stay fitted on the real years.
    let split_4cp = Split {
        also_fit: also_fit.iter().map(|p| p.display().to_string()).collect(),
        ..split.clone()
    };
    for file in also_fit {
        let g = load(file)?;
        let rows = fourcp::rows(&g, i32::MIN..=i32::MAX);
        println!(
            "4CP: {} generated rows ({} peak hours) from {}",
            rows.len(),
            rows.iter().filter(|r| r.peak_hour).count(),
            file.display()
        );
        fr.extend(rows);
    }
    println!(
        "4CP: {} fitting rows ({} peak hours), {} selection rows",
        fr.len(),
        fr.iter().filter(|r| r.peak_hour).count(),
        sr.len()
    );
    println!(
        "  peak hours outside {:?} in the fitting rows: {}",
        powermix_forecast::features::FOURCP_HOURS,
        fr.iter()
            .filter(|r| r.peak_hour && !powermix_forecast::features::FOURCP_HOURS.contains(&r.hour))
            .count()
    );
    // The hour-and-day model, with the simulated ERCOT load forecast (second round) and per
    // remaining hour of the day (third round, 2026-12-07).
    for v in fourcp::Variant::ALL {
        let (m, log) = fourcp::fit_and_select(v, &fr, &sr, split_4cp.clone(), steps, &cmd);
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
    // The day-ahead gate's forecasts for every hour of D (2026-12-07).
    let ((rt_fit, res_fit), (rt_sel, res_sel)) = (
        gate::rows(&h, split.fit_years[0]..=split.fit_years[1]),
        gate::rows(&h, split.select_year..=split.select_year),
    );
    println!(
        "gate: {} / {} real-time rows, {} / {} reserve rows (fit / select)",
        rt_fit.len(),
        rt_sel.len(),
        res_fit.len(),
        res_sel.len()
    );
    let models = [
        gate::fit_rt(&rt_fit, &rt_sel, split.clone(), steps, &cmd),
        gate::fit_reserve(&res_fit, &res_sel, split.clone(), steps, &cmd),
    ];
    for (m, log) in models {
        log.iter().for_each(|l| println!("  {l}"));
        let path = out.join(format!("{}.json", m.kind));
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
    // The variants with the load forecast and per hour, when the folder holds them.
    let variant = |v: fourcp::Variant| -> Result<Option<ModelFile>> {
        let path = dir.join(format!("{}.json", v.kind()));
        if !path.exists() {
            return Ok(None);
        }
        let (m, id) = ModelFile::load(&path, v.kind(), &v.feature_names(), &v.output_names())?;
        println!("  {} model id {id}", v.kind());
        Ok(Some(m))
    };
    let fcp_lf = variant(fourcp::Variant::LoadForecast)?;
    let fcp_hours = variant(fourcp::Variant::PerHour)?;
    let mut rest_lines = Vec::new();
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
    let gate_models = GateForecast::load(dir)?;
    println!(
        "  {} model id {}\n  {} model id {}",
        gate::KIND_RT,
        gate_models.rt_id,
        gate::KIND_RESERVE,
        gate_models.reserve_id
    );
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
    let mut gate_lines = Vec::new();
    let mut reserve_lines = Vec::new();
    for file in data {
        let h = load(file)?;
        let hub = h.settlement_point().to_string();
        let fit_rows = fourcp::rows(&h, fit_y.clone());
        let new_max = fourcp::calibrated_binary(&fit_rows, |r| r.new_max);
        let expert = fourcp::calibrated_binary(&fit_rows, |r| r.expert);
        let pfit = price::rows(&h, fit_y.clone());
        let (gfit_rt, gfit_res) = gate::rows(&h, fit_y.clone());
        for (name, y) in years {
            if name == "select" && hub != split.fit_settlement_point {
                continue;
            }
            let (grt, gres) = gate::rows(&h, y..=y);
            gate_lines.extend(gate_rt_lines(
                &hub,
                &format!("{name} {y}"),
                &gate_models,
                &gfit_rt,
                &grt,
            ));
            reserve_lines.extend(gate_reserve_lines(
                &hub,
                &format!("{name} {y}"),
                &gate_models,
                &gfit_res,
                &gres,
            ));
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
            if let Some(m) = &fcp_hours {
                line(
                    "model per remaining hour (its hour)",
                    fourcp::score(&rows, &fourcp::predict(m, &rows), &th),
                );
                let clim = fourcp::hour_climatology(&fit_rows);
                let (ll, n, pos) =
                    fourcp::logloss_rest_of_day(&rows, &fourcp::predict_hours(m, &rows));
                let (ll_c, _, _) =
                    fourcp::logloss_rest_of_day(&rows, &rows.iter().map(&clim).collect::<Vec<_>>());
                rest_lines.push(format!(
                    "| {hub} | {name} {y} | {n} | {pos} | {ll:.5} | {ll_c:.5} |"
                ));
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
    if !rest_lines.is_empty() {
        println!(
            "\n4CP per remaining hour (every decision in June-September and every hour of 12-20 h of its day not begun before it; log loss in nats)\n"
        );
        println!(
            "| data | split | pairs | peak pairs | per-hour model | climatology of the fitting years |"
        );
        println!("|---|---|---|---|---|---|");
        rest_lines.iter().for_each(|l| println!("{l}"));
    }
    println!(
        "\nReal-time price quantiles (hourly decisions; mean RT price of each of the next 4 hours; pinball in $/MWh averaged over horizons; coverage = share at or below the quantile)\n"
    );
    println!(
        "| data | split | target | forecaster | rows | pinball q10 | q50 | q90 | coverage q10 | q50 | q90 | pinball q50 by horizon 1/2/3/4 h |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    price_lines.iter().for_each(|l| println!("{l}"));
    println!(
        "\nReal-time price at the day-ahead gate (10:00 on D-1; quantiles of the mean RT price of each hour of D; pinball in $/MWh; coverage = share at or below the quantile)\n"
    );
    println!(
        "| data | split | forecaster | rows | pinball q10 | q50 | q90 | coverage q10 | q50 | q90 | mean price | mean q50 | pinball q50 hours 0-9 / 10-23 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    gate_lines.iter().for_each(|l| println!("{l}"));
    println!(
        "\nReserve clearing prices at the day-ahead gate (quantiles of each hour of D's price per product; pinball in $/MW-h; rows: hours of D with the product in the market)\n"
    );
    println!(
        "| data | split | product | forecaster | rows | pinball q10 | q50 | q90 | coverage q10 | q50 | q90 | mean price | mean q50 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    reserve_lines.iter().for_each(|l| println!("{l}"));
    Ok(())
}

/// The gate's real-time table rows of one file and year: the model and the baselines.
fn gate_rt_lines(
    hub: &str,
    split: &str,
    g: &GateForecast,
    fit: &[gate::RtRow],
    rows: &[gate::RtRow],
) -> Vec<String> {
    if rows.is_empty() {
        return vec![];
    }
    let mut entries: Vec<(&str, Vec<Option<gate::Q3>>)> = vec![(
        "model",
        gate::predict_rt(&g.rt, rows)
            .into_iter()
            .map(Some)
            .collect(),
    )];
    for (name, point) in [
        (
            "day-ahead of today (last RT where none)",
            gate::rt_da_persistence as fn(&gate::RtRow) -> f64,
        ),
        (
            "RT persistence (same hour, last 24 h)",
            gate::rt_persistence,
        ),
    ] {
        entries.push((name, gate::rt_baseline(point, None, rows)));
        entries.push((
            if name.starts_with("day") {
                "day-ahead of today + fit-year error quantiles"
            } else {
                "RT persistence + fit-year error quantiles"
            },
            gate::rt_baseline(point, Some(fit), rows),
        ));
    }
    let y: Vec<f64> = rows.iter().map(|r| r.y).collect();
    let early: Vec<bool> = rows.iter().map(|r| r.clock_hour < 10).collect();
    entries
        .iter()
        .map(|(who, q)| {
            let s = gate::score(&y, q);
            let part = |e: bool| {
                let qp: Vec<Option<gate::Q3>> = q
                    .iter()
                    .zip(&early)
                    .map(|(q, &x)| if x == e { *q } else { None })
                    .collect();
                gate::score(&y, &qp).pinball[1]
            };
            format!(
                "| {hub} | {split} | {who} | {} | {:.2} | {:.2} | {:.2} | {:.3} | {:.3} | {:.3} | {:.2} | {:.2} | {:.2} / {:.2} |",
                s.rows,
                s.pinball[0],
                s.pinball[1],
                s.pinball[2],
                s.coverage[0],
                s.coverage[1],
                s.coverage[2],
                s.mean_y,
                s.mean_q50,
                part(true),
                part(false)
            )
        })
        .collect()
}

/// The gate's reserve table rows of one file and year, per product: the model and the
/// baselines defined on all of the product's rows (the fit years hold no ECRS prices).
fn gate_reserve_lines(
    hub: &str,
    split: &str,
    g: &GateForecast,
    fit: &[gate::ReserveRow],
    rows: &[gate::ReserveRow],
) -> Vec<String> {
    let entries: Vec<(&str, Vec<Option<gate::Q3>>)> = vec![
        (
            "model",
            gate::predict_reserve(&g.reserve, rows)
                .into_iter()
                .map(Some)
                .collect(),
        ),
        (
            "persistence (today's price, same hour)",
            gate::reserve_persistence(None, rows),
        ),
        (
            "persistence + fit-year error quantiles",
            gate::reserve_persistence(Some(fit), rows),
        ),
        (
            "fit-year mean of hour and month",
            gate::reserve_climatology(fit, rows, false),
        ),
        (
            "fit-year quantiles of hour and month",
            gate::reserve_climatology(fit, rows, true),
        ),
    ];
    let mut out = Vec::new();
    for (p, product) in gate::PRODUCTS.iter().enumerate() {
        let idx: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].product == p).collect();
        if idx.is_empty() {
            continue;
        }
        let y: Vec<f64> = idx.iter().map(|&i| rows[i].y).collect();
        for (who, q) in &entries {
            let qp: Vec<Option<gate::Q3>> = idx.iter().map(|&i| q[i]).collect();
            if qp.iter().any(|q| q.is_none()) {
                continue;
            }
            let s = gate::score(&y, &qp);
            out.push(format!(
                "| {hub} | {split} | {product} | {who} | {} | {:.2} | {:.2} | {:.2} | {:.3} | {:.3} | {:.3} | {:.2} | {:.2} |",
                s.rows,
                s.pinball[0],
                s.pinball[1],
                s.pinball[2],
                s.coverage[0],
                s.coverage[1],
                s.coverage[2],
                s.mean_y,
                s.mean_q50
            ));
        }
    }
    out
}
