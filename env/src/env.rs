//! The gym-like environment: [`Env`] steps one site through a window of market data;
//! [`VecEnv`] steps N of them into contiguous f32 buffers with auto-reset.
//!
//! A step: the action is checked ([`Action::from_slice`]), projected by the safety layer
//! (which keeps the reserve awards in force covered), reserve deployments are drawn
//! (seeded events, plus every EEA), the interval is settled, and the observation of the
//! next interval is built from what is visible then. Reward = profit in dollars.
//!
//! The day-ahead reserve decision rides on the ordinary action: at the gate interval
//! (10:00 local on D-1, observation feature `da_gate`) the action's `da_offer_*` and
//! `da_min_price_*` values are the offer for every hour of D ([`DayAheadOffer::from_action`]);
//! planners that shape it hour by hour pass a [`DayAheadOffer`] to [`Env::step_with_offer`].
//! The market clears it at once against D's clearing prices; the awards then bind the site
//! from D's first interval and are part of the site state the observation carries. Why one
//! action instead of a second kind of step: every trainer (ours, SB3, RLlib) learns it with
//! no change, and the gym API keeps one action space.
//!
//! Episodes end by truncation at the window's end, or by termination when the data itself
//! ends (no next interval exists to observe).

use crate::config::RESERVES;
use crate::market::{DayAwards, DeployState, Market};
use crate::obs::{OBS_DIM, OBS_NAMES};
use crate::rng::Rng;
use crate::settlement::Settlement;
use crate::site::{
    ACTION_DIM, ACTION_NAMES, Action, ActionError, DayAheadOffer, Dispatch, SiteState,
};
use crate::time::INTERVALS_PER_HOUR;
use rand::RngExt;
use std::sync::Arc;

/// Which intervals episodes cover, as indices into the market data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// Episodes of `len` intervals starting at random inside `[start, end)`.
    Random {
        /// First interval an episode may start at.
        start: usize,
        /// Exclusive end of the training period.
        end: usize,
        /// Episode length in intervals.
        len: usize,
    },
    /// One episode over all of `[start, end)` (an evaluation period).
    Whole {
        /// First interval.
        start: usize,
        /// Exclusive end.
        end: usize,
    },
}

/// Names and bounds of an observation or action vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Space {
    /// One name per value.
    pub names: &'static [&'static str],
    /// Lower bounds.
    pub low: Vec<f32>,
    /// Upper bounds.
    pub high: Vec<f32>,
}

impl Space {
    /// Number of values.
    pub fn dim(&self) -> usize {
        self.names.len()
    }
}

/// The observation space: unbounded features named by [`OBS_NAMES`].
pub fn observation_space() -> Space {
    Space {
        names: &OBS_NAMES,
        low: vec![f32::NEG_INFINITY; OBS_DIM],
        high: vec![f32::INFINITY; OBS_DIM],
    }
}

/// The action space: fractions in [0, 1] named by [`ACTION_NAMES`].
pub fn action_space() -> Space {
    Space {
        names: &ACTION_NAMES,
        low: vec![0.0; ACTION_DIM],
        high: vec![1.0; ACTION_DIM],
    }
}

/// What happened in one step besides the reward.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepInfo {
    /// Index of the settled interval in the market data.
    pub index: usize,
    /// Its start, UTC milliseconds.
    pub interval_start_ms: i64,
    /// The projected dispatch that ran.
    pub dispatch: Dispatch,
    /// The ledger and the physical outcome.
    pub settlement: Settlement,
    /// The emergency the decision knew of.
    pub emergency: crate::emergency::Emergency,
    /// Reserve products deployed.
    pub deployed: [bool; RESERVES],
    /// At a day-ahead gate: MW-hours awarded for the next operating day.
    pub da_awarded_mwh: Option<f64>,
}

/// The result of [`Env::step`].
#[derive(Debug, Clone, PartialEq)]
pub struct StepResult {
    /// Observation of the next interval (zeros when terminated).
    pub obs: Vec<f32>,
    /// Profit of the interval in dollars (the ledger's total).
    pub reward: f64,
    /// The data ended: there is no next interval.
    pub terminated: bool,
    /// The episode window ended; `obs` is a valid next observation to bootstrap from.
    pub truncated: bool,
    /// Dispatch, ledger and events of the interval.
    pub info: StepInfo,
}

/// A bad env setup: window outside the data or too short.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct EnvError(pub String);

/// Where an env is, enough to continue it exactly (a resumed training run).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EnvProgress {
    /// Interval the next step decides for.
    pub t: usize,
    /// Exclusive end of the current episode.
    pub end: usize,
    /// The site's state.
    pub state: SiteState,
    /// The env's random stream (episode starts, reserve deployments).
    pub rng: Rng,
    /// Deployment events in progress.
    #[serde(default)]
    pub deploy: DeployState,
    /// Day-ahead awards of the current and the next operating day.
    #[serde(default)]
    pub awards: Vec<DayAwards>,
}

/// Where every env of a [`VecEnv`] is, and the returns of their running episodes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VecEnvProgress {
    /// One per env.
    pub envs: Vec<EnvProgress>,
    /// Return of each env's running episode so far ($).
    pub episode_return: Vec<f64>,
}

/// One simulated site over a window of market data.
#[derive(Debug, Clone)]
pub struct Env {
    market: Arc<Market>,
    window: Window,
    t: usize,
    end: usize,
    state: SiteState,
    rng: Rng,
    deploy: DeployState,
    awards: Vec<DayAwards>,
}

impl Env {
    /// An env over `window` of `market`, seeded with `seed`. Call [`Env::reset`] first.
    pub fn new(market: Arc<Market>, window: Window, seed: u64) -> Result<Env, EnvError> {
        let n = market.len();
        match window {
            Window::Random { start, end, len } => {
                // Random windows end before the data does, so that every episode is
                // truncated with a valid next observation.
                if len == 0 || end > n || start + len > end.min(n.saturating_sub(1)) {
                    return Err(EnvError(format!(
                        "window: random episodes of {len} intervals do not fit in [{start}, {end}) of {n} intervals"
                    )));
                }
            }
            Window::Whole { start, end } => {
                if start >= end || end > n {
                    return Err(EnvError(format!(
                        "window: [{start}, {end}) is empty or outside the {n} intervals of data"
                    )));
                }
            }
        }
        let state = SiteState::initial(&market.cfg);
        Ok(Env {
            market,
            window,
            t: 0,
            end: 0,
            state,
            rng: Rng::new(seed),
            deploy: DeployState::default(),
            awards: Vec::new(),
        })
    }

    /// The market this env runs on.
    pub fn market(&self) -> &Arc<Market> {
        &self.market
    }

    /// Index of the interval the next step decides for.
    pub fn index(&self) -> usize {
        self.t
    }

    /// Where the env is ([`Env::restore`] continues from it).
    pub fn progress(&self) -> EnvProgress {
        EnvProgress {
            t: self.t,
            end: self.end,
            state: self.state,
            rng: self.rng.clone(),
            deploy: self.deploy,
            awards: self.awards.clone(),
        }
    }

    /// Continues from `p` (taken by [`Env::progress`] of an env over the same window);
    /// the error names the value that does not fit this env's window and data.
    pub fn restore(&mut self, p: &EnvProgress) -> Result<(), EnvError> {
        let (lo, hi) = match self.window {
            Window::Random { start, end, .. } => (start, end.min(self.market.len())),
            Window::Whole { start, end } => (start, end),
        };
        if !(lo <= p.t && p.t < p.end && p.end <= hi) {
            return Err(EnvError(format!(
                "progress: t = {}, end = {} do not fit the window [{lo}, {hi})",
                p.t, p.end
            )));
        }
        self.t = p.t;
        self.end = p.end;
        self.state = p.state;
        self.rng = p.rng.clone();
        self.deploy = p.deploy;
        self.awards.clone_from(&p.awards);
        Ok(())
    }

    /// The site's state (with the awards in force in the interval decided next).
    pub fn state(&self) -> &SiteState {
        &self.state
    }

    /// The day-ahead awards the env holds (the current and the next operating day).
    pub fn awards(&self) -> &[DayAwards] {
        &self.awards
    }

    /// The awards in force in interval `t` (0 where no award was cleared for its day).
    #[inline]
    fn award_at(&self, t: usize) -> [f64; RESERVES] {
        for a in &self.awards {
            if let Some(x) = a.at(t) {
                return x;
            }
        }
        [0.0; RESERVES]
    }

    /// Reseeds the random stream with sub-stream `stream` of `seed` (how [`VecEnv`] seeds
    /// env `stream`).
    pub fn set_rng_stream(&mut self, seed: u64, stream: u64) {
        self.rng = Rng::stream(seed, stream);
    }

    /// The observation of the current interval.
    pub fn observe(&self) -> Vec<f32> {
        let mut obs = vec![0.0; OBS_DIM];
        self.observe_into(&mut obs);
        obs
    }

    /// Starts an episode; a seed restarts the random stream. Returns the first observation.
    pub fn reset(&mut self, seed: Option<u64>) -> Vec<f32> {
        let mut obs = vec![0.0; OBS_DIM];
        self.reset_into(seed, &mut obs);
        obs
    }

    /// [`Env::reset`] writing the observation into `obs` (length [`OBS_DIM`]).
    pub fn reset_into(&mut self, seed: Option<u64>, obs: &mut [f32]) {
        if let Some(s) = seed {
            self.rng = Rng::new(s);
        }
        let (start, end) = match self.window {
            Window::Random { start, end, len } => {
                let last_start = end.min(self.market.len() - 1) - len;
                let s = start + self.rng.random_range(0..=last_start - start);
                (s, s + len)
            }
            Window::Whole { start, end } => (start, end),
        };
        self.t = start;
        self.end = end;
        self.state = SiteState::initial(&self.market.cfg);
        self.deploy = DeployState::default();
        self.awards.clear();
        self.observe_into(obs);
    }

    /// The observation of the current interval into `obs`.
    #[inline]
    pub fn observe_into(&self, obs: &mut [f32]) {
        self.market.observe_into(self.t, &self.state, obs);
    }

    /// Steps with an action in [`ACTION_NAMES`] order.
    pub fn step(&mut self, action: &[f32]) -> Result<StepResult, ActionError> {
        let a = Action::from_slice(action)?;
        let mut obs = vec![0.0; OBS_DIM];
        let (reward, info, terminated, truncated) = self.step_into(&a, &mut obs);
        Ok(StepResult {
            obs,
            reward,
            terminated,
            truncated,
            info,
        })
    }

    /// Steps with a checked action, writing the next observation into `obs`; at a
    /// day-ahead gate the action's day-ahead values are the offer.
    /// Returns (reward, info, terminated, truncated).
    #[inline(always)]
    pub fn step_into(&mut self, a: &Action, obs: &mut [f32]) -> (f64, StepInfo, bool, bool) {
        self.step_with_offer(a, None, obs)
    }

    /// [`Env::step_into`] with an explicit hour-by-hour day-ahead offer, read at a gate
    /// interval instead of the action's day-ahead values (ignored elsewhere).
    #[inline(always)]
    pub fn step_with_offer(
        &mut self,
        a: &Action,
        offer: Option<&DayAheadOffer>,
        obs: &mut [f32],
    ) -> (f64, StepInfo, bool, bool) {
        let m = &*self.market;
        let t = self.t;
        let dispatch = m.projector.project(a, &self.state, m.projection_context(t));
        // The random stream depends on the events in progress, never on the actions.
        let deployed = m.draw_deployments(t, &mut self.rng, &mut self.deploy);
        let settlement = m
            .settler
            .settle(&dispatch, &self.state, &m.interval_market(t, deployed));
        let mut da_awarded_mwh = None;
        if m.is_da_gate(t) {
            let offer = DayAheadOffer::taken(offer, a, &m.cfg);
            if let Some(aw) = m.clear_day_ahead(t, &offer) {
                da_awarded_mwh = Some(aw.total_mwh());
                self.awards
                    .retain(|x| x.day_start + x.hours.len() * INTERVALS_PER_HOUR > t);
                self.awards.push(aw);
            }
        }
        let info = StepInfo {
            index: t,
            interval_start_ms: m.interval_start_ms(t),
            dispatch,
            settlement,
            emergency: m.projection_context(t).emergency,
            deployed,
            da_awarded_mwh,
        };
        self.state = self.state.after(&dispatch, &m.cfg);
        self.t += 1;
        let done = self.t >= self.end;
        let terminated = done && self.t >= m.len();
        if terminated {
            obs[..OBS_DIM].fill(0.0);
        } else {
            self.state.award_mw = self.award_at(self.t);
            self.observe_into(obs);
        }
        (
            settlement.ledger.total(),
            info,
            terminated,
            done && !terminated,
        )
    }
}

/// N envs stepped together into contiguous buffers, auto-resetting finished episodes.
///
/// Env `i` is seeded with the stream `i` of the batch seed, so a `VecEnv` gives exactly the
/// results of stepping the same envs one by one.
#[derive(Debug, Clone)]
pub struct VecEnv {
    envs: Vec<Env>,
    obs: Vec<f32>,
    final_obs: Vec<f32>,
    rewards: Vec<f32>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
    episode_return: Vec<f64>,
    finished: Vec<f64>,
}

impl VecEnv {
    /// `n` envs over `window`, seeded from `seed` (env `i` on stream `i`), each reset.
    pub fn new(
        market: Arc<Market>,
        window: Window,
        n: usize,
        seed: u64,
    ) -> Result<VecEnv, EnvError> {
        VecEnv::with_streams(market, window, n, seed, 0)
    }

    /// [`VecEnv::new`] with env `i` on stream `first_stream + i`: VecEnvs built with
    /// consecutive ranges of streams are the parts of one larger VecEnv.
    pub fn with_streams(
        market: Arc<Market>,
        window: Window,
        n: usize,
        seed: u64,
        first_stream: u64,
    ) -> Result<VecEnv, EnvError> {
        let mut envs = Vec::with_capacity(n);
        for i in 0..n {
            let mut e = Env::new(market.clone(), window, 0)?;
            e.set_rng_stream(seed, first_stream + i as u64);
            envs.push(e);
        }
        Ok(VecEnv::from_envs(envs))
    }

    /// A VecEnv of the given envs, each reset (with its own random stream, as set). The envs
    /// may run on different markets (several data files in one training run); they must
    /// share one site, as one policy acts in all of them.
    pub fn from_envs(envs: Vec<Env>) -> VecEnv {
        let n = envs.len();
        let mut v = VecEnv {
            obs: vec![0.0; n * OBS_DIM],
            final_obs: vec![0.0; n * OBS_DIM],
            rewards: vec![0.0; n],
            terminated: vec![false; n],
            truncated: vec![false; n],
            episode_return: vec![0.0; n],
            finished: Vec::new(),
            envs,
        };
        for (e, o) in v.envs.iter_mut().zip(v.obs.chunks_exact_mut(OBS_DIM)) {
            e.reset_into(None, o);
        }
        v
    }

    /// Number of envs.
    pub fn len(&self) -> usize {
        self.envs.len()
    }

    /// True when there are no envs.
    pub fn is_empty(&self) -> bool {
        self.envs.is_empty()
    }

    /// Steps every env with its slice of `actions` (N x [`ACTION_DIM`], row-major).
    /// Finished envs are reset: `obs` holds their new first observation and `final_obs`
    /// the observation their episode ended on (for bootstrapping truncated episodes).
    pub fn step(&mut self, actions: &[f32]) -> Result<(), ActionError> {
        self.step_with_offers(actions, &[])
    }

    /// [`VecEnv::step`] where env `i` at a day-ahead gate reads the hour-by-hour offer
    /// `offers[i]` when there is one (a planner's offer, as [`Env::step_with_offer`]) instead of
    /// its action's day-ahead values. `offers` may be shorter than the envs (empty: no
    /// offers).
    pub fn step_with_offers(
        &mut self,
        actions: &[f32],
        offers: &[Option<DayAheadOffer>],
    ) -> Result<(), ActionError> {
        let n = self.envs.len();
        if actions.len() != n * ACTION_DIM {
            return Err(ActionError(format!(
                "actions has {} values, expected {n} envs x {ACTION_DIM}",
                actions.len()
            )));
        }
        for (i, a) in actions.chunks_exact(ACTION_DIM).enumerate() {
            let a = Action::from_slice(a).map_err(|e| ActionError(format!("env {i}: {e}")))?;
            let o = &mut self.obs[i * OBS_DIM..(i + 1) * OBS_DIM];
            let offer = offers.get(i).and_then(Option::as_ref);
            let (r, _, term, trunc) = self.envs[i].step_with_offer(&a, offer, o);
            self.rewards[i] = r as f32;
            self.terminated[i] = term;
            self.truncated[i] = trunc;
            self.episode_return[i] += r;
            if term || trunc {
                self.final_obs[i * OBS_DIM..(i + 1) * OBS_DIM].copy_from_slice(o);
                self.envs[i].reset_into(None, o);
                self.finished.push(self.episode_return[i]);
                self.episode_return[i] = 0.0;
            }
        }
        Ok(())
    }

    /// Where every env is ([`VecEnv::restore`] continues from it).
    pub fn progress(&self) -> VecEnvProgress {
        VecEnvProgress {
            envs: self.envs.iter().map(Env::progress).collect(),
            episode_return: self.episode_return.clone(),
        }
    }

    /// Continues every env from `p` (taken by [`VecEnv::progress`] of a VecEnv with the
    /// same window and size) and rebuilds the observations.
    pub fn restore(&mut self, p: &VecEnvProgress) -> Result<(), EnvError> {
        let n = self.envs.len();
        if p.envs.len() != n || p.episode_return.len() != n {
            return Err(EnvError(format!(
                "progress: {} envs and {} returns for a VecEnv of {n}",
                p.envs.len(),
                p.episode_return.len()
            )));
        }
        for (i, (e, q)) in self.envs.iter_mut().zip(&p.envs).enumerate() {
            e.restore(q)
                .map_err(|err| EnvError(format!("env {i}: {err}")))?;
        }
        for (e, o) in self.envs.iter().zip(self.obs.chunks_exact_mut(OBS_DIM)) {
            e.observe_into(o);
        }
        self.episode_return.clone_from(&p.episode_return);
        self.finished.clear();
        Ok(())
    }

    /// Env `i` (its market, state and position).
    pub fn env(&self, i: usize) -> &Env {
        &self.envs[i]
    }

    /// The interval each env steps next (its index into the market data).
    pub fn index(&self, env: usize) -> usize {
        self.envs[env].index()
    }

    /// Observations, N x [`OBS_DIM`], row-major.
    pub fn obs(&self) -> &[f32] {
        &self.obs
    }

    /// Observations the last finished episodes ended on (rows of envs that just finished).
    pub fn final_obs(&self) -> &[f32] {
        &self.final_obs
    }

    /// Rewards of the last step.
    pub fn rewards(&self) -> &[f32] {
        &self.rewards
    }

    /// Terminated flags of the last step.
    pub fn terminated(&self) -> &[bool] {
        &self.terminated
    }

    /// Truncated flags of the last step.
    pub fn truncated(&self) -> &[bool] {
        &self.truncated
    }

    /// Returns of the episodes finished since the last call, in finishing order.
    pub fn take_finished_returns(&mut self) -> Vec<f64> {
        std::mem::take(&mut self.finished)
    }
}
