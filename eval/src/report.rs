//! `--report DIR`: report.md with the score table and PNG charts drawn with plotters:
//! cumulative profit per policy, the dispatch stack against price in the week with the
//! highest prices (one chart per policy), and site load on the 4CP days.

use crate::EvalError;
use crate::harness::{Evaluation, format_evaluation};
use plotters::prelude::*;
use powermix_env::Market;
use powermix_env::time::format_utc;
use std::path::Path;

/// Font files tried in order for chart text (Debian's fonts-dejavu-core and friends).
const FONT_CANDIDATES: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

fn register_font() -> Result<(), EvalError> {
    static DONE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        for path in FONT_CANDIDATES {
            if let Ok(bytes) = std::fs::read(path) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return Ok(());
                }
            }
        }
        Err(format!(
            "no TrueType font for chart text (tried {}); install Debian's fonts-dejavu-core",
            FONT_CANDIDATES.join(", ")
        ))
    })
    .clone()
    .map_err(EvalError)
}

fn chart_err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> EvalError + '_ {
    move |e| EvalError(format!("chart {what}: {e}"))
}

const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Writes report.md and the charts into `dir` (created if needed).
pub fn write_report(
    dir: &Path,
    market: &Market,
    ev: &Evaluation,
) -> Result<Vec<String>, EvalError> {
    std::fs::create_dir_all(dir).map_err(|e| EvalError(format!("{}: {e}", dir.display())))?;
    register_font()?;
    let mut files = Vec::new();
    let cum = "cumulative_profit.png";
    cumulative_chart(&dir.join(cum), ev)?;
    files.push(cum.to_string());
    let (ws, we) = highest_price_week(market, ev.start, ev.end);
    for r in &ev.results {
        let name = format!("dispatch_{}.png", r.policy);
        dispatch_chart(&dir.join(&name), market, r, ws, we)?;
        files.push(name);
    }
    let cp_days = four_cp_days(market, ev.start, ev.end);
    if !cp_days.is_empty() {
        let name = "four_cp_days.png";
        four_cp_chart(&dir.join(name), market, ev, &cp_days)?;
        files.push(name.to_string());
    }

    let mut md = String::new();
    md.push_str(&format!(
        "# powermix evaluation: {} {}\n\n{} to {} ({} intervals). Money in $ thousands.\n\n```\n{}```\n\n",
        ev.settlement_point,
        ev.period,
        format_utc(market.interval_start_ms(ev.start)),
        format_utc(market.interval_start_ms(ev.end - 1) + powermix_env::time::INTERVAL_MS),
        ev.end - ev.start,
        format_evaluation(ev)
    ));
    if !ev.oracle_breaches.is_empty() {
        md.push_str("**ORACLE BREACHES (bugs):**\n\n");
        for b in &ev.oracle_breaches {
            md.push_str(&format!("- {b}\n"));
        }
        md.push('\n');
    }
    md.push_str(&format!(
        "## Cumulative profit above always-on\n\n![cumulative profit]({cum})\n\n## Dispatch in the week with the highest prices\n\n{} to {}.\n\n",
        format_utc(market.interval_start_ms(ws)),
        format_utc(market.interval_start_ms(we - 1) + powermix_env::time::INTERVAL_MS)
    ));
    for r in &ev.results {
        md.push_str(&format!("![dispatch {0}](dispatch_{0}.png)\n\n", r.policy));
    }
    if !cp_days.is_empty() {
        md.push_str("## Site load on the 4CP days\n\nThe dashed line marks the coincident peak.\n\n![4CP days](four_cp_days.png)\n");
    }
    std::fs::write(dir.join("report.md"), md).map_err(|e| EvalError(format!("report.md: {e}")))?;
    files.push("report.md".into());
    Ok(files)
}

fn cumulative_chart(path: &Path, ev: &Evaluation) -> Result<(), EvalError> {
    let root = BitMapBackend::new(path, (1200, 700)).into_drawing_area();
    root.fill(&WHITE).map_err(chart_err("cumulative"))?;
    // Profit over always-on shows what each policy adds; the raw totals are dominated by the
    // AI revenue every policy shares.
    let base: Option<&Vec<f64>> = ev
        .results
        .iter()
        .find(|r| r.policy == "always-on")
        .map(|r| &r.score.trace.profit);
    let series: Vec<(String, Vec<(f64, f64)>)> = ev
        .results
        .iter()
        .map(|r| {
            let mut acc = 0.0;
            let pts = r
                .score
                .trace
                .profit
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    acc += p - base.map_or(0.0, |b| b[i]);
                    (i as f64 / 96.0, acc / 1e6)
                })
                .collect();
            (r.policy.clone(), pts)
        })
        .collect();
    let days = series.iter().map(|s| s.1.len()).max().unwrap_or(1) as f64 / 96.0;
    let (lo, hi) = series
        .iter()
        .flat_map(|s| s.1.iter().map(|p| p.1))
        .fold((0.0f64, 0.0f64), |(a, b), y| (a.min(y), b.max(y)));
    let mut chart = ChartBuilder::on(&root)
        .caption(
            if base.is_some() {
                "Cumulative profit above always-on"
            } else {
                "Cumulative profit"
            },
            ("sans-serif", 28),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..days.max(1.0), lo..hi)
        .map_err(chart_err("cumulative"))?;
    chart
        .configure_mesh()
        .x_desc("days from period start")
        .y_desc(if base.is_some() {
            "profit - always-on ($ million)"
        } else {
            "profit ($ million)"
        })
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(chart_err("cumulative"))?;
    for (i, (name, pts)) in series.into_iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))
            .map_err(chart_err("cumulative"))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(chart_err("cumulative"))?;
    root.present().map_err(chart_err("cumulative"))
}

/// The local week (7 days from the period start) with the highest mean real-time price.
pub fn highest_price_week(market: &Market, start: usize, end: usize) -> (usize, usize) {
    let (_, s, e) = crate::harness::weeks(market, start, end)
        .into_iter()
        .map(|w| {
            let mean = market.hindsight().data.rt_price[w.start..w.end]
                .iter()
                .sum::<f64>()
                / (w.end - w.start) as f64;
            (mean, w.start, w.end)
        })
        .fold((f64::MIN, start, end), |a, b| if b.0 > a.0 { b } else { a });
    (s, e)
}

fn dispatch_chart(
    path: &Path,
    market: &Market,
    r: &crate::harness::PolicyResult,
    ws: usize,
    we: usize,
) -> Result<(), EvalError> {
    let tr = &r.score.trace;
    let root = BitMapBackend::new(path, (1200, 800)).into_drawing_area();
    root.fill(&WHITE).map_err(chart_err("dispatch"))?;
    let (top, bottom) = root.split_vertically(280);
    let x = |t: usize| (t - ws) as f64 / 96.0;
    let days = (we - ws) as f64 / 96.0;
    let prices: Vec<(f64, f64)> = (ws..we)
        .map(|t| (x(t), market.hindsight().data.rt_price[t]))
        .collect();
    let (plo, phi) = prices
        .iter()
        .fold((0.0f64, 100.0f64), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let mut c = ChartBuilder::on(&top)
        .caption(
            format!("{}: dispatch in the week with the highest prices", r.policy),
            ("sans-serif", 26),
        )
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..days, plo..phi * 1.05)
        .map_err(chart_err("dispatch"))?;
    c.configure_mesh()
        .y_desc("real-time price ($/MWh)")
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(chart_err("dispatch"))?;
    c.draw_series(LineSeries::new(prices, BLACK.stroke_width(1)))
        .map_err(chart_err("dispatch"))?;

    // Stacked layers from the bottom: inference, training, tranches, then offers as a line.
    let idx = |t: usize| t - tr.start;
    let names = [
        "inference",
        "training",
        "tranche 0",
        "tranche 1",
        "tranche 2",
    ];
    let layer = |k: usize, t: usize| -> f64 {
        let i = idx(t);
        match k {
            0 => tr.inference_mw[i] as f64,
            1 => tr.training_mw[i] as f64,
            _ => tr.tranche_mw[i][k - 2] as f64,
        }
    };
    let cap = market.cfg.grid.import_limit_mw;
    let mut c = ChartBuilder::on(&bottom)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..days, 0.0..cap * 1.05)
        .map_err(chart_err("dispatch"))?;
    c.configure_mesh()
        .x_desc("days from week start")
        .y_desc("MW")
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(chart_err("dispatch"))?;
    for k in (0..names.len()).rev() {
        let pts: Vec<(f64, f64)> = (ws..we)
            .map(|t| (x(t), (0..=k).map(|j| layer(j, t)).sum()))
            .collect();
        let color = COLORS[k % COLORS.len()];
        c.draw_series(AreaSeries::new(pts, 0.0, color.mix(0.75)).border_style(color))
            .map_err(chart_err("dispatch"))?
            .label(names[k])
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], color.filled()));
    }
    let offers: Vec<(f64, f64)> = (ws..we)
        .map(|t| (x(t), tr.awarded_mw[idx(t)] as f64))
        .collect();
    c.draw_series(LineSeries::new(offers, BLACK.stroke_width(2)))
        .map_err(chart_err("dispatch"))?
        .label("reserve offers")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.stroke_width(2)));
    c.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(chart_err("dispatch"))?;
    root.present().map_err(chart_err("dispatch"))
}

/// Local days holding a 4CP peak interval in `[start, end)`: (first interval, end, peak).
pub fn four_cp_days(market: &Market, start: usize, end: usize) -> Vec<(usize, usize, usize)> {
    let mut out: Vec<(usize, usize, usize)> = Vec::new();
    for t in start..end {
        if market.hindsight().four_cp_weight[t] > 0.0 && out.last().is_none_or(|d| t >= d.1) {
            let day = market.local[t].day_number;
            let mut s = t;
            while s > start && market.local[s - 1].day_number == day {
                s -= 1;
            }
            let mut e = t;
            while e < end && market.local[e].day_number == day {
                e += 1;
            }
            out.push((s, e, t));
        }
    }
    out
}

fn four_cp_chart(
    path: &Path,
    market: &Market,
    ev: &Evaluation,
    days: &[(usize, usize, usize)],
) -> Result<(), EvalError> {
    let root = BitMapBackend::new(path, (1200, 300 * days.len().div_ceil(2) as u32 + 40))
        .into_drawing_area();
    root.fill(&WHITE).map_err(chart_err("4cp"))?;
    let (title, body) = root.split_vertically(40);
    title
        .draw(&Text::new(
            "Site load on the 4CP days (local hours)",
            (420, 8),
            ("sans-serif", 24),
        ))
        .map_err(chart_err("4cp"))?;
    let panels = body.split_evenly((days.len().div_ceil(2), 2));
    let cap = market.cfg.grid.import_limit_mw;
    for (panel, &(s, e, peak)) in panels.iter().zip(days) {
        let l = market.local[s];
        let hour = |t: usize| {
            let lt = market.local[t];
            lt.hour as f64 + lt.minute as f64 / 60.0
        };
        let mut c = ChartBuilder::on(panel)
            .caption(
                format!("{}-{:02}-{:02}", l.year, l.month, l.day),
                ("sans-serif", 18),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..24.0, 0.0..cap * 1.05)
            .map_err(chart_err("4cp"))?;
        c.configure_mesh()
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(chart_err("4cp"))?;
        let ph = hour(peak);
        c.draw_series(DashedLineSeries::new(
            vec![(ph, 0.0), (ph, cap)],
            6,
            4,
            RED.stroke_width(1),
        ))
        .map_err(chart_err("4cp"))?;
        for (i, r) in ev.results.iter().enumerate() {
            let tr = &r.score.trace;
            let color = COLORS[i % COLORS.len()];
            let pts: Vec<(f64, f64)> = (s..e)
                .map(|t| (hour(t), tr.site_load_mw[t - tr.start] as f64))
                .collect();
            c.draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(chart_err("4cp"))?
                .label(r.policy.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        c.configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .label_font(("sans-serif", 12))
            .position(SeriesLabelPosition::LowerLeft)
            .draw()
            .map_err(chart_err("4cp"))?;
    }
    root.present().map_err(chart_err("4cp"))
}
