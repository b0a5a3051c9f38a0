//! Validation of a market data table: the checks every loader and writer applies.
use super::{COL_RT, COL_TIME, DataError, OptionalColumn, RawMarketData};
use crate::price::PriceKind;
use crate::time::{INTERVAL_MS, format_utc};

/// Checks a table's shape and values, naming `file`, the column and the row of the first
/// problem: non-empty; every column as long as the timestamps; timestamps on 15-minute
/// boundaries, strictly increasing and exactly one interval apart (no duplicates, no gaps);
/// every `rt_price` finite; every non-null optional value finite.
pub fn validate(raw: &RawMarketData, file: &str) -> Result<(), DataError> {
    let n = raw.len();
    if n == 0 {
        return Err(DataError::new(file, "table has no rows"));
    }
    let bad_len = |col: &str, len: usize| {
        DataError::new(file, format!("column has {len} values for {n} timestamps")).column(col)
    };
    if raw.rt_price.len() != n {
        return Err(bad_len(COL_RT, raw.rt_price.len()));
    }
    for c in OptionalColumn::ALL {
        if raw.column(c).len() != n {
            return Err(bad_len(c.name(), raw.column(c).len()));
        }
    }
    let time_err = |row: usize, msg: String| DataError::new(file, msg).column(COL_TIME).row(row);
    for (row, &t) in raw.interval_start_ms.iter().enumerate() {
        if t.rem_euclid(INTERVAL_MS) != 0 {
            let msg = format!("{} is not on a 15-minute boundary", format_utc(t));
            return Err(time_err(row, msg));
        }
        if row == 0 {
            continue;
        }
        let prev = raw.interval_start_ms[row - 1];
        let msg = if t == prev {
            format!("duplicate timestamp {}", format_utc(t))
        } else if t < prev {
            format!(
                "timestamps not sorted: {} follows {}",
                format_utc(t),
                format_utc(prev)
            )
        } else if t - prev != INTERVAL_MS {
            format!(
                "gap in the 15-minute grid: {} follows {} ({} intervals missing)",
                format_utc(t),
                format_utc(prev),
                (t - prev) / INTERVAL_MS - 1
            )
        } else {
            continue;
        };
        return Err(time_err(row, msg));
    }
    // Prices: the one rule of what a published price can be (`powermix_env::price`), which
    // the server applies to requests too.
    let energy = PriceKind::Energy;
    if let Some(row) = raw.rt_price.iter().position(|&v| !energy.is_valid(v)) {
        let msg = format!("value {}: {}", raw.rt_price[row], energy.rule());
        return Err(DataError::new(file, msg).column(COL_RT).row(row));
    }
    for c in OptionalColumn::ALL {
        let col = raw.column(c);
        let bad = |x: f64| match c.price_kind() {
            Some(kind) => !kind.is_valid(x),
            None => !x.is_finite(),
        };
        if let Some(row) = col.iter().position(|v| v.is_some_and(bad)) {
            let x = col[row].unwrap_or(f64::NAN);
            let msg = match c.price_kind() {
                Some(kind) => format!("value {x}: {}", kind.rule()),
                None => format!("non-finite value {x}"),
            };
            return Err(DataError::new(file, msg).column(c.name()).row(row));
        }
    }
    Ok(())
}
