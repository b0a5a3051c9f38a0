//! powermix-forecast: forecasts learned from history with burn, from what a decision may
//! see ([`powermix_env::Market::snapshot`]) and scored against naive baselines on years they
//! were not fitted on.
//!
//! - [`fourcp`]: the probability that an interval's hour, and its local day, hold the
//!   month's 4CP interval (labels from `Market::hindsight`'s 4CP weights).
//! - [`price`]: quantiles (10/50/90 %) of the real-time price, and of real time minus
//!   day-ahead, for each of the next 1-4 hours.
//! - [`gate`]: at the day-ahead gate (10:00 on D-1), quantiles of the real-time price and
//!   of each reserve product's clearing price for every hour of the operating day D, from
//!   one snapshot (a live planner calls [`gate::GateForecast::predict`]).
//! - [`features`]: the inputs, computed only from snapshots at or before the decision.
//! - [`live`]: the models run on one live snapshot at a time (what a planner calls).
//! - [`model`]: the model file (checked load, atomic save, model id) and its plain-Rust
//!   forward pass; [`train`]: the burn fit.
//!
//! The split is fixed ([`Split::standard`]): fit on local years 2018-2022, select on 2023,
//! score on 2024. See `docs/forecasts.md`.

#![warn(missing_docs)]

pub mod features;
pub mod fourcp;
pub mod gate;
pub mod live;
pub mod model;
pub mod price;
#[cfg(feature = "fit")]
pub mod train;

pub use model::{ModelError, ModelFile, Split};

use powermix_env::data::{FillRules, MarketData, OptionalColumn, RawMarketData};
use powermix_env::forecast::{LoadForecastModel, LoadForecaster};
use powermix_env::{Market, SiteConfig};
#[cfg(feature = "files")]
use std::path::Path;

/// A replayed market and which day-ahead prices the file really holds (the loader fills
/// missing ones with a default, which is not a published price).
pub struct History {
    /// The market, as the env replays it.
    pub market: Market,
    /// Per interval: the file holds a day-ahead price (not filled).
    pub da_present: Vec<bool>,
    /// Per reserve product (RRS, ECRS, Non-Spin) and interval: the file holds its clearing
    /// price (the ERCOT files hold none before 2022, and ECRS none before June 2023).
    pub reserve_present: [Vec<bool>; 3],
    /// The simulated ERCOT load forecast (`powermix_env::forecast`, ERCOT's accuracy).
    pub load_forecast: LoadForecaster,
}

impl History {
    /// A history from a raw table (filled with `FillRules::default`) and the shipped site.
    pub fn from_raw(raw: &RawMarketData) -> Result<History, powermix_env::data::DataError> {
        let (data, _) = MarketData::from_raw(raw, &FillRules::default())?;
        let da_present = raw
            .column(OptionalColumn::DaPrice)
            .iter()
            .map(|x| x.is_some())
            .collect();
        let mut h = History::new(data, da_present);
        let present = |c| raw.column(c).iter().map(|x| x.is_some()).collect();
        h.reserve_present = [
            present(OptionalColumn::AsRrs),
            present(OptionalColumn::AsEcrs),
            present(OptionalColumn::AsNspin),
        ];
        Ok(h)
    }

    /// A history from complete data and its day-ahead presence (reserve prices all present).
    pub fn new(data: MarketData, da_present: Vec<bool>) -> History {
        assert_eq!(
            data.len(),
            da_present.len(),
            "one presence flag per interval"
        );
        let load_forecast = LoadForecaster::new(&data, LoadForecastModel::ERCOT)
            .expect("the shipped load forecast model is valid");
        let n = data.len();
        History {
            market: Market::new(data, SiteConfig::default_site()),
            da_present,
            reserve_present: std::array::from_fn(|_| vec![true; n]),
            load_forecast,
        }
    }

    /// Reads a market parquet file (the workspace's reader; feature `files`).
    #[cfg(feature = "files")]
    pub fn load(path: &Path) -> Result<History, powermix_env::data::DataError> {
        let raw = powermix_data::read_parquet(path)?;
        History::from_raw(&raw).map_err(|mut e| {
            e.file = path.display().to_string();
            e
        })
    }

    /// The settlement point of the file.
    pub fn settlement_point(&self) -> &str {
        self.market.settlement_point()
    }

    /// Intervals whose local year is in `years` (inclusive range).
    pub fn year_of(&self, t: usize) -> i32 {
        self.market.local[t].year
    }
}
