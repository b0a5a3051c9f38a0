//! How well the observation's 4CP chance (`fourcp_p_hour`, the shipped per-hour model)
//! ranks a year's 4CP intervals among the afternoons of the 4CP months, and what an alarm on
//! it would cost: for each threshold, the hours at or above it and the share of the billed
//! peak weight they hold. A diagnostic of the record
//! `docs/experiments/2026-12-07-fourcp-in-observation.md`.
//!
//! `cargo run --release -p powermix-eval --example fourcp_alarms -- FILE [YEAR]`
//! (FILE a market parquet; YEAR keeps one local year).

use powermix_env::{Market, OBS_DIM, OBS_NAMES, SiteConfig, SiteState};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: fourcp_alarms FILE [YEAR]")?;
    let year: Option<i32> = args.next().map(|y| y.parse()).transpose()?;
    let cfg = SiteConfig::default_site();
    let (data, _) = powermix_data::load_market_data(std::path::Path::new(&path), &cfg.data_fill)?;
    let m = Market::new(data, cfg.clone());
    let weight = &m.hindsight().four_cp_weight;
    let p_hour = OBS_NAMES
        .iter()
        .position(|n| *n == "fourcp_p_hour")
        .ok_or("no fourcp_p_hour feature")?;
    let state = SiteState::initial(&cfg);
    let mut out = [0f32; OBS_DIM];
    // (chance, peak weight, local time) of each afternoon interval of the 4CP months.
    let mut rows = Vec::new();
    for t in 0..m.len() {
        let l = m.snapshot(t, &state).local;
        if !cfg.four_cp.months.contains(&l.month)
            || !(12..=20).contains(&l.hour)
            || year.is_some_and(|y| y != l.year)
        {
            continue;
        }
        m.observe_into(t, &state, &mut out);
        rows.push((out[p_hour], weight[t], l));
    }
    let mut sorted: Vec<f32> = rows.iter().map(|r| r.0).collect();
    sorted.sort_by(f32::total_cmp);
    println!("afternoon intervals of the 4CP months: {}", rows.len());
    for r in rows.iter().filter(|r| r.1 > 0.0) {
        let below = sorted.partition_point(|&p| p < r.0) as f64 / sorted.len() as f64;
        println!(
            "peak interval {}-{:02}-{:02} {:02}:{:02}: chance {:.4}, above {:.1} % of the afternoons",
            r.2.year,
            r.2.month,
            r.2.day,
            r.2.hour,
            r.2.minute,
            r.0,
            100.0 * below
        );
    }
    let all: f64 = rows.iter().map(|r| r.1).sum();
    for th in [0.02f32, 0.025, 0.03, 0.035, 0.04, 0.045] {
        let alarmed = rows.iter().filter(|r| r.0 >= th);
        let (n, caught) = alarmed.fold((0usize, 0.0), |(n, w), r| (n + 1, w + r.1));
        println!(
            "chance >= {th}: {:.1} h of alarms hold {caught:.2} of {all:.2} peaks",
            n as f64 / 4.0
        );
    }
    Ok(())
}
