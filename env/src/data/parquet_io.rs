//! Parquet reading and writing (stub: the data helper implements it).
use super::{DataError, RawMarketData};
use std::path::Path;

/// Reads and validates a market data parquet file (stub).
pub fn read_parquet(path: &Path) -> Result<RawMarketData, DataError> {
    Err(DataError::new(
        path.display().to_string(),
        "not implemented",
    ))
}

/// Writes a market data table as zstd parquet with the shared schema (stub).
pub fn write_parquet(data: &RawMarketData, path: &Path) -> Result<(), DataError> {
    let _ = data;
    Err(DataError::new(
        path.display().to_string(),
        "not implemented",
    ))
}
