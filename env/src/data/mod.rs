//! Market data tables in memory: their schema, validation and gap filling. Files (parquet
//! reading and writing, imports) and the synthetic generator live in the `powermix-data`
//! crate, so the simulator compiles no file format.
//!
//! Two shapes of the same table:
//! - [`RawMarketData`]: what a file holds, optional columns with their nulls.
//! - [`MarketData`]: every column complete (gaps filled by [`FillRules`]), what the env reads.

mod fill;
mod validate;

pub use fill::{ColumnFill, FillReport, FillRules};
pub use validate::validate;

/// Name of the required timestamp column.
pub const COL_TIME: &str = "interval_start_utc";
/// Name of the required real-time price column.
pub const COL_RT: &str = "rt_price";

/// The optional, nullable float64 columns of the schema, in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptionalColumn {
    /// Day-ahead energy price of the hour ($/MWh).
    DaPrice,
    /// Regulation up clearing price ($/MW per hour).
    AsRegup,
    /// Regulation down clearing price ($/MW per hour).
    AsRegdn,
    /// Responsive Reserve clearing price ($/MW per hour).
    AsRrs,
    /// ERCOT Contingency Reserve clearing price ($/MW per hour).
    AsEcrs,
    /// Non-Spinning Reserve clearing price ($/MW per hour).
    AsNspin,
    /// ERCOT total native load of the hour (MW).
    SystemLoad,
    /// Hashprice ($ per PH/s per day).
    Hashprice,
}

impl OptionalColumn {
    /// Every optional column, in file order.
    pub const ALL: [OptionalColumn; 8] = [
        OptionalColumn::DaPrice,
        OptionalColumn::AsRegup,
        OptionalColumn::AsRegdn,
        OptionalColumn::AsRrs,
        OptionalColumn::AsEcrs,
        OptionalColumn::AsNspin,
        OptionalColumn::SystemLoad,
        OptionalColumn::Hashprice,
    ];

    /// The kind of price the column holds ([`crate::price`] says which values are valid),
    /// or None for load and hashprice.
    pub fn price_kind(self) -> Option<crate::price::PriceKind> {
        use crate::price::PriceKind;
        match self {
            OptionalColumn::DaPrice => Some(PriceKind::Energy),
            OptionalColumn::AsRegup
            | OptionalColumn::AsRegdn
            | OptionalColumn::AsRrs
            | OptionalColumn::AsEcrs
            | OptionalColumn::AsNspin => Some(PriceKind::Reserve),
            OptionalColumn::SystemLoad | OptionalColumn::Hashprice => None,
        }
    }

    /// Column name in the parquet file.
    pub fn name(self) -> &'static str {
        match self {
            OptionalColumn::DaPrice => "da_price",
            OptionalColumn::AsRegup => "as_regup",
            OptionalColumn::AsRegdn => "as_regdn",
            OptionalColumn::AsRrs => "as_rrs",
            OptionalColumn::AsEcrs => "as_ecrs",
            OptionalColumn::AsNspin => "as_nspin",
            OptionalColumn::SystemLoad => "system_load_mw",
            OptionalColumn::Hashprice => "hashprice_usd_per_ph_day",
        }
    }

    /// Position in [`OptionalColumn::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A market data table as stored: required columns complete, optional columns nullable.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawMarketData {
    /// Settlement point the prices belong to (file metadata `settlement_point`).
    pub settlement_point: String,
    /// Start of each 15-minute interval, UTC milliseconds since the epoch.
    pub interval_start_ms: Vec<i64>,
    /// Real-time settlement point price of the interval ($/MWh).
    pub rt_price: Vec<f64>,
    /// Optional columns indexed like [`OptionalColumn::ALL`]; None where the file had a null,
    /// and an all-None vector where the file lacks the column.
    pub optional: [Vec<Option<f64>>; 8],
}

impl RawMarketData {
    /// Number of intervals.
    pub fn len(&self) -> usize {
        self.interval_start_ms.len()
    }

    /// Appends the rows of `next` (a later table of the same settlement point).
    pub fn append(&mut self, next: RawMarketData) {
        self.interval_start_ms.extend(next.interval_start_ms);
        self.rt_price.extend(next.rt_price);
        for (col, more) in self.optional.iter_mut().zip(next.optional) {
            col.extend(more);
        }
    }

    /// True when the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.interval_start_ms.is_empty()
    }

    /// The values of an optional column.
    pub fn column(&self, c: OptionalColumn) -> &[Option<f64>] {
        &self.optional[c.index()]
    }
}

/// A complete market data table: every column has a finite value in every interval.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MarketData {
    /// Settlement point the prices belong to.
    pub settlement_point: String,
    /// Start of each 15-minute interval, UTC milliseconds, strictly 15 minutes apart.
    pub interval_start_ms: Vec<i64>,
    /// Real-time price of the interval ($/MWh).
    pub rt_price: Vec<f64>,
    /// Day-ahead energy price of the hour that holds the interval ($/MWh).
    pub da_price: Vec<f64>,
    /// Responsive Reserve clearing price ($/MW per hour).
    pub as_rrs: Vec<f64>,
    /// ERCOT Contingency Reserve clearing price ($/MW per hour).
    pub as_ecrs: Vec<f64>,
    /// Non-Spinning Reserve clearing price ($/MW per hour).
    pub as_nspin: Vec<f64>,
    /// ERCOT native load of the hour (MW).
    pub system_load_mw: Vec<f64>,
    /// Hashprice ($ per PH/s per day).
    pub hashprice: Vec<f64>,
}

impl MarketData {
    /// Number of intervals.
    pub fn len(&self) -> usize {
        self.interval_start_ms.len()
    }

    /// True when the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.interval_start_ms.is_empty()
    }

    /// Index of the first interval starting at or after `utc_ms` (may equal `len()`).
    pub fn index_at(&self, utc_ms: i64) -> usize {
        self.interval_start_ms.partition_point(|&t| t < utc_ms)
    }

    /// `self` followed by `next` (which must start 15 minutes after `self` ends for the
    /// table to stay on the grid; [`crate::Market`] does not check it).
    pub fn append(&mut self, next: MarketData) {
        self.interval_start_ms.extend(next.interval_start_ms);
        self.rt_price.extend(next.rt_price);
        self.da_price.extend(next.da_price);
        self.as_rrs.extend(next.as_rrs);
        self.as_ecrs.extend(next.as_ecrs);
        self.as_nspin.extend(next.as_nspin);
        self.system_load_mw.extend(next.system_load_mw);
        self.hashprice.extend(next.hashprice);
    }

    /// The intervals `[start, end)` as a new table (used to cut evaluation periods).
    pub fn slice(&self, start: usize, end: usize) -> MarketData {
        let end = end.min(self.len());
        let start = start.min(end);
        MarketData {
            settlement_point: self.settlement_point.clone(),
            interval_start_ms: self.interval_start_ms[start..end].to_vec(),
            rt_price: self.rt_price[start..end].to_vec(),
            da_price: self.da_price[start..end].to_vec(),
            as_rrs: self.as_rrs[start..end].to_vec(),
            as_ecrs: self.as_ecrs[start..end].to_vec(),
            as_nspin: self.as_nspin[start..end].to_vec(),
            system_load_mw: self.system_load_mw[start..end].to_vec(),
            hashprice: self.hashprice[start..end].to_vec(),
        }
    }
}

/// A data problem, naming the file, the column and the row where it applies.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}{}{}: {message}", column.as_ref().map(|c| format!(", column `{c}`")).unwrap_or_default(), row.map(|r| format!(", row {r}")).unwrap_or_default())]
pub struct DataError {
    /// File the data came from (or `<memory>`).
    pub file: String,
    /// Column concerned, if any.
    pub column: Option<String>,
    /// Zero-based row concerned, if any.
    pub row: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl DataError {
    /// A new error for `file`, with no column or row yet.
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Self {
        DataError {
            file: file.into(),
            column: None,
            row: None,
            message: message.into(),
        }
    }

    /// The same error, naming a column.
    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }

    /// The same error, naming a row.
    pub fn row(mut self, row: usize) -> Self {
        self.row = Some(row);
        self
    }
}

impl FillReport {
    /// One line: how many values each optional column had filled.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = OptionalColumn::ALL
            .iter()
            .zip(&self.columns)
            .filter(|(_, c)| c.carried_forward + c.defaulted > 0)
            .map(|(col, c)| {
                format!(
                    "{} {} carried forward, {} defaulted",
                    col.name(),
                    c.carried_forward,
                    c.defaulted
                )
            })
            .collect();
        if parts.is_empty() {
            "no gaps filled".to_string()
        } else {
            format!("filled: {}", parts.join("; "))
        }
    }
}
