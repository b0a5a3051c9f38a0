//! The dispatch linear program shared by the perfect-foresight oracle ([`crate::oracle`]) and
//! the day-ahead MPC ([`crate::mpc`]), solved with clarabel (interior point, sparse).
//!
//! Given the site config, the state the site starts from and the facts of each interval
//! ([`PlanInterval`]), [`solve_plan`] maximises the profit that [`powermix_env::settlement`]
//! would book, over a continuous relaxation of the site:
//!
//! Per interval `t` (h = 0.25 h), variables
//! - `m[i,t]` in `[0, cap_i]`: miner MW of tranche `i` before deployments (what the safety
//!   projection dispatches);
//! - `tr[t]` in `[0, training_mw]`: AI training MW, continuous (the env runs whole steps);
//! - `u[t] >= tr[t] - tr[t-1]`, `u >= 0`: training MW restarted, each losing
//!   `restart_loss_hours x training_revenue`;
//! - `w[i,t] >= m[i,t] - m[i,t-1]`, `w >= 0`: miner MW started, each costing the wear
//!   (exact, per tranche, as settlement counts it);
//! - `d[i,t]` in `[0, m[i,t]]` only in intervals with a deployment: miner MW dropped, with
//!   `sum_i d[i,t]` equal to the MW offered in the deployed products;
//!
//! and per clock hour `H` whose awards are free (the oracle's days; the MPC's next operating
//! day) `a[p,H] >= 0` for each product available with a positive clearing price: the
//! day-ahead award, paid at the hour's clearing price in every interval. Coverage:
//! `sum_p a[p,H] + fixed awards <= sum_i m[i,t]` at every interval of the hour (the safety
//! projection keeps awarded MW running), and `sum_p a[p,H] <= max_offer_fraction x miner
//! capacity`. Interconnect: `bop + inference + tr[t] + sum_i m[i,t] <= import_limit` (only
//! written when it can bind; likewise the ramp limits).
//!
//! Emergencies mirror [`powermix_env::safety`]: under firm load shed miners stop (when
//! configured), so their pre-deployment load equals the awards (all deployed, capacity still
//! paid, miner consumption 0); training is capped at the load-shed fraction (whole steps) and
//! never raised; inference is curtailed when configured (with its penalty). Deployments
//! (events and EEAs) come in [`PlanInterval::deployed`].
//!
//! What the relaxation drops (so the LP objective is an upper bound of what its schedule
//! earns through the env): training steps (continuous here) and the training minimum-on hold.
//! The objective is solved in $ thousands (better scaled) and reported in dollars, constant
//! terms included (inference, balance of plant, fixed-block term), so that
//! [`Plan::objective_usd`] is comparable with a backtest's profit.

use crate::PlanError;
use clarabel::algebra::CscMatrix;
use clarabel::solver::{
    DefaultSettingsBuilder, DefaultSolution, DefaultSolver, IPSolver, SolverStatus, SupportedConeT,
};
use powermix_env::config::{ContractKind, RESERVES, SiteConfig, TRANCHES};
use powermix_env::time::{INTERVAL_HOURS, INTERVAL_MS, INTERVALS_PER_HOUR};
use powermix_env::{Action, Emergency, SiteState};
use std::time::Instant;

/// Milliseconds in one clock hour.
const HOUR_MS: i64 = INTERVAL_MS * INTERVALS_PER_HOUR as i64;
/// The objective is solved in $ thousands.
const SCALE: f64 = 1e-3;
/// Interior-point iteration limit (a year takes about 20).
const MAX_ITER: u32 = 200;
/// Fractions this close to 0 or 1 are snapped (solver noise, not decisions).
const SNAP: f64 = 1e-6;

/// What the LP is told about one 15-minute interval.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PlanInterval {
    /// Start of the interval, UTC milliseconds (on the 15-minute grid).
    pub interval_start_ms: i64,
    /// Real-time price (or its forecast) ($/MWh).
    pub rt_price: f64,
    /// Reserve prices RRS, ECRS, Non-Spin ($/MW per hour).
    pub reserve_price: [f64; RESERVES],
    /// Hashprice settled on the interval ($ per PH/s per day).
    pub hashprice: f64,
    /// Share of a 4CP peak billed on the interval (or its expectation).
    pub four_cp_weight: f64,
    /// Reserve products deployed in the interval (events and EEAs).
    pub deployed: [bool; RESERVES],
    /// The emergency the decision for the interval knows (the projection's load-shed
    /// rules apply).
    pub emergency: Emergency,
    /// The reserve awards of the interval: fixed, or chosen by the LP for its hour.
    pub awards: Awards,
}

/// The reserve awards of one interval as the LP sees them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Awards {
    /// Already cleared (or impossible: zeros), per product (MW).
    Fixed([f64; RESERVES]),
    /// Chosen by the LP for the interval's clock hour, for the products marked available
    /// (and with a positive clearing price in the hour).
    Free([bool; RESERVES]),
}

impl Default for Awards {
    fn default() -> Awards {
        Awards::Fixed([0.0; RESERVES])
    }
}

/// Size and outcome of one LP solve.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LpStats {
    /// Number of variables.
    pub variables: usize,
    /// Number of constraint rows (bounds included: clarabel has no separate bounds).
    pub constraints: usize,
    /// Nonzeros of the constraint matrix.
    pub nonzeros: usize,
    /// Interior-point iterations.
    pub iterations: u32,
    /// Solver status (`Solved` or `AlmostSolved` when a plan is returned).
    pub status: String,
    /// The fast solve (no iterative refinement) failed and the LP was solved again with
    /// clarabel's default settings.
    pub retried: bool,
    /// Seconds spent building the matrices.
    pub build_seconds: f64,
    /// Seconds spent in the solver (setup, equilibration, factorisations, iterations).
    pub solve_seconds: f64,
}

/// The LP's schedule: one action per interval and the profit the LP expects.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// One action per interval, fractions in [0, 1]: tranche MW over capacity, training MW
    /// over training capacity; no day-ahead values (offers are in `award_mw`).
    pub actions: Vec<Action>,
    /// The awards of each interval (MW per product): the LP's choice where they were free,
    /// the fixed ones elsewhere.
    pub award_mw: Vec<[f64; RESERVES]>,
    /// The LP's profit over the intervals ($), constant terms included.
    pub objective_usd: f64,
    /// Size and outcome of the solve.
    pub stats: LpStats,
}

/// Builder of a sparse LP `min c'x s.t. A_eq x = b_eq, A_le x <= b_le`.
#[derive(Default)]
struct Builder {
    cost: Vec<f64>,
    eq: Vec<(u32, u32, f64)>,
    eq_b: Vec<f64>,
    le: Vec<(u32, u32, f64)>,
    le_b: Vec<f64>,
}

impl Builder {
    /// A new variable `x >= 0` (and `x <= ub` when given) with objective cost `c`.
    fn var(&mut self, c: f64, ub: Option<f64>) -> usize {
        let j = self.cost.len();
        self.cost.push(c);
        self.le(&[(j, -1.0)], 0.0);
        if let Some(ub) = ub {
            self.le(&[(j, 1.0)], ub);
        }
        j
    }

    fn le(&mut self, terms: &[(usize, f64)], rhs: f64) {
        let r = self.le_b.len() as u32;
        for &(j, a) in terms {
            self.le.push((r, j as u32, a));
        }
        self.le_b.push(rhs);
    }

    fn eq(&mut self, terms: &[(usize, f64)], rhs: f64) {
        let r = self.eq_b.len() as u32;
        for &(j, a) in terms {
            self.eq.push((r, j as u32, a));
        }
        self.eq_b.push(rhs);
    }

    /// The constraint matrix in CSC, equality rows first, and the right-hand side.
    fn matrix(&self) -> (CscMatrix<f64>, Vec<f64>) {
        let n = self.cost.len();
        let n_eq = self.eq_b.len();
        let m = n_eq + self.le_b.len();
        let nnz = self.eq.len() + self.le.len();
        let mut colptr = vec![0usize; n + 1];
        for &(_, j, _) in self.eq.iter().chain(&self.le) {
            colptr[j as usize + 1] += 1;
        }
        for j in 0..n {
            colptr[j + 1] += colptr[j];
        }
        let mut next = colptr.clone();
        let mut rowval = vec![0usize; nnz];
        let mut nzval = vec![0.0; nnz];
        // Rows are created in increasing order, so a stable bucket fill by column keeps the
        // row indices of each column sorted.
        let eq = self.eq.iter().map(|&(r, j, a)| (r as usize, j, a));
        let le = self.le.iter().map(|&(r, j, a)| (r as usize + n_eq, j, a));
        for (r, j, a) in eq.chain(le) {
            let k = next[j as usize];
            rowval[k] = r;
            nzval[k] = a;
            next[j as usize] += 1;
        }
        let mut b = Vec::with_capacity(m);
        b.extend_from_slice(&self.eq_b);
        b.extend_from_slice(&self.le_b);
        (CscMatrix::new(m, n, colptr, rowval, nzval), b)
    }
}

fn check_inputs(
    cfg: &SiteConfig,
    initial: &SiteState,
    intervals: &[PlanInterval],
) -> Result<(), PlanError> {
    cfg.validate()
        .map_err(|e| PlanError(format!("dispatch LP: site config: {e}")))?;
    let bad = |k: usize, what: &str, v: f64| {
        PlanError(format!(
            "dispatch LP: interval {k} (start {} ms): {what} = {v} is not finite",
            intervals[k].interval_start_ms
        ))
    };
    for (k, iv) in intervals.iter().enumerate() {
        if iv.interval_start_ms.rem_euclid(INTERVAL_MS) != 0 {
            return Err(PlanError(format!(
                "dispatch LP: interval {k} starts at {} ms, not on the 15-minute grid",
                iv.interval_start_ms
            )));
        }
        if k > 0 && iv.interval_start_ms != intervals[k - 1].interval_start_ms + INTERVAL_MS {
            return Err(PlanError(format!(
                "dispatch LP: interval {k} starts at {} ms, not 15 minutes after interval {}",
                iv.interval_start_ms,
                k - 1
            )));
        }
        if !iv.rt_price.is_finite() {
            return Err(bad(k, "rt_price", iv.rt_price));
        }
        for (p, &x) in iv.reserve_price.iter().enumerate() {
            if !x.is_finite() {
                return Err(bad(k, &format!("reserve_price[{p}]"), x));
            }
        }
        if !iv.hashprice.is_finite() {
            return Err(bad(k, "hashprice", iv.hashprice));
        }
        if let Awards::Fixed(a) = iv.awards {
            for (p, &x) in a.iter().enumerate() {
                if !(x.is_finite() && x >= 0.0) {
                    return Err(bad(k, &format!("awards[{p}]"), x));
                }
            }
        }
        if !(iv.four_cp_weight.is_finite() && iv.four_cp_weight >= 0.0) {
            return Err(PlanError(format!(
                "dispatch LP: interval {k}: four_cp_weight = {} must be a finite number >= 0",
                iv.four_cp_weight
            )));
        }
    }
    let state_ok =
        initial.tranche_mw.iter().all(|x| x.is_finite()) && initial.training_mw.is_finite();
    if !state_ok {
        return Err(PlanError(format!(
            "dispatch LP: initial state has a non-finite value: {initial:?}"
        )));
    }
    Ok(())
}

/// True when the solver's answer is a usable plan: solved (fully or to reduced accuracy)
/// and finite.
fn solution_usable(sol: &DefaultSolution<f64>) -> bool {
    matches!(
        sol.status,
        SolverStatus::Solved | SolverStatus::AlmostSolved
    ) && sol.x.iter().all(|v| v.is_finite())
}

/// The error for a solver status that is not `Solved`/`AlmostSolved`, naming it.
fn check_status(status: SolverStatus, stats: &LpStats, n: usize) -> Result<(), PlanError> {
    if matches!(status, SolverStatus::Solved | SolverStatus::AlmostSolved) {
        return Ok(());
    }
    Err(PlanError(format!(
        "dispatch LP over {n} intervals not solved: solver status {status:?} after {} \
         iterations ({} variables, {} constraints{})",
        stats.iterations,
        stats.variables,
        stats.constraints,
        if stats.retried {
            ", also with iterative refinement"
        } else {
            ""
        }
    )))
}

/// Solves the dispatch LP (see the module doc) over `intervals`, starting from `initial`.
///
/// Errors (never panics): an invalid config, intervals off the 15-minute grid or not
/// consecutive, non-finite inputs, or a solver status other than `Solved`/`AlmostSolved`
/// (the error names the status). No intervals give an empty plan.
pub fn solve_plan(
    cfg: &SiteConfig,
    initial: &SiteState,
    intervals: &[PlanInterval],
) -> Result<Plan, PlanError> {
    check_inputs(cfg, initial, intervals)?;
    let n = intervals.len();
    if n == 0 {
        return Ok(Plan::default());
    }
    let built = Instant::now();
    let h = INTERVAL_HOURS;
    let ai = &cfg.ai;
    let cap: [f64; TRANCHES] = std::array::from_fn(|i| cfg.mining.tranches[i].capacity_mw);
    let cap_total: f64 = cap.iter().sum();
    // $ of mining revenue per MW and interval per $/PH/day of hashprice.
    let mine_per_hp: [f64; TRANCHES] = std::array::from_fn(|i| {
        1e3 / cfg.mining.tranches[i].efficiency_j_per_th * (1.0 - cfg.mining.pool_fee) * h / 24.0
    });
    let cp_per_mw = cfg.four_cp_usd_per_mw();
    let train_rev = ai.training_revenue_usd_per_mwh;
    let restart_cost = ai.restart_loss_hours * train_rev;
    let steps = ai.training_steps.max(1) as f64;
    let step_mw = ai.training_mw / steps;
    let e = &cfg.emergency;
    let shed_train_cap = if e.sb6_subject {
        0.0
    } else {
        ((e.load_shed_max_training_fraction * steps) + 1e-9).floor() * step_mw
    };
    let shed_mining = e.load_shed_curtail_mining || e.sb6_subject;
    let shed_inference = e.load_shed_curtail_inference || e.sb6_subject;
    let train_ramp = ((ai.training_max_ramp_mw_per_interval / step_mw.max(1e-12)) + 1e-9)
        .floor()
        .min(steps)
        * step_mw;
    let miner_ramp = cfg.mining.max_ramp_mw_per_interval;
    let wear = cfg.mining.wear_usd_per_mw_start;
    let bop = cfg.plant.balance_of_plant_mw;
    let offerable = cfg.reserves.max_offer_fraction * cap_total;
    let inference_penalty = ai.inference_revenue_usd_per_mwh * ai.inference_penalty_multiple;

    // Initial state, clamped the way the projection reads it.
    let m_init: [f64; TRANCHES] = std::array::from_fn(|i| initial.tranche_mw[i].clamp(0.0, cap[i]));
    let tr_init = initial.training_mw.clamp(0.0, ai.training_mw);

    let mut b = Builder::default();
    let mut constant = 0.0;
    let mut m_idx = vec![[0usize; TRANCHES]; n];
    let mut tr_idx = vec![0usize; n];
    // Award variables of the current clock hour, per product, and where each interval's
    // awards come from.
    let mut award_vars: Vec<[Option<usize>; RESERVES]> = vec![[None; RESERVES]; n];
    let mut hour_vars: [Option<usize>; RESERVES] = [None; RESERVES];
    let mut hour_key = i64::MIN;
    for (t, iv) in intervals.iter().enumerate() {
        let shed = iv.emergency.load_shed;
        let curtail = shed && shed_mining;
        let inference = if shed && shed_inference {
            0.0
        } else {
            ai.inference_mw
        };
        // $ per MW of site load in this interval: energy at the marginal (real-time) price
        // and the 4CP charge.
        let load_cost = iv.rt_price * h + cp_per_mw * iv.four_cp_weight;
        constant += inference * ai.inference_revenue_usd_per_mwh * h
            - (ai.inference_mw - inference) * inference_penalty * h
            - (bop + inference) * load_cost;
        if cfg.contract.kind == ContractKind::FixedBlock {
            // energy_cost + power_credits = -B h block_price - (load - B) h rt.
            constant +=
                cfg.contract.block_mw * h * (iv.rt_price - cfg.contract.block_price_usd_per_mwh);
        }
        let margin: [f64; TRANCHES] =
            std::array::from_fn(|i| mine_per_hp[i] * iv.hashprice - load_cost);

        // The awards of the interval: fixed ones are constants; free ones are one variable
        // per product and clock hour, paid in each of the hour's intervals.
        let key = iv.interval_start_ms.div_euclid(HOUR_MS);
        let (vars, fixed) = match iv.awards {
            Awards::Fixed(a) => {
                hour_key = i64::MIN;
                for (a_p, price) in a.iter().zip(iv.reserve_price) {
                    constant += a_p * price * h;
                }
                ([None; RESERVES], a)
            }
            Awards::Free(available) => {
                if key != hour_key {
                    hour_key = key;
                    hour_vars = [None; RESERVES];
                    let mut row = Vec::with_capacity(RESERVES);
                    for p in 0..RESERVES {
                        if available[p] && iv.reserve_price[p] > 0.0 && offerable > 0.0 {
                            let j = b.var(0.0, None);
                            hour_vars[p] = Some(j);
                            row.push((j, 1.0));
                        }
                    }
                    if !row.is_empty() {
                        b.le(&row, offerable);
                    }
                }
                for (v, price) in hour_vars.iter().zip(iv.reserve_price) {
                    if let Some(j) = *v {
                        b.cost[j] -= price * h * SCALE;
                    }
                }
                (hour_vars, [0.0; RESERVES])
            }
        };
        award_vars[t] = vars;

        // Miners, training, restarts, wear.
        let m: [usize; TRANCHES] = std::array::from_fn(|i| {
            let c = if curtail { 0.0 } else { -margin[i] * SCALE };
            b.var(c, Some(cap[i]))
        });
        m_idx[t] = m;
        let tr_cap = if shed {
            shed_train_cap.min(ai.training_mw)
        } else {
            ai.training_mw
        };
        let tr = b.var(-(train_rev * h - load_cost) * SCALE, Some(tr_cap));
        tr_idx[t] = tr;
        let prev_tr = if t > 0 { Some(tr_idx[t - 1]) } else { None };
        // Restart: tr - tr_prev - u <= 0.
        let u = b.var(restart_cost * SCALE, None);
        match prev_tr {
            Some(p) => b.le(&[(tr, 1.0), (p, -1.0), (u, -1.0)], 0.0),
            None => b.le(&[(tr, 1.0), (u, -1.0)], tr_init),
        }
        if shed {
            // Training is never raised under load shed.
            match prev_tr {
                Some(p) => b.le(&[(tr, 1.0), (p, -1.0)], 0.0),
                None => b.le(&[(tr, 1.0)], tr_init),
            }
        } else if train_ramp < ai.training_mw {
            match prev_tr {
                Some(p) => {
                    b.le(&[(tr, 1.0), (p, -1.0)], train_ramp);
                    b.le(&[(tr, -1.0), (p, 1.0)], train_ramp);
                }
                None => {
                    b.le(&[(tr, 1.0)], tr_init + train_ramp);
                    b.le(&[(tr, -1.0)], train_ramp - tr_init);
                }
            }
        }
        for i in 0..TRANCHES {
            let prev = if t > 0 { Some(m_idx[t - 1][i]) } else { None };
            if wear > 0.0 {
                let w = b.var(wear * SCALE, None);
                match prev {
                    Some(p) => b.le(&[(m[i], 1.0), (p, -1.0), (w, -1.0)], 0.0),
                    None => b.le(&[(m[i], 1.0), (w, -1.0)], m_init[i]),
                }
            }
            if miner_ramp < cap[i] {
                match prev {
                    Some(p) => {
                        b.le(&[(m[i], 1.0), (p, -1.0)], miner_ramp);
                        if !curtail {
                            b.le(&[(m[i], -1.0), (p, 1.0)], miner_ramp);
                        }
                    }
                    None => {
                        b.le(&[(m[i], 1.0)], m_init[i] + miner_ramp);
                        if !curtail {
                            b.le(&[(m[i], -1.0)], miner_ramp - m_init[i]);
                        }
                    }
                }
            }
        }

        // Interconnect, only when it can bind.
        let headroom = cfg.grid.import_limit_mw - bop - inference;
        if tr_cap + cap_total > headroom + 1e-9 {
            b.le(
                &[(tr, 1.0), (m[0], 1.0), (m[1], 1.0), (m[2], 1.0)],
                headroom.max(0.0),
            );
        }

        // Coverage of the awards by running miners, and deployments.
        let mut row: Vec<(usize, f64)> = Vec::with_capacity(TRANCHES + RESERVES);
        let fixed_total: f64 = fixed.iter().sum();
        let any_var = vars.iter().any(Option::is_some);
        if curtail {
            // Miners run exactly the awards, all deployed: sum m = sum a.
            row.extend(m.iter().map(|&j| (j, 1.0)));
            row.extend(vars.iter().flatten().map(|&j| (j, -1.0)));
            b.eq(&row, fixed_total);
        } else if any_var || fixed_total > 0.0 {
            row.extend(m.iter().map(|&j| (j, -1.0)));
            row.extend(vars.iter().flatten().map(|&j| (j, 1.0)));
            b.le(&row, -fixed_total);
        }
        let dep_vars: Vec<usize> = (0..RESERVES)
            .filter(|&p| iv.deployed[p])
            .filter_map(|p| vars[p])
            .collect();
        let dep_const: f64 = (0..RESERVES)
            .filter(|&p| iv.deployed[p])
            .map(|p| fixed[p])
            .sum();
        if !curtail && (!dep_vars.is_empty() || dep_const > 0.0) {
            // Dropped MW per tranche: lost margin, d <= m, sum d = deployed awards.
            row.clear();
            for i in 0..TRANCHES {
                let d = b.var(margin[i] * SCALE, None);
                b.le(&[(d, 1.0), (m[i], -1.0)], 0.0);
                row.push((d, 1.0));
            }
            row.extend(dep_vars.iter().map(|&j| (j, -1.0)));
            b.eq(&row, dep_const);
        }
    }

    let (a, rhs) = b.matrix();
    let stats_base = LpStats {
        variables: b.cost.len(),
        constraints: rhs.len(),
        nonzeros: a.nzval.len(),
        build_seconds: built.elapsed().as_secs_f64(),
        ..LpStats::default()
    };
    let cones = [
        SupportedConeT::ZeroConeT(b.eq_b.len()),
        SupportedConeT::NonnegativeConeT(b.le_b.len()),
    ];
    let p = CscMatrix::<f64>::zeros((stats_base.variables, stats_base.variables));
    let solving = Instant::now();
    // Fast path without iterative refinement (it costs about 40 % of a year's solve and
    // changes nothing on well-scaled data); if that does not solve, retry with clarabel's
    // defaults.
    let attempt = |refine: bool| -> Result<(DefaultSolution<f64>, bool), PlanError> {
        let settings = DefaultSettingsBuilder::default()
            .verbose(false)
            .max_iter(MAX_ITER)
            .iterative_refinement_enable(refine)
            .build()
            .map_err(|e| PlanError(format!("dispatch LP: solver settings: {e:?}")))?;
        let mut solver = DefaultSolver::new(&p, &b.cost, &a, &rhs, &cones, settings)
            .map_err(|e| PlanError(format!("dispatch LP: solver setup failed: {e:?}")))?;
        solver.solve();
        let ok = solution_usable(&solver.solution);
        Ok((solver.solution, ok))
    };
    let (mut sol, ok) = attempt(false)?;
    let mut retried = false;
    if !ok {
        retried = true;
        sol = attempt(true)?.0;
    }
    let stats = LpStats {
        iterations: sol.iterations,
        status: format!("{:?}", sol.status),
        retried,
        solve_seconds: solving.elapsed().as_secs_f64(),
        ..stats_base
    };
    check_status(sol.status, &stats, n)?;
    let x = &sol.x;
    if x.iter().any(|v| !v.is_finite()) {
        return Err(PlanError(format!(
            "dispatch LP over {n} intervals: the solver returned a non-finite solution \
             (status {})",
            stats.status
        )));
    }
    let objective_usd = constant - b.cost.iter().zip(x).map(|(c, v)| c * v).sum::<f64>() / SCALE;

    // The schedule as actions.
    let snap = |v: f64| {
        let v = v.clamp(0.0, 1.0);
        if v < SNAP {
            0.0
        } else if v > 1.0 - SNAP {
            1.0
        } else {
            v
        }
    };
    let actions: Vec<Action> = (0..n)
        .map(|t| Action {
            tranche: std::array::from_fn(|i| {
                if cap[i] > 0.0 {
                    snap(x[m_idx[t][i]] / cap[i])
                } else {
                    0.0
                }
            }),
            training: if ai.training_mw > 0.0 {
                snap(x[tr_idx[t]] / ai.training_mw)
            } else {
                0.0
            },
            ..Action::default()
        })
        .collect();
    let award_mw = (0..n)
        .map(|t| match intervals[t].awards {
            Awards::Fixed(a) => a,
            Awards::Free(_) => award_vars[t].map(|j| match j {
                Some(j) if x[j] > 1e-6 => x[j],
                _ => 0.0,
            }),
        })
        .collect();
    Ok(Plan {
        actions,
        award_mw,
        objective_usd,
        stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use powermix_env::safety::{ProjectionContext, Projector};
    use powermix_env::settlement::{IntervalMarket, Settler};

    /// 2024-07-15 05:00 UTC, an hour start.
    const T0: i64 = 1_721_019_600_000;

    fn iv(k: i64, rt: f64) -> PlanInterval {
        PlanInterval {
            interval_start_ms: T0 + k * INTERVAL_MS,
            rt_price: rt,
            reserve_price: [0.0; RESERVES],
            hashprice: 50.0,
            four_cp_weight: 0.0,
            deployed: [false; RESERVES],
            emergency: Emergency::NONE,
            awards: Awards::Free([true; RESERVES]),
        }
    }

    /// Runs the plan through the shared projection and settlement, as the env does, with
    /// the plan's awards in force.
    fn replay(cfg: &SiteConfig, initial: &SiteState, ivs: &[PlanInterval], plan: &Plan) -> f64 {
        let proj = Projector::new(cfg);
        let settler = Settler::new(cfg);
        let mut s = *initial;
        let mut total = 0.0;
        for ((iv, a), award) in ivs.iter().zip(&plan.actions).zip(&plan.award_mw) {
            s.award_mw = *award;
            let ctx = ProjectionContext {
                emergency: iv.emergency,
            };
            let d = proj.project(a, &s, ctx);
            let m = IntervalMarket {
                rt_price: iv.rt_price,
                reserve_price: iv.reserve_price,
                hashprice: iv.hashprice,
                four_cp_weight: iv.four_cp_weight,
                deployed: iv.deployed,
            };
            let r = settler.settle(&d, &s, &m);
            assert!(
                r.ledger.reserve_shortfall > -1e-6,
                "the plan covers its awards"
            );
            total += r.ledger.total();
            s = s.after(&d, cfg);
        }
        total
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-6 * (1.0 + b.abs()) + 1e-3
    }

    #[test]
    fn eight_intervals_break_even_and_a_4cp_interval() {
        // Hashprice $50/PH/day: break-evens 116.7 (s21), 95.0 (s19xp), 69.2 (s19) $/MWh.
        // Each tranche runs when the price is below its break-even; the 4CP interval
        // (weight 1: $16,750 per MW) stops every miner and training (20 MW x 16,750 is far
        // more than the 20 MW x 0.5 h x $1,200 restart), which restarts right after.
        let cfg = SiteConfig::default_site();
        let init = SiteState::initial(&cfg);
        let prices = [30.0, 80.0, 110.0, 200.0, 30.0, 30.0, 30.0, 30.0];
        let mut ivs: Vec<PlanInterval> = (0..8).map(|k| iv(k, prices[k as usize])).collect();
        ivs[4].four_cp_weight = 1.0;
        let plan = solve_plan(&cfg, &init, &ivs).unwrap();
        let tranches: Vec<[f64; 3]> = plan.actions.iter().map(|a| a.tranche).collect();
        assert_eq!(
            tranches,
            vec![
                [1.0, 1.0, 1.0],
                [1.0, 1.0, 0.0],
                [1.0, 0.0, 0.0],
                [0.0, 0.0, 0.0],
                [0.0, 0.0, 0.0],
                [1.0, 1.0, 1.0],
                [1.0, 1.0, 1.0],
                [1.0, 1.0, 1.0],
            ]
        );
        let training: Vec<f64> = plan.actions.iter().map(|a| a.training).collect();
        assert_eq!(training, vec![1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0]);
        assert!(
            plan.award_mw.iter().all(|a| *a == [0.0; 3]),
            "no reserve price, no award"
        );
        // The LP books exactly what settlement books for its schedule.
        let settled = replay(&cfg, &init, &ivs, &plan);
        assert!(
            close(plan.objective_usd, settled),
            "{} vs {settled}",
            plan.objective_usd
        );
        // By hand: a running MW of tranche i earns its break-even price x 0.25 h; the 4CP
        // interval bills 15 MW (plant + inference) x $16,750; training restarts 20 MW at t5
        // ($12,000) and the 65 MW of miners restart there too ($1/MW wear).
        let be = cfg.break_even_usd_per_mwh(50.0);
        let caps = [30.0, 20.0, 15.0];
        let mut hand = -15.0 * 16_750.0 - 12_000.0 - 65.0;
        for t in 0..8 {
            let mut load = 15.0 + 20.0 * training[t];
            hand += 10.0 * 1500.0 * 0.25 + 20.0 * training[t] * 1200.0 * 0.25;
            for i in 0..3 {
                load += caps[i] * tranches[t][i];
                hand += caps[i] * tranches[t][i] * be[i] * 0.25;
            }
            hand -= load * prices[t] * 0.25;
        }
        assert!(
            close(plan.objective_usd, hand),
            "{} vs {hand}",
            plan.objective_usd
        );
        assert_eq!(plan.stats.status, "Solved");
    }

    #[test]
    fn award_keeps_the_efficient_tranche_on_through_a_price_spike() {
        // One hour at $200/MWh, RRS at $100/MW-h: a running s21 MW loses
        // (200 - 116.7) x 0.25 = $20.8 an interval but earns 100 x 0.25 = $25 awarded; an
        // s19xp MW would lose $26.3: so s21 stays on and is awarded whole, the rest stops.
        let cfg = SiteConfig::default_site();
        let init = SiteState::initial(&cfg);
        let mut ivs: Vec<PlanInterval> = (0..4).map(|k| iv(k, 200.0)).collect();
        for x in &mut ivs {
            x.reserve_price = [100.0, 0.0, 0.0];
        }
        let plan = solve_plan(&cfg, &init, &ivs).unwrap();
        for (a, aw) in plan.actions.iter().zip(&plan.award_mw) {
            assert_eq!(a.tranche, [1.0, 0.0, 0.0]);
            assert_eq!(a.training, 1.0);
            assert!(close(aw[0], 30.0) && aw[1] == 0.0 && aw[2] == 0.0, "{aw:?}");
        }
        let settled = replay(&cfg, &init, &ivs, &plan);
        assert!(close(plan.objective_usd, settled));

        // Known deployment at t2: awarded MW are dropped then (energy saved, capacity still
        // paid), so an award pays more: every tranche now earns more from it (4 x $25 per
        // MW) than it loses running the 3 other intervals, and the whole fleet is awarded.
        let mut dep = ivs.clone();
        dep[2].deployed = [true, false, false];
        let plan_d = solve_plan(&cfg, &init, &dep).unwrap();
        assert!(
            close(plan_d.award_mw[0][0], 65.0),
            "{:?}",
            plan_d.award_mw[0]
        );
        assert_eq!(plan_d.actions[0].tranche, [1.0, 1.0, 1.0]);
        let loss = cfg.break_even_usd_per_mwh(50.0).map(|b| (200.0 - b) * 0.25);
        let with: f64 = (0..3)
            .map(|i| cfg.mining.tranches[i].capacity_mw * (100.0 - 3.0 * loss[i]))
            .sum();
        let without = 30.0 * (100.0 - 4.0 * loss[0]);
        let gain = plan_d.objective_usd - plan.objective_usd;
        assert!(close(gain, with - without), "{gain} vs {}", with - without);
        assert!(close(
            plan_d.objective_usd,
            replay(&cfg, &init, &dep, &plan_d)
        ));

        // Firm load shed at t2 (an EEA3, which deploys every product): miners stop (the
        // award is deployed and paid), training stops and stays off at t3 (a $12,000 restart
        // for $5,000 of margin).
        let mut em = ivs.clone();
        em[2].emergency = Emergency {
            level: 3,
            load_shed: true,
        };
        em[2].deployed = [true; RESERVES];
        let plan_e = solve_plan(&cfg, &init, &em).unwrap();
        let training: Vec<f64> = plan_e.actions.iter().map(|a| a.training).collect();
        assert_eq!(training, vec![1.0, 1.0, 0.0, 0.0]);
        assert!(plan_e.award_mw[0][0] >= 30.0 - 1e-6);
        assert!(close(
            plan_e.objective_usd,
            replay(&cfg, &init, &em, &plan_e)
        ));
    }

    #[test]
    fn fixed_awards_are_covered_paid_and_not_chosen() {
        // 20 MW of RRS awarded at $5/MW-h in an hour at $300/MWh: the LP must keep 20 MW of
        // the most efficient tranche running (loss (300 - 116.7) x 0.25 = $45.8 per MW and
        // interval) and books 20 x 5 x 0.25 = $25 an interval of capacity payment.
        let cfg = SiteConfig::default_site();
        let init = SiteState::initial(&cfg);
        let mut ivs: Vec<PlanInterval> = (0..4).map(|k| iv(k, 300.0)).collect();
        for x in &mut ivs {
            x.reserve_price = [5.0, 0.0, 0.0];
            x.awards = Awards::Fixed([20.0, 0.0, 0.0]);
        }
        let plan = solve_plan(&cfg, &init, &ivs).unwrap();
        for (a, aw) in plan.actions.iter().zip(&plan.award_mw) {
            assert!(close(a.tranche[0], 20.0 / 30.0), "{:?}", a.tranche);
            assert_eq!(*aw, [20.0, 0.0, 0.0]);
        }
        assert!(close(plan.objective_usd, replay(&cfg, &init, &ivs, &plan)));
        // Free awards at that price would not be taken.
        for x in &mut ivs {
            x.awards = Awards::Free([true; RESERVES]);
        }
        let free = solve_plan(&cfg, &init, &ivs).unwrap();
        assert!(free.award_mw.iter().all(|a| a[0] < 1e-6));
        assert!(free.objective_usd > plan.objective_usd);
    }

    #[test]
    fn fixed_block_objective_includes_the_block_term() {
        let mut cfg = SiteConfig::default_site();
        cfg.contract.kind = ContractKind::FixedBlock;
        let init = SiteState::initial(&cfg);
        let ivs: Vec<PlanInterval> = [20.0, 150.0, -10.0, 60.0]
            .iter()
            .enumerate()
            .map(|(k, &p)| iv(k as i64, p))
            .collect();
        let plan = solve_plan(&cfg, &init, &ivs).unwrap();
        assert!(close(plan.objective_usd, replay(&cfg, &init, &ivs, &plan)));
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        let cfg = SiteConfig::default_site();
        let init = SiteState::initial(&cfg);
        let mut ivs: Vec<PlanInterval> = (0..4).map(|k| iv(k, 40.0)).collect();
        ivs[2].rt_price = f64::NAN;
        let e = solve_plan(&cfg, &init, &ivs).unwrap_err().0;
        assert!(e.contains("interval 2") && e.contains("rt_price"), "{e}");
        let mut ivs: Vec<PlanInterval> = (0..4).map(|k| iv(k, 40.0)).collect();
        ivs[3].interval_start_ms += INTERVAL_MS;
        let e = solve_plan(&cfg, &init, &ivs).unwrap_err().0;
        assert!(e.contains("not 15 minutes after"), "{e}");
        ivs[3].interval_start_ms += 7;
        let e = solve_plan(&cfg, &init, &ivs).unwrap_err().0;
        assert!(e.contains("15-minute grid"), "{e}");
        let mut bad = cfg.clone();
        bad.mining.pool_fee = 2.0;
        let e = solve_plan(&bad, &init, &ivs[..1]).unwrap_err().0;
        assert!(e.contains("pool_fee"), "{e}");
        let s = SiteState {
            training_mw: f64::INFINITY,
            ..init
        };
        assert!(solve_plan(&cfg, &s, &ivs[..1]).is_err());
        assert_eq!(solve_plan(&cfg, &init, &[]).unwrap().actions.len(), 0);
        let stats = LpStats {
            iterations: 200,
            variables: 10,
            constraints: 20,
            retried: true,
            ..LpStats::default()
        };
        let e = check_status(SolverStatus::MaxIterations, &stats, 4)
            .unwrap_err()
            .0;
        assert!(
            e.contains("MaxIterations") && e.contains("refinement"),
            "{e}"
        );
        assert!(check_status(SolverStatus::AlmostSolved, &stats, 4).is_ok());
    }
}
