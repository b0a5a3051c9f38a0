//! What a valid published price is: one rule for the data loader, the env's tables and the
//! server's requests, so that a price the loader accepts is never refused live.
//!
//! The rule is a plausibility envelope, not the market's offer limits, because ERCOT
//! publishes settlement point prices beyond both of them:
//! - above the offer cap: the real-time settlement point price is the LMP plus the
//!   operating reserve demand curve adder and the reliability deployment price adder
//!   (ERCOT Nodal Protocols, section 6.6.1), and the adders are not held under the
//!   system-wide offer cap (HCAP, PUCT rule 16 TAC 25.505: $9,000/MWh until 2021, $5,000
//!   since 2022). HB_WEST published $9,310 in February 2021, $5,500 in 2022 and $5,215.59
//!   on 6 September 2023 (`../shared/data/README.md`);
//! - below the offer floor: congestion takes hub and load-zone prices under the -$250/MWh
//!   offer floor (HB_WEST -$251 in 2022), and nodal prices much further.
//!
//! So a price is valid when it is finite and inside [`ENERGY_PRICE_MIN`, `ENERGY_PRICE_MAX`]
//! ($/MWh), or for an ancillary service clearing price inside [`RESERVE_PRICE_MIN`,
//! `RESERVE_PRICE_MAX`] ($/MW per hour). The envelope is about ten times the widest price
//! ERCOT has published on either side: it refuses what cannot be a price in these units
//! (non-finite values, prices in cents or $/kWh), never a price the market paid.

/// Lowest valid energy price ($/MWh): ten times the -$1,000 that congestion-driven nodal
/// prices approach, far under any hub price published (-$251).
pub const ENERGY_PRICE_MIN: f64 = -10_000.0;
/// Highest valid energy price ($/MWh): ten times the old offer cap ($9,000), which real-time
/// prices exceed only through the adders (HB_WEST's highest, $9,310 in 2021).
pub const ENERGY_PRICE_MAX: f64 = 90_000.0;
/// Lowest valid ancillary service clearing price ($/MW per hour): capacity is never paid a
/// negative price.
pub const RESERVE_PRICE_MIN: f64 = 0.0;
/// Highest valid ancillary service clearing price ($/MW per hour): the same envelope as
/// energy (day-ahead clearing prices passed $20,000/MW-h during Winter Storm Uri).
pub const RESERVE_PRICE_MAX: f64 = ENERGY_PRICE_MAX;

/// Which kind of price a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceKind {
    /// An energy price, real-time or day-ahead ($/MWh).
    Energy,
    /// An ancillary service clearing price ($/MW per hour).
    Reserve,
}

impl PriceKind {
    /// The valid range, lowest and highest.
    pub fn bounds(self) -> (f64, f64) {
        match self {
            PriceKind::Energy => (ENERGY_PRICE_MIN, ENERGY_PRICE_MAX),
            PriceKind::Reserve => (RESERVE_PRICE_MIN, RESERVE_PRICE_MAX),
        }
    }

    /// The unit prices of this kind are in.
    pub fn unit(self) -> &'static str {
        match self {
            PriceKind::Energy => "$/MWh",
            PriceKind::Reserve => "$/MW-h",
        }
    }

    /// Whether `x` is a valid price of this kind.
    #[inline]
    pub fn is_valid(self, x: f64) -> bool {
        let (lo, hi) = self.bounds();
        x.is_finite() && (lo..=hi).contains(&x)
    }

    /// The rule in words, for error messages: `must be a finite price in [lo, hi] unit`.
    pub fn rule(self) -> String {
        let (lo, hi) = self.bounds();
        format!(
            "must be a finite price in [{lo}, {hi}] {} (powermix_env::price)",
            self.unit()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_the_market_paid_are_valid() {
        // HB_WEST's extremes (../shared/data/README.md) and the adder-driven spike of
        // 6 September 2023 that the server used to refuse.
        for p in [
            -251.0, -32.0, 0.0, 4981.0, 5000.0, 5215.59, 5500.0, 9035.0, 9310.0,
        ] {
            assert!(PriceKind::Energy.is_valid(p), "{p}");
        }
        for p in [0.0, 5.7, 21.0, 25_000.0] {
            assert!(PriceKind::Reserve.is_valid(p), "{p}");
        }
    }

    #[test]
    fn what_cannot_be_a_price_is_invalid() {
        for p in [
            f64::NAN,
            f64::INFINITY,
            -f64::INFINITY,
            -10_000.01,
            90_000.01,
            931_000.0,
        ] {
            assert!(!PriceKind::Energy.is_valid(p), "{p}");
        }
        for p in [-0.01, f64::NAN, 90_000.01] {
            assert!(!PriceKind::Reserve.is_valid(p), "{p}");
        }
        assert!(PriceKind::Energy.rule().contains("[-10000, 90000] $/MWh"));
    }
}
