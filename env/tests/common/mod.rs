//! Small hand-made market data for integration tests (no generator, no files).
#![allow(dead_code)]

use powermix_env::data::MarketData;
use powermix_env::rng::Rng;
use powermix_env::time::INTERVAL_MS;
use rand::RngExt;
use rand_distr::StandardNormal;

/// UTC ms of 2023-07-01 05:00 (local midnight, CDT).
pub const JULY_2023_MS: i64 = 1_688_187_600_000;

/// `days` of random but plausible data from `start_ms`: hour-constant load, day-ahead and
/// reserve prices, day-constant hashprice, real-time prices with spikes and negatives.
pub fn toy_data(start_ms: i64, days: usize, seed: u64) -> MarketData {
    let n = days * 96;
    let mut r = Rng::new(seed);
    let mut d = MarketData {
        settlement_point: "TOY".into(),
        ..MarketData::default()
    };
    let (mut da, mut load, mut hp, mut rrs) = (30.0, 60_000.0, 60.0, 5.0);
    for i in 0..n {
        let t = start_ms + i as i64 * INTERVAL_MS;
        if i % 4 == 0 {
            da = 20.0 + 40.0 * r.random::<f64>();
            load = 50_000.0 + 30_000.0 * r.random::<f64>();
            rrs = 20.0 * r.random::<f64>();
        }
        if i % 96 == 0 {
            hp = 40.0 + 40.0 * r.random::<f64>();
        }
        let u = r.random::<f64>();
        let rt = if u < 0.03 {
            1000.0 + 4000.0 * r.random::<f64>()
        } else if u < 0.1 {
            -20.0 * r.random::<f64>()
        } else {
            da + 15.0 * r.sample::<f64, _>(StandardNormal)
        };
        d.interval_start_ms.push(t);
        d.rt_price.push(rt);
        d.da_price.push(da);
        d.as_rrs.push(rrs);
        d.as_ecrs.push(rrs * 0.7);
        d.as_nspin.push(rrs * 0.3);
        d.system_load_mw.push(load);
        d.hashprice.push(hp);
    }
    d
}
