//! Yearly statistics of a market data table, by local (US/Central) calendar year.
use powermix_env::data::{OptionalColumn, RawMarketData};
use powermix_env::time::local_time;
use serde::Serialize;
use std::collections::BTreeMap;

/// Real-time price figures and column coverage of one local (US/Central) year.
///
/// Percentiles use the nearest-rank rule on the sorted values: the p-th percentile of n values
/// is the value of rank `ceil(p / 100 * n)` (1-based, at least 1). The median is the 50th
/// percentile by that rule (the lower middle value when n is even). Percentages are in percent
/// (5.39 means 5.39 %).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct YearStats {
    /// Local calendar year.
    pub year: i32,
    /// Intervals in the year.
    pub rows: usize,
    /// Mean real-time price ($/MWh).
    pub rt_mean: f64,
    /// Median real-time price (nearest rank, $/MWh).
    pub rt_median: f64,
    /// 99th percentile of the real-time price (nearest rank, $/MWh).
    pub rt_p99: f64,
    /// Highest real-time price ($/MWh).
    pub rt_max: f64,
    /// Lowest real-time price ($/MWh).
    pub rt_min: f64,
    /// Percent of intervals with a real-time price below 0.
    pub pct_negative: f64,
    /// Percent of intervals with a real-time price above 100 $/MWh.
    pub pct_above_100: f64,
    /// Percent of intervals with a real-time price above 1000 $/MWh.
    pub pct_above_1000: f64,
    /// Mean of the present hashprice values, None when the year has none.
    pub hashprice_mean: Option<f64>,
    /// Fraction (0 to 1) of the year's rows where each optional column is non-null, keyed by
    /// column name.
    pub coverage: BTreeMap<String, f64>,
}

impl YearStats {
    /// Header of [`YearStats::table_row`].
    pub const TABLE_HEADER: &str = " year    rows     mean   median      p99      max      min    %<0  %>100  %>1000 hashprice";

    /// The year's price figures as one fixed-width row under [`YearStats::TABLE_HEADER`]
    /// (`data inspect` prints it; the generator's test reports it).
    pub fn table_row(&self) -> String {
        let hash = self
            .hashprice_mean
            .map_or_else(|| "-".to_string(), |h| format!("{h:.1}"));
        format!(
            "{:>5} {:>7} {:>8.2} {:>8.2} {:>8.1} {:>8.1} {:>8.1} {:>6.2} {:>6.2} {:>7.3} {:>9}",
            self.year,
            self.rows,
            self.rt_mean,
            self.rt_median,
            self.rt_p99,
            self.rt_max,
            self.rt_min,
            self.pct_negative,
            self.pct_above_100,
            self.pct_above_1000,
            hash
        )
    }
}

/// Nearest-rank percentile (`p` in percent) of ascending `sorted` values; NaN when empty.
pub fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Statistics per local (US/Central) year, in year order; empty for an empty table.
pub fn yearly_stats(raw: &RawMarketData) -> Vec<YearStats> {
    let mut rows_by_year: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    for (i, &t) in raw.interval_start_ms.iter().enumerate() {
        rows_by_year.entry(local_time(t).year).or_default().push(i);
    }
    rows_by_year
        .into_iter()
        .map(|(year, rows)| year_stats(raw, year, &rows))
        .collect()
}

fn year_stats(raw: &RawMarketData, year: i32, rows: &[usize]) -> YearStats {
    let mut prices: Vec<f64> = rows.iter().map(|&i| raw.rt_price[i]).collect();
    prices.sort_by(f64::total_cmp);
    let n = prices.len() as f64;
    let pct =
        |pred: fn(f64) -> bool| prices.iter().filter(|&&p| pred(p)).count() as f64 / n * 100.0;
    let hash: Vec<f64> = rows
        .iter()
        .filter_map(|&i| raw.column(OptionalColumn::Hashprice)[i])
        .collect();
    let coverage = OptionalColumn::ALL
        .iter()
        .map(|&c| {
            let col = raw.column(c);
            let present = rows.iter().filter(|&&i| col[i].is_some()).count();
            (c.name().to_string(), present as f64 / n)
        })
        .collect();
    YearStats {
        year,
        rows: rows.len(),
        rt_mean: prices.iter().sum::<f64>() / n,
        rt_median: nearest_rank(&prices, 50.0),
        rt_p99: nearest_rank(&prices, 99.0),
        rt_max: prices[prices.len() - 1],
        rt_min: prices[0],
        pct_negative: pct(|p| p < 0.0),
        pct_above_100: pct(|p| p > 100.0),
        pct_above_1000: pct(|p| p > 1000.0),
        hashprice_mean: (!hash.is_empty()).then(|| hash.iter().sum::<f64>() / hash.len() as f64),
        coverage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use powermix_env::time::INTERVAL_MS;

    // 2023-12-31T23:30:00 local (CST) = 2024-01-01T05:30:00Z.
    const T_LATE_2023: i64 = 1_704_087_000_000;

    fn table(prices: &[f64], start: i64) -> RawMarketData {
        let n = prices.len();
        RawMarketData {
            settlement_point: "T".into(),
            interval_start_ms: (0..n as i64).map(|i| start + i * INTERVAL_MS).collect(),
            rt_price: prices.to_vec(),
            optional: std::array::from_fn(|_| vec![None; n]),
        }
    }

    #[test]
    fn nearest_rank_rule() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(nearest_rank(&v, 50.0), 2.0);
        assert_eq!(nearest_rank(&v, 51.0), 3.0);
        assert_eq!(nearest_rank(&v, 99.0), 4.0);
        assert_eq!(nearest_rank(&v, 0.0), 1.0);
        assert!(nearest_rank(&[], 50.0).is_nan());
    }

    #[test]
    fn groups_by_local_year_and_computes_figures() {
        // Two intervals in local 2023 (23:30, 23:45 CST), then eight in local 2024.
        let prices = [
            5.0, 7.0, // 2023
            -10.0, 0.0, 20.0, 30.0, 40.0, 150.0, 2000.0, -1.0, // 2024
        ];
        let mut raw = table(&prices, T_LATE_2023);
        let hp = OptionalColumn::Hashprice.index();
        raw.optional[hp] = vec![
            None,
            None,
            Some(50.0),
            Some(70.0),
            None,
            None,
            None,
            None,
            None,
            None,
        ];
        let da = OptionalColumn::DaPrice.index();
        raw.optional[da] = vec![Some(1.0); 10];
        raw.optional[da][9] = None;

        let stats = yearly_stats(&raw);
        assert_eq!(stats.len(), 2);
        let (a, b) = (&stats[0], &stats[1]);
        assert_eq!((a.year, a.rows), (2023, 2));
        assert_eq!(
            (a.rt_mean, a.rt_median, a.rt_min, a.rt_max),
            (6.0, 5.0, 5.0, 7.0)
        );
        assert_eq!(a.hashprice_mean, None);
        assert_eq!(a.coverage["da_price"], 1.0);
        assert_eq!(a.coverage["hashprice_usd_per_ph_day"], 0.0);

        assert_eq!((b.year, b.rows), (2024, 8));
        // Sorted: -10, -1, 0, 20, 30, 40, 150, 2000; sum 2229.
        assert!((b.rt_mean - 2229.0 / 8.0).abs() < 1e-12);
        assert_eq!(b.rt_median, 20.0); // rank ceil(4.0) = 4
        assert_eq!(b.rt_p99, 2000.0); // rank ceil(7.92) = 8
        assert_eq!((b.rt_min, b.rt_max), (-10.0, 2000.0));
        assert_eq!(b.pct_negative, 25.0);
        assert_eq!(b.pct_above_100, 25.0);
        assert_eq!(b.pct_above_1000, 12.5);
        assert_eq!(b.hashprice_mean, Some(60.0));
        assert_eq!(b.coverage["da_price"], 7.0 / 8.0);
        assert_eq!(b.coverage["hashprice_usd_per_ph_day"], 2.0 / 8.0);
        assert_eq!(b.coverage.len(), 8);
    }

    #[test]
    fn empty_table_has_no_years() {
        assert!(yearly_stats(&RawMarketData::default()).is_empty());
    }
}
