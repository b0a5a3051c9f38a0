//! powermix-data: market data files. The parquet schema's reader and writer (with the
//! validation of [`powermix_env::data::validate`]), the one loading path of every binary
//! ([`load_market_data`]), the seeded synthetic generator ([`synth`]) and yearly statistics
//! ([`stats`]), and the importer of ERCOT reports and gridstatus exports ([`import`]). The
//! `data` binary (feature `cli`) inspects, generates and imports.
//!
//! The in-memory tables ([`RawMarketData`], [`MarketData`]) and their gap filling stay in
//! `powermix-env`, so the simulator, the server and anything else that reads no file compile
//! no parquet, arrow or clap.

#![warn(missing_docs)]

pub mod import;
mod parquet_io;
pub mod stats;
pub mod synth;

pub use parquet_io::{
    Codec, META_INTERVAL_MINUTES, META_SETTLEMENT_POINT, UNKNOWN_SETTLEMENT_POINT, read_parquet,
    write_parquet, write_parquet_full, write_parquet_with,
};
pub use powermix_env::data::{
    DataError, FillReport, FillRules, MarketData, OptionalColumn, RawMarketData,
};

/// Reads, validates and fills a market data parquet file: the one loading path of every
/// binary (`evaluate`, `train`, `serve`, `bench`).
pub fn load_market_data(
    path: &std::path::Path,
    rules: &FillRules,
) -> Result<(MarketData, FillReport), DataError> {
    let raw = read_parquet(path)?;
    MarketData::from_raw(&raw, rules).map_err(|mut e| {
        e.file = path.display().to_string();
        e
    })
}
