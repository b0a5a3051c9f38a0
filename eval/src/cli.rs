//! Command-line pieces shared by the binaries (`evaluate`, `train`), defined once: the
//! market arguments (`--data`, `--site`) that build a [`Market`], the `START..END` period
//! that becomes a window of it, and the policy names.
//!
//! It lives in `eval`, the lowest crate every binary that needs it depends on
//! (`training -> eval -> agent -> env`). The clap derives of [`MarketArgs`] and
//! [`PolicyName`] are behind the `cli` feature (on by default, required by the binaries);
//! without it the types are plain Rust and the crate does not compile clap.

use crate::harness::KNOWN_POLICIES;
use powermix_data::{DataError, FillReport, MarketData, load_market_data};
use powermix_env::config::ConfigError;
use powermix_env::time::{INTERVAL_MS, PeriodError, format_utc, parse_period};
use powermix_env::{Market, SiteConfig};
use std::path::PathBuf;
use std::str::FromStr;

/// What went wrong building a market or a window from the command line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The site config file is unreadable or invalid.
    #[error(transparent)]
    Site(#[from] ConfigError),
    /// The market data file is unreadable or invalid (names file, column, row).
    #[error(transparent)]
    Data(#[from] DataError),
    /// A period is not inside the data.
    #[error("period {period} is outside the data, which covers {first} to {end}")]
    OutsideData {
        /// The period as given.
        period: String,
        /// Start of the data (UTC).
        first: String,
        /// End of the data (UTC, exclusive).
        end: String,
    },
}

/// `--data` and `--site`: the market a binary runs on.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct MarketArgs {
    /// Market data parquet (the schema of ../shared/data/README.md)
    /// [default: embedded synthetic data, see the binary's description]
    #[cfg_attr(feature = "cli", arg(long, value_name = "FILE"))]
    pub data: Option<PathBuf>,
    /// Site config TOML [default: the embedded configs/site.toml]
    #[cfg_attr(feature = "cli", arg(long, value_name = "FILE"))]
    pub site: Option<PathBuf>,
}

/// A market built from [`MarketArgs`].
pub struct LoadedMarket {
    /// Data and site.
    pub market: Market,
    /// How many gaps the loader filled (None for the embedded synthetic data).
    pub fill: Option<FillReport>,
}

impl MarketArgs {
    /// The site config: `--site`, or the embedded default.
    pub fn site_config(&self) -> Result<SiteConfig, CliError> {
        Ok(match &self.site {
            Some(p) => SiteConfig::load(p)?,
            None => SiteConfig::default_site(),
        })
    }

    /// The market: `--data` loaded, validated and filled with the site's fill rules, or
    /// `synthetic()` when no file is given.
    pub fn load(&self, synthetic: impl FnOnce() -> MarketData) -> Result<LoadedMarket, CliError> {
        let site = self.site_config()?;
        let (data, fill) = match &self.data {
            Some(p) => {
                let (d, report) = load_market_data(p, &site.data_fill)?;
                (d, Some(report))
            }
            None => (synthetic(), None),
        };
        Ok(LoadedMarket {
            market: Market::new(data, site),
            fill,
        })
    }
}

/// A `START..END` period of US/Central dates, end exclusive (e.g. `2024-01-01..2025-01-01`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// The text given.
    pub text: String,
    /// Start, UTC milliseconds.
    pub start_ms: i64,
    /// End (exclusive), UTC milliseconds.
    pub end_ms: i64,
}

impl FromStr for Period {
    type Err = PeriodError;

    /// Parses `YYYY-MM-DD..YYYY-MM-DD` (clap shows the message as the bad value's reason).
    fn from_str(text: &str) -> Result<Period, PeriodError> {
        let (start_ms, end_ms) = parse_period(text)?;
        Ok(Period {
            text: text.to_string(),
            start_ms,
            end_ms,
        })
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Period {
    /// The market intervals `[start, end)` of this period; an error unless the whole period
    /// lies inside the data.
    pub fn window(&self, market: &Market) -> Result<(usize, usize), CliError> {
        let (i, j) = (market.index_at(self.start_ms), market.index_at(self.end_ms));
        let first = if market.is_empty() {
            0
        } else {
            market.interval_start_ms(0)
        };
        let end = if market.is_empty() {
            first
        } else {
            market.interval_start_ms(market.len() - 1) + INTERVAL_MS
        };
        if self.start_ms < first || self.end_ms > end || i >= j {
            return Err(CliError::OutsideData {
                period: self.text.clone(),
                first: format_utc(first),
                end: format_utc(end),
            });
        }
        Ok((i, j))
    }
}

/// A policy the harness can run (`--policies`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum PolicyName {
    /// Everything at full power, no reserve offers.
    AlwaysOn,
    /// Each tranche runs below its break-even price.
    Threshold,
    /// The expert rules (configs/expert.toml).
    Expert,
    /// The day-ahead LP at each local day start.
    DayAheadMpc,
    /// The perfect-foresight LP (an upper bound).
    Oracle,
    /// The trained policy of --checkpoint.
    Ppo,
    /// The day-ahead MPC planning on the facts over each horizon (not live-capable; the
    /// reference of --attribution).
    MpcPerfectForecast,
    /// The day-ahead MPC whose 4CP expectation reads a simulated ERCOT load forecast
    /// (ERCOT's published error; not served yet).
    MpcLoadForecast,
    /// The checkpoint of --checkpoint with its network's output at zero: its base rules (or
    /// planner) and day-ahead head alone, what the network must beat.
    PpoBase,
    /// The day-ahead MPC planning with the learned forecasts of --forecasts (real time over
    /// the next four hours, the 4CP chance of each remaining hour of today), a plan every
    /// hour.
    ForecastMpc,
    /// forecast-mpc with day-ahead prices for the next hours (its ablation).
    #[cfg_attr(feature = "cli", value(name = "forecast-mpc-no-rt"))]
    ForecastMpcNoRt,
    /// forecast-mpc with the day-ahead MPC's 4CP expectation (its ablation).
    #[cfg_attr(feature = "cli", value(name = "forecast-mpc-no-4cp"))]
    ForecastMpcNo4cp,
    /// forecast-mpc whose reserve offer takes any price ($0 minimum, the day-ahead MPC's
    /// offer): the ablation of the priced offer.
    #[cfg_attr(feature = "cli", value(name = "forecast-mpc-unpriced-offer"))]
    ForecastMpcUnpricedOffer,
    /// forecast-mpc with D's prices from the gate models and the priced offer (a candidate
    /// that lost).
    ForecastMpcGateModels,
    /// forecast-mpc whose 4CP weights are the first round's: the hour model's chance for
    /// the decision's hour and the day's spread by price over the afternoon (`fourcp.json`;
    /// docs/experiments/2026-12-07-hourly-4cp.md).
    #[cfg_attr(feature = "cli", value(name = "forecast-mpc-day-4cp"))]
    ForecastMpcDay4cp,
    /// The checkpoint of --checkpoint with its day-ahead head's offer priced at the option
    /// value of curtailment, from the gate model of --forecasts (an evaluation candidate).
    PpoPricedHead,
}

impl PolicyName {
    /// The name the harness, the reports and the JSON use (`day-ahead-mpc`).
    pub fn as_str(self) -> &'static str {
        KNOWN_POLICIES[self as usize]
    }

    /// Every rule and optimiser policy, in table order (all but `ppo`).
    pub const DEFAULT: [PolicyName; 5] = [
        PolicyName::AlwaysOn,
        PolicyName::Threshold,
        PolicyName::Expert,
        PolicyName::DayAheadMpc,
        PolicyName::Oracle,
    ];
}

impl std::fmt::Display for PolicyName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `policies` with `ppo` added when a checkpoint is given and the list lacks it (just
/// before `oracle`, the table's last row, or at the end), so no `--checkpoint` is ignored,
/// and `ppo-base` (the same checkpoint with its network off) just before it, so that the
/// trained policy is always shown beside its own base. Returns the list and whether `ppo`
/// was added.
pub fn with_checkpoint_policy(
    mut policies: Vec<PolicyName>,
    checkpoint: bool,
) -> (Vec<PolicyName>, bool) {
    if !checkpoint || policies.contains(&PolicyName::Ppo) {
        return (policies, false);
    }
    let at = policies
        .iter()
        .position(|p| *p == PolicyName::Oracle)
        .unwrap_or(policies.len());
    policies.insert(at, PolicyName::Ppo);
    if !policies.contains(&PolicyName::PpoBase) {
        policies.insert(at, PolicyName::PpoBase);
    }
    (policies, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use powermix_data::synth::synthetic_year;

    #[cfg(feature = "cli")]
    #[test]
    fn policy_names_are_the_harness_names() {
        use clap::ValueEnum;
        let names: Vec<String> = PolicyName::value_variants()
            .iter()
            .map(|p| p.to_possible_value().unwrap().get_name().to_string())
            .collect();
        assert_eq!(names, KNOWN_POLICIES);
        for p in PolicyName::value_variants() {
            assert_eq!(p.to_possible_value().unwrap().get_name(), p.as_str());
        }
    }

    #[test]
    fn a_checkpoint_adds_ppo_before_the_oracle() {
        use PolicyName::*;
        assert_eq!(
            with_checkpoint_policy(vec![AlwaysOn, Expert], true),
            (vec![AlwaysOn, Expert, PpoBase, Ppo], true)
        );
        assert_eq!(
            with_checkpoint_policy(PolicyName::DEFAULT.to_vec(), true).0,
            vec![
                AlwaysOn,
                Threshold,
                Expert,
                DayAheadMpc,
                PpoBase,
                Ppo,
                Oracle
            ]
        );
        assert_eq!(
            with_checkpoint_policy(vec![PpoBase, Expert], true).0,
            vec![PpoBase, Expert, Ppo]
        );
        assert_eq!(
            with_checkpoint_policy(vec![Ppo, Oracle], true),
            (vec![Ppo, Oracle], false)
        );
        assert_eq!(
            with_checkpoint_policy(vec![Expert], false),
            (vec![Expert], false)
        );
    }

    #[test]
    fn periods_become_windows_inside_the_data_only() {
        let market = Market::new(synthetic_year(2024, 7), SiteConfig::default_site());
        let p: Period = "2024-01-01..2024-01-02".parse().unwrap();
        assert_eq!(p.window(&market).unwrap(), (0, 96));
        let all: Period = "2024-01-01..2025-01-01".parse().unwrap();
        assert_eq!(all.window(&market).unwrap(), (0, market.len()));
        let late: Period = "2024-12-31..2025-01-02".parse().unwrap();
        let e = late.window(&market).unwrap_err().to_string();
        assert!(
            e.contains("2024-12-31..2025-01-02") && e.contains("outside"),
            "{e}"
        );
        assert!("2024-01-02..2024-01-01".parse::<Period>().is_err());
        assert!("2024-01-01".parse::<Period>().is_err());
    }
}
