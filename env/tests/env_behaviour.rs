//! The env's contracts: accounting identity, no look-ahead, VecEnv = Env one by one,
//! seeded reproducibility, clear errors.

mod common;

use common::{JULY_2023_MS, toy_data};
use powermix_env::data::MarketData;
use powermix_env::env::{Env, VecEnv, Window};
use powermix_env::rng::Rng;
use powermix_env::site::HourOffer;
use powermix_env::time::{INTERVAL_MS, local_time};
use powermix_env::{ACTION_DIM, Action, DayAheadOffer, Market, OBS_DIM, SiteConfig, SnapshotBuf};
use proptest::prelude::*;
use rand::RngExt;
use std::sync::Arc;

fn market(data: MarketData) -> Arc<Market> {
    Arc::new(Market::new(data, SiteConfig::default_site()))
}

/// An env over the whole of `m`'s data.
fn whole_env(m: &Arc<Market>, seed: u64) -> Env {
    Env::new(
        m.clone(),
        Window::Whole {
            start: 0,
            end: m.len(),
        },
        seed,
    )
    .unwrap()
}

fn random_actions(seed: u64, n: usize) -> Vec<[f32; ACTION_DIM]> {
    let mut r = Rng::new(seed);
    (0..n)
        .map(|_| std::array::from_fn(|_| (r.random::<f64>() * 1.2 - 0.1) as f32))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Every step: reward = sum of the ledger lines, and revenue - cost = reward.
    #[test]
    fn reward_is_the_ledger_total_every_step(seed in 0u64..1000) {
        let m = market(toy_data(JULY_2023_MS, 10, seed));
        let mut env = whole_env(&m, seed);
        env.reset(Some(seed));
        for a in random_actions(seed, m.len()) {
            let r = env.step(&a).unwrap();
            let lines = r.info.settlement.ledger.lines();
            let revenue: f64 = lines.iter().filter(|x| **x > 0.0).sum();
            let cost: f64 = lines.iter().filter(|x| **x < 0.0).map(|x| -x).sum();
            prop_assert_eq!(r.reward, lines.iter().sum::<f64>());
            prop_assert!((revenue - cost - r.reward).abs() <= 1e-9 * (1.0 + revenue + cost));
            prop_assert!(r.obs.iter().all(|x| x.is_finite()));
            if r.terminated || r.truncated { break; }
        }
    }
}

/// Is data interval `u` known to the decision for interval `t`? (An independent statement of
/// DESIGN.md's rules, not the env's code.) The decision is taken before t starts, while
/// t-1 runs: it knows what was published by the end of t-2 (the default lag of 2).
fn published(data: &MarketData, t: usize, u: usize, kind: &str) -> bool {
    let cutoff = data.interval_start_ms[t] - INTERVAL_MS;
    let tu = data.interval_start_ms[u];
    match kind {
        "rt" => u + 2 <= t,
        // An hour's load is published when that hour ends.
        "load" => tu - tu.rem_euclid(4 * INTERVAL_MS) + 4 * INTERVAL_MS <= cutoff,
        "hashprice" => tu < cutoff - cutoff.rem_euclid(96 * INTERVAL_MS),
        "day_ahead" => {
            let (lc, lu) = (local_time(cutoff), local_time(tu));
            lu.day_number <= lc.day_number
                || (lu.day_number == lc.day_number + 1 && lc.minute_of_day() >= 13 * 60 + 30)
        }
        _ => unreachable!(),
    }
}

/// Perturbs every value not published at `t` (scaled and shifted, so nothing stays equal).
fn perturb_unpublished(data: &MarketData, t: usize, seed: u64) -> MarketData {
    let mut p = data.clone();
    let mut r = Rng::new(seed);
    for u in 0..data.len() {
        let mut bump =
            |x: &mut f64| *x = *x * (1.5 + r.random::<f64>()) + 100.0 + 50.0 * r.random::<f64>();
        if !published(data, t, u, "rt") {
            bump(&mut p.rt_price[u]);
        }
        if !published(data, t, u, "load") {
            bump(&mut p.system_load_mw[u]);
        }
        if !published(data, t, u, "hashprice") {
            bump(&mut p.hashprice[u]);
        }
        if !published(data, t, u, "day_ahead") {
            bump(&mut p.da_price[u]);
            bump(&mut p.as_rrs[u]);
            bump(&mut p.as_ecrs[u]);
            bump(&mut p.as_nspin[u]);
        }
    }
    p
}

/// Runs `actions` from the window start up to interval `t` and returns the observation at t.
fn obs_at(m: Arc<Market>, t: usize, actions: &[[f32; ACTION_DIM]], seed: u64) -> Vec<f32> {
    let mut env = whole_env(&m, seed);
    let mut obs = env.reset(Some(seed));
    for a in &actions[..t] {
        obs = env.step(a).unwrap().obs;
    }
    assert_eq!(env.index(), t);
    obs
}

#[test]
fn observation_does_not_change_when_unpublished_data_does() {
    let data = toy_data(JULY_2023_MS, 5, 3);
    let actions = random_actions(9, data.len());
    let base = market(data.clone());
    // Every hour of day 2 and 3 at several minutes, around midnight and DA publication.
    let mut checked = 0;
    for t in (96..4 * 96).step_by(7) {
        let want = obs_at(base.clone(), t, &actions, 5);
        let perturbed = market(perturb_unpublished(&data, t, t as u64));
        let got = obs_at(perturbed, t, &actions, 5);
        let a: Vec<u32> = want.iter().map(|x| x.to_bits()).collect();
        let b: Vec<u32> = got.iter().map(|x| x.to_bits()).collect();
        assert_eq!(a, b, "observation at t={t} changed with unpublished data");
        checked += 1;
    }
    assert!(checked > 30);
}

#[test]
fn the_look_ahead_test_can_fail() {
    // Sanity of the test itself: perturbing a published value does change the observation.
    let data = toy_data(JULY_2023_MS, 3, 4);
    let actions = random_actions(2, data.len());
    let t = 150;
    let want = obs_at(market(data.clone()), t, &actions, 5);
    let mut p = data.clone();
    p.rt_price[t - 2] += 10.0;
    assert_ne!(want, obs_at(market(p), t, &actions, 5));
    // The price of t-1 is not known at t (it is still running when the decision is taken).
    let mut p = data.clone();
    p.rt_price[t - 1] += 10.0;
    assert_eq!(want, obs_at(market(p), t, &actions, 5));
    let mut p = data.clone();
    p.da_price[t] += 10.0;
    assert_ne!(want, obs_at(market(p), t, &actions, 5));
}

#[test]
fn vec_env_equals_envs_stepped_one_by_one() {
    let m = market(toy_data(JULY_2023_MS, 20, 1));
    let window = Window::Random {
        start: 0,
        end: m.len(),
        len: 96,
    };
    let n = 5;
    let mut v = VecEnv::new(m.clone(), window, n, 42).unwrap();
    let mut singles: Vec<Env> = (0..n)
        .map(|i| {
            let mut e = Env::new(m.clone(), window, 0).unwrap();
            e.reset(Some(0));
            e.set_rng_stream(42, i as u64);
            e.reset(None);
            e
        })
        .collect();
    let mut single_obs: Vec<Vec<f32>> = singles.iter().map(|e| e.observe()).collect();
    for (i, o) in single_obs.iter().enumerate() {
        assert_eq!(&v.obs()[i * OBS_DIM..(i + 1) * OBS_DIM], &o[..]);
    }
    let acts = random_actions(7, 300 * n);
    let mut resets = 0;
    for k in 0..300 {
        let batch: Vec<f32> = acts[k * n..(k + 1) * n].iter().flatten().copied().collect();
        v.step(&batch).unwrap();
        for i in 0..n {
            let r = singles[i].step(&acts[k * n + i]).unwrap();
            assert_eq!(v.rewards()[i], r.reward as f32);
            assert_eq!(v.truncated()[i], r.truncated);
            assert_eq!(v.terminated()[i], r.terminated);
            if r.truncated || r.terminated {
                resets += 1;
                assert_eq!(&v.final_obs()[i * OBS_DIM..(i + 1) * OBS_DIM], &r.obs[..]);
                single_obs[i] = singles[i].reset(None);
            } else {
                single_obs[i] = r.obs;
            }
            assert_eq!(&v.obs()[i * OBS_DIM..(i + 1) * OBS_DIM], &single_obs[i][..]);
        }
    }
    assert_eq!(
        resets,
        3 * n,
        "each env finishes a 96-interval episode 3 times in 300 steps"
    );
    assert_eq!(v.take_finished_returns().len(), 3 * n);
}

/// `VecEnv::step_with_offers` gives env 0 an hour-by-hour offer at every gate (and env 1
/// none): each env steps as `Env::step_with_offer` with its own offer does, and the offer
/// (not env 0's action values) is what clears.
#[test]
fn vec_env_offers_reach_their_own_env() {
    let m = market(toy_data(JULY_2023_MS, 20, 1));
    let window = Window::Whole {
        start: 0,
        end: m.len(),
    };
    let mut v = VecEnv::new(m.clone(), window, 2, 3).unwrap();
    let mut singles: Vec<Env> = (0..2)
        .map(|i| {
            let mut e = Env::new(m.clone(), window, 0).unwrap();
            e.set_rng_stream(3, i as u64);
            e.reset(None);
            e
        })
        .collect();
    // Offer 5 MW of each product in the evening hours only, at any price.
    let mut hours = vec![HourOffer::default(); 24];
    for h in &mut hours[17..21] {
        h.mw = [5.0; powermix_env::config::RESERVES];
    }
    let offer = DayAheadOffer { hours };
    let acts = random_actions(5, 2 * (m.len() - 1));
    let mut obs = vec![0.0f32; OBS_DIM];
    let mut gates = 0;
    for k in 0..m.len() - 1 {
        let gate = m.is_da_gate(k);
        gates += usize::from(gate);
        let offers = [gate.then(|| offer.clone()), None];
        let batch: Vec<f32> = acts[2 * k..2 * k + 2].iter().flatten().copied().collect();
        v.step_with_offers(&batch, &offers).unwrap();
        for i in 0..2 {
            let a = Action::from_slice(&acts[2 * k + i]).unwrap();
            let (r, _, _, _) = singles[i].step_with_offer(&a, offers[i].as_ref(), &mut obs);
            assert_eq!(v.rewards()[i], r as f32, "env {i} at {k}");
            assert_eq!(&v.obs()[i * OBS_DIM..(i + 1) * OBS_DIM], &obs[..]);
        }
    }
    assert!(gates >= 10, "{gates}");
    // Env 0 holds awards only in the offered hours.
    let awarded: Vec<usize> = singles[0]
        .awards()
        .iter()
        .flat_map(|d| {
            d.hours
                .iter()
                .enumerate()
                .filter(|(_, a)| a.iter().any(|&x| x > 0.0))
                .map(|(h, _)| h)
        })
        .collect();
    assert!(
        !awarded.is_empty() && awarded.iter().all(|h| (17..21).contains(h)),
        "{awarded:?}"
    );
}

/// A VecEnv restored from another's progress continues exactly as the original does
/// (rewards, flags and observations to the bit, across episode ends); progress that does not
/// fit the window is refused, naming the values.
#[test]
fn restored_progress_continues_the_same_episodes() {
    let m = market(toy_data(JULY_2023_MS, 20, 1));
    let window = Window::Random {
        start: 0,
        end: m.len(),
        len: 96,
    };
    let n = 4;
    let mut a = VecEnv::new(m.clone(), window, n, 9).unwrap();
    let acts = random_actions(3, 400 * n);
    let batch =
        |k: usize| -> Vec<f32> { acts[k * n..(k + 1) * n].iter().flatten().copied().collect() };
    for k in 0..150 {
        a.step(&batch(k)).unwrap();
    }
    let p = a.progress();
    let mut b = VecEnv::new(m.clone(), window, n, 1234).unwrap();
    assert_ne!(b.obs(), a.obs());
    b.restore(&p).unwrap();
    assert_eq!(b.obs(), a.obs());
    for k in 150..400 {
        a.step(&batch(k)).unwrap();
        b.step(&batch(k)).unwrap();
        assert_eq!(a.rewards(), b.rewards(), "step {k}");
        assert_eq!(a.truncated(), b.truncated());
        assert_eq!(a.obs(), b.obs());
    }
    assert_eq!(a.take_finished_returns().len(), 4 * n);
    assert_eq!(
        b.take_finished_returns().len(),
        3 * n,
        "one episode ended before the restore"
    );

    let mut bad = p.clone();
    bad.envs[2].t = m.len() + 5;
    let e = b.restore(&bad).unwrap_err().to_string();
    assert!(
        e.contains("env 2") && e.contains(&format!("t = {}", m.len() + 5)),
        "{e}"
    );
    let mut short = p.clone();
    short.envs.pop();
    assert!(
        b.restore(&short)
            .unwrap_err()
            .to_string()
            .contains("3 envs")
    );
}

/// Two VecEnvs on consecutive stream ranges behave as the two halves of one VecEnv (how
/// training splits its envs across threads).
#[test]
fn vec_env_parts_equal_the_whole() {
    let m = market(toy_data(JULY_2023_MS, 20, 1));
    let window = Window::Random {
        start: 0,
        end: m.len(),
        len: 96,
    };
    let mut whole = VecEnv::new(m.clone(), window, 4, 11).unwrap();
    let mut lo = VecEnv::with_streams(m.clone(), window, 2, 11, 0).unwrap();
    let mut hi = VecEnv::with_streams(m.clone(), window, 2, 11, 2).unwrap();
    let acts = random_actions(5, 200 * 4);
    for k in 0..200 {
        let row = |e: usize| acts[k * 4 + e];
        let all: Vec<f32> = (0..4).flat_map(row).collect();
        whole.step(&all).unwrap();
        lo.step(&all[..2 * ACTION_DIM]).unwrap();
        hi.step(&all[2 * ACTION_DIM..]).unwrap();
        assert_eq!(&whole.rewards()[..2], lo.rewards(), "step {k}");
        assert_eq!(&whole.rewards()[2..], hi.rewards(), "step {k}");
        assert_eq!(&whole.obs()[2 * OBS_DIM..], hi.obs());
    }
}

#[test]
fn same_seed_same_episode_other_seed_other_start() {
    let m = market(toy_data(JULY_2023_MS, 30, 2));
    let window = Window::Random {
        start: 0,
        end: m.len(),
        len: 200,
    };
    let run = |seed| {
        let mut e = Env::new(m.clone(), window, 0).unwrap();
        e.reset(Some(seed));
        let start = e.index();
        let total: f64 = random_actions(1, 200)
            .iter()
            .map(|a| e.step(a).unwrap().reward)
            .sum();
        (start, total)
    };
    assert_eq!(run(11), run(11));
    let starts: std::collections::HashSet<usize> = (0..10).map(|s| run(s).0).collect();
    assert!(starts.len() > 5);
}

#[test]
fn whole_window_over_all_data_terminates_and_partial_truncates() {
    let m = market(toy_data(JULY_2023_MS, 2, 2));
    let mut e = whole_env(&m, 0);
    e.reset(None);
    let a = [1.0f32; ACTION_DIM];
    for _ in 0..m.len() - 1 {
        let r = e.step(&a).unwrap();
        assert!(!r.terminated && !r.truncated);
    }
    let r = e.step(&a).unwrap();
    assert!(r.terminated && !r.truncated);
    let mut e = Env::new(m.clone(), Window::Whole { start: 10, end: 20 }, 0).unwrap();
    e.reset(None);
    let last = (0..10).map(|_| e.step(&a).unwrap()).last().unwrap();
    assert!(last.truncated && !last.terminated);
}

#[test]
fn bad_windows_and_actions_are_named() {
    let m = market(toy_data(JULY_2023_MS, 2, 2));
    let n = m.len();
    let e = Env::new(
        m.clone(),
        Window::Whole {
            start: 5,
            end: n + 1,
        },
        0,
    )
    .unwrap_err();
    assert!(e.0.contains("outside"), "{e}");
    let e = Env::new(
        m.clone(),
        Window::Random {
            start: 0,
            end: n,
            len: n,
        },
        0,
    )
    .unwrap_err();
    assert!(e.0.contains("do not fit"), "{e}");
    let mut env = Env::new(m.clone(), Window::Whole { start: 0, end: n }, 0).unwrap();
    env.reset(None);
    let err = env
        .step(&[0.5, 0.5, f32::NAN, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
        .unwrap_err();
    assert!(
        err.0.contains("action[2] (mining_tranche_2) = NaN"),
        "{err}"
    );
    let mut v = VecEnv::new(
        m,
        Window::Random {
            start: 0,
            end: n,
            len: 10,
        },
        2,
        0,
    )
    .unwrap();
    let err = v.step(&[0.5; 7]).unwrap_err();
    assert!(err.0.contains("expected 2 envs x 11"), "{err}");
}

#[test]
fn cached_observation_equals_the_snapshot_function_bit_for_bit() {
    // The env serves cached market features; the server calls Observer::observe on a
    // snapshot. Both must give the same bits for any state.
    let m = market(toy_data(JULY_2023_MS, 4, 8));
    let mut r = Rng::new(3);
    for t in (0..m.len()).step_by(5) {
        let mut state = powermix_env::SiteState::initial(&m.cfg);
        state.tranche_mw = [
            30.0 * r.random::<f64>(),
            20.0 * r.random::<f64>(),
            15.0 * r.random::<f64>(),
        ];
        state.training_mw = 5.0 * (r.random_range(0..5u64) as f64);
        state.training_hold = r.random_range(0..3u64) as u32;
        state.award_mw = [10.0 * r.random::<f64>(), 0.0, 5.0 * r.random::<f64>()];
        let mut cached = vec![0.0; OBS_DIM];
        m.observe_into(t, &state, &mut cached);
        let mut direct = vec![0.0; OBS_DIM];
        m.observer.observe(&m.snapshot(t, &state), &mut direct);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&cached), bits(&direct), "t={t}");
    }
}

#[test]
fn an_owned_snapshot_gives_back_the_snapshot() {
    // What the server's gate LP plans from on its own thread is the request's snapshot.
    let m = market(toy_data(JULY_2023_MS, 4, 8));
    let mut state = powermix_env::SiteState::initial(&m.cfg);
    state.training_hold = 2;
    state.award_mw = [3.0, 0.0, 1.5];
    for t in (0..m.len()).step_by(7) {
        let snap = m.snapshot(t, &state);
        let buf = SnapshotBuf::of(&snap);
        assert_eq!(buf.view(), snap, "t={t}");
        assert!(
            !snap.da_prices.is_empty() || t + 1 >= m.len(),
            "t={t}: nothing to copy"
        );
    }
}

#[test]
fn deployment_draws_are_the_ones_the_env_makes() {
    // Non-Spin events start with probability 0.5 in a scarcity interval and last 4 hours on
    // average, so that the toy data's few spikes bring some.
    let mut cfg = SiteConfig::default_site();
    cfg.reserves.nspin.scarcity_start_probability = 0.5;
    let m = Arc::new(Market::new(toy_data(JULY_2023_MS, 10, 6), cfg));
    let (start, end) = (37, m.len());
    let want = m.deployment_draws(start, end, 99);
    let mut env = Env::new(m.clone(), Window::Whole { start, end }, 0).unwrap();
    env.reset(Some(99));
    let mut got = Vec::new();
    for a in random_actions(4, end - start) {
        let r = env.step(&a).unwrap();
        got.push(r.info.deployed);
    }
    assert_eq!(got, want);
    assert!(
        want.iter().flatten().any(|&d| d),
        "the toy data's spikes bring deployments"
    );
    // Deployments are events: Non-Spin stays deployed for runs of intervals, not single
    // coin flips.
    let mut longest = 0;
    let mut run = 0;
    for d in &want {
        run = if d[2] { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    assert!(
        longest >= 4,
        "longest Non-Spin deployment {longest} intervals"
    );
}

/// The day-ahead decision for D is taken at 10:00 on D-1 with what is known then: a policy
/// that reads only its observations makes the same offer, and the market awards the same
/// MW, whatever happens to every value published after the gate (D's clearing prices
/// aside, which decide the awards and are the market's, not the policy's).
#[test]
fn day_ahead_awards_do_not_change_with_values_published_after_the_gate() {
    let data = toy_data(JULY_2023_MS, 4, 12);
    let base = market(data.clone());
    let gate = (0..base.len())
        .find(|&t| t > 96 && base.is_da_gate(t))
        .expect("a gate on day 2");
    assert_eq!(base.local[gate].minute_of_day(), 600);
    // A policy of the observation alone: offer a share that depends on the last price.
    let policy = |obs: &[f32]| -> [f32; ACTION_DIM] {
        let x = (obs[1] + 1.0) / 2.0;
        [1.0, 1.0, 1.0, 1.0, x, 0.5 * x, 0.2, 0.0, 0.02, 0.0, 0.0]
    };
    let run = |m: Arc<Market>| {
        let mut env = whole_env(&m, 3);
        let mut obs = env.reset(Some(3));
        let mut gate_action = None;
        for t in 0..=gate {
            let a = policy(&obs);
            if t == gate {
                gate_action = Some(a);
            }
            obs = env.step(&a).unwrap().obs;
        }
        (gate_action.unwrap(), env.awards().to_vec())
    };
    let (a0, awards0) = run(base.clone());
    assert!(
        awards0.iter().any(|d| d.total_mwh() > 0.0),
        "the offer clears"
    );
    let mut p = perturb_unpublished(&data, gate, 77);
    // Keep D's clearing prices: they are the market's answer to the offer.
    let (ds, de) = base.day_range(base.day_range(gate).1);
    for u in ds..de {
        p.as_rrs[u] = data.as_rrs[u];
        p.as_ecrs[u] = data.as_ecrs[u];
        p.as_nspin[u] = data.as_nspin[u];
    }
    let (a1, awards1) = run(market(p));
    assert_eq!(
        a0, a1,
        "the offer changed with values published after the gate"
    );
    assert_eq!(awards0, awards1, "the awards changed");
}

/// Awards bind: the projection keeps awarded MW running through a price spike; an episode's
/// first day has none (its gate was before the episode).
#[test]
fn awards_bind_from_the_operating_day_and_keep_miners_on() {
    let m = market(toy_data(JULY_2023_MS, 4, 5));
    let mut env = whole_env(&m, 1);
    env.reset(Some(1));
    // Offer all miners into RRS at any price, and ask the miners to stop everywhere.
    let a = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    let mut day1_awarded = 0.0;
    let mut day2_min_miners = f64::MAX;
    for t in 0..3 * 96 {
        let r = env.step(&a).unwrap();
        let d = r.info.dispatch;
        if t < 96 {
            day1_awarded += d.awarded_mw();
        } else if t >= 2 * 96 {
            day2_min_miners = day2_min_miners.min(d.miner_mw());
            // The toy data's RRS price is positive every hour: all 65 MW awarded.
            assert!((d.awarded_mw() - 65.0).abs() < 1e-9, "t={t}: {d:?}");
            assert_eq!(r.info.settlement.ledger.reserve_shortfall, 0.0);
        }
    }
    assert_eq!(day1_awarded, 0.0);
    assert!((day2_min_miners - 65.0).abs() < 1e-9);

    // The same offer with da_peak_withhold = 1: nothing awarded from 16:00 to 18:00 local
    // (the peak window of configs/site.toml), where the miners may then stop.
    let mut a = a;
    a[10] = 1.0;
    env.reset(Some(1));
    let mut in_window = 0;
    for t in 0..3 * 96 {
        let r = env.step(&a).unwrap();
        let d = r.info.dispatch;
        if t >= 2 * 96 {
            let hour = powermix_env::time::local_time(r.info.interval_start_ms).hour;
            if (16..18).contains(&hour) {
                in_window += 1;
                assert_eq!(d.awarded_mw(), 0.0, "t={t}");
                assert_eq!(d.miner_mw(), 0.0, "t={t}: miners stop as asked");
            } else {
                assert!((d.awarded_mw() - 65.0).abs() < 1e-9, "t={t}: {d:?}");
                assert!((d.miner_mw() - 65.0).abs() < 1e-9);
            }
        }
    }
    assert_eq!(in_window, 8, "two hours of the third day");
}

/// The peak window counts hours of the operating day from local midnight, as every
/// `DayAheadOffer` hour: on the 25-hour day (3 Nov 2024) hours 16 and 17 are 15:00 and
/// 16:00 CST, on the 23-hour day (10 Mar 2024) 17:00 and 18:00 CDT (configs/site.toml).
#[test]
fn the_peak_window_on_the_days_the_clock_changes() {
    use powermix_env::time::local_time;
    // Local midnight starting 1 Nov 2024 (CDT, UTC-5) and 8 Mar 2024 (CST, UTC-6).
    for (start_ms, day, want) in [
        (1_730_437_200_000i64, 3u8, [15u8, 16]),
        (1_709_877_600_000, 10, [17, 18]),
    ] {
        let m = market(toy_data(start_ms, 4, 9));
        let mut env = whole_env(&m, 1);
        env.reset(Some(1));
        // All miners offered into RRS at any price, withheld in the window; miners asked to
        // stop, so they run only where an award holds them.
        let a = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0];
        let mut unawarded = std::collections::BTreeSet::new();
        let mut intervals = 0;
        loop {
            let r = env.step(&a).unwrap();
            let l = local_time(r.info.interval_start_ms);
            if l.day == day {
                intervals += 1;
                if r.info.dispatch.awarded_mw() == 0.0 {
                    unawarded.insert(l.hour);
                    assert_eq!(r.info.dispatch.miner_mw(), 0.0);
                }
            }
            if r.terminated || r.truncated {
                break;
            }
        }
        assert_eq!(intervals, if day == 3 { 100 } else { 92 }, "day {day}");
        assert_eq!(unawarded.into_iter().collect::<Vec<_>>(), want, "day {day}");
    }
}
