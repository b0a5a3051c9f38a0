//! `powermix._powermix`: a thin PyO3 layer over the Rust env and evaluation harness.
//!
//! Everything the Python side needs to know about shapes and names comes from here, read
//! from the env crate (`OBS_NAMES`, `ACTION_NAMES`, `LEDGER_LINES`, the spaces), so that a
//! change of the env's action or observation needs no change in Python.
//!
//! Errors a Python user can cause become the exception they expect (TypeError, ValueError,
//! FileNotFoundError, IsADirectoryError), naming the argument, the value and the form
//! expected. Nothing here panics on user input: a `PanicException` reaching Python is a bug.

use numpy::ndarray::{ArrayView1, ArrayView2};
use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use powermix_agent::{ExpertParams, Policy};
use powermix_data::{load_market_data, synth};
use powermix_env::config::RESERVE_NAMES;
use powermix_env::env::{EnvProgress, Window, action_space, observation_space};
use powermix_env::time::{INTERVAL_MS, parse_period};
use powermix_env::{
    ACTION_DIM, ACTION_NAMES, Action, Env, LEDGER_LINES, Market, OBS_DIM, OBS_NAMES, SiteConfig,
    Snapshot, StepInfo, VecEnv,
};
use powermix_eval::harness::PolicyFactory;
use pyo3::create_exception;
use pyo3::exceptions::{
    PyFileNotFoundError, PyIsADirectoryError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString};
use std::ffi::OsString;
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

/// `repr(v)` and `type(v).__name__`, for messages about a value of the wrong type.
fn shown(v: &Bound<'_, PyAny>) -> (String, String) {
    let repr = v.repr().map(|r| r.to_string()).unwrap_or_default();
    let ty = v
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    (repr, ty)
}

/// TypeError naming the argument, its value, the form expected and the type given.
fn type_error(arg: &str, v: &Bound<'_, PyAny>, expected: &str) -> PyErr {
    let (repr, ty) = shown(v);
    PyTypeError::new_err(format!("{arg}={repr}: expected {expected}, not {ty}"))
}

/// A whole-number argument: an int or a numpy integer (anything with `__index__`), not a
/// bool or a float. `range` says which values are valid, for the messages; a number too
/// large for any valid value is a ValueError.
fn int_arg(v: &Bound<'_, PyAny>, arg: &str, range: &str) -> PyResult<i128> {
    if v.is_instance_of::<PyBool>() {
        return Err(type_error(arg, v, &format!("a whole number (int) {range}")));
    }
    v.extract::<i128>().map_err(|e| {
        if e.is_instance_of::<PyTypeError>(v.py()) {
            type_error(arg, v, &format!("a whole number (int) {range}"))
        } else {
            let (repr, _) = shown(v);
            value_error(format!("{arg}={repr}: must be a whole number {range}"))
        }
    })
}

const SEED_RANGE: &str = "from 0 to 2**64 - 1";

/// A seed argument: None, or an int from 0 to 2**64 - 1.
fn seed_arg(v: Option<&Bound<'_, PyAny>>, arg: &str) -> PyResult<Option<u64>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let s = int_arg(v, arg, SEED_RANGE)?;
    u64::try_from(s)
        .map(Some)
        .map_err(|_| value_error(format!("{arg}={s}: must be a whole number {SEED_RANGE}")))
}

/// The `period` argument: None, or a str `YYYY-MM-DD..YYYY-MM-DD`.
fn period_arg(v: Option<&Bound<'_, PyAny>>) -> PyResult<Option<String>> {
    match v.filter(|v| !v.is_none()) {
        None => Ok(None),
        Some(v) => match v.cast::<PyString>() {
            Ok(s) => Ok(Some(s.to_str()?.to_owned())),
            Err(_) => Err(type_error(
                "period",
                v,
                "a str \"YYYY-MM-DD..YYYY-MM-DD\" (US/Central dates, end exclusive) or None",
            )),
        },
    }
}

/// The `episode_len` argument: None (one episode over the whole period) or an int
/// (checked against the period by `make_window`).
fn episode_len_arg(v: Option<&Bound<'_, PyAny>>) -> PyResult<Option<i128>> {
    v.filter(|v| !v.is_none())
        .map(|v| int_arg(v, "episode_len", "of intervals, at least 1, or None"))
        .transpose()
}

/// A file argument (`data`, `site`): None, or a path (str or os.PathLike) to a file that
/// exists, made absolute (a pickled Market is rebuilt from it, maybe in another folder).
/// A missing file is FileNotFoundError and a directory IsADirectoryError, as `open()`
/// raises them.
fn file_arg(v: Option<&Bound<'_, PyAny>>, arg: &str, what: &str) -> PyResult<Option<PathBuf>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let p: PathBuf = v.extract().map_err(|_| {
        type_error(
            arg,
            v,
            &format!("a path (str or os.PathLike) to {what}, or None"),
        )
    })?;
    let p = std::path::absolute(&p).unwrap_or(p);
    if p.is_dir() {
        return Err(PyIsADirectoryError::new_err((
            21,
            format!("{arg}: is a directory, expected {what}: {}", p.display()),
            p.display().to_string(),
        )));
    }
    if !p.is_file() {
        return Err(not_found(arg, &p));
    }
    Ok(Some(p))
}

fn site_config(site: Option<&Path>) -> PyResult<SiteConfig> {
    match site {
        None => Ok(SiteConfig::default_site()),
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
///
/// Immutable: `copy.copy` and `copy.deepcopy` return the same object. A pickle holds the
/// constructor's arguments (absolute paths), not the data: unpickling reads the files
/// again, so they must exist at the same paths where it is unpickled (on every node).
#[pyclass(name = "Market", module = "powermix._powermix", frozen)]
struct PyMarket {
    market: Arc<Market>,
    source: String,
    /// The constructor's arguments (absolute paths), for pickling.
    data: Option<PathBuf>,
    site: Option<PathBuf>,
}

#[pymethods]
impl PyMarket {
    /// Market(data=None, site=None): `data` is a market parquet file (None: the embedded
    /// synthetic years), `site` a site config TOML (None: the shipped configs/site.toml).
    #[new]
    #[pyo3(signature = (data=None, site=None))]
    fn new(
        py: Python<'_>,
        data: Option<&Bound<'_, PyAny>>,
        site: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let data = file_arg(data, "data", "a market parquet file")?;
        let site = file_arg(site, "site", "a site config TOML file")?;
        let cfg = site_config(site.as_deref())?;
        let (frame, source) = match &data {
            None => (
                py.detach(synth::embedded_years),
                synth::EMBEDDED_SOURCE.to_string(),
            ),
            Some(p) => {
                let rules = cfg.data_fill.clone();
                let (d, _) = py
                    .detach(|| load_market_data(p, &rules))
                    .map_err(|e| value_error(format!("data={p:?}: {e}")))?;
                if d.is_empty() {
                    return Err(value_error(format!("data={p:?}: no intervals")));
                }
                (d, p.display().to_string())
            }
        };
        let market = py.detach(|| Arc::new(Market::new(frame, cfg)));
        Ok(PyMarket {
            market,
            source,
            data,
            site,
        })
    }

    /// Pickles as `Market(data, site)`, the paths as str: rebuilt from the same files when
    /// unpickled.
    #[allow(clippy::type_complexity)]
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> (Bound<'py, PyAny>, (Option<OsString>, Option<OsString>)) {
        let m = slf.get();
        let s = |p: &Option<PathBuf>| p.clone().map(PathBuf::into_os_string);
        (slf.get_type().into_any(), (s(&m.data), s(&m.site)))
    }

    /// The Market itself: it is immutable.
    fn __copy__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// The Market itself: it is immutable (envs copied with `copy.deepcopy` share it).
    fn __deepcopy__<'py>(slf: Bound<'py, Self>, _memo: &Bound<'py, PyAny>) -> Bound<'py, Self> {
        slf
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
    fn window(&self, period: Option<&Bound<'_, PyAny>>) -> PyResult<(usize, usize)> {
        period_window(&self.market, period_arg(period)?.as_deref())
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

/// The episode window and seed of an env's constructor, from its Python arguments (`period`,
/// `episode_len`, `seed`; each error names its argument). `SiteEnv` and `VectorEnv` share it.
fn window_and_seed(
    market: &Market,
    period: Option<&Bound<'_, PyAny>>,
    episode_len: Option<&Bound<'_, PyAny>>,
    seed: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Window, u64)> {
    let period = period_arg(period)?;
    let window = make_window(market, period.as_deref(), episode_len_arg(episode_len)?)?;
    Ok((window, seed_arg(seed, "seed")?.unwrap_or(0)))
}

/// The episode window of a period: random episodes of `episode_len` intervals, or one
/// episode over the whole period.
fn make_window(m: &Market, period: Option<&str>, episode_len: Option<i128>) -> PyResult<Window> {
    let (start, end) = period_window(m, period)?;
    let shown = period.unwrap_or("all of the data");
    match episode_len {
        None => Ok(Window::Whole { start, end }),
        Some(len) => {
            // Random episodes end before the data does (a next observation must exist).
            let room = end.min(m.len().saturating_sub(1)).saturating_sub(start);
            match usize::try_from(len) {
                Ok(len) if (1..=room).contains(&len) => Ok(Window::Random { start, end, len }),
                _ => Err(value_error(format!(
                    "episode_len={len}: must be between 1 and {room}, the intervals of period {shown:?} an episode can start and end in"
                ))),
            }
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
///
/// `copy.copy` and `copy.deepcopy` give an independent env at the same point of the same
/// episode (its random stream too); it cannot be pickled: `powermix.SiteEnv` can (it is
/// rebuilt from its constructor's arguments).
#[pyclass(name = "Env", module = "powermix._powermix")]
#[derive(Clone)]
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
    #[pyo3(signature = (market, period=None, episode_len=None, seed=None))]
    fn new(
        market: &PyMarket,
        period: Option<&Bound<'_, PyAny>>,
        episode_len: Option<&Bound<'_, PyAny>>,
        seed: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let (window, seed) = window_and_seed(&market.market, period, episode_len, seed)?;
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
        seed: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let seed = seed_arg(seed, "seed")?;
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

    /// An independent env at the same point (the market data is shared: it is immutable).
    fn __copy__(&self) -> Self {
        self.clone()
    }

    /// As `__copy__`: nothing in the env is shared but the immutable market data.
    fn __deepcopy__(&self, _memo: &Bound<'_, PyAny>) -> Self {
        self.clone()
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(NO_PICKLE))
    }
}

/// Why the Rust cores cannot be pickled, and what to do instead.
const NO_PICKLE: &str = "powermix._powermix.Env and VecEnv cannot be pickled: pickle the \
    powermix.SiteEnv or powermix.VectorEnv (rebuilt from its constructor's arguments), or \
    build the env in each worker from picklable arguments (data path, period, seed)";

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
    #[pyo3(signature = (market, num_envs, period=None, episode_len=None, seed=None))]
    fn new(
        market: &PyMarket,
        num_envs: &Bound<'_, PyAny>,
        period: Option<&Bound<'_, PyAny>>,
        episode_len: Option<&Bound<'_, PyAny>>,
        seed: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let num_envs = int_arg(num_envs, "num_envs", "of envs, at least 1")?;
        let Some(num_envs) = usize::try_from(num_envs).ok().filter(|&n| n >= 1) else {
            return Err(value_error(format!(
                "num_envs={num_envs}: must be at least 1"
            )));
        };
        let (window, seed) = window_and_seed(&market.market, period, episode_len, seed)?;
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
    fn reset(&mut self, seeds: Option<Vec<Bound<'_, PyAny>>>) -> PyResult<()> {
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
                    .enumerate()
                    .map(|(i, x)| {
                        seed_arg(Some(x), &format!("seed[{i}]"))?.ok_or_else(|| {
                            value_error(format!(
                                "seed[{i}]=None: give every sub-env a seed, or none"
                            ))
                        })
                    })
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

    /// An independent copy at the same point of every env, with buffers of its own.
    fn __deepcopy__(&self, _memo: &Bound<'_, PyAny>) -> Self {
        let vec = self.vec.clone();
        let ptrs = buffer_ptrs(&vec);
        PyVecEnv { vec, ptrs }
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(NO_PICKLE))
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
#[pyo3(signature = (market, period=None, seed=None, policy=None, actions=None))]
fn score<'py>(
    py: Python<'py>,
    market: &PyMarket,
    period: Option<&Bound<'py, PyAny>>,
    seed: Option<&Bound<'py, PyAny>>,
    policy: Option<Bound<'py, PyAny>>,
    actions: Option<PyReadonlyArray2<'py, f32>>,
) -> PyResult<Bound<'py, PyDict>> {
    let m = &market.market;
    let period = period_arg(period)?;
    let period = period.as_deref();
    let (start, end) = period_window(m, period)?;
    let seed = seed_arg(seed, "seed")?.unwrap_or(1);
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
            forecasts: None,
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
