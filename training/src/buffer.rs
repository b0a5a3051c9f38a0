//! The rollout buffer and generalised advantage estimation, in plain Rust.
//!
//! Layout: step-major, `[n_steps][n_envs]` for scalars and `[n_steps][n_envs][dim]` for
//! vectors, exactly as a `VecEnv` produces them.

/// One rollout of `n_steps` steps of `n_envs` envs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rollout {
    /// Envs per step.
    pub n_envs: usize,
    /// Normalised observations the actions were taken on.
    pub obs: Vec<f32>,
    /// Sampled (unclamped) actions.
    pub actions: Vec<f32>,
    /// 1 for each action value the env read, 0 for the others (`mask_inert_actions`;
    /// empty without it).
    pub masks: Vec<f32>,
    /// Log-probabilities of the actions under the rollout policy.
    pub log_probs: Vec<f32>,
    /// Value estimates of `obs`.
    pub values: Vec<f32>,
    /// Scaled rewards.
    pub rewards: Vec<f32>,
    /// Value of the state after the step: V(next obs), V(final obs) on truncation, 0 on
    /// termination (set by `ppo::bootstrap_values`).
    pub next_values: Vec<f32>,
    /// The episode ended at this step (terminated or truncated): no advantage flows back
    /// across it.
    pub episode_end: Vec<bool>,
    /// `advantage = "same_input"`: per step, the forked return of the action followed by
    /// the base rules, and of the base rules alone, on the same inputs ($; empty otherwise).
    pub same_input_action: Vec<f32>,
    /// See `same_input_action`.
    pub same_input_base: Vec<f32>,
    /// `hindsight_coef > 0`: per step, the hindsight label's correction of each miner
    /// tranche (`rollout::LABELLED` values per step; empty otherwise).
    pub hindsight_target: Vec<f32>,
    /// Their weights ($ per MW and interval, capped; 0 where the rules act alone).
    pub hindsight_weight: Vec<f32>,
}

impl Rollout {
    /// Steps stored so far.
    pub fn steps(&self) -> usize {
        self.values.len() / self.n_envs.max(1)
    }
}

/// Generalised advantage estimation over a step-major rollout:
/// `delta_t = r_t + gamma * next_value_t - V_t` and
/// `A_t = delta_t + gamma * lambda * (1 - end_t) * A_{t+1}`, returns `A_t + V_t`.
///
/// `next_value_t` already encodes the episode boundary: the bootstrap value of the final
/// observation when the episode was truncated (the future goes on, the window ended), 0 when
/// it terminated (no future). So truncation bootstraps and termination does not.
pub fn gae(
    n_envs: usize,
    rewards: &[f32],
    values: &[f32],
    next_values: &[f32],
    episode_end: &[bool],
    gamma: f64,
    lambda: f64,
) -> (Vec<f32>, Vec<f32>) {
    let n = values.len();
    let steps = n / n_envs;
    let mut adv = vec![0.0f32; n];
    let mut running = vec![0.0f64; n_envs];
    for t in (0..steps).rev() {
        for e in 0..n_envs {
            let i = t * n_envs + e;
            let delta = rewards[i] as f64 + gamma * next_values[i] as f64 - values[i] as f64;
            let carry = if episode_end[i] {
                0.0
            } else {
                gamma * lambda * running[e]
            };
            running[e] = delta + carry;
            adv[i] = running[e] as f32;
        }
    }
    let returns = adv.iter().zip(values).map(|(a, v)| a + v).collect();
    (adv, returns)
}

/// Running mean and variance (Welford, in f64) of a scalar stream.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct RunningStat {
    /// Values seen.
    pub count: f64,
    /// Mean.
    pub mean: f64,
    /// Sum of squared deviations.
    pub m2: f64,
}

impl RunningStat {
    /// Adds one value.
    pub fn push(&mut self, x: f64) {
        self.count += 1.0;
        let d = x - self.mean;
        self.mean += d / self.count;
        self.m2 += d * (x - self.mean);
    }

    /// Population standard deviation (1 before two values).
    pub fn std(&self) -> f64 {
        if self.count < 2.0 {
            1.0
        } else {
            (self.m2 / self.count).sqrt()
        }
    }
}

/// Reward scaling: rewards divided by the running standard deviation of the discounted
/// return of each env (reset at episode ends), then clipped.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct RewardScaler {
    /// Discounted return so far per env.
    pub returns: Vec<f64>,
    /// Statistics of the discounted returns.
    pub stat: RunningStat,
}

impl RewardScaler {
    /// A scaler for `n_envs` envs.
    pub fn new(n_envs: usize) -> RewardScaler {
        RewardScaler {
            returns: vec![0.0; n_envs],
            stat: RunningStat::default(),
        }
    }

    /// Scales one step of rewards in place (`rewards[e]` of env `e`), given which episodes
    /// ended at this step.
    pub fn scale(
        &mut self,
        rewards: &[f32],
        ended: &[bool],
        gamma: f64,
        clip: f64,
        out: &mut [f32],
    ) {
        for e in 0..rewards.len() {
            self.returns[e] = self.returns[e] * gamma + rewards[e] as f64;
            self.stat.push(self.returns[e]);
        }
        let std = self.stat.std().max(1e-8);
        for e in 0..rewards.len() {
            out[e] = ((rewards[e] as f64 / std).clamp(-clip, clip)) as f32;
            if ended[e] {
                self.returns[e] = 0.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gae_hand_computed_with_truncation_and_termination() {
        // One env, 3 steps, gamma 0.5, lambda 1 (advantages = discounted returns - V).
        // Step 0: r=1, V=0, next V(s1)=2; step 1: r=2, V=2, truncated with V(final)=4;
        // step 2: r=3, V=1, terminated (next 0).
        let r = [1.0, 2.0, 3.0];
        let v = [0.0, 2.0, 1.0];
        let nv = [2.0, 4.0, 0.0];
        let end = [false, true, true];
        let (adv, ret) = gae(1, &r, &v, &nv, &end, 0.5, 1.0);
        // Step 2: delta = 3 + 0 - 1 = 2 (no bootstrap on termination).
        assert_eq!(adv[2], 2.0);
        // Step 1: delta = 2 + 0.5 * 4 - 2 = 2 (bootstrap on truncation), nothing flows back
        // from step 2 across the episode end.
        assert_eq!(adv[1], 2.0);
        // Step 0: delta = 1 + 0.5 * 2 - 0 = 2, plus 0.5 * 1 * A1 = 1 -> 3.
        assert_eq!(adv[0], 3.0);
        assert_eq!(ret, vec![3.0, 4.0, 3.0]);
    }

    #[test]
    fn gae_lambda_zero_is_one_step_td() {
        let (adv, _) = gae(
            2,
            &[1.0, 2.0, 3.0, 4.0],
            &[0.5; 4],
            &[1.0; 4],
            &[false; 4],
            0.9,
            0.0,
        );
        for (i, r) in [1.0f32, 2.0, 3.0, 4.0].iter().enumerate() {
            assert!((adv[i] - (r + 0.9 - 0.5)).abs() < 1e-6);
        }
    }

    #[test]
    fn reward_scaler_divides_by_return_std_and_resets() {
        let mut s = RewardScaler::new(1);
        let mut out = [0.0f32];
        for _ in 0..100 {
            s.scale(&[10.0], &[false], 0.0, 100.0, &mut out);
        }
        // gamma 0: returns are the rewards, constant 10: std 0 -> floored, clipped at 100.
        assert_eq!(out[0], 100.0);
        let mut s = RewardScaler::new(1);
        s.scale(&[2.0], &[true], 0.9, 100.0, &mut out);
        assert_eq!(s.returns[0], 0.0, "reset at episode end");
    }
}
