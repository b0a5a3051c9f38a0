//! Seeded random numbers for the generator, the env, the trainer and the tests.
//!
//! [`Rng`] is rand's PCG64 (`rand_pcg::Pcg64`, PCG XSL-RR 128/64) behind a newtype that adds
//! the project's seeding rules (one seed, numbered sub-streams) and serde (the trainer's and
//! the env's resume state hold it). It implements rand's `Rng`, so every caller draws with
//! rand's `RngExt` (`random`, `random_range`, `sample`), shuffles with `SliceRandom` and
//! samples rand_distr's distributions.
//!
//! Reproducibility: PCG64's output for a seed is fixed by its algorithm, and Cargo.lock pins
//! the rand and rand_distr versions whose sampling code turns bits into values, so the same
//! seed gives the same data and the same model bytes. A rand upgrade that changes a
//! distribution's algorithm is caught by the golden tests (`synth` and `checkpoint`).
//!
//! Streams are blocks of one sequence: stream `s` of `seed` starts `s * 2^64` draws after
//! the start of `seed`'s sequence (PCG's jump-ahead), so streams never overlap in practice.

use rand::{SeedableRng, TryRng};
use rand_pcg::Pcg64;
use std::convert::Infallible;

/// A seeded PCG64 generator; implements rand's `Rng`, so any rand distribution samples
/// from it (`rng.sample(StandardNormal)`, `rng.random_range(0..n)`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Rng(Pcg64);

impl Rng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(Pcg64::seed_from_u64(seed))
    }

    /// A generator for sub-stream `stream` of `seed` (e.g. env `i` of a batch).
    pub fn stream(seed: u64, stream: u64) -> Self {
        let mut g = Pcg64::seed_from_u64(seed);
        g.advance(u128::from(stream) << 64);
        Rng(g)
    }
}

impl TryRng for Rng {
    type Error = Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.0.try_next_u32()
    }

    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0.try_next_u64()
    }

    #[inline]
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.0.try_fill_bytes(dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng as _, RngExt};
    use rand_distr::StandardNormal;

    #[test]
    fn same_seed_same_sequence_and_streams_differ() {
        let draw = |mut r: Rng| (0..5).map(|_| r.next_u64()).collect::<Vec<_>>();
        assert_eq!(draw(Rng::new(7)), draw(Rng::new(7)));
        assert_ne!(draw(Rng::new(7)), draw(Rng::new(8)));
        assert_ne!(draw(Rng::stream(7, 0)), draw(Rng::stream(7, 1)));
        // Stream 0 is the seed's own sequence.
        assert_eq!(draw(Rng::stream(7, 0)), draw(Rng::new(7)));
    }

    /// The first words of seed 0 are pinned: a change of generator or seeding shows here
    /// first, before it shows as moved golden numbers elsewhere.
    #[test]
    fn golden_first_words() {
        let mut r = Rng::new(0);
        let got: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(got, GOLDEN_SEED0.to_vec(), "{got:#x?}");
    }
    const GOLDEN_SEED0: [u64; 3] = [
        0x20ae_25da_d4e2_bc53,
        0x58f9_38e1_2bbf_69fb,
        0xb5b2_35d6_0cf8_e231,
    ];

    #[test]
    fn serde_round_trip_resumes_the_sequence() {
        let mut r = Rng::stream(3, 9);
        r.next_u64();
        let json = serde_json::to_string(&r).unwrap();
        let mut back: Rng = serde_json::from_str(&json).unwrap();
        assert_eq!(back.next_u64(), r.next_u64());
    }

    #[test]
    fn uniform_and_normal_moments() {
        let mut r = Rng::new(1);
        let n = 200_000;
        let (mut s, mut s2, mut u) = (0.0, 0.0, 0.0);
        for _ in 0..n {
            let x: f64 = r.sample(StandardNormal);
            s += x;
            s2 += x * x;
            let v: f64 = r.random();
            assert!((0.0..1.0).contains(&v));
            u += v;
        }
        let n = n as f64;
        assert!((s / n).abs() < 0.01, "mean {}", s / n);
        assert!((s2 / n - 1.0).abs() < 0.02, "var {}", s2 / n);
        assert!((u / n - 0.5).abs() < 0.005);
        assert!(r.random_range(0..10u64) < 10);
    }
}
