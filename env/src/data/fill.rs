//! Gap filling of optional columns: carry the last value forward for a bounded time, else
//! the column default.
use super::{DataError, MarketData, OptionalColumn, RawMarketData, validate};
use serde::{Deserialize, Serialize};

/// How gaps in optional columns are filled: the last value is carried forward for at most
/// `max_carry_intervals` intervals; beyond that (or before any value) the column's default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FillRules {
    /// Longest run of intervals a last known value is carried forward.
    pub max_carry_intervals: usize,
    /// Default day-ahead energy price ($/MWh).
    pub da_price: f64,
    /// Default regulation up price ($/MW-h).
    pub as_regup: f64,
    /// Default regulation down price ($/MW-h).
    pub as_regdn: f64,
    /// Default RRS price ($/MW-h).
    pub as_rrs: f64,
    /// Default ECRS price ($/MW-h).
    pub as_ecrs: f64,
    /// Default Non-Spin price ($/MW-h).
    pub as_nspin: f64,
    /// Default system load (MW).
    pub system_load_mw: f64,
    /// Default hashprice ($/PH/day).
    pub hashprice_usd_per_ph_day: f64,
}

impl Default for FillRules {
    fn default() -> Self {
        FillRules {
            max_carry_intervals: 96,
            da_price: 30.0,
            as_regup: 0.0,
            as_regdn: 0.0,
            as_rrs: 0.0,
            as_ecrs: 0.0,
            as_nspin: 0.0,
            system_load_mw: 45_000.0,
            hashprice_usd_per_ph_day: 100.0,
        }
    }
}

impl FillRules {
    /// The default of one column.
    pub fn default_for(&self, c: OptionalColumn) -> f64 {
        match c {
            OptionalColumn::DaPrice => self.da_price,
            OptionalColumn::AsRegup => self.as_regup,
            OptionalColumn::AsRegdn => self.as_regdn,
            OptionalColumn::AsRrs => self.as_rrs,
            OptionalColumn::AsEcrs => self.as_ecrs,
            OptionalColumn::AsNspin => self.as_nspin,
            OptionalColumn::SystemLoad => self.system_load_mw,
            OptionalColumn::Hashprice => self.hashprice_usd_per_ph_day,
        }
    }
}

/// What filling did to one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ColumnFill {
    /// Values present in the file.
    pub present: usize,
    /// Nulls filled by carrying the last value forward.
    pub carried_forward: usize,
    /// Nulls filled with the configured default.
    pub defaulted: usize,
}

/// What filling did to every optional column, indexed like [`OptionalColumn::ALL`].
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct FillReport {
    /// One entry per optional column.
    pub columns: [ColumnFill; 8],
}

impl MarketData {
    /// Validates `raw` (see [`super::validate`]) and fills each optional column's nulls: a
    /// null takes the last present value of its column when that value is at most
    /// `rules.max_carry_intervals` intervals earlier, otherwise (also before the first value)
    /// the column's default. The report counts, per column, values present, carried forward
    /// and defaulted. Regulation prices are filled for the report only: [`MarketData`] has no
    /// regulation columns.
    pub fn from_raw(
        raw: &RawMarketData,
        rules: &FillRules,
    ) -> Result<(MarketData, FillReport), DataError> {
        validate(raw, "<memory>")?;
        let mut report = FillReport::default();
        let mut filled: [Vec<f64>; 8] = Default::default();
        for c in OptionalColumn::ALL {
            let (values, fill) = fill_column(
                raw.column(c),
                rules.max_carry_intervals,
                rules.default_for(c),
            );
            filled[c.index()] = values;
            report.columns[c.index()] = fill;
        }
        let [da, _regup, _regdn, rrs, ecrs, nspin, load, hashprice] = filled;
        let data = MarketData {
            settlement_point: raw.settlement_point.clone(),
            interval_start_ms: raw.interval_start_ms.clone(),
            rt_price: raw.rt_price.clone(),
            da_price: da,
            as_rrs: rrs,
            as_ecrs: ecrs,
            as_nspin: nspin,
            system_load_mw: load,
            hashprice,
        };
        Ok((data, report))
    }
}

/// Fills one column by the carry-forward rule and counts what it did.
fn fill_column(column: &[Option<f64>], max_carry: usize, default: f64) -> (Vec<f64>, ColumnFill) {
    let mut fill = ColumnFill::default();
    let mut last: Option<(usize, f64)> = None;
    let values = column
        .iter()
        .enumerate()
        .map(|(i, v)| match (*v, last) {
            (Some(x), _) => {
                fill.present += 1;
                last = Some((i, x));
                x
            }
            (None, Some((j, x))) if i - j <= max_carry => {
                fill.carried_forward += 1;
                x
            }
            (None, _) => {
                fill.defaulted += 1;
                default
            }
        })
        .collect();
    (values, fill)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::INTERVAL_MS;

    const T0: i64 = 1_704_088_800_000;

    fn table(n: usize) -> RawMarketData {
        RawMarketData {
            settlement_point: "T".into(),
            interval_start_ms: (0..n as i64).map(|i| T0 + i * INTERVAL_MS).collect(),
            rt_price: vec![10.0; n],
            optional: std::array::from_fn(|_| vec![None; n]),
        }
    }

    fn rules(max_carry: usize) -> FillRules {
        FillRules {
            max_carry_intervals: max_carry,
            da_price: -1.0,
            as_rrs: -2.0,
            system_load_mw: -3.0,
            ..FillRules::default()
        }
    }

    #[test]
    fn carries_within_bound_then_defaults() {
        let mut raw = table(8);
        raw.optional[OptionalColumn::DaPrice.index()] = vec![
            Some(5.0),
            None,
            None,
            None,
            Some(7.0),
            None,
            Some(8.0),
            None,
        ];
        let (data, report) = MarketData::from_raw(&raw, &rules(2)).unwrap();
        assert_eq!(data.da_price, vec![5.0, 5.0, 5.0, -1.0, 7.0, 7.0, 8.0, 8.0]);
        let expected = ColumnFill {
            present: 3,
            carried_forward: 4,
            defaulted: 1,
        };
        assert_eq!(report.columns[OptionalColumn::DaPrice.index()], expected);
    }

    #[test]
    fn zero_carry_always_defaults() {
        let mut raw = table(3);
        raw.optional[OptionalColumn::AsRrs.index()] = vec![Some(4.0), None, Some(6.0)];
        let (data, report) = MarketData::from_raw(&raw, &rules(0)).unwrap();
        assert_eq!(data.as_rrs, vec![4.0, -2.0, 6.0]);
        let expected = ColumnFill {
            present: 2,
            carried_forward: 0,
            defaulted: 1,
        };
        assert_eq!(report.columns[OptionalColumn::AsRrs.index()], expected);
    }

    #[test]
    fn leading_nulls_and_all_null_columns_default() {
        let mut raw = table(4);
        raw.optional[OptionalColumn::SystemLoad.index()] = vec![None, None, Some(40e3), None];
        raw.optional[OptionalColumn::AsRegup.index()] = vec![Some(1.0); 4];
        let (data, report) = MarketData::from_raw(&raw, &rules(96)).unwrap();
        assert_eq!(data.system_load_mw, vec![-3.0, -3.0, 40e3, 40e3]);
        let load = ColumnFill {
            present: 1,
            carried_forward: 1,
            defaulted: 2,
        };
        assert_eq!(report.columns[OptionalColumn::SystemLoad.index()], load);
        // All-null column: every row takes the default.
        let hp = FillRules::default().hashprice_usd_per_ph_day;
        assert_eq!(data.hashprice, vec![hp; 4]);
        let all = ColumnFill {
            present: 0,
            carried_forward: 0,
            defaulted: 4,
        };
        assert_eq!(report.columns[OptionalColumn::Hashprice.index()], all);
        // Regulation columns are only reported.
        let regup = ColumnFill {
            present: 4,
            carried_forward: 0,
            defaulted: 0,
        };
        assert_eq!(report.columns[OptionalColumn::AsRegup.index()], regup);
        assert_eq!(data.rt_price, raw.rt_price);
        assert_eq!(data.interval_start_ms, raw.interval_start_ms);
        assert_eq!(data.settlement_point, "T");
    }

    #[test]
    fn invalid_tables_are_refused() {
        let mut raw = table(3);
        raw.interval_start_ms[2] += INTERVAL_MS;
        let e = MarketData::from_raw(&raw, &FillRules::default()).unwrap_err();
        assert_eq!(
            (e.column.as_deref(), e.row),
            (Some("interval_start_utc"), Some(2))
        );
        assert!(MarketData::from_raw(&table(0), &FillRules::default()).is_err());
    }
}
