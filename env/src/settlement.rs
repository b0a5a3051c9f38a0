//! Settlement of one 15-minute interval into a [`Ledger`] of named lines.
//!
//! Signs: every line is its contribution to profit (revenues positive, costs negative), so
//! the interval's reward is the plain sum of the lines ([`Ledger::total`]). The same code
//! settles training rollouts, evaluation backtests, the oracle's replay and live answers.

use crate::config::{ContractKind, RESERVES, SiteConfig, TRANCHES};
use crate::site::{Dispatch, SiteState};
use crate::time::INTERVAL_HOURS;
use serde::{Deserialize, Serialize};

/// Names of the ledger lines, in [`Ledger::lines`] order.
pub const LEDGER_LINES: [&str; 10] = [
    "energy_cost",
    "power_credits",
    "ai_revenue",
    "inference_penalty",
    "training_restart_loss",
    "mining_revenue",
    "reserve_revenue",
    "reserve_shortfall",
    "four_cp_charge",
    "wear",
];

/// The money of one interval (or, summed, of a period), in dollars.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Ledger {
    /// Energy bought: all of it at real time (index), or the block at its fixed price plus
    /// use above the block at real time (fixed block). Negative.
    pub energy_cost: f64,
    /// Fixed block only: unused block sold back at the real-time price (negative when the
    /// price is).
    pub power_credits: f64,
    /// AI inference and training revenue.
    pub ai_revenue: f64,
    /// Inference not served, at the penalty multiple of its revenue. Negative.
    pub inference_penalty: f64,
    /// Work lost restarting training. Negative.
    pub training_restart_loss: f64,
    /// Mining revenue: hashrate x hashprice x (1 - pool fee).
    pub mining_revenue: f64,
    /// Capacity payments on the day-ahead awards in force: awarded MW x the hour's clearing
    /// price, paid whether or not ERCOT deploys them.
    pub reserve_revenue: f64,
    /// Awarded MW the site could not provide (miners unavailable, load shed, a tight import
    /// limit) pay back the clearing price plus the replacement cost. Negative.
    pub reserve_shortfall: f64,
    /// 4CP transmission charge on load in a coincident peak interval. Negative.
    pub four_cp_charge: f64,
    /// Wear of miners started. Negative.
    pub wear: f64,
}

impl Ledger {
    /// The lines in [`LEDGER_LINES`] order.
    pub fn lines(&self) -> [f64; 10] {
        [
            self.energy_cost,
            self.power_credits,
            self.ai_revenue,
            self.inference_penalty,
            self.training_restart_loss,
            self.mining_revenue,
            self.reserve_revenue,
            self.reserve_shortfall,
            self.four_cp_charge,
            self.wear,
        ]
    }

    /// Profit: the sum of the lines.
    pub fn total(&self) -> f64 {
        self.lines().iter().sum()
    }

    /// Adds another ledger line by line.
    pub fn add(&mut self, o: &Ledger) {
        self.energy_cost += o.energy_cost;
        self.power_credits += o.power_credits;
        self.ai_revenue += o.ai_revenue;
        self.inference_penalty += o.inference_penalty;
        self.training_restart_loss += o.training_restart_loss;
        self.mining_revenue += o.mining_revenue;
        self.reserve_revenue += o.reserve_revenue;
        self.reserve_shortfall += o.reserve_shortfall;
        self.four_cp_charge += o.four_cp_charge;
        self.wear += o.wear;
    }

    /// The lines as (name, value) pairs.
    pub fn named(&self) -> impl Iterator<Item = (&'static str, f64)> {
        LEDGER_LINES.into_iter().zip(self.lines())
    }
}

/// What the market says about one interval, as settlement needs it.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct IntervalMarket {
    /// Real-time price of the interval ($/MWh).
    pub rt_price: f64,
    /// Reserve clearing prices of the hour, RRS, ECRS, Non-Spin ($/MW per hour).
    pub reserve_price: [f64; RESERVES],
    /// Hashprice of the interval ($ per PH/s per day).
    pub hashprice: f64,
    /// Share of a coincident peak billed on this interval (1/k for each of the k intervals
    /// tied at a 4CP month's system peak, else 0).
    pub four_cp_weight: f64,
    /// Which reserve products ERCOT has deployed in the interval (an event in progress, or
    /// an emergency).
    pub deployed: [bool; RESERVES],
}

/// The settled interval: the ledger and the physical quantities behind it.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Settlement {
    /// Money, line by line.
    pub ledger: Ledger,
    /// Site load after deployments (MW).
    pub site_load_mw: f64,
    /// Miner load per tranche after deployments (MW).
    pub tranche_mw: [f64; TRANCHES],
    /// Awarded MW covered by running miners, per product.
    pub covered_mw: [f64; RESERVES],
    /// Awarded MW not covered (the shortfall), per product.
    pub uncovered_mw: [f64; RESERVES],
    /// Miner MW dropped for deployments.
    pub dropped_mw: f64,
}

/// Constants of settlement derived once from the config.
#[derive(Debug, Clone, PartialEq)]
pub struct Settler {
    bop: f64,
    inference_cap: f64,
    inference_rev: f64,
    inference_penalty: f64,
    training_rev: f64,
    restart_hours: f64,
    /// PH/s per MW of each tranche.
    ph_per_mw: [f64; TRANCHES],
    /// Tranche indices from least to most efficient (dropped first for deployments).
    drop_order: [usize; TRANCHES],
    fee: f64,
    wear: f64,
    contract: ContractKind,
    block_mw: f64,
    block_price: f64,
    /// $ per MW of load in a full coincident peak: rate x 1000 kW/MW / 4 peaks.
    four_cp_per_mw: f64,
    replacement_cost: f64,
}

impl Settler {
    /// Derives the settlement constants from a validated config.
    pub fn new(cfg: &SiteConfig) -> Settler {
        let mut ph_per_mw = [0.0; TRANCHES];
        for (p, t) in ph_per_mw.iter_mut().zip(&cfg.mining.tranches) {
            // 1 MW / (J/TH) = 1e6 / (J/TH) TH/s = 1e3 / (J/TH) PH/s.
            *p = 1e3 / t.efficiency_j_per_th;
        }
        let mut drop_order = [0, 1, 2];
        drop_order.sort_by(|&a, &b| {
            cfg.mining.tranches[b]
                .efficiency_j_per_th
                .total_cmp(&cfg.mining.tranches[a].efficiency_j_per_th)
        });
        Settler {
            bop: cfg.plant.balance_of_plant_mw,
            inference_cap: cfg.ai.inference_mw,
            inference_rev: cfg.ai.inference_revenue_usd_per_mwh,
            inference_penalty: cfg.ai.inference_revenue_usd_per_mwh
                * cfg.ai.inference_penalty_multiple,
            training_rev: cfg.ai.training_revenue_usd_per_mwh,
            restart_hours: cfg.ai.restart_loss_hours,
            ph_per_mw,
            drop_order,
            fee: cfg.mining.pool_fee,
            wear: cfg.mining.wear_usd_per_mw_start,
            contract: cfg.contract.kind,
            block_mw: cfg.contract.block_mw,
            block_price: cfg.contract.block_price_usd_per_mwh,
            four_cp_per_mw: cfg.four_cp_usd_per_mw(),
            replacement_cost: cfg.reserves.replacement_cost_usd_per_mw_h,
        }
    }

    /// Settles dispatch `d`, run from state `prev`, in market interval `m`.
    ///
    /// Reserves: the awards in force are covered by running miner MW in product order
    /// (RRS, ECRS, Non-Spin). Every awarded MW earns the hour's clearing price for the
    /// interval; uncovered MW pay back that price plus the replacement cost. A deployed
    /// product's covered MW are dropped for the whole interval (miners respond within a
    /// minute, inside every response time), least efficient tranche first.
    #[inline]
    pub fn settle(&self, d: &Dispatch, prev: &SiteState, m: &IntervalMarket) -> Settlement {
        let h = INTERVAL_HOURS;
        let mut ledger = Ledger::default();

        // Reserves: coverage and deployment.
        let mut running = d.miner_mw();
        let mut covered = [0.0; RESERVES];
        let mut uncovered = [0.0; RESERVES];
        let mut drop = 0.0;
        let any_award = d.award_mw.iter().any(|&o| o > 0.0);
        for p in 0..if any_award { RESERVES } else { 0 } {
            let award = d.award_mw[p].max(0.0);
            covered[p] = award.min(running);
            uncovered[p] = award - covered[p];
            running -= covered[p];
            if m.deployed[p] {
                drop += covered[p];
            }
            ledger.reserve_revenue += award * m.reserve_price[p] * h;
            ledger.reserve_shortfall -=
                uncovered[p] * (m.reserve_price[p] + self.replacement_cost) * h;
        }
        let mut tranche = d.tranche_mw;
        let mut left = drop;
        for &i in if drop > 0.0 {
            &self.drop_order[..]
        } else {
            &[]
        } {
            let cut = tranche[i].min(left);
            tranche[i] -= cut;
            left -= cut;
        }

        // Mining.
        let mut hashrate = 0.0;
        for i in 0..TRANCHES {
            hashrate += tranche[i] * self.ph_per_mw[i];
        }
        ledger.mining_revenue = hashrate * m.hashprice * (1.0 - self.fee) * h / 24.0;

        // AI.
        ledger.ai_revenue =
            (d.inference_mw * self.inference_rev + d.training_mw * self.training_rev) * h;
        ledger.inference_penalty =
            -(self.inference_cap - d.inference_mw).max(0.0) * self.inference_penalty * h;
        ledger.training_restart_loss =
            -(d.training_mw - prev.training_mw).max(0.0) * self.restart_hours * self.training_rev;

        // Energy.
        let load = self.bop + d.inference_mw + d.training_mw + tranche.iter().sum::<f64>();
        match self.contract {
            ContractKind::Index => ledger.energy_cost = -load * h * m.rt_price,
            ContractKind::FixedBlock => {
                ledger.energy_cost = -self.block_mw * h * self.block_price
                    - (load - self.block_mw).max(0.0) * h * m.rt_price;
                ledger.power_credits = (self.block_mw - load).max(0.0) * h * m.rt_price;
            }
        }

        // 4CP and wear.
        ledger.four_cp_charge = -load * self.four_cp_per_mw * m.four_cp_weight;
        let mut started = 0.0;
        for i in 0..TRANCHES {
            started += (d.tranche_mw[i] - prev.tranche_mw[i]).max(0.0);
        }
        ledger.wear = -started * self.wear;

        Settlement {
            ledger,
            site_load_mw: load,
            tranche_mw: tranche,
            covered_mw: covered,
            uncovered_mw: uncovered,
            dropped_mw: drop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6 * (1.0 + b.abs())
    }

    /// The default site at full power, no offers.
    fn full(_cfg: &SiteConfig) -> Dispatch {
        Dispatch {
            inference_mw: 10.0,
            training_mw: 20.0,
            tranche_mw: [30.0, 20.0, 15.0],
            award_mw: [0.0; 3],
        }
    }

    fn market(rt: f64) -> IntervalMarket {
        IntervalMarket {
            rt_price: rt,
            reserve_price: [0.0; 3],
            hashprice: 50.0,
            four_cp_weight: 0.0,
            deployed: [false; 3],
        }
    }

    #[test]
    fn index_contract_full_site_golden() {
        // 100 MW for 0.25 h at $40/MWh = $1,000 energy.
        // AI: (10 x 1500 + 20 x 1200) x 0.25 = $9,750.
        // Mining at $50/PH/day, fee 2%: hashrate = 30e3/17.5 + 20e3/21.5 + 15e3/29.5
        //   = 1714.2857 + 930.2326 + 508.4746 = 3152.9929 PH/s;
        //   revenue = 3152.9929 x 50 x 0.98 x 0.25 / 24 = $1,609.3401.
        let cfg = SiteConfig::default_site();
        let s = Settler::new(&cfg);
        let prev = SiteState::initial(&cfg);
        let r = s.settle(&full(&cfg), &prev, &market(40.0));
        let l = r.ledger;
        assert!(close(l.energy_cost, -1000.0));
        assert_eq!(l.power_credits, 0.0);
        assert!(close(l.ai_revenue, 9750.0));
        assert!(close(l.mining_revenue, 1609.3401), "{}", l.mining_revenue);
        assert_eq!(l.inference_penalty, 0.0);
        assert_eq!(l.training_restart_loss, 0.0);
        assert_eq!(l.wear, 0.0);
        assert_eq!(r.site_load_mw, 100.0);
        assert!(close(l.total(), -1000.0 + 9750.0 + 1609.3401));
    }

    #[test]
    fn fixed_block_credits_and_excess() {
        let mut cfg = SiteConfig::default_site();
        cfg.contract.kind = ContractKind::FixedBlock;
        cfg.contract.block_mw = 80.0;
        cfg.contract.block_price_usd_per_mwh = 35.0;
        let s = Settler::new(&cfg);
        let prev = SiteState::initial(&cfg);
        // Using 100 MW: block 80 x 0.25 x 35 = 700, excess 20 x 0.25 x 200 = 1000.
        let r = s.settle(&full(&cfg), &prev, &market(200.0));
        assert!(close(r.ledger.energy_cost, -1700.0));
        assert_eq!(r.ledger.power_credits, 0.0);
        // Using 15 MW (miners and training off): block cost 700, credits (80-15) x 0.25 x 200
        // = 3,250.
        let d = Dispatch {
            training_mw: 0.0,
            tranche_mw: [0.0; 3],
            ..full(&cfg)
        };
        let r = s.settle(&d, &prev, &market(200.0));
        assert!(close(r.ledger.energy_cost, -700.0));
        assert!(close(r.ledger.power_credits, 3250.0));
        // Negative price: selling back the unused block costs money.
        let r = s.settle(&d, &prev, &market(-20.0));
        assert!(close(r.ledger.power_credits, -325.0));
        // The marginal price is real time either way: 1 MW more costs rt x 0.25 in both.
        let d2 = Dispatch {
            training_mw: 5.0,
            ..d
        };
        let r2 = s.settle(&d2, &prev, &market(200.0));
        let r1 = s.settle(&d, &prev, &market(200.0));
        let energy = |r: &Settlement| r.ledger.energy_cost + r.ledger.power_credits;
        assert!(close(energy(&r1) - energy(&r2), 5.0 * 0.25 * 200.0));
    }

    #[test]
    fn inference_penalty_is_ten_times_revenue() {
        let cfg = SiteConfig::default_site();
        let s = Settler::new(&cfg);
        let d = Dispatch {
            inference_mw: 4.0,
            ..full(&cfg)
        };
        let r = s.settle(&d, &SiteState::initial(&cfg), &market(30.0));
        // 6 MW missing x 0.25 h x 1500 x 10 = $22,500.
        assert!(close(r.ledger.inference_penalty, -22_500.0));
    }

    #[test]
    fn training_restart_loses_half_an_hour_of_work() {
        let cfg = SiteConfig::default_site();
        let s = Settler::new(&cfg);
        let prev = SiteState {
            training_mw: 5.0,
            ..SiteState::initial(&cfg)
        };
        let r = s.settle(&full(&cfg), &prev, &market(30.0));
        // 15 MW restarted x 0.5 h x $1,200 = $9,000.
        assert!(close(r.ledger.training_restart_loss, -9000.0));
        // Stepping down loses nothing.
        let d = Dispatch {
            training_mw: 0.0,
            ..full(&cfg)
        };
        let r = s.settle(&d, &SiteState::initial(&cfg), &market(30.0));
        assert_eq!(r.ledger.training_restart_loss, 0.0);
    }

    #[test]
    fn mining_revenue_one_megawatt_at_design_break_even() {
        // 1 MW at 17.5 J/TH = 57.142857 PH/s; at $50/PH/day, fee 2%, one interval:
        // 57.142857 x 50 x 0.98 / 96 = $29.1667, which equals the break-even price
        // 116.67 $/MWh x 0.25 MWh.
        let cfg = SiteConfig::default_site();
        let s = Settler::new(&cfg);
        let d = Dispatch {
            inference_mw: 10.0,
            training_mw: 0.0,
            tranche_mw: [1.0, 0.0, 0.0],
            award_mw: [0.0; 3],
        };
        let prev = SiteState {
            tranche_mw: [1.0, 0.0, 0.0],
            training_mw: 0.0,
            ..SiteState::default()
        };
        let r = s.settle(&d, &prev, &market(0.0));
        assert!(
            close(r.ledger.mining_revenue, 29.166_667),
            "{}",
            r.ledger.mining_revenue
        );
        assert!(close(
            r.ledger.mining_revenue,
            cfg.break_even_usd_per_mwh(50.0)[0] * 0.25
        ));
    }

    #[test]
    fn reserve_capacity_paid_and_deployment_drops_least_efficient_first() {
        let cfg = SiteConfig::default_site();
        let s = Settler::new(&cfg);
        let d = Dispatch {
            award_mw: [10.0, 5.0, 0.0],
            ..full(&cfg)
        };
        let mut m = market(50.0);
        m.reserve_price = [20.0, 8.0, 3.0];
        let r = s.settle(&d, &SiteState::initial(&cfg), &m);
        // (10 x 20 + 5 x 8) x 0.25 = $60.
        assert!(close(r.ledger.reserve_revenue, 60.0));
        assert_eq!(r.ledger.reserve_shortfall, 0.0);
        assert_eq!(r.dropped_mw, 0.0);
        // RRS deployed: its 10 MW drop from the 29.5 J/TH tranche; energy falls by 10 MW,
        // and so does mining: 10 MW of 29.5 J/TH = 339.0 PH/s x $50 x 0.98 x 0.25 / 24.
        m.deployed = [true, false, false];
        let r = s.settle(&d, &SiteState::initial(&cfg), &m);
        assert_eq!(r.tranche_mw, [30.0, 20.0, 5.0]);
        assert_eq!(r.site_load_mw, 90.0);
        assert!(close(r.ledger.energy_cost, -90.0 * 0.25 * 50.0));
        assert!(close(r.ledger.reserve_revenue, 60.0));
        assert!(close(
            r.ledger.mining_revenue,
            1609.3401 - 10_000.0 / 29.5 * 50.0 * 0.98 * 0.25 / 24.0
        ));
        // Every product deployed (an EEA): all 15 awarded MW drop.
        m.deployed = [true; 3];
        let r = s.settle(&d, &SiteState::initial(&cfg), &m);
        assert_eq!(r.tranche_mw, [30.0, 20.0, 0.0]);
        assert_eq!(r.dropped_mw, 15.0);
        assert!(close(r.ledger.total(), r.ledger.lines().iter().sum()));
    }

    #[test]
    fn shortfall_pays_back_clearing_price_plus_replacement_cost() {
        let cfg = SiteConfig::default_site();
        let s = Settler::new(&cfg);
        // 12 MW awarded (RRS 8, ECRS 4) with only 10 MW of miners running: ECRS has 2 MW
        // uncovered.
        let d = Dispatch {
            tranche_mw: [10.0, 0.0, 0.0],
            award_mw: [8.0, 4.0, 0.0],
            ..full(&cfg)
        };
        let prev = SiteState {
            tranche_mw: [10.0, 0.0, 0.0],
            ..SiteState::initial(&cfg)
        };
        let mut m = market(300.0);
        m.reserve_price = [10.0, 12.0, 0.0];
        let r = s.settle(&d, &prev, &m);
        assert_eq!(r.covered_mw, [8.0, 2.0, 0.0]);
        assert_eq!(r.uncovered_mw, [0.0, 2.0, 0.0]);
        // Revenue on every awarded MW: (8 x 10 + 4 x 12) x 0.25 = $32.
        assert!(close(r.ledger.reserve_revenue, 32.0));
        // Shortfall: 2 MW x (12 + replacement 100) x 0.25 h = $56, so the 2 MW net -$50.
        assert!(close(r.ledger.reserve_shortfall, -56.0));
        // The real-time price does not enter the shortfall.
        m.rt_price = 4000.0;
        let r = s.settle(&d, &prev, &m);
        assert!(close(r.ledger.reserve_shortfall, -56.0));
        assert!(close(r.ledger.total(), r.ledger.lines().iter().sum()));
    }

    #[test]
    fn four_cp_charge_per_peak() {
        let cfg = SiteConfig::default_site();
        let s = Settler::new(&cfg);
        let d = Dispatch {
            training_mw: 0.0,
            tranche_mw: [0.0; 3],
            ..full(&cfg)
        };
        let mut m = market(100.0);
        // One full peak interval: 15 MW x 67 $/kW-yr x 1000 / 4 = $251,250.
        m.four_cp_weight = 1.0;
        assert!(close(
            s.settle(&d, &SiteState::initial(&cfg), &m)
                .ledger
                .four_cp_charge,
            -251_250.0
        ));
        // A peak hour of 4 tied intervals bills a quarter on each.
        m.four_cp_weight = 0.25;
        assert!(close(
            s.settle(&d, &SiteState::initial(&cfg), &m)
                .ledger
                .four_cp_charge,
            -62_812.5
        ));
        // DESIGN.md: 1 MW in one such interval costs about $16,750.
        let one = Dispatch {
            inference_mw: 0.0,
            training_mw: 0.0,
            tranche_mw: [0.0; 3],
            award_mw: [0.0; 3],
        };
        let mut c2 = cfg.clone();
        c2.plant.balance_of_plant_mw = 1.0;
        m.four_cp_weight = 1.0;
        let r = Settler::new(&c2).settle(&one, &SiteState::default(), &m);
        assert!(close(r.ledger.four_cp_charge, -16_750.0));
    }

    #[test]
    fn wear_on_miners_started() {
        let cfg = SiteConfig::default_site();
        let s = Settler::new(&cfg);
        let prev = SiteState {
            tranche_mw: [10.0, 20.0, 15.0],
            ..SiteState::initial(&cfg)
        };
        // 20 MW started on tranche 0 at $1/MW; tranche 2 stopping costs nothing.
        let d = Dispatch {
            tranche_mw: [30.0, 20.0, 5.0],
            ..full(&cfg)
        };
        assert!(close(s.settle(&d, &prev, &market(10.0)).ledger.wear, -20.0));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn arb_dispatch() -> impl Strategy<Value = Dispatch> {
        (
            0.0f64..=10.0,
            0.0f64..=20.0,
            proptest::array::uniform3(0.0f64..=1.0),
            proptest::array::uniform3(0.0f64..=30.0),
        )
            .prop_map(|(inf, tr, f, o)| Dispatch {
                inference_mw: inf,
                training_mw: tr,
                tranche_mw: [30.0 * f[0], 20.0 * f[1], 15.0 * f[2]],
                award_mw: o,
            })
    }

    fn arb_market() -> impl Strategy<Value = IntervalMarket> {
        (
            -250.0f64..9000.0,
            proptest::array::uniform3(0.0f64..500.0),
            20.0f64..500.0,
            prop_oneof![Just(0.0), Just(0.25), Just(1.0)],
            proptest::array::uniform3(any::<bool>()),
        )
            .prop_map(|(rt, rp, hp, w, dep)| IntervalMarket {
                rt_price: rt,
                reserve_price: rp,
                hashprice: hp,
                four_cp_weight: w,
                deployed: dep,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Physical and money invariants of one settled interval.
        #[test]
        fn settlement_invariants(d in arb_dispatch(), m in arb_market(), prev in arb_dispatch()) {
            let cfg = SiteConfig::default_site();
            let s = Settler::new(&cfg);
            let prev = SiteState { tranche_mw: prev.tranche_mw, training_mw: prev.training_mw, ..SiteState::default() };
            let r = s.settle(&d, &prev, &m);
            let l = r.ledger;
            // Coverage splits every award; covered MW never exceed running miners; revenue
            // is on every awarded MW and the shortfall pays back price plus replacement.
            for p in 0..RESERVES {
                prop_assert!((r.covered_mw[p] + r.uncovered_mw[p] - d.award_mw[p]).abs() < 1e-9);
            }
            let rev: f64 = (0..RESERVES).map(|p| d.award_mw[p] * m.reserve_price[p] * 0.25).sum();
            prop_assert!((l.reserve_revenue - rev).abs() < 1e-6);
            let short: f64 = (0..RESERVES)
                .map(|p| r.uncovered_mw[p] * (m.reserve_price[p] + cfg.reserves.replacement_cost_usd_per_mw_h) * 0.25)
                .sum();
            prop_assert!((l.reserve_shortfall + short).abs() < 1e-6);
            prop_assert!(r.covered_mw.iter().sum::<f64>() <= d.miner_mw() + 1e-9);
            // Drops come out of running miners and only for deployed products.
            prop_assert!(r.dropped_mw <= d.miner_mw() + 1e-9);
            let deployed_cover: f64 = (0..RESERVES).filter(|&p| m.deployed[p]).map(|p| r.covered_mw[p]).sum();
            prop_assert!((r.dropped_mw - deployed_cover).abs() < 1e-9);
            prop_assert!((r.tranche_mw.iter().sum::<f64>() - (d.miner_mw() - r.dropped_mw)).abs() < 1e-9);
            prop_assert!((r.site_load_mw - (5.0 + d.inference_mw + d.training_mw + d.miner_mw() - r.dropped_mw)).abs() < 1e-9);
            // Energy at the real-time price; costs never positive, revenues never negative.
            prop_assert!((l.energy_cost + r.site_load_mw * 0.25 * m.rt_price).abs() < 1e-6);
            prop_assert!(l.inference_penalty <= 0.0 && l.training_restart_loss <= 0.0);
            prop_assert!(l.reserve_shortfall <= 0.0 && l.four_cp_charge <= 0.0 && l.wear <= 0.0);
            prop_assert!(l.ai_revenue >= 0.0 && l.mining_revenue >= 0.0 && l.reserve_revenue >= 0.0);
            prop_assert_eq!(l.total(), l.lines().iter().sum::<f64>());
        }

        /// A fixed block changes the books, not the margin: fixed-block energy plus credits
        /// equals index energy plus block x (rt - block price) x 0.25 h.
        #[test]
        fn fixed_block_differs_from_index_by_a_constant(d in arb_dispatch(), m in arb_market()) {
            let index = SiteConfig::default_site();
            let mut fixed = index.clone();
            fixed.contract.kind = ContractKind::FixedBlock;
            let prev = SiteState::default();
            let a = Settler::new(&index).settle(&d, &prev, &m).ledger;
            let b = Settler::new(&fixed).settle(&d, &prev, &m).ledger;
            let shift = fixed.contract.block_mw * 0.25 * (m.rt_price - fixed.contract.block_price_usd_per_mwh);
            prop_assert!(((b.energy_cost + b.power_credits) - (a.energy_cost + shift)).abs() < 1e-6 * (1.0 + shift.abs()));
            prop_assert!((b.total() - (a.total() + shift)).abs() < 1e-6 * (1.0 + a.total().abs()));
        }
    }
}
