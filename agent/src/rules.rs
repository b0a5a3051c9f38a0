//! Rule-based policies: `always-on`, `threshold` and `expert` (see DESIGN.md).

use crate::Policy;
use powermix_env::config::{ConfigError, RESERVES, SiteConfig, TRANCHES};
use powermix_env::market::is_da_gate_local;
use powermix_env::time::local_time;
use powermix_env::{ACTION_DIM, Action, Snapshot};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The shipped `configs/expert.toml`, embedded.
pub const DEFAULT_EXPERT_TOML: &str = include_str!("../../configs/expert.toml");

/// The last known real-time price of a snapshot (the day-ahead price when no history).
fn last_price(s: &Snapshot<'_>) -> f64 {
    s.rt_history
        .last()
        .or(s.da_prices.first())
        .copied()
        .unwrap_or(0.0)
}

/// Everything at full power, no reserve offers.
#[derive(Debug, Clone, Default)]
pub struct AlwaysOn;

impl Policy for AlwaysOn {
    fn name(&self) -> &str {
        "always-on"
    }
    fn act(&mut self, _: &Snapshot<'_>) -> Action {
        Action::ALL_ON
    }
}

/// Each tranche runs when the last price is below its break-even (from the last complete
/// day's hashprice); training runs unless the last price is above its revenue per MWh.
#[derive(Debug, Clone)]
pub struct Threshold {
    cfg: SiteConfig,
}

impl Threshold {
    /// The threshold rules for a site.
    pub fn new(cfg: &SiteConfig) -> Threshold {
        Threshold { cfg: cfg.clone() }
    }
}

impl Policy for Threshold {
    fn name(&self) -> &str {
        "threshold"
    }
    fn act(&mut self, s: &Snapshot<'_>) -> Action {
        let p = last_price(s);
        let be = self.cfg.break_even_usd_per_mwh(s.hashprice);
        Action {
            tranche: be.map(|b| if p < b { 1.0 } else { 0.0 }),
            training: if p > self.cfg.ai.training_revenue_usd_per_mwh {
                0.0
            } else {
                1.0
            },
            ..Action::default()
        }
    }
}

/// Parameters of the expert rules (`configs/expert.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpertParams {
    /// Hysteresis band around each break-even ($/MWh).
    pub hysteresis_usd_per_mwh: f64,
    /// Training stops above this last price ($/MWh).
    pub training_stop_price_usd_per_mwh: f64,
    /// Weight of the interval's day-ahead price in the price the rules act on:
    /// `(1 - w) * last real-time price + w * day-ahead price of the interval`: the published
    /// real-time price is two intervals old, the day-ahead price a second estimate of the
    /// same interval. 0: the last real-time price alone (also when the key is absent, as in
    /// the `base_policy` of checkpoints written before it existed).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub price_da_weight: f64,
    /// Load share of the month-to-date peak that signals a likely 4CP (miners stop).
    pub four_cp_load_ratio: f64,
    /// Load share of the month-to-date peak at which AI training stops too (when
    /// `four_cp_stop_training`).
    pub four_cp_training_load_ratio: f64,
    /// Whether AI training stops on a likely 4CP at all. Absent (as in the `base_policy` of
    /// checkpoints written before the key existed): true, the rule they were trained on.
    #[serde(default = "yes")]
    pub four_cp_stop_training: bool,
    /// With `four_cp_stop_training`, training stops on a likely 4CP only when the
    /// interval's published day-ahead price is at least this ($/MWh): the day-ahead market
    /// prices the afternoons it expects to be tight. Absent (as in checkpoints written before
    /// the key existed): no price condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub four_cp_training_min_da_price_usd_per_mwh: Option<f64>,
    /// Load share of the month-to-date peak that signals a likely 4CP on a weekend (miners
    /// stop; training by `four_cp_stop_training`'s rule at the stricter of the two ratios).
    /// Absent (as in checkpoints written before the key existed): no 4CP watch on weekends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub four_cp_weekend_load_ratio: Option<f64>,
    /// First local hour of the 4CP watch.
    pub four_cp_start_hour: u8,
    /// Local hour the 4CP watch ends (exclusive).
    pub four_cp_end_hour: u8,
    /// Whether to offer reserves day ahead.
    pub offer_reserves: bool,
    /// Share of the miner fleet offered day ahead, when it is offered.
    pub reserve_offer_share: f64,
    /// Minimum clearing price of the day-ahead offer ($/MW per hour).
    pub reserve_min_price_usd_per_mw_h: f64,
    /// Whether to offer in 4CP months too, holding every MW back in the peak window
    /// (`reserves.peak_window_hours`). Absent in files written before the window: false,
    /// no offer in 4CP months.
    #[serde(default)]
    pub offer_in_four_cp_months: bool,
    /// Whether the miner tranches follow the price rule (run below break-even, with the
    /// hysteresis band). false: every tranche runs outside the 4CP watch and emergencies,
    /// and the price decision is left to a residual network, which then has to learn it
    /// (the base of a checkpoint whose network makes the miners' price decision). Absent
    /// (every file written before the key existed): true.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub miners_follow_price: bool,
}

/// The default of a yes-or-no key whose absence means the rule that files written before
/// it were made with (`four_cp_stop_training`, `miners_follow_price`).
fn yes() -> bool {
    true
}

fn is_true(x: &bool) -> bool {
    *x
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl ExpertParams {
    /// The shipped parameters.
    pub fn default_params() -> ExpertParams {
        ExpertParams::from_toml_str(DEFAULT_EXPERT_TOML, "configs/expert.toml (embedded)")
            .expect("embedded expert config is valid")
    }

    /// Parses and checks TOML text; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<ExpertParams, ConfigError> {
        powermix_env::config::parse_checked(text, origin, ExpertParams::validate)
    }

    /// Checks ranges; the error names the field and value.
    pub fn validate(&self) -> Result<(), String> {
        let p = self;
        let bad = |f: &str, v: f64| format!("{f} = {v}: out of range");
        if !(p.hysteresis_usd_per_mwh.is_finite() && p.hysteresis_usd_per_mwh >= 0.0) {
            return Err(bad("hysteresis_usd_per_mwh", p.hysteresis_usd_per_mwh));
        }
        if !(0.0..=1.0).contains(&p.price_da_weight) {
            return Err(bad("price_da_weight", p.price_da_weight));
        }
        if !(0.0..=1.5).contains(&p.four_cp_load_ratio) {
            return Err(bad("four_cp_load_ratio", p.four_cp_load_ratio));
        }
        if !(0.0..=1.5).contains(&p.four_cp_training_load_ratio) {
            return Err(bad(
                "four_cp_training_load_ratio",
                p.four_cp_training_load_ratio,
            ));
        }
        if let Some(x) = p.four_cp_training_min_da_price_usd_per_mwh
            && !x.is_finite()
        {
            return Err(bad("four_cp_training_min_da_price_usd_per_mwh", x));
        }
        if let Some(w) = p.four_cp_weekend_load_ratio
            && !(0.0..=1.5).contains(&w)
        {
            return Err(bad("four_cp_weekend_load_ratio", w));
        }
        if p.four_cp_end_hour > 24 || p.four_cp_start_hour > p.four_cp_end_hour {
            return Err(bad("four_cp_end_hour", p.four_cp_end_hour as f64));
        }
        if !(0.0..=1.0).contains(&p.reserve_offer_share) {
            return Err(bad("reserve_offer_share", p.reserve_offer_share));
        }
        if !(p.reserve_min_price_usd_per_mw_h.is_finite()
            && p.reserve_min_price_usd_per_mw_h >= 0.0)
        {
            return Err(bad(
                "reserve_min_price_usd_per_mw_h",
                p.reserve_min_price_usd_per_mw_h,
            ));
        }
        Ok(())
    }

    /// True when a rule that older checkpoint files cannot express is in use
    /// (`price_da_weight` above 0, a 4CP training stop price, or miners that do not follow
    /// the price rule): a checkpoint on such rules
    /// gets its own policy id (`LoadedPolicy::model_id`), since the same networks on other
    /// rules act otherwise, while the ids of checkpoints on rules without them stay.
    pub fn has_later_rules(&self) -> bool {
        self.price_da_weight != 0.0
            || self.four_cp_training_min_da_price_usd_per_mwh.is_some()
            || !self.miners_follow_price
    }

    /// Reads a parameter file.
    pub fn load(path: &Path) -> Result<ExpertParams, ConfigError> {
        powermix_env::config::load_with(path, ExpertParams::from_toml_str)
    }
}

/// What a good operator does by hand: break-even thresholds with hysteresis, 4CP avoidance
/// on likely peak afternoons, a day-ahead reserve offer in calm seasons, training
/// curtailed only in extreme prices or likely peaks, and miners stopped in emergencies.
///
/// Stateless: the hysteresis reads which tranches ran last interval from the snapshot's
/// site state, so the same snapshot always gives the same action (live = backtest).
#[derive(Debug, Clone)]
pub struct Expert {
    cfg: SiteConfig,
    p: ExpertParams,
}

impl Expert {
    /// The expert rules for a site with the given parameters.
    pub fn new(cfg: &SiteConfig, p: ExpertParams) -> Expert {
        Expert {
            cfg: cfg.clone(),
            p,
        }
    }

    /// True when the interval is a likely 4CP at `ratio`: a 4CP month, the watch hours, and
    /// load at least `ratio` of the month's peak so far on a weekday, or at least the
    /// stricter of `ratio` and `four_cp_weekend_load_ratio` on a weekend (never, without
    /// a weekend ratio).
    pub fn likely_peak(&self, s: &Snapshot<'_>, ratio: f64) -> bool {
        let l = &s.local;
        let ratio = if l.is_weekday() {
            ratio
        } else {
            match self.p.four_cp_weekend_load_ratio {
                Some(w) => ratio.max(w),
                None => return false,
            }
        };
        self.cfg.four_cp.months.contains(&l.month)
            && (self.p.four_cp_start_hour..self.p.four_cp_end_hour).contains(&l.hour)
            && s.system_load_mtd_peak_mw > 0.0
            && s.system_load_mw >= ratio * s.system_load_mtd_peak_mw
    }

    /// The price the rules act on: the last published real-time price, blended with the
    /// interval's day-ahead price by `price_da_weight` (the last price alone when no
    /// day-ahead price is published for the interval).
    pub fn price(&self, s: &Snapshot<'_>) -> f64 {
        let last = last_price(s);
        match s.da_prices.first() {
            Some(&da) if self.p.price_da_weight > 0.0 => {
                (1.0 - self.p.price_da_weight) * last + self.p.price_da_weight * da
            }
            _ => last,
        }
    }

    /// True when no minimum is set, or when the interval's published day-ahead price is at
    /// least `min` (false when none is published).
    fn da_price_at_least(&self, s: &Snapshot<'_>, min: Option<f64>) -> bool {
        match min {
            None => true,
            Some(m) => s.da_prices.first().is_some_and(|&da| da >= m),
        }
    }

    /// The day-ahead offer values (`da_offer`, `da_min_price`, `da_peak_withhold`) for a
    /// gate snapshot: see `configs/expert.toml`. Reads only the snapshot: today's published
    /// day-ahead energy and reserve prices (nothing of the operating day is published at
    /// 10:00).
    pub fn day_ahead_values(&self, s: &Snapshot<'_>) -> ([f64; RESERVES], [f64; RESERVES], f64) {
        let none = ([0.0; RESERVES], [0.0; RESERVES], 0.0);
        if !self.p.offer_reserves || s.emergency.active() || s.da_prices.is_empty() {
            return none;
        }
        // 18 hours after 10:00 local is early on the operating day, DST or not.
        let day = local_time(s.interval_start_ms + 18 * 3_600_000);
        let four_cp_month = self.cfg.four_cp.months.contains(&day.month);
        if four_cp_month && !self.p.offer_in_four_cp_months {
            return none;
        }
        let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len().max(1) as f64;
        let be = self.cfg.break_even_usd_per_mwh(s.hashprice);
        let best_be = be.iter().copied().fold(f64::MIN, f64::max);
        if mean(s.da_prices) >= best_be {
            return none;
        }
        let (best_p, best_price) = (0..RESERVES)
            .map(|p| (p, mean(s.reserve_price_windows[p])))
            .fold((0, 0.0), |a, x| if x.1 > a.1 { x } else { a });
        if best_price <= 0.0 {
            return none;
        }
        let mut offer = [0.0; RESERVES];
        let mut min_price = [0.0; RESERVES];
        offer[best_p] = self.p.reserve_offer_share;
        min_price[best_p] = self.p.reserve_min_price_usd_per_mw_h
            / self.cfg.reserves.offer_price_scale_usd_per_mw_h;
        (offer, min_price, if four_cp_month { 1.0 } else { 0.0 })
    }
}

impl Policy for Expert {
    fn name(&self) -> &str {
        "expert"
    }

    fn act(&mut self, s: &Snapshot<'_>) -> Action {
        self.decide(s)
    }
}

impl crate::SharedPolicy for Expert {
    fn name(&self) -> &str {
        "expert"
    }

    fn act_observed(&self, s: &Snapshot<'_>, _obs: &[f32]) -> Action {
        self.decide(s)
    }
}

impl Expert {
    /// The action values these rules fix, which a residual network does not correct
    /// ([`crate::residual_action`]): every value in an emergency (the rules act alone). When
    /// the miners leave the price to the network (`miners_follow_price = false`), the network
    /// makes that decision and no other: AI training and the day-ahead values are always the
    /// rules' (a correction of them overrode the 4CP training stop), and so are the miner
    /// tranches at a likely 4CP interval (the watch's stop binds: a network that runs the
    /// miners everywhere else would run them into the peak). With the price rule on, only
    /// emergencies, as before the key existed.
    pub fn fixed_values(&self, s: &Snapshot<'_>) -> [bool; ACTION_DIM] {
        if s.emergency.active() {
            return [true; ACTION_DIM];
        }
        let mut fixed = [false; ACTION_DIM];
        if !self.p.miners_follow_price {
            fixed[TRANCHES..].fill(true);
            if self.likely_peak(s, self.p.four_cp_load_ratio) {
                fixed[..TRANCHES].fill(true);
            }
        }
        fixed
    }

    /// The expert's action for a snapshot (what [`Policy::act`] returns; `&self` because the
    /// rules keep no state).
    pub fn decide(&self, s: &Snapshot<'_>) -> Action {
        let price = self.price(s);
        let training = if (self.p.four_cp_stop_training
            && self.likely_peak(s, self.p.four_cp_training_load_ratio)
            && self.da_price_at_least(s, self.p.four_cp_training_min_da_price_usd_per_mwh))
            || price > self.p.training_stop_price_usd_per_mwh
        {
            0.0
        } else {
            1.0
        };
        if s.emergency.active() {
            // Miners stop while ERCOT declares an emergency; awarded MW stay on (the
            // projection keeps them) for ERCOT to deploy.
            return Action {
                training,
                ..Action::default()
            };
        }
        let be = self.cfg.break_even_usd_per_mwh(s.hashprice);
        let peak = self.likely_peak(s, self.p.four_cp_load_ratio);
        let mut tranche = [0.0; TRANCHES];
        for i in 0..TRANCHES {
            let cap = self.cfg.mining.tranches[i].capacity_mw;
            let was_on = cap > 0.0 && s.state.tranche_mw[i] > 0.5 * cap;
            let band = if was_on {
                self.p.hysteresis_usd_per_mwh
            } else {
                -self.p.hysteresis_usd_per_mwh
            };
            if !peak && (!self.p.miners_follow_price || price < be[i] + band) {
                tranche[i] = 1.0;
            }
        }
        let (da_offer, da_min_price, da_peak_withhold) = if is_da_gate_local(&s.local) {
            self.day_ahead_values(s)
        } else {
            ([0.0; RESERVES], [0.0; RESERVES], 0.0)
        };
        Action {
            tranche,
            training,
            da_offer,
            da_min_price,
            da_peak_withhold,
        }
    }
}

/// A rule-based policy by name: `always-on`, `threshold` or `expert`.
pub fn rule_policy(name: &str, cfg: &SiteConfig, expert: &ExpertParams) -> Option<Box<dyn Policy>> {
    match name {
        "always-on" => Some(Box::new(AlwaysOn)),
        "threshold" => Some(Box::new(Threshold::new(cfg))),
        "expert" => Some(Box::new(Expert::new(cfg, expert.clone()))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use powermix_env::{Emergency, SiteState};

    fn snap<'a>(cfg: &SiteConfig, hist: &'a [f64], da: &'a [f64], utc_ms: i64) -> Snapshot<'a> {
        Snapshot {
            interval_start_ms: utc_ms,
            as_of_ms: utc_ms - 15 * 60_000,
            local: local_time(utc_ms),
            rt_history: hist,
            da_prices: da,
            da_history: &[],
            reserve_prices: [10.0, 5.0, 1.0],
            reserve_price_windows: [&[10.0], &[5.0], &[1.0]],
            hashprice: 50.0,
            system_load_mw: 60_000.0,
            system_load_mtd_peak_mw: 80_000.0,
            system_load_1h_ago_mw: 60_000.0,
            system_load_2h_ago_mw: 60_000.0,
            emergency: Emergency::NONE,
            state: SiteState::initial(cfg),
        }
    }

    // 2024-07-15 (a Monday) 21:00 UTC = 16:00 CDT.
    const MON_4PM: i64 = 1_721_077_200_000;

    #[test]
    fn threshold_runs_tranches_below_break_even() {
        let cfg = SiteConfig::default_site();
        let mut p = Threshold::new(&cfg);
        // Break-evens at $50/PH/day: 116.7, 95.0, 69.2.
        let a = p.act(&snap(&cfg, &[30.0, 100.0], &[40.0], MON_4PM));
        assert_eq!(a.tranche, [1.0, 0.0, 0.0]);
        assert_eq!(a.training, 1.0);
        let a = p.act(&snap(&cfg, &[2000.0], &[40.0], MON_4PM));
        assert_eq!(a.tranche, [0.0; 3]);
        assert_eq!(a.training, 0.0);
    }

    #[test]
    fn miners_that_do_not_follow_price_run_except_at_a_likely_peak() {
        let cfg = SiteConfig::default_site();
        let shipped = ExpertParams::default_params();
        assert!(shipped.miners_follow_price);
        let p = ExpertParams {
            miners_follow_price: false,
            ..shipped.clone()
        };
        assert!(p.has_later_rules());
        let e = Expert::new(&cfg, p);
        // $2,000 a MWh last (far above every break-even, and above the training stop price
        // of the embedded rules, $1,500): the expert stops everything; this base runs every
        // tranche and stops training.
        let s = snap(&cfg, &[2000.0], &[40.0], MON_4PM);
        assert_eq!(
            Expert::new(&cfg, shipped.clone()).decide(&s).tranche,
            [0.0; 3]
        );
        let a = e.decide(&s);
        assert_eq!((a.tranche, a.training), ([1.0; 3], 0.0));
        // The network's values: the tranches alone.
        let fixed = e.fixed_values(&s);
        assert_eq!(fixed[..TRANCHES], [false; TRANCHES]);
        assert_eq!(fixed[TRANCHES..], [true; ACTION_DIM - TRANCHES]);
        // A likely peak (load at the month's peak, Monday 16:00 of July): miners stop, and
        // the stop binds: a residual network's correction of the tranches is not added.
        let mut s = snap(&cfg, &[20.0], &[40.0], MON_4PM);
        s.system_load_mw = s.system_load_mtd_peak_mw;
        assert_eq!(e.decide(&s).tranche, [0.0; 3]);
        assert_eq!(e.fixed_values(&s), [true; ACTION_DIM]);
        let base = e.decide(&s).to_array();
        let net = [0.7; ACTION_DIM];
        assert_eq!(
            crate::residual_action(&base, &net, &[true; ACTION_DIM]),
            base
        );
        // Outside the peak the tranches take the correction, training does not.
        let hot = snap(&cfg, &[2000.0], &[40.0], MON_4PM);
        let base = e.decide(&hot).to_array();
        let a = crate::residual_action(&base, &[-0.7; ACTION_DIM], &e.fixed_values(&hot));
        assert_eq!(a[..TRANCHES], [1.0 - 0.7; TRANCHES]);
        assert_eq!(a[TRANCHES..], base[TRANCHES..]);
        // The shipped rules (miners on the price rule) fix nothing there, as before the key.
        let shipped_rules = Expert::new(&cfg, shipped.clone());
        assert_eq!(shipped_rules.fixed_values(&s), [false; ACTION_DIM]);
        // An emergency: miners stop.
        let mut s = snap(&cfg, &[20.0], &[40.0], MON_4PM);
        s.emergency = Emergency {
            level: 1,
            ..Emergency::NONE
        };
        assert_eq!(e.decide(&s).tranche, [0.0; 3]);
        assert_eq!(e.fixed_values(&s), [true; ACTION_DIM]);
        assert_eq!(shipped_rules.fixed_values(&s), [true; ACTION_DIM]);
        // The key is written only when false, so files without it keep reading as true.
        let text = toml::to_string(&e.p).unwrap();
        assert!(text.contains("miners_follow_price = false"));
        assert!(
            !toml::to_string(&shipped)
                .unwrap()
                .contains("miners_follow_price")
        );
    }

    #[test]
    fn expert_acts_on_the_blend_of_last_and_day_ahead_price() {
        // Hashprice $50: break-evens 116.67 (s21), 94.96 (s19xp), 69.21 (s19) $/MWh; all
        // tranches off before (starting takes break-even - 8).
        let cfg = SiteConfig::default_site();
        let mut state = SiteState::initial(&cfg);
        state.tranche_mw = [0.0; TRANCHES];
        let shipped = ExpertParams::default_params();
        assert_eq!(shipped.price_da_weight, 0.0);
        let half = Expert::new(
            &cfg,
            ExpertParams {
                price_da_weight: 0.5,
                ..shipped.clone()
            },
        );
        let act = |e: &Expert, hist: &[f64], da: &[f64]| {
            let mut s = snap(&cfg, hist, da, MON_4PM);
            s.state = state;
            (e.price(&s), e.decide(&s).tranche)
        };
        let only_last = Expert::new(&cfg, shipped.clone());
        // Last price 100, day-ahead 20: the last price alone starts s21 only (100 < 108.67);
        // the blend (60) starts all three (60 < 61.21).
        assert_eq!(act(&only_last, &[100.0], &[20.0]), (100.0, [1.0, 0.0, 0.0]));
        assert_eq!(act(&half, &[100.0], &[20.0]), (60.0, [1.0; 3]));
        // Last price 60, day-ahead 200 (an evening the day-ahead market saw coming): 130.
        assert_eq!(act(&half, &[60.0], &[200.0]), (130.0, [0.0; 3]));
        // No day-ahead price for the interval: the last price alone.
        assert_eq!(act(&half, &[60.0], &[]), (60.0, [1.0; 3]));
        // Files written before the field read 0, and 0 is not written (shipped meta.json
        // files keep their bytes); out of range names the field.
        let json = serde_json::to_string(&shipped).unwrap();
        assert!(!json.contains("price_da_weight"), "{json}");
        let bad = ExpertParams {
            price_da_weight: 1.5,
            ..shipped
        };
        assert_eq!(
            bad.validate().unwrap_err(),
            "price_da_weight = 1.5: out of range"
        );
    }

    #[test]
    fn expert_hysteresis_avoids_flapping() {
        let cfg = SiteConfig::default_site();
        let mut p = Expert::new(&cfg, ExpertParams::default_params());
        // Price 72: 2.8 above tranche 2's break-even (69.2), inside the band of 8.
        let mut s = snap(&cfg, &[72.0], &[40.0], MON_4PM);
        s.system_load_mw = 10_000.0;
        s.reserve_prices = [0.0; 3];
        assert_eq!(
            p.act(&s).tranche[2],
            1.0,
            "running tranche stays on inside the band"
        );
        s.state.tranche_mw[2] = 0.0;
        assert_eq!(
            p.act(&s).tranche[2],
            0.0,
            "stopped tranche stays off inside the band"
        );
    }

    #[test]
    fn expert_avoids_likely_four_cp_and_stops_miners_in_emergency() {
        let cfg = SiteConfig::default_site();
        let shipped = ExpertParams::default_params();
        let mut p = Expert::new(&cfg, shipped.clone());
        let mut s = snap(&cfg, &[30.0], &[40.0], MON_4PM);
        // 97.5 % of the month's peak so far: miners stop, training (worth more) goes on.
        s.system_load_mw = 78_000.0;
        let a = p.act(&s);
        assert_eq!(a.tranche, [0.0; 3]);
        assert_eq!(a.training, 1.0);
        // 99.5 %: training goes on with the shipped rule (four_cp_stop_training = false),
        // and stops with the rule of older checkpoints.
        s.system_load_mw = 79_600.0;
        assert_eq!(p.act(&s).training, 1.0);
        let older = ExpertParams {
            four_cp_stop_training: true,
            ..shipped
        };
        assert_eq!(Expert::new(&cfg, older).act(&s).training, 0.0);
        s.system_load_mw = 60_000.0;
        let a = p.act(&s);
        assert_eq!(a.tranche, [1.0; 3]);
        assert_eq!(a.da_offer, [0.0; 3], "not a day-ahead gate: no offer");
        s.emergency = Emergency {
            level: 2,
            load_shed: false,
        };
        let a = p.act(&s);
        assert_eq!(a.tranche, [0.0; 3]);
        assert_eq!(a.training, 1.0, "training runs through an EEA2 at $30");
    }

    #[test]
    fn the_4cp_training_stop_can_wait_for_a_high_day_ahead_price() {
        let cfg = SiteConfig::default_site();
        let shipped = ExpertParams::default_params();
        assert_eq!(shipped.four_cp_training_min_da_price_usd_per_mwh, None);
        let rule = |min: Option<f64>| {
            Expert::new(
                &cfg,
                ExpertParams {
                    four_cp_stop_training: true,
                    four_cp_training_load_ratio: 0.98,
                    four_cp_training_min_da_price_usd_per_mwh: min,
                    ..shipped.clone()
                },
            )
        };
        // Monday 16:00 CDT in July, load at 98.5 % of the month's peak so far.
        let training = |e: &Expert, da: &[f64]| {
            let mut s = snap(&cfg, &[30.0], da, MON_4PM);
            s.system_load_mw = 78_800.0;
            e.decide(&s).training
        };
        assert_eq!(training(&rule(None), &[400.0]), 0.0, "no price condition");
        let min500 = rule(Some(500.0));
        assert_eq!(
            training(&min500, &[400.0]),
            1.0,
            "day-ahead below the minimum"
        );
        assert_eq!(training(&min500, &[500.0]), 0.0, "at the minimum");
        assert_eq!(training(&min500, &[]), 1.0, "no day-ahead price published");
        // Below the training ratio the price does not matter.
        let mut s = snap(&cfg, &[30.0], &[900.0], MON_4PM);
        s.system_load_mw = 78_000.0;
        assert_eq!(min500.decide(&s).training, 1.0);
        let json = serde_json::to_string(&shipped).unwrap();
        assert!(!json.contains("min_da_price"), "{json}");
        let bad = ExpertParams {
            four_cp_training_min_da_price_usd_per_mwh: Some(f64::NAN),
            ..shipped
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .starts_with("four_cp_training_min_da_price_usd_per_mwh = NaN")
        );
    }

    #[test]
    fn the_weekend_four_cp_watch_needs_its_own_ratio() {
        let cfg = SiteConfig::default_site();
        let shipped = ExpertParams::default_params();
        assert_eq!(shipped.four_cp_weekend_load_ratio, None);
        // Sunday 2024-07-14 16:00 CDT, the day before MON_4PM.
        let sun_4pm = MON_4PM - 86_400_000;
        let l = local_time(sun_4pm);
        assert_eq!((l.weekday, l.hour), (6, 16), "a Sunday at 16:00");
        let mut s = snap(&cfg, &[30.0], &[40.0], sun_4pm);
        s.system_load_mw = 79_600.0; // 99.5 % of the month's peak so far
        // Weekdays only (the shipped rule): miners run.
        assert_eq!(Expert::new(&cfg, shipped.clone()).act(&s).tranche, [1.0; 3]);
        let weekends = |w: f64| {
            Expert::new(
                &cfg,
                ExpertParams {
                    four_cp_weekend_load_ratio: Some(w),
                    ..shipped.clone()
                },
            )
        };
        // A weekend ratio of 99 %: miners stop; of 100 %: they run (below the record).
        assert_eq!(weekends(0.99).act(&s).tranche, [0.0; 3]);
        assert_eq!(weekends(1.0).act(&s).tranche, [1.0; 3]);
        // The weekday ratio (96 %) still binds when it is the stricter: 95 % runs.
        s.system_load_mw = 76_000.0;
        assert_eq!(weekends(0.9).act(&s).tranche, [1.0; 3]);
        // Files without the field read as weekdays only; a bad ratio is named.
        let t = DEFAULT_EXPERT_TOML.replace(
            "four_cp_end_hour = 19",
            "four_cp_end_hour = 19\nfour_cp_weekend_load_ratio = 2.5",
        );
        let e = ExpertParams::from_toml_str(&t, "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("four_cp_weekend_load_ratio = 2.5"), "{e}");
    }

    #[test]
    fn expert_offers_day_ahead_at_the_gate_withholding_the_peak_window_in_4cp_months() {
        let cfg = SiteConfig::default_site();
        let mut p = Expert::new(&cfg, ExpertParams::default_params());
        // 2024-03-12 15:00 UTC = 10:00 CDT, the gate for 13 March.
        let gate_march = 1_710_255_600_000;
        assert_eq!(local_time(gate_march).minute_of_day(), 600);
        let s = snap(&cfg, &[30.0], &[40.0, 42.0], gate_march);
        let a = p.act(&s);
        // RRS has the best published price (10): all miners offered at $2/MW-h minimum.
        assert_eq!(a.da_offer, [1.0, 0.0, 0.0]);
        assert_eq!(a.da_min_price, [0.02, 0.0, 0.0]);
        assert_eq!(a.da_peak_withhold, 0.0, "outside 4CP months: a flat offer");
        // Energy above every break-even today: no offer (awarded miners would run at a loss).
        let s = snap(&cfg, &[30.0], &[150.0], gate_march);
        assert_eq!(p.act(&s).da_offer, [0.0; 3]);
        // The gate of a 4CP-month day (2024-07-15 10:00 CDT = 15:00 UTC): the same offer,
        // all of it held back in the peak window.
        let gate_july = 1_721_055_600_000;
        assert_eq!(local_time(gate_july).minute_of_day(), 600);
        let s = snap(&cfg, &[30.0], &[40.0], gate_july);
        let a = p.act(&s);
        assert_eq!(a.da_offer, [1.0, 0.0, 0.0]);
        assert_eq!(a.da_peak_withhold, 1.0);
        let o = powermix_env::DayAheadOffer::from_action(&a, &cfg);
        assert_eq!(o.hours[15].mw, [65.0, 0.0, 0.0]);
        assert_eq!(o.hours[16].mw, [0.0; 3], "16:00-18:00: nothing offered");
        assert_eq!(o.hours[17].mw, [0.0; 3]);
        assert_eq!(o.hours[18].mw, [65.0, 0.0, 0.0]);
        // The rule before the peak window (and of checkpoints trained before it): no offer.
        let old = ExpertParams {
            offer_in_four_cp_months: false,
            ..ExpertParams::default_params()
        };
        assert_eq!(Expert::new(&cfg, old).act(&s).da_offer, [0.0; 3]);
        // A file without the key reads as that old rule.
        let t = DEFAULT_EXPERT_TOML.replace("offer_in_four_cp_months = true", "");
        let p_old = ExpertParams::from_toml_str(&t, "old.toml").unwrap();
        assert!(!p_old.offer_in_four_cp_months);
        // An hour later the same prices make no offer: only the gate offers.
        let s = snap(&cfg, &[30.0], &[40.0], gate_march + 3_600_000);
        assert_eq!(p.act(&s).da_offer, [0.0; 3]);
    }

    #[test]
    fn expert_params_errors_name_the_field() {
        let t =
            DEFAULT_EXPERT_TOML.replace("four_cp_load_ratio = 0.96", "four_cp_load_ratio = 7.0");
        let e = ExpertParams::from_toml_str(&t, "e.toml").unwrap_err().0;
        assert!(e.contains("four_cp_load_ratio = 7"), "{e}");
        let t =
            DEFAULT_EXPERT_TOML.replace("offer_reserves = true", "offer_reserves = true\nfoo = 1");
        assert!(
            ExpertParams::from_toml_str(
                &DEFAULT_EXPERT_TOML
                    .replace("reserve_offer_share = 1.0", "reserve_offer_share = 2.0"),
                "e.toml"
            )
            .unwrap_err()
            .0
            .contains("reserve_offer_share = 2")
        );
        assert!(
            ExpertParams::from_toml_str(&t, "e.toml")
                .unwrap_err()
                .0
                .contains("foo")
        );
    }
}
