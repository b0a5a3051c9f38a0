//! Features see only what is published, labels mark the month's peak hour and day, model
//! files round-trip and damaged ones are refused by name.

use powermix_env::SiteState;
use powermix_env::data::MarketData;
use powermix_env::market::day_ahead_published_end_ms;
use powermix_env::time::INTERVAL_MS;
use powermix_forecast::features::{fourcp_features, fourcp_lf_features, price_features};
use powermix_forecast::model::{FORMAT_VERSION, Layer};
use powermix_forecast::{History, ModelFile, Split, fourcp, gate};
use std::collections::BTreeMap;

const JUNE_2023_MS: i64 = 1_685_595_600_000;
const JULY_2023_MS: i64 = 1_688_187_600_000;
const JULY_10_2023_MS: i64 = 1_688_965_200_000;
const JUNE_20_2023_17H_MS: i64 = 1_687_298_400_000;

fn slice(data: &MarketData, from_ms: i64, to_ms: i64) -> MarketData {
    data.slice(data.index_at(from_ms), data.index_at(to_ms))
}

fn history(data: MarketData) -> History {
    let n = data.len();
    // Day-ahead present everywhere but one afternoon, to exercise the presence flag.
    let present = (0..n).map(|i| !(200..220).contains(&i)).collect();
    History::new(data, present)
}

/// Perturbs every value a decision for `t` may not see (lag 2: real-time prices up to
/// t - 2, loads of hours ended by the cutoff, day-ahead prices published by then).
#[allow(clippy::needless_range_loop)] // u indexes four columns and the presence flags
fn perturb_unpublished(h: &History, t: usize) -> History {
    let d = h.market.hindsight().data;
    let mut p = d.clone();
    let mut present = h.da_present.clone();
    let cutoff = d.interval_start_ms[t] - INTERVAL_MS;
    let load_end = d.index_at(cutoff.div_euclid(4 * INTERVAL_MS) * 4 * INTERVAL_MS);
    let da_end = d.index_at(day_ahead_published_end_ms(cutoff));
    for u in 0..d.len() {
        let bump = |x: &mut f64| *x = *x * 1.7 + 123.0 + (u % 7) as f64;
        if u + 1 >= t {
            bump(&mut p.rt_price[u]);
        }
        if u >= load_end {
            bump(&mut p.system_load_mw[u]);
        }
        if u >= da_end {
            bump(&mut p.da_price[u]);
            present[u] = !present[u];
        }
    }
    History::new(p, present)
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn features_do_not_change_when_unpublished_data_does() {
    let data = slice(
        &powermix_data::synth::synthetic_year(2023, 5),
        JULY_2023_MS,
        JULY_10_2023_MS,
    );
    let h = history(data);
    let mut checked = 0;
    for t in (30..h.market.len() - 20).step_by(37) {
        let p = perturb_unpublished(&h, t);
        assert_eq!(
            bits(&fourcp_features(&h, t)),
            bits(&fourcp_features(&p, t)),
            "4CP features at t={t}"
        );
        assert_eq!(
            bits(&price_features(&h, t)),
            bits(&price_features(&p, t)),
            "price features at t={t}"
        );
        checked += 1;
    }
    assert!(checked > 15);
}

#[test]
fn load_forecast_features_read_future_load_only_through_the_forecast() {
    // The simulated ERCOT forecast reads future loads with ERCOT's error, by design (env's
    // forecast tests); every other unpublished value must leave the features alone.
    let data = slice(
        &powermix_data::synth::synthetic_year(2023, 5),
        JULY_2023_MS,
        JULY_10_2023_MS,
    );
    let h = history(data.clone());
    for t in (30..h.market.len() - 20).step_by(41) {
        let p = perturb_unpublished(&h, t);
        let mut d = p.market.hindsight().data.clone();
        d.system_load_mw = data.system_load_mw.clone();
        let p = History::new(d, p.da_present.clone());
        assert_eq!(
            bits(&fourcp_lf_features(&h, t)),
            bits(&fourcp_lf_features(&p, t)),
            "at t={t}"
        );
        assert_eq!(fourcp_lf_features(&h, t)[..26], fourcp_features(&h, t)[..]);
    }
}

#[test]
fn the_look_ahead_test_can_fail() {
    let data = slice(
        &powermix_data::synth::synthetic_year(2023, 5),
        JULY_2023_MS,
        JULY_10_2023_MS,
    );
    let h = history(data.clone());
    let t = 300;
    let mut p = data.clone();
    p.rt_price[t - 2] += 10.0;
    assert_ne!(price_features(&h, t), price_features(&history(p), t));
    let mut p = data.clone();
    p.rt_price[t - 1] += 10.0;
    assert_eq!(price_features(&h, t), price_features(&history(p), t));
    // The load of the hour before the cutoff's hour is published.
    let mut p = data;
    let hour = (t - 1) / 4 * 4;
    for u in hour - 4..hour {
        p.system_load_mw[u] += 5000.0;
    }
    assert_ne!(fourcp_features(&h, t), fourcp_features(&history(p), t));
}

#[test]
fn labels_mark_the_months_peak_hour_and_day() {
    let mut data = slice(
        &powermix_data::synth::synthetic_year(2023, 3),
        JUNE_2023_MS,
        JULY_2023_MS,
    );
    data.system_load_mw.iter_mut().for_each(|x| *x = 50_000.0);
    let k = data.index_at(JUNE_20_2023_17H_MS);
    for u in k..k + 4 {
        data.system_load_mw[u] = 70_000.0;
    }
    let h = history(data);
    let rows = fourcp::rows(&h, 2023..=2023);
    assert_eq!(rows.len(), 30 * 24);
    let peaks: Vec<_> = rows.iter().filter(|r| r.peak_hour).collect();
    assert_eq!(peaks.len(), 1);
    let l = h.market.local[peaks[0].t];
    assert_eq!((l.month, l.day, l.hour), (6, 20, 17));
    let days: Vec<_> = rows.iter().filter(|r| r.peak_day).collect();
    assert_eq!(days.len(), 24);
    assert!(days.iter().all(|r| h.market.local[r.t].day == 20));
    // Nobody but the hour's own rows: the hour before and after are not the peak.
    assert!(!rows.iter().any(|r| r.peak_hour && r.t != k));
    // The per-hour labels: every row of the 20th marks 17:00 (index 17 - 12), no other.
    let mut want = [false; fourcp::N_HOURS];
    want[5] = true;
    for r in &rows {
        let l = h.market.local[r.t];
        assert_eq!(r.hour, l.hour);
        let expect = if l.day == 20 {
            want
        } else {
            [false; fourcp::N_HOURS]
        };
        assert_eq!(r.peak_at, expect, "day {} hour {}", l.day, l.hour);
    }
}

fn tiny_model() -> ModelFile {
    ModelFile {
        format_version: FORMAT_VERSION,
        kind: "test".into(),
        split: Split::standard("HB_WEST"),
        feature_names: vec!["a".into(), "b".into()],
        output_names: vec!["y".into()],
        norm_mean: vec![0.5, -1.0],
        norm_std: vec![2.0, 0.25],
        layers: vec![
            Layer {
                d_in: 2,
                d_out: 3,
                weight: vec![0.1, -0.2, 0.3, 0.4, 0.5, -0.6],
                bias: vec![0.01, 0.02, 0.03],
            },
            Layer {
                d_in: 3,
                d_out: 1,
                weight: vec![1.5, -2.5, 0.123_456_79],
                bias: vec![-0.7],
            },
        ],
        output_offset: vec![-3.4],
        selection: BTreeMap::from([("steps".into(), 100.0)]),
        command: "test".into(),
    }
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("powermix-forecast-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn model_files_round_trip_with_their_id() {
    let dir = temp_dir("roundtrip");
    let path = dir.join("m.json");
    let m = tiny_model();
    let id = m.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(id, powermix_agent::checkpoint::hash_hex(&bytes));
    let (back, id2) = ModelFile::load(&path, "test", &names(&["a", "b"]), &names(&["y"])).unwrap();
    assert_eq!(id, id2);
    assert_eq!(back, m);
    assert_eq!(
        bits(&back.forward(&[1.0, 2.0])),
        bits(&m.forward(&[1.0, 2.0]))
    );
    // No temp file is left beside it.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn damaged_model_files_are_refused_naming_file_and_field() {
    let dir = temp_dir("damaged");
    let path = dir.join("m.json");
    let load =
        |p: &std::path::Path| ModelFile::load(p, "test", &names(&["a", "b"]), &names(&["y"]));
    let refuse = |m: ModelFile, field: &str| {
        m.save(&path).unwrap();
        let e = load(&path).unwrap_err();
        assert_eq!(e.field, field, "{e}");
        assert!(e.to_string().contains("m.json"), "{e}");
    };
    let mut m = tiny_model();
    m.format_version = 99;
    refuse(m, "format_version");
    let mut m = tiny_model();
    m.feature_names.reverse();
    refuse(m, "feature_names");
    let mut m = tiny_model();
    m.kind = "fourcp".into();
    refuse(m, "kind");
    let mut m = tiny_model();
    m.layers[0].bias.pop();
    refuse(m, "layers[0]");
    let mut m = tiny_model();
    m.layers[1].d_in = 4;
    refuse(m, "layers[1]");
    let mut m = tiny_model();
    m.norm_std[1] = 0.0;
    refuse(m, "norm_std");
    // Not finite: JSON has no NaN, so check the in-memory model.
    let mut m = tiny_model();
    m.layers[1].weight[0] = f32::NAN;
    let e = m
        .check(&path, "test", &names(&["a", "b"]), &names(&["y"]))
        .unwrap_err();
    assert_eq!(e.field, "layers[1]");
    // Truncated and missing files.
    tiny_model().save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert_eq!(load(&path).unwrap_err().field, "json");
    assert_eq!(load(&dir.join("absent.json")).unwrap_err().field, "file");
    std::fs::remove_dir_all(dir).unwrap();
}

const MARCH_8_2023_MS: i64 = 1_678_255_200_000;
const MARCH_16_2023_MS: i64 = 1_678_942_800_000;
const NOV_1_2023_MS: i64 = 1_698_814_800_000;
const NOV_9_2023_MS: i64 = 1_699_509_600_000;

/// Everything the gate features of `t` read, for every hour of D and every product.
fn gate_bits(h: &History, t: usize) -> (bool, Vec<u32>) {
    let s = h.market.snapshot(t, &SiteState::initial(&h.market.cfg));
    let da_real = gate::da_real_at(h, t, &s);
    let day = gate::operating_day(&s).unwrap();
    let mut v = Vec::new();
    for k in 0..day.hours {
        v.extend(gate::gate_features(&s, da_real, k, day.hours));
        for p in 0..3 {
            v.extend(gate::reserve_gate_features(&s, da_real, p, k, day.hours));
        }
    }
    (da_real, bits(&v))
}

/// Perturbs every value not published at gate `t`: real-time prices from t - 1 on, loads
/// of hours not ended by the cutoff, and the day-ahead prices (with their presence) and
/// reserve prices from the end of what is published (D's and later).
#[allow(clippy::needless_range_loop)] // u indexes six columns and the presence flags
fn perturb_unpublished_at_gate(h: &History, t: usize) -> History {
    let mut p = perturb_unpublished(h, t);
    let d = h.market.hindsight().data;
    let da_end = d.index_at(day_ahead_published_end_ms(
        d.interval_start_ms[t] - INTERVAL_MS,
    ));
    let mut q = p.market.hindsight().data.clone();
    for u in da_end..d.len() {
        let bump = |x: &mut f64| *x = *x * 3.1 + 77.0 + (u % 5) as f64;
        bump(&mut q.as_rrs[u]);
        bump(&mut q.as_ecrs[u]);
        bump(&mut q.as_nspin[u]);
    }
    p = History::new(q, p.da_present.clone());
    p
}

fn gates(h: &History) -> Vec<usize> {
    (0..h.market.len())
        .filter(|&t| h.market.is_da_gate(t) && h.market.day_range(t).1 < h.market.len())
        .collect()
}

#[test]
fn gate_features_do_not_change_when_unpublished_data_does() {
    let mut checked = 0;
    // A July week and the weeks of both daylight-saving changes (23- and 25-hour days).
    for (from, to) in [
        (JULY_2023_MS, JULY_10_2023_MS),
        (MARCH_8_2023_MS, MARCH_16_2023_MS),
        (NOV_1_2023_MS, NOV_9_2023_MS),
    ] {
        let data = slice(&powermix_data::synth::synthetic_year(2023, 5), from, to);
        let h = history(data);
        for t in gates(&h) {
            let p = perturb_unpublished_at_gate(&h, t);
            assert_eq!(gate_bits(&h, t), gate_bits(&p, t), "gate t={t}");
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked}");
}

#[test]
fn the_gate_look_ahead_test_can_fail() {
    let data = slice(
        &powermix_data::synth::synthetic_year(2023, 5),
        JULY_2023_MS,
        JULY_10_2023_MS,
    );
    let h = history(data.clone());
    let t = gates(&h)[2];
    let base = gate_bits(&h, t);
    // The last published real-time price, today's day-ahead price and RRS price at 15:00,
    // each change the features.
    let mut p = data.clone();
    p.rt_price[t - 2] += 10.0;
    assert_ne!(gate_bits(&history(p), t), base);
    let mut p = data.clone();
    p.da_price[t + 20] += 10.0;
    assert_ne!(gate_bits(&history(p), t), base);
    let mut p = data.clone();
    p.as_rrs[t + 20] += 10.0;
    assert_ne!(gate_bits(&history(p), t), base);
    // The interval being decided (t - 1 still running) is not.
    let mut p = data;
    p.rt_price[t - 1] += 10.0;
    assert_eq!(gate_bits(&history(p), t), base);
}

#[test]
fn gate_rows_cover_every_hour_of_dst_days() {
    let data = slice(
        &powermix_data::synth::synthetic_year(2023, 5),
        MARCH_8_2023_MS,
        NOV_9_2023_MS,
    );
    let h = history(data);
    let (rt, res) = gate::rows(&h, 2023..=2023);
    let hours_of = |day: (u8, u8)| {
        rt.iter()
            .filter(|r| {
                let l = h.market.local[h.market.day_range(r.t).1];
                (l.month, l.day) == day
            })
            .map(|r| r.clock_hour)
            .collect::<Vec<_>>()
    };
    // 12 March 2023: 23 hours, 2:00 skipped; 5 November 2023: 25 hours, 1:00 twice.
    let spring = hours_of((3, 12));
    assert_eq!(spring.len(), 23);
    assert!(!spring.contains(&2));
    let fall = hours_of((11, 5));
    assert_eq!(fall.len(), 25);
    assert_eq!(fall.iter().filter(|&&c| c == 1).count(), 2);
    assert_eq!(hours_of((7, 4)).len(), 24);
    // ECRS rows from 10 June 2023 only.
    let first_ecrs = res.iter().find(|r| r.product == 1).unwrap();
    let l = h.market.local[h.market.day_range(first_ecrs.t).1];
    assert_eq!((l.month, l.day), (6, 10));
    // No reserve row where the file holds no price (filled values are not prices).
    let mut h2 = history(h.market.hindsight().data.clone());
    let k = first_ecrs.t;
    h2.reserve_present[0][k + 100..]
        .iter_mut()
        .for_each(|x| *x = false);
    let (_, res2) = gate::rows(&h2, 2023..=2023);
    assert!(
        res2.iter()
            .filter(|r| r.product == 0)
            .all(|r| r.t < k || (r.t == k && r.hour < 11))
    );
    assert!(res2.iter().any(|r| r.product == 0));
    // The label is the hour's realised mean price.
    let r = &rt[100];
    let d = h.market.hindsight().data;
    let start = h.market.day_range(r.t).1 + r.hour * 4;
    let mean = d.rt_price[start..start + 4].iter().sum::<f64>() / 4.0;
    assert_eq!(r.y, mean);
}

fn gate_model(kind: &str, d: usize) -> ModelFile {
    let mut m = tiny_model();
    m.kind = kind.into();
    m.feature_names = (0..d).map(|i| format!("f{i}")).collect();
    m.output_names = gate::gate_output_names();
    m.norm_mean = vec![0.0; d];
    m.norm_std = vec![1.0; d];
    m.output_offset = vec![0.0; 3];
    m.layers = vec![Layer {
        d_in: d,
        d_out: 3,
        // Crossing quantiles (q10 above q90) and a large output, to be sorted and kept finite.
        weight: (0..d * 3)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.3)
            .collect(),
        bias: vec![1.0, 0.0, -1.0],
    }];
    m
}

#[test]
fn gate_forecast_loads_and_predicts_sorted_finite_quantiles() {
    let dir = temp_dir("gate");
    let (rt_names, res_names) = (
        gate::gate_feature_names(),
        gate::reserve_gate_feature_names(),
    );
    let mut rt = gate_model(gate::KIND_RT, rt_names.len());
    rt.feature_names = rt_names;
    let mut res = gate_model(gate::KIND_RESERVE, res_names.len());
    res.feature_names = res_names;
    rt.save(&dir.join("rt_gate.json")).unwrap();
    // A missing reserve model is refused by its file.
    let e = gate::GateForecast::load(&dir).unwrap_err();
    assert!(e.file.ends_with("reserve_gate.json"), "{e}");
    // A file of the wrong kind is refused by field.
    rt.save(&dir.join("reserve_gate.json")).unwrap();
    assert_eq!(gate::GateForecast::load(&dir).unwrap_err().field, "kind");
    res.save(&dir.join("reserve_gate.json")).unwrap();
    let g = gate::GateForecast::load(&dir).unwrap();
    let data = slice(
        &powermix_data::synth::synthetic_year(2023, 5),
        NOV_1_2023_MS,
        NOV_9_2023_MS,
    );
    let h = history(data);
    let mut rt_hist = vec![0.0; 96];
    for t in gates(&h) {
        let s = h.market.snapshot(t, &SiteState::initial(&h.market.cfg));
        let out = g.predict(&s, true).unwrap();
        assert_eq!(out.rt.len(), out.day.hours);
        assert_eq!(out.reserve.len(), out.day.hours);
        for q in out.rt.iter().chain(out.reserve.iter().flatten()) {
            assert!(q[0] <= q[1] && q[1] <= q[2] && q.iter().all(|x| x.is_finite()));
        }
        assert!(out.reserve.iter().flatten().flatten().all(|&x| x >= 0.0));
        // Non-finite and extreme inputs give finite quantiles, no panic.
        let mut bad = s;
        rt_hist[5] = f64::NAN;
        rt_hist[6] = 1e300;
        bad.rt_history = &rt_hist;
        bad.system_load_mw = f64::INFINITY;
        let out = g.predict(&bad, false).unwrap();
        assert!(out.rt.iter().flatten().all(|x| x.is_finite()));
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Synthetic 1-9 July 2023 with every day-ahead price real, as a live snapshot's are.
fn july_as_live() -> History {
    let data = slice(
        &powermix_data::synth::synthetic_year(2023, 5),
        JULY_2023_MS,
        JULY_10_2023_MS,
    );
    let n = data.len();
    History::new(data, vec![true; n])
}

/// A small MLP with `features` inputs and `outputs` outputs, weights from a fixed sequence.
fn mlp(kind: &str, features: Vec<String>, outputs: Vec<String>) -> ModelFile {
    let (d, k, h) = (features.len(), outputs.len(), 5);
    let mut state = 0x9e37_79b9_u32;
    let mut next = move || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
    };
    let mut layer = |d_in: usize, d_out: usize| Layer {
        d_in,
        d_out,
        weight: (0..d_in * d_out).map(|_| next()).collect(),
        bias: (0..d_out).map(|_| next()).collect(),
    };
    let layers = vec![layer(d, h), layer(h, k)];
    ModelFile {
        format_version: FORMAT_VERSION,
        kind: kind.into(),
        split: Split::standard("SYNTHETIC"),
        feature_names: features,
        output_names: outputs,
        norm_mean: vec![0.1; d],
        norm_std: vec![1.5; d],
        layers,
        output_offset: vec![-0.5; k],
        selection: BTreeMap::new(),
        command: "test".into(),
    }
}

#[test]
fn live_forecasts_answer_as_the_scored_rows() {
    use powermix_forecast::features::{fourcp_feature_names, price_feature_names};
    use powermix_forecast::live::LiveForecasts;
    use powermix_forecast::price;
    let h = july_as_live();
    let n = h.market.len();
    let rt = mlp("rt_price", price_feature_names(), price::output_names());
    let four = mlp("fourcp", fourcp_feature_names(), fourcp::output_names());
    let price_rows = price::rows(&h, 2023..=2023);
    let price_want = price::predict(&rt, &price_rows);
    let four_rows = fourcp::rows(&h, 2023..=2023);
    let four_want = fourcp::predict(&four, &four_rows);
    let v = fourcp::Variant::PerHour;
    let hours = mlp(v.kind(), v.feature_names(), v.output_names());
    let hours_want = fourcp::predict_hours(&hours, &four_rows);
    let mut live = LiveForecasts::new(rt, "rt".into(), four, "4cp".into());
    assert!(
        live.peak_chance_by_hour(
            &h.market
                .snapshot(0, &powermix_env::SiteState::initial(&h.market.cfg))
        )
        .is_none()
    );
    live = live.with_hours(hours, "hours".into());
    let state = powermix_env::SiteState::initial(&h.market.cfg);
    let (mut prices, mut peaks) = (0, 0);
    for t in 0..n {
        let s = h.market.snapshot(t, &state);
        if let Some(i) = price_rows.iter().position(|r| r.t == t) {
            assert_eq!(live.rt_quantiles(&s), price_want[i], "prices at t={t}");
            prices += 1;
        }
        if let Some(i) = four_rows.iter().position(|r| r.t == t) {
            let c = live.peak_chance(&s);
            assert_eq!((c.hour, c.day), four_want[i], "4CP at t={t}");
            assert_eq!(
                live.peak_chance_by_hour(&s),
                Some(hours_want[i]),
                "4CP per hour at t={t}"
            );
            peaks += 1;
        }
    }
    assert!(prices > 150 && peaks > 150, "{prices} {peaks}");
}

#[test]
fn the_embedded_gate_models_are_the_shipped_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../checkpoints/forecast");
    let files = gate::GateForecast::load(&dir).unwrap();
    let embedded = gate::GateForecast::shipped();
    assert_eq!(
        (&embedded.rt_id, &embedded.reserve_id),
        (&files.rt_id, &files.reserve_id)
    );
    assert_eq!(embedded.rt, files.rt);
    assert_eq!(embedded.reserve, files.reserve);
    // A damaged text is refused by name and field.
    let e = gate::GateForecast::parse("{", gate::SHIPPED_RESERVE_GATE_JSON).unwrap_err();
    assert!(e.to_string().contains("rt_gate.json"), "{e}");
}

#[test]
fn observations_carry_the_shipped_model_with_the_same_forward_pass() {
    use powermix_forecast::live::LiveForecasts;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../checkpoints/forecast");
    let live = LiveForecasts::load(&dir).unwrap();
    let shipped = powermix_env::learned::RtForecast::shipped();
    let h = july_as_live();
    let n = h.market.len();
    let state = powermix_env::SiteState::initial(&h.market.cfg);
    let fourcp = powermix_env::learned::FourCpForecast::shipped();
    let mut afternoons = 0;
    for t in (0..n).step_by(13) {
        let s = h.market.snapshot(t, &state);
        assert_eq!(shipped.quantiles(&s), live.rt_quantiles(&s), "t={t}");
        // The 4CP chances too, to the bit, from the same snapshot alone.
        let by_hour = live.peak_chance_by_hour(&s).unwrap();
        assert_eq!(fourcp.chances(&s), (by_hour.hours, by_hour.day), "t={t}");
        afternoons += usize::from(by_hour.hours.iter().any(|&p| p > 0.0));
    }
    assert!(afternoons > 50, "{afternoons}");
    // The files the build embeds are the ones `forecast fit` wrote beside the others.
    let on_disk = std::fs::read_to_string(dir.join("rt_price.json")).unwrap();
    assert_eq!(on_disk, powermix_env::learned::SHIPPED_RT_MODEL_JSON);
    let on_disk = std::fs::read_to_string(dir.join("fourcp_hours.json")).unwrap();
    assert_eq!(on_disk, powermix_env::learned::SHIPPED_FOURCP_HOURS_JSON);
}
