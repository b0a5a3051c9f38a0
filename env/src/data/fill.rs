//! Gap filling of optional columns (stub: the data helper implements it).
use super::{DataError, MarketData, OptionalColumn, RawMarketData};
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
    /// Validates `raw` and fills its gaps by `rules` (stub).
    pub fn from_raw(
        raw: &RawMarketData,
        rules: &FillRules,
    ) -> Result<(MarketData, FillReport), DataError> {
        let _ = (raw, rules);
        Err(DataError::new("<memory>", "not implemented"))
    }
}
