//! The site configuration (`configs/site.toml`): every number of the site and its markets.
//!
//! Unknown keys are rejected with their name; [`SiteConfig::validate`] checks ranges and
//! names the offending field and value. The shipped file is embedded, so
//! [`SiteConfig::default_site`] works on a machine with no files.

use crate::data::FillRules;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// Number of miner tranches the observation and action layouts are built for.
pub const TRANCHES: usize = 3;
/// Number of reserve products (RRS, ECRS, Non-Spin).
pub const RESERVES: usize = 3;
/// Reserve product names in action, ledger and report order.
pub const RESERVE_NAMES: [&str; RESERVES] = ["rrs", "ecrs", "nspin"];

/// The shipped site configuration, embedded at build time.
pub const DEFAULT_SITE_TOML: &str = include_str!("../../configs/site.toml");

/// Whole-site configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Grid connection and market limits.
    pub grid: GridConfig,
    /// AI data center.
    pub ai: AiConfig,
    /// Bitcoin mining fleet.
    pub mining: MiningConfig,
    /// Balance of plant.
    pub plant: PlantConfig,
    /// Power contract.
    pub contract: ContractConfig,
    /// 4CP transmission charge.
    pub four_cp: FourCpConfig,
    /// What a decision can know, and when.
    pub information: InformationConfig,
    /// Ancillary service offers from miner load.
    pub reserves: ReservesConfig,
    /// Grid emergency rules.
    pub emergency: EmergencyConfig,
    /// Gap filling of optional market data columns.
    pub data_fill: FillRules,
}

/// Grid connection and market limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridConfig {
    /// Settlement point whose prices apply (e.g. HB_WEST).
    pub settlement_point: String,
    /// Most power the site may draw (MW).
    pub import_limit_mw: f64,
    /// Offer caps by local year, in increasing `from_year`.
    pub price_caps: Vec<PriceCap>,
    /// Not used: site configs and checkpoints that still carry this key load unchanged.
    /// What counts as a valid published price is one rule for the data loader and the
    /// server alike ([`crate::price`]), which accepts prices under ERCOT's offer floor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_floor_usd_per_mwh: Option<f64>,
}

/// The system-wide offer cap from a local year on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceCap {
    /// First local year the cap applies to.
    pub from_year: i32,
    /// Cap ($/MWh).
    pub cap_usd_per_mwh: f64,
}

/// AI data center.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiConfig {
    /// Firm inference load at the meter (MW).
    pub inference_mw: f64,
    /// Inference revenue per MWh served ($/MWh).
    pub inference_revenue_usd_per_mwh: f64,
    /// Penalty per MWh not served, as a multiple of the inference revenue.
    pub inference_penalty_multiple: f64,
    /// Flexible training load at full power (MW).
    pub training_mw: f64,
    /// Number of equal steps training runs in.
    pub training_steps: u32,
    /// Training revenue per MWh run ($/MWh).
    pub training_revenue_usd_per_mwh: f64,
    /// Hours of work lost per MW restarted.
    pub restart_loss_hours: f64,
    /// Largest training change per interval (MW).
    pub training_max_ramp_mw_per_interval: f64,
    /// Intervals training holds after stepping up before it may step down.
    pub training_min_on_intervals: u32,
}

/// Bitcoin mining fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MiningConfig {
    /// Pool fee as a fraction of revenue.
    pub pool_fee: f64,
    /// Wear cost per MW started ($/MW).
    pub wear_usd_per_mw_start: f64,
    /// Largest change of one tranche per interval (MW).
    pub max_ramp_mw_per_interval: f64,
    /// The tranches, exactly [`TRANCHES`] of them.
    pub tranches: Vec<TrancheConfig>,
}

/// One miner tranche.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrancheConfig {
    /// Name used in reports.
    pub name: String,
    /// Power at full run (MW).
    pub capacity_mw: f64,
    /// Efficiency (J/TH).
    pub efficiency_j_per_th: f64,
}

/// Balance of plant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlantConfig {
    /// Always-on load (MW).
    pub balance_of_plant_mw: f64,
}

/// The kind of power contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractKind {
    /// All energy at the real-time price.
    Index,
    /// A fixed-price block; unused block sold back, excess bought at real time.
    FixedBlock,
}

/// Power contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractConfig {
    /// Index or fixed block.
    pub kind: ContractKind,
    /// Block size (MW), fixed block only.
    pub block_mw: f64,
    /// Block price ($/MWh), fixed block only.
    pub block_price_usd_per_mwh: f64,
}

/// 4CP transmission charge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FourCpConfig {
    /// Annual transmission rate ($/kW-year); each of the four peaks bills a quarter of it.
    pub rate_usd_per_kw_year: f64,
    /// Local months (1-12) whose system peak is a coincident peak.
    pub months: Vec<u8>,
}

/// What a decision can know, and when (DESIGN.md, "Information rules").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InformationConfig {
    /// The latest real-time price a decision for interval t knows is that of t - lag
    /// (2: t-1 is still running when the decision for t is taken). Everything published at
    /// or before the end of interval t - lag is visible too.
    pub rt_price_lag_intervals: u32,
}

/// Ancillary services from miner load (Load Resource), committed day ahead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReservesConfig {
    /// Most MW offered in one hour, all products together, as a share of miner capacity.
    pub max_offer_fraction: f64,
    /// $/MW per hour of an action's minimum-price value 1.0.
    pub offer_price_scale_usd_per_mw_h: f64,
    /// Replacement cost of awarded MW not provided, on top of the clearing price paid back
    /// ($/MW per hour).
    pub replacement_cost_usd_per_mw_h: f64,
    /// Real-time price at or above which an interval counts as scarce ($/MWh).
    pub scarcity_price_usd_per_mwh: f64,
    /// The peak window of the day-ahead offer, `[start, end)` in hours of the operating day
    /// counted from local midnight (as every [`crate::DayAheadOffer`] hour): in these hours
    /// the action's `da_peak_withhold` share of its offer is held back. Absent in files
    /// written before the window existed: [`DEFAULT_PEAK_WINDOW`].
    #[serde(default = "default_peak_window")]
    pub peak_window_hours: [u8; 2],
    /// Responsive Reserve.
    pub rrs: ReserveProduct,
    /// ERCOT Contingency Reserve.
    pub ecrs: ReserveProduct,
    /// Non-Spinning Reserve.
    pub nspin: ReserveProduct,
}

/// The peak window of files written before it existed: 16:00 to 18:00, the hours of 23 of
/// the 24 4CP peaks of 2018-2023 in the shipped data's system load (`configs/site.toml`).
pub const DEFAULT_PEAK_WINDOW: [u8; 2] = [16, 18];

fn default_peak_window() -> [u8; 2] {
    DEFAULT_PEAK_WINDOW
}

impl ReservesConfig {
    /// True when hour `k` of the operating day (from local midnight) is in the peak window.
    #[inline]
    pub fn in_peak_window(&self, k: usize) -> bool {
        (self.peak_window_hours[0] as usize..self.peak_window_hours[1] as usize).contains(&k)
    }

    /// The products in [`RESERVE_NAMES`] order.
    pub fn products(&self) -> [&ReserveProduct; RESERVES] {
        [&self.rrs, &self.ecrs, &self.nspin]
    }
}

/// One reserve product and its deployment events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReserveProduct {
    /// Whether the site offers it at all.
    pub enabled: bool,
    /// First local date (YYYY-MM-DD) the product exists; none: always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_from: Option<String>,
    /// Deployment events starting per year in normal intervals.
    pub events_per_year: f64,
    /// Probability that an event starts in a scarcity interval.
    pub scarcity_start_probability: f64,
    /// Mean duration of an event until recall (minutes).
    pub mean_duration_minutes: f64,
    /// Every interval of an EEA of at least this level deploys the product (4: never).
    pub eea_deploy_level: u8,
}

impl ReserveProduct {
    /// The local day number (days since 1970-01-01) from which the product exists.
    pub fn available_from_day(&self) -> i32 {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
        self.available_from
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .map(|d| (d - epoch).num_days() as i32)
            .unwrap_or(i32::MIN)
    }
}

/// What firm load shed does to the site (emergencies themselves come from
/// `configs/emergencies.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmergencyConfig {
    /// Miners stop while ERCOT orders firm load shed.
    pub load_shed_curtail_mining: bool,
    /// Most training may run during firm load shed, as a fraction of its full power.
    pub load_shed_max_training_fraction: f64,
    /// Inference stops too during firm load shed (and pays its penalty).
    pub load_shed_curtail_inference: bool,
    /// The site falls under Texas SB 6 remote disconnection: during firm load shed the
    /// whole site is disconnected.
    pub sb6_subject: bool,
}

/// A configuration problem, naming the field and the value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Parses TOML text into `T` and runs its range checks (`check`); every error names
/// `origin`. The one reading path of the config types (site, expert rules, training).
pub fn parse_checked<T, E>(
    text: &str,
    origin: &str,
    check: impl FnOnce(&T) -> Result<(), E>,
) -> Result<T, ConfigError>
where
    T: serde::de::DeserializeOwned,
    E: fmt::Display,
{
    let value: T = toml::from_str(text).map_err(|e| ConfigError(format!("{origin}: {e}")))?;
    check(&value).map_err(|e| ConfigError(format!("{origin}: {e}")))?;
    Ok(value)
}

/// Reads a config file and parses it with `parse` (a type's `from_toml_str`), the file's
/// path as the origin of every error.
pub fn load_with<T>(
    path: &Path,
    parse: impl FnOnce(&str, &str) -> Result<T, ConfigError>,
) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("{}: cannot read: {e}", path.display())))?;
    parse(&text, &path.display().to_string())
}

impl SiteConfig {
    /// The shipped `configs/site.toml`.
    pub fn default_site() -> SiteConfig {
        // The embedded file is tested to parse and validate.
        SiteConfig::from_toml_str(DEFAULT_SITE_TOML, "configs/site.toml (embedded)")
            .expect("embedded site config is valid")
    }

    /// Parses and validates TOML text; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<SiteConfig, ConfigError> {
        parse_checked(text, origin, SiteConfig::validate)
    }

    /// Reads, parses and validates a TOML file.
    pub fn load(path: &Path) -> Result<SiteConfig, ConfigError> {
        load_with(path, SiteConfig::from_toml_str)
    }

    /// Checks every range; the error names the field and its value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn check(
            ok: bool,
            field: &str,
            value: impl fmt::Debug,
            rule: &str,
        ) -> Result<(), ConfigError> {
            if ok {
                Ok(())
            } else {
                Err(ConfigError(format!("{field} = {value:?}: {rule}")))
            }
        }
        fn nonneg(field: &str, v: f64) -> Result<(), ConfigError> {
            check(
                v.is_finite() && v >= 0.0,
                field,
                v,
                "must be a finite number >= 0",
            )
        }
        fn fraction(field: &str, v: f64) -> Result<(), ConfigError> {
            check((0.0..=1.0).contains(&v), field, v, "must be in [0, 1]")
        }
        let g = &self.grid;
        nonneg("grid.import_limit_mw", g.import_limit_mw)?;
        check(
            !g.price_caps.is_empty(),
            "grid.price_caps",
            &g.price_caps,
            "needs at least one entry",
        )?;
        for (i, c) in g.price_caps.iter().enumerate() {
            check(
                c.cap_usd_per_mwh.is_finite() && c.cap_usd_per_mwh > 0.0,
                &format!("grid.price_caps[{i}].cap_usd_per_mwh"),
                c.cap_usd_per_mwh,
                "must be > 0",
            )?;
            if i > 0 {
                check(
                    c.from_year > g.price_caps[i - 1].from_year,
                    &format!("grid.price_caps[{i}].from_year"),
                    c.from_year,
                    "must increase",
                )?;
            }
        }
        let a = &self.ai;
        nonneg("ai.inference_mw", a.inference_mw)?;
        nonneg(
            "ai.inference_revenue_usd_per_mwh",
            a.inference_revenue_usd_per_mwh,
        )?;
        nonneg(
            "ai.inference_penalty_multiple",
            a.inference_penalty_multiple,
        )?;
        nonneg("ai.training_mw", a.training_mw)?;
        check(
            a.training_steps >= 1,
            "ai.training_steps",
            a.training_steps,
            "must be >= 1",
        )?;
        nonneg(
            "ai.training_revenue_usd_per_mwh",
            a.training_revenue_usd_per_mwh,
        )?;
        nonneg("ai.restart_loss_hours", a.restart_loss_hours)?;
        nonneg(
            "ai.training_max_ramp_mw_per_interval",
            a.training_max_ramp_mw_per_interval,
        )?;
        let m = &self.mining;
        check(
            (0.0..1.0).contains(&m.pool_fee),
            "mining.pool_fee",
            m.pool_fee,
            "must be in [0, 1)",
        )?;
        nonneg("mining.wear_usd_per_mw_start", m.wear_usd_per_mw_start)?;
        nonneg(
            "mining.max_ramp_mw_per_interval",
            m.max_ramp_mw_per_interval,
        )?;
        check(
            m.tranches.len() == TRANCHES,
            "mining.tranches",
            m.tranches.len(),
            "the observation and action layouts need exactly 3 tranches",
        )?;
        for (i, t) in m.tranches.iter().enumerate() {
            nonneg(&format!("mining.tranches[{i}].capacity_mw"), t.capacity_mw)?;
            check(
                t.efficiency_j_per_th.is_finite() && t.efficiency_j_per_th > 0.0,
                &format!("mining.tranches[{i}].efficiency_j_per_th"),
                t.efficiency_j_per_th,
                "must be > 0",
            )?;
        }
        nonneg("plant.balance_of_plant_mw", self.plant.balance_of_plant_mw)?;
        check(
            g.import_limit_mw >= self.plant.balance_of_plant_mw + a.inference_mw,
            "grid.import_limit_mw",
            g.import_limit_mw,
            "must cover balance of plant plus inference",
        )?;
        nonneg("contract.block_mw", self.contract.block_mw)?;
        check(
            self.contract.block_price_usd_per_mwh.is_finite(),
            "contract.block_price_usd_per_mwh",
            self.contract.block_price_usd_per_mwh,
            "must be finite",
        )?;
        nonneg(
            "four_cp.rate_usd_per_kw_year",
            self.four_cp.rate_usd_per_kw_year,
        )?;
        for (i, &mo) in self.four_cp.months.iter().enumerate() {
            check(
                (1..=12).contains(&mo),
                &format!("four_cp.months[{i}]"),
                mo,
                "must be 1 to 12",
            )?;
        }
        check(
            (1..=96).contains(&self.information.rt_price_lag_intervals),
            "information.rt_price_lag_intervals",
            self.information.rt_price_lag_intervals,
            "must be 1 to 96",
        )?;
        let r = &self.reserves;
        fraction("reserves.max_offer_fraction", r.max_offer_fraction)?;
        check(
            r.offer_price_scale_usd_per_mw_h.is_finite() && r.offer_price_scale_usd_per_mw_h > 0.0,
            "reserves.offer_price_scale_usd_per_mw_h",
            r.offer_price_scale_usd_per_mw_h,
            "must be > 0",
        )?;
        nonneg(
            "reserves.replacement_cost_usd_per_mw_h",
            r.replacement_cost_usd_per_mw_h,
        )?;
        check(
            r.scarcity_price_usd_per_mwh.is_finite(),
            "reserves.scarcity_price_usd_per_mwh",
            r.scarcity_price_usd_per_mwh,
            "must be finite",
        )?;
        let [w0, w1] = r.peak_window_hours;
        check(
            w0 < w1 && usize::from(w1) <= crate::time::DAY_HOURS_MAX,
            "reserves.peak_window_hours",
            r.peak_window_hours,
            "must be [start, end] hours with start < end <= 25",
        )?;
        for (name, p) in RESERVE_NAMES.iter().zip(r.products()) {
            if let Some(d) = &p.available_from {
                parse_date(d, &format!("reserves.{name}.available_from"))?;
            }
            check(
                p.events_per_year.is_finite() && (0.0..=35_040.0).contains(&p.events_per_year),
                &format!("reserves.{name}.events_per_year"),
                p.events_per_year,
                "must be in [0, 35040]",
            )?;
            fraction(
                &format!("reserves.{name}.scarcity_start_probability"),
                p.scarcity_start_probability,
            )?;
            check(
                p.mean_duration_minutes.is_finite() && p.mean_duration_minutes >= 15.0,
                &format!("reserves.{name}.mean_duration_minutes"),
                p.mean_duration_minutes,
                "must be at least one interval (15)",
            )?;
            check(
                (1..=4).contains(&p.eea_deploy_level),
                &format!("reserves.{name}.eea_deploy_level"),
                p.eea_deploy_level,
                "must be 1 to 3, or 4 for never",
            )?;
        }
        fraction(
            "emergency.load_shed_max_training_fraction",
            self.emergency.load_shed_max_training_fraction,
        )?;
        let f = &self.data_fill;
        for c in crate::data::OptionalColumn::ALL {
            let v = f.default_for(c);
            check(
                v.is_finite(),
                &format!("data_fill.{}", c.name()),
                v,
                "must be finite",
            )?;
        }
        Ok(())
    }

    /// The offer cap in force in a local year.
    pub fn price_cap(&self, local_year: i32) -> f64 {
        self.grid
            .price_caps
            .iter()
            .rev()
            .find(|c| c.from_year <= local_year)
            .or(self.grid.price_caps.first())
            .map(|c| c.cap_usd_per_mwh)
            .unwrap_or(f64::INFINITY)
    }

    /// Which reserve products the site may offer on a local day (day number since
    /// 1970-01-01): enabled and already in existence.
    pub fn reserve_available(&self, day_number: i32) -> [bool; RESERVES] {
        self.reserves
            .products()
            .map(|p| p.enabled && day_number >= p.available_from_day())
    }

    /// Total miner capacity (MW).
    pub fn miner_capacity_mw(&self) -> f64 {
        self.mining.tranches.iter().map(|t| t.capacity_mw).sum()
    }

    /// The 4CP charge of one MW of load on an interval of weight 1 ($): the yearly rate per
    /// kW over the four peaks (`four_cp.rate_usd_per_kw_year` x 1000 / 4). Settlement and
    /// the planners bill `load x this x the interval's 4CP weight`.
    pub fn four_cp_usd_per_mw(&self) -> f64 {
        self.four_cp.rate_usd_per_kw_year * 1000.0 / 4.0
    }

    /// Break-even power price of each tranche at a hashprice ($/MWh):
    /// hashprice x (1 - fee) / (0.024 x J/TH).
    pub fn break_even_usd_per_mwh(&self, hashprice_usd_per_ph_day: f64) -> [f64; TRANCHES] {
        let mut out = [0.0; TRANCHES];
        for (o, t) in out.iter_mut().zip(&self.mining.tranches) {
            *o = hashprice_usd_per_ph_day * (1.0 - self.mining.pool_fee)
                / (0.024 * t.efficiency_j_per_th);
        }
        out
    }
}

fn parse_date(s: &str, field: &str) -> Result<NaiveDate, ConfigError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| ConfigError(format!("{field} = {s:?}: not a YYYY-MM-DD date ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_parses_and_matches_design() {
        let c = SiteConfig::default_site();
        assert_eq!(c.grid.import_limit_mw, 100.0);
        assert_eq!(c.miner_capacity_mw(), 65.0);
        assert_eq!(c.price_cap(2021), 9000.0);
        assert_eq!(c.price_cap(2022), 5000.0);
        assert_eq!(c.price_cap(1990), 9000.0);
        // DESIGN.md: at $50/PH/day the tranches break even near $117, $95 and $69 per MWh.
        let be = c.break_even_usd_per_mwh(50.0);
        assert!((be[0] - 116.67).abs() < 0.01, "{be:?}");
        assert!((be[1] - 94.96).abs() < 0.01, "{be:?}");
        assert!((be[2] - 69.21).abs() < 0.01, "{be:?}");
    }

    #[test]
    fn unknown_key_is_named() {
        let text = DEFAULT_SITE_TOML.replace("[plant]", "[plant]\nbogus_knob = 3");
        let err = SiteConfig::from_toml_str(&text, "x.toml").unwrap_err().0;
        assert!(err.contains("bogus_knob"), "{err}");
        assert!(err.contains("x.toml"), "{err}");
    }

    #[test]
    fn bad_values_name_field_and_value() {
        let cases = [
            ("pool_fee = 0.02", "pool_fee = 1.5", "mining.pool_fee = 1.5"),
            (
                "import_limit_mw = 100.0",
                "import_limit_mw = 12.0",
                "grid.import_limit_mw = 12.0",
            ),
            (
                "training_steps = 4",
                "training_steps = 0",
                "ai.training_steps = 0",
            ),
            (
                "months = [6, 7, 8, 9]",
                "months = [6, 13]",
                "four_cp.months[1] = 13",
            ),
            (
                "available_from = \"2023-06-10\"",
                "available_from = \"2023-06-31\"",
                "reserves.ecrs.available_from",
            ),
            (
                "scarcity_start_probability = 0.008",
                "scarcity_start_probability = 2.0",
                "reserves.ecrs.scarcity_start_probability = 2.0",
            ),
            (
                "mean_duration_minutes = 60.0",
                "mean_duration_minutes = 5.0",
                "reserves.rrs.mean_duration_minutes = 5.0",
            ),
            (
                "rt_price_lag_intervals = 2",
                "rt_price_lag_intervals = 0",
                "information.rt_price_lag_intervals = 0",
            ),
            (
                "peak_window_hours = [16, 18]",
                "peak_window_hours = [18, 16]",
                "reserves.peak_window_hours = [18, 16]",
            ),
            (
                "peak_window_hours = [16, 18]",
                "peak_window_hours = [16, 26]",
                "reserves.peak_window_hours = [16, 26]",
            ),
        ];
        for (from, to, expect) in cases {
            assert!(DEFAULT_SITE_TOML.contains(from), "{from}");
            let text = DEFAULT_SITE_TOML.replacen(from, to, 1);
            let err = SiteConfig::from_toml_str(&text, "s.toml").unwrap_err().0;
            assert!(err.contains(expect), "{err} should contain {expect}");
        }
        let text = DEFAULT_SITE_TOML.replacen("inference_mw = 10.0", "inference_mw = \"ten\"", 1);
        let err = SiteConfig::from_toml_str(&text, "s.toml").unwrap_err().0;
        assert!(err.contains("inference_mw"), "{err}");
    }

    #[test]
    fn tranche_count_is_checked() {
        let mut c = SiteConfig::default_site();
        c.mining.tranches.pop();
        let err = c.validate().unwrap_err().0;
        assert!(err.contains("mining.tranches = 2"), "{err}");
    }
}
