//! `powermix._powermix`: a thin PyO3 layer over the Rust env and evaluation harness.
//!
//! Everything the Python side needs to know about shapes and names comes from here, read
//! from the env crate (`OBS_NAMES`, `ACTION_NAMES`, `LEDGER_LINES`, the spaces), so that a
//! change of the env's action or observation needs no change in Python.
//!
//! Errors a Python user can cause become the exception they expect (ValueError,
//! FileNotFoundError, ...), naming the argument and the value. Nothing here panics on user
//! input: a `PanicException` reaching Python is a bug.

use numpy::ndarray::{ArrayView1, ArrayView2};
use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use powermix_agent::{ExpertParams, Policy};
use powermix_env::config::RESERVE_NAMES;
use powermix_env::data::{load_market_data, synth};
use powermix_env::env::{EnvProgress, Window, action_space, observation_space};
use powermix_env::time::{INTERVAL_MS, parse_period};
use powermix_env::{
    ACTION_DIM, ACTION_NAMES, Action, Env, LEDGER_LINES, Market, OBS_DIM, OBS_NAMES, SiteConfig,
    Snapshot, StepInfo, VecEnv,
};
use powermix_eval::harness::PolicyFactory;
use pyo3::create_exception;
use pyo3::exceptions::{PyFileNotFoundError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::{Path, PathBuf};
use std::sync::Arc;

create_exception!(
    _powermix,
    ResetNeeded,
    pyo3::exceptions::PyRuntimeError,
    "step() was called before reset() or after the episode ended."
);

fn value_error(msg: impl Into<String>) -> PyErr {
    PyValueError::new_err(msg.into())
}

/// FileNotFoundError(ENOENT, message, filename), as `open()` raises it.
fn not_found(arg: &str, path: &Path) -> PyErr {
    PyFileNotFoundError::new_err((
        2,
        format!("{arg}: no such file: {}", path.display()),
        path.display().to_string(),
    ))
}

fn site_config(site: Option<&Path>) -> PyResult<SiteConfig> {
    match site {
        None => Ok(SiteConfig::default_site()),
        Some(p) if !p.is_file() => Err(not_found("site", p)),
        Some(p) => SiteConfig::load(p).map_err(|e| value_error(format!("site={p:?}: {e}"))),
    }
}

/// Local date of interval `t` (or of the end of the data) as YYYY-MM-DD.
fn local_date(m: &Market, t: usize) -> String {
    let l = if t < m.len() {
        m.local[t]
    } else {
        powermix_env::time::local_time(m.interval_start_ms(m.len() - 1) + INTERVAL_MS)
    };
    format!("{:04}-{:02}-{:02}", l.year, l.month, l.day)
}

/// `[start, end)` of a `YYYY-MM-DD..YYYY-MM-DD` period (US/Central dates, end exclusive),
/// or the whole data for `None`. The error names the period and the data's range.
fn period_window(m: &Market, period: Option<&str>) -> PyResult<(usize, usize)> {
    let Some(period) = period else {
        return Ok((0, m.len()));
    };
    let (s, e) =
        parse_period(period).map_err(|e| value_error(format!("period={period:?}: {e}")))?;
    let last_end = m.interval_start_ms(m.len() - 1) + INTERVAL_MS;
    if s < m.interval_start_ms(0) || e > last_end {
        return Err(value_error(format!(
            "period={period:?}: outside the data, which covers {}..{}",
            local_date(m, 0),
            local_date(m, m.len())
        )));
    }
    Ok((m.index_at(s), m.index_at(e)))
}

/// Market data joined with a site config (shared by every env built on it).
#[pyclass(name = "Market", module = "powermix._powermix", frozen)]
struct PyMarket {
    market: Arc<Market>,
    source: String,
}

#[pymethods]
impl PyMarket {
    /// Market(data=None, site=None): `data` is a market parquet file (None: the embedded
    /// synthetic years), `site` a site config TOML (None: the shipped configs/site.toml).
    #[new]
    #[pyo3(signature = (data=None, site=None))]
    fn new(py: Python<'_>, data: Option<PathBuf>, site: Option<PathBuf>) -> PyResult<Self> {
        let cfg = site_config(site.as_deref())?;
        let (data, source) = match data {
            None => (
                py.detach(synth::embedded_years),
                synth::EMBEDDED_SOURCE.to_string(),
            ),
            Some(p) if !p.is_file() => return Err(not_found("data", &p)),
            Some(p) => {
                let rules = cfg.data_fill.clone();
                let (d, _) = py
                    .detach(|| load_market_data(&p, &rules))
                    .map_err(|e| value_error(format!("data={p:?}: {e}")))?;
                if d.is_empty() {
                    return Err(value_error(format!("data={p:?}: no intervals")));
                }
                (d, p.display().to_string())
            }
        };
        let market = py.detach(|| Arc::new(Market::new(data, cfg)));
        Ok(PyMarket { market, source })
    }

    /// Where the data came from (a path, or the embedded synthetic years).
    #[getter]
    fn source(&self) -> &str {
        &self.source
    }

    /// Settlement point of the prices.
    #[getter]
    fn settlement_point(&self) -> &str {
        self.market.settlement_point()
    }

    /// The US/Central dates the data covers, `first..end` (end exclusive).
    #[getter]
    fn period(&self) -> String {
        format!(
            "{}..{}",
            local_date(&self.market, 0),
            local_date(&self.market, self.market.len())
        )
    }

    /// `(start, end)` interval indices of a period (None: all of the data).
    #[pyo3(signature = (period=None))]
    fn window(&self, period: Option<&str>) -> PyResult<(usize, usize)> {
        period_window(&self.market, period)
    }

    /// Interval starts, UTC milliseconds.
    fn interval_start_ms<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        PyArray1::from_iter(
            py,
            (0..self.market.len()).map(|t| self.market.interval_start_ms(t)),
        )
    }

    fn __len__(&self) -> usize {
        self.market.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "Market(source={:?}, period={:?}, intervals={})",
            self.source,
            self.period(),
            self.market.len()
        )
    }
}

/// The episode window of a period: random episodes of `episode_len` intervals, or one
/// episode over the whole period.
fn make_window(m: &Market, period: Option<&str>, episode_len: Option<usize>) -> PyResult<Window> {
    let (start, end) = period_window(m, period)?;
    let shown = period.unwrap_or("all of the data");
    match episode_len {
        None => Ok(Window::Whole { start, end }),
        Some(len) => {
            // Random episodes end before the data does (a next observation must exist).
            let room = end.min(m.len().saturating_sub(1)).saturating_sub(start);
            if len == 0 || len > room {
                return Err(value_error(format!(
                    "episode_len={len}: must be between 1 and {room}, the intervals of period {shown:?} an episode can start and end in"
                )));
            }
            Ok(Window::Random { start, end, len })
        }
    }
}

/// A shape as Python prints it: `(5, 7)`, `(7,)`.
fn shape_str(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn env_error(e: impl std::fmt::Display) -> PyErr {
    value_error(e.to_string())
}

fn seed_value(seed: Option<i128>, arg: &str) -> PyResult<Option<u64>> {
    seed.map(|s| {
        u64::try_from(s).map_err(|_| {
            value_error(format!(
                "{arg}={s}: must be a whole number from 0 to 2**64 - 1"
            ))
        })
    })
    .transpose()
}

/// The step's info: the ledger lines ($), the interval and its events.
fn info_dict<'py>(py: Python<'py>, info: &StepInfo, reward: f64) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let ledger = PyDict::new(py);
    for (name, v) in info.settlement.ledger.named() {
        ledger.set_item(name, v)?;
    }
    d.set_item("ledger", ledger)?;
    d.set_item("profit", reward)?;
    d.set_item("index", info.index)?;
    d.set_item("interval_start_ms", info.interval_start_ms)?;
    // The ERCOT notice in force: EEA level (0 none, 1-3) and whether firm load shed is ordered.
    d.set_item("emergency", info.emergency.active())?;
    d.set_item("eea_level", info.emergency.level)?;
    d.set_item("load_shed", info.emergency.load_shed)?;
    let deployed = PyDict::new(py);
    for (name, on) in RESERVE_NAMES.iter().zip(info.deployed) {
        deployed.set_item(*name, on)?;
    }
    d.set_item("deployed", deployed)?;
    Ok(d)
}

/// One site stepped from Python (the core of `powermix.SiteEnv`).
#[pyclass(name = "Env", module = "powermix._powermix")]
struct PyEnv {
    env: Env,
    /// The episode ended (or none started): step() needs a reset() first.
    needs_reset: bool,
    episode_return: f64,
    episode_len: usize,
    obs: Vec<f32>,
}

#[pymethods]
impl PyEnv {
    /// Env(market, period=None, episode_len=None, seed=0): random episodes of `episode_len`
    /// intervals inside `period`, or one episode over all of it when `episode_len` is None.
    #[new]
    #[pyo3(signature = (market, period=None, episode_len=None, seed=0))]
    fn new(
        market: &PyMarket,
        period: Option<&str>,
        episode_len: Option<usize>,
        seed: i128,
    ) -> PyResult<Self> {
        let window = make_window(&market.market, period, episode_len)?;
        let seed = seed_value(Some(seed), "seed")?.unwrap_or(0);
        let env = Env::new(market.market.clone(), window, seed).map_err(env_error)?;
        Ok(PyEnv {
            env,
            needs_reset: true,
            episode_return: 0.0,
            episode_len: 0,
            obs: vec![0.0; OBS_DIM],
        })
    }

    /// Starts an episode (a seed restarts the random stream); returns the first observation.
    #[pyo3(signature = (seed=None))]
    fn reset<'py>(
        &mut self,
        py: Python<'py>,
        seed: Option<i128>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let seed = seed_value(seed, "seed")?;
        self.env.reset_into(seed, &mut self.obs);
        self.needs_reset = false;
        self.episode_return = 0.0;
        self.episode_len = 0;
        Ok(PyArray1::from_slice(py, &self.obs))
    }

    /// Steps with a float32 action of ACTION_DIM values; returns
    /// (obs, reward, terminated, truncated, info). At episode end, info also holds
    /// `episode_profit` and `episode_intervals`.
    #[allow(clippy::type_complexity)]
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        action: PyReadonlyArray1<'py, f32>,
    ) -> PyResult<(
        Bound<'py, PyArray1<f32>>,
        f64,
        bool,
        bool,
        Bound<'py, PyDict>,
    )> {
        if self.needs_reset {
            return Err(ResetNeeded::new_err(
                "step() needs reset() first: no episode is running (never reset, or the last one ended)",
            ));
        }
        let a = action.as_array();
        let values: Vec<f32> = a.iter().copied().collect();
        let a = Action::from_slice(&values).map_err(|e| value_error(format!("action: {e}")))?;
        let (reward, info, terminated, truncated) = self.env.step_into(&a, &mut self.obs);
        self.episode_return += reward;
        self.episode_len += 1;
        let d = info_dict(py, &info, reward)?;
        if terminated || truncated {
            self.needs_reset = true;
            d.set_item("episode_profit", self.episode_return)?;
            d.set_item("episode_intervals", self.episode_len)?;
        }
        Ok((
            PyArray1::from_slice(py, &self.obs),
            reward,
            terminated,
            truncated,
            d,
        ))
    }

    /// Index of the interval the next step decides for.
    #[getter]
    fn index(&self) -> usize {
        self.env.index()
    }
}

/// N envs stepped together in Rust with the GIL released (the core of
/// `powermix.VectorEnv`). Observations, rewards and flags live in buffers owned by the Rust
/// `VecEnv`; `buffers()` returns numpy views of them, which every step overwrites in place.
#[pyclass(name = "VecEnv", module = "powermix._powermix")]
struct PyVecEnv {
    vec: VecEnv,
    /// Addresses of the buffers the numpy views point to (checked after every step).
    ptrs: [usize; 5],
}

fn buffer_ptrs(v: &VecEnv) -> [usize; 5] {
    [
        v.obs().as_ptr() as usize,
        v.final_obs().as_ptr() as usize,
        v.rewards().as_ptr() as usize,
        v.terminated().as_ptr() as usize,
        v.truncated().as_ptr() as usize,
    ]
}

#[pymethods]
impl PyVecEnv {
    /// VecEnv(market, num_envs, period=None, episode_len=None, seed=0): env i on stream i
    /// of `seed`, exactly as the Rust trainer seeds its envs.
    #[new]
    #[pyo3(signature = (market, num_envs, period=None, episode_len=None, seed=0))]
    fn new(
        market: &PyMarket,
        num_envs: usize,
        period: Option<&str>,
        episode_len: Option<usize>,
        seed: i128,
    ) -> PyResult<Self> {
        if num_envs == 0 {
            return Err(value_error("num_envs=0: must be at least 1"));
        }
        let window = make_window(&market.market, period, episode_len)?;
        let seed = seed_value(Some(seed), "seed")?.unwrap_or(0);
        let vec = VecEnv::new(market.market.clone(), window, num_envs, seed).map_err(env_error)?;
        let ptrs = buffer_ptrs(&vec);
        Ok(PyVecEnv { vec, ptrs })
    }

    /// Number of envs.
    fn __len__(&self) -> usize {
        self.vec.len()
    }

    /// numpy views (obs, final_obs, rewards, terminated, truncated) of the Rust buffers:
    /// no copies, overwritten by every step and reset. They keep this object alive.
    #[allow(clippy::type_complexity)]
    fn buffers<'py>(
        slf: Bound<'py, Self>,
    ) -> PyResult<(
        Bound<'py, PyArray2<f32>>,
        Bound<'py, PyArray2<f32>>,
        Bound<'py, PyArray1<f32>>,
        Bound<'py, PyArray1<bool>>,
        Bound<'py, PyArray1<bool>>,
    )> {
        let this = slf.borrow();
        let v = &this.vec;
        let n = v.len();
        fn view2(s: &[f32], n: usize) -> PyResult<ArrayView2<'_, f32>> {
            ArrayView2::from_shape((n, OBS_DIM), s)
                .map_err(|e| PyRuntimeError::new_err(format!("buffer shape: {e}")))
        }
        let owner = slf.clone().into_any();
        // SAFETY: the views point into the VecEnv's buffers, which are allocated once with
        // a fixed length and never reallocated (step() checks their addresses); `owner`
        // keeps the object, and so the buffers, alive as long as any view exists.
        unsafe {
            Ok((
                PyArray2::borrow_from_array(&view2(v.obs(), n)?, owner.clone()),
                PyArray2::borrow_from_array(&view2(v.final_obs(), n)?, owner.clone()),
                PyArray1::borrow_from_array(&ArrayView1::from(v.rewards()), owner.clone()),
                PyArray1::borrow_from_array(&ArrayView1::from(v.terminated()), owner.clone()),
                PyArray1::borrow_from_array(&ArrayView1::from(v.truncated()), owner),
            ))
        }
    }

    /// Steps every env with its row of `actions` (num_envs x ACTION_DIM, float32, C order),
    /// in Rust with the GIL released. Every row is checked before any env steps. Finished
    /// envs reset in the same step: their row of `obs` is the new episode's first
    /// observation and `final_obs` the one the episode ended on. Returns None, or the
    /// (indices, episode profits) of the envs whose episode ended.
    #[allow(clippy::type_complexity)]
    fn step(
        &mut self,
        py: Python<'_>,
        actions: PyReadonlyArray2<'_, f32>,
    ) -> PyResult<Option<(Vec<usize>, Vec<f64>)>> {
        let n = self.vec.len();
        let shape = actions.shape();
        if shape != [n, ACTION_DIM] {
            return Err(value_error(format!(
                "actions has shape {}, expected ({n}, {ACTION_DIM}): one row of {} per env",
                shape_str(shape),
                ACTION_NAMES.join(", ")
            )));
        }
        let a = actions
            .as_slice()
            .map_err(|_| value_error("actions: must be a C-contiguous array"))?;
        for (i, row) in a.chunks_exact(ACTION_DIM).enumerate() {
            Action::from_slice(row).map_err(|e| value_error(format!("actions[{i}]: {e}")))?;
        }
        let vec = &mut self.vec;
        py.detach(|| vec.step(a))
            .map_err(|e| value_error(format!("actions: {e}")))?;
        if buffer_ptrs(&self.vec) != self.ptrs {
            return Err(PyRuntimeError::new_err(
                "VecEnv moved its buffers: the numpy views are stale (a bug in powermix)",
            ));
        }
        let returns = self.vec.take_finished_returns();
        if returns.is_empty() {
            return Ok(None);
        }
        let (term, trunc) = (self.vec.terminated(), self.vec.truncated());
        let done: Vec<usize> = (0..n).filter(|&i| term[i] || trunc[i]).collect();
        if done.len() != returns.len() {
            return Err(PyRuntimeError::new_err(format!(
                "{} envs finished but {} returns were reported (a bug in powermix)",
                done.len(),
                returns.len()
            )));
        }
        Ok(Some((done, returns)))
    }

    /// Starts a new episode in every env: env i with `seeds[i]` (as `Env.reset(seed)`), or
    /// continuing its own random stream when `seeds` is None. Observations go to the buffer.
    #[pyo3(signature = (seeds=None))]
    fn reset(&mut self, seeds: Option<Vec<i128>>) -> PyResult<()> {
        let n = self.vec.len();
        let seeds: Option<Vec<u64>> = match seeds {
            None => None,
            Some(s) if s.len() != n => {
                return Err(value_error(format!(
                    "seed: {} seeds for {n} envs (give one per env, or one int)",
                    s.len()
                )));
            }
            Some(s) => Some(
                s.iter()
                    .map(|&x| seed_value(Some(x), "seed").map(|v| v.unwrap_or(0)))
                    .collect::<PyResult<_>>()?,
            ),
        };
        let mut p = self.vec.progress();
        let mut obs = vec![0.0; OBS_DIM];
        for i in 0..n {
            let mut e = self.vec.env(i).clone();
            e.reset_into(seeds.as_ref().map(|s| s[i]), &mut obs);
            let q: EnvProgress = e.progress();
            p.envs[i] = q;
            p.episode_return[i] = 0.0;
        }
        self.vec.restore(&p).map_err(env_error)?;
        self.vec.take_finished_returns();
        Ok(())
    }

    /// Index of the interval env `i` steps next.
    fn index(&self, i: usize) -> PyResult<usize> {
        if i >= self.vec.len() {
            return Err(value_error(format!(
                "i={i}: there are {} envs",
                self.vec.len()
            )));
        }
        Ok(self.vec.index(i))
    }
}

/// A policy that asks Python for each action (observation in, action out), or replays a
/// fixed trajectory of actions.
struct PyPolicy<'a, 'py> {
    market: &'a Market,
    source: Source<'a, 'py>,
    obs: Vec<f32>,
    calls: usize,
    error: Option<PyErr>,
}

enum Source<'a, 'py> {
    Callback(Bound<'py, PyAny>),
    Trajectory(&'a [f32]),
}

impl PyPolicy<'_, '_> {
    fn next_action(&mut self, snap: &Snapshot<'_>) -> PyResult<Action> {
        let k = self.calls;
        self.calls += 1;
        match &self.source {
            Source::Trajectory(rows) => {
                let row = rows
                    .get(k * ACTION_DIM..(k + 1) * ACTION_DIM)
                    .ok_or_else(|| value_error(format!("actions: no row {k}")))?;
                Action::from_slice(row).map_err(|e| value_error(format!("actions[{k}]: {e}")))
            }
            Source::Callback(f) => {
                self.market.observer.observe(snap, &mut self.obs);
                let obs = PyArray1::from_slice(f.py(), &self.obs);
                let out = f.call1((obs,))?;
                let a: PyReadonlyArray1<'_, f32> = out.extract().map_err(|_| {
                    value_error(format!(
                        "policy: returned {} for interval {k}; expected a float32 array of {ACTION_DIM} values",
                        out.repr().map(|r| r.to_string()).unwrap_or_default()
                    ))
                })?;
                let values: Vec<f32> = a.as_array().iter().copied().collect();
                Action::from_slice(&values)
                    .map_err(|e| value_error(format!("policy: interval {k}: {e}")))
            }
        }
    }
}

impl Policy for PyPolicy<'_, '_> {
    fn name(&self) -> &str {
        "python"
    }

    fn act(&mut self, snap: &Snapshot<'_>) -> Action {
        if self.error.is_some() {
            return Action::ALL_ON;
        }
        match self.next_action(snap) {
            Ok(a) => a,
            Err(e) => {
                // Policy::act cannot fail: keep the first error, finish cheaply, raise it.
                self.error = Some(e);
                Action::ALL_ON
            }
        }
    }
}

/// Scores a policy on `[start, end)` through the evaluation harness: the same backtest,
/// always-on and oracle as `evaluate` and `train`'s validation.
#[pyfunction]
#[pyo3(signature = (market, period=None, seed=1, policy=None, actions=None))]
fn score<'py>(
    py: Python<'py>,
    market: &PyMarket,
    period: Option<&str>,
    seed: i128,
    policy: Option<Bound<'py, PyAny>>,
    actions: Option<PyReadonlyArray2<'py, f32>>,
) -> PyResult<Bound<'py, PyDict>> {
    let m = &market.market;
    let (start, end) = period_window(m, period)?;
    let seed = seed_value(Some(seed), "seed")?.unwrap_or(0);
    let source = match (&policy, &actions) {
        (Some(f), None) => {
            if !f.is_callable() {
                return Err(value_error("policy: must be callable (obs -> action)"));
            }
            Source::Callback(f.clone())
        }
        (None, Some(a)) => {
            let n = end - start;
            if a.shape() != [n, ACTION_DIM] {
                return Err(value_error(format!(
                    "actions has shape {}, expected ({n}, {ACTION_DIM}): one row per interval of period {:?}",
                    shape_str(a.shape()),
                    period.unwrap_or("all of the data")
                )));
            }
            Source::Trajectory(
                a.as_slice()
                    .map_err(|_| value_error("actions: must be a C-contiguous array"))?,
            )
        }
        _ => {
            return Err(value_error(
                "give exactly one of policy (obs -> action) and actions (one row per interval)",
            ));
        }
    };
    let mut p = PyPolicy {
        market: m,
        source,
        obs: vec![0.0; OBS_DIM],
        calls: 0,
        error: None,
    };
    let s = powermix_eval::backtest(m, start, end, &mut p, seed).map_err(env_error)?;
    if let Some(e) = p.error.take() {
        return Err(e);
    }
    let expert = ExpertParams::default_params();
    let refs = py.detach(|| {
        let f = PolicyFactory {
            market: m,
            expert: &expert,
            seed,
            checkpoint: None,
        };
        let a = f.run("always-on", start, end)?.profit_usd;
        let o = f.run("oracle", start, end)?.profit_usd;
        Ok::<_, powermix_eval::EvalError>((a, o))
    });
    let (always_on, oracle) = refs.map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    let head = oracle - always_on;
    let d = PyDict::new(py);
    d.set_item("profit_usd", s.profit_usd)?;
    d.set_item(
        "value_captured",
        (head.abs() > 1e-6).then(|| (s.profit_usd - always_on) / head),
    )?;
    d.set_item("always_on_usd", always_on)?;
    d.set_item("oracle_usd", oracle)?;
    let ledger = PyDict::new(py);
    for (name, v) in s.ledger.named() {
        ledger.set_item(name, v)?;
    }
    d.set_item("ledger", ledger)?;
    d.set_item("energy_mwh", s.energy_mwh)?;
    d.set_item("profit_per_mwh", s.profit_per_mwh)?;
    d.set_item("ai_uptime", s.ai_uptime)?;
    d.set_item("four_cp_load_mw", s.four_cp_load_mw)?;
    d.set_item("intervals", s.intervals)?;
    d.set_item("start", start)?;
    d.set_item("end", end)?;
    d.set_item("seed", seed)?;
    d.set_item("profit", PyArray1::from_slice(py, &s.trace.profit))?;
    Ok(d)
}

/// Names and bounds of a space: {"names": [...], "low": float32 array, "high": ...}.
fn space_dict<'py>(py: Python<'py>, s: &powermix_env::env::Space) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("names", s.names.to_vec())?;
    d.set_item("low", PyArray1::from_slice(py, &s.low))?;
    d.set_item("high", PyArray1::from_slice(py, &s.high))?;
    Ok(d)
}

/// The env's observation space.
#[pyfunction]
#[pyo3(name = "observation_space")]
fn py_observation_space(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    space_dict(py, &observation_space())
}

/// The env's action space.
#[pyfunction]
#[pyo3(name = "action_space")]
fn py_action_space(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    space_dict(py, &action_space())
}

#[pymodule]
fn _powermix(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("OBS_DIM", OBS_DIM)?;
    m.add("ACTION_DIM", ACTION_DIM)?;
    m.add("OBS_NAMES", OBS_NAMES.to_vec())?;
    m.add("ACTION_NAMES", ACTION_NAMES.to_vec())?;
    m.add("LEDGER_LINES", LEDGER_LINES.to_vec())?;
    m.add("RESERVE_NAMES", RESERVE_NAMES.to_vec())?;
    m.add("INTERVAL_MINUTES", INTERVAL_MS / 60_000)?;
    m.add("EMBEDDED_SOURCE", synth::EMBEDDED_SOURCE)?;
    m.add("ResetNeeded", m.py().get_type::<ResetNeeded>())?;
    m.add_class::<PyMarket>()?;
    m.add_class::<PyEnv>()?;
    m.add_class::<PyVecEnv>()?;
    m.add_function(wrap_pyfunction!(score, m)?)?;
    m.add_function(wrap_pyfunction!(py_observation_space, m)?)?;
    m.add_function(wrap_pyfunction!(py_action_space, m)?)?;
    Ok(())
}
