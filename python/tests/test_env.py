import gymnasium
import numpy as np
import pytest
from conftest import WEEK
from gymnasium.utils.env_checker import check_env

import powermix


def test_check_env():
    env = gymnasium.make("powermix/Site-v0", seed=3)
    check_env(env.unwrapped)


def test_spaces_and_metadata_come_from_the_rust_env():
    env = gymnasium.make("powermix/Site-v0")
    md = env.unwrapped.metadata
    assert md["obs_names"] == list(powermix.OBS_NAMES)
    assert md["action_names"] == list(powermix.ACTION_NAMES)
    assert md["ledger_lines"] == list(powermix.LEDGER_LINES)
    assert env.observation_space.shape == (len(powermix.OBS_NAMES),)
    assert env.action_space.shape == (len(powermix.ACTION_NAMES),)
    assert env.observation_space.dtype == np.float32
    assert env.action_space.dtype == np.float32
    assert md["gate_features"] == ["da_gate"]
    assert set(md["gate_features"]) <= set(powermix.OBS_NAMES)


def run(env, seed, steps, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    obs, _ = env.reset(seed=seed)
    out = [obs]
    rewards = []
    for _ in range(steps):
        a = rng.random(powermix.ACTION_DIM, dtype=np.float32)
        obs, r, term, trunc, info = env.step(a)
        out.append(obs)
        rewards.append(r)
        if term or trunc:
            obs, _ = env.reset()
            out.append(obs)
    return np.array(out), np.array(rewards)


def test_same_seed_same_run_other_seed_other_run():
    a = run(powermix.SiteEnv(episode_len=100), seed=7, steps=250)
    b = run(powermix.SiteEnv(episode_len=100), seed=7, steps=250)
    c = run(powermix.SiteEnv(episode_len=100), seed=8, steps=250)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_constructor_seed_is_the_first_resets_seed():
    a = run(powermix.SiteEnv(seed=11, episode_len=100), seed=None, steps=120)
    b = run(powermix.SiteEnv(episode_len=100), seed=11, steps=120)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_info_has_the_ledger_and_the_episode_profit(market):
    start, end = market.window(WEEK)
    env = powermix.SiteEnv(period=WEEK, episode_len=None)
    env.reset(seed=1)
    total, n = 0.0, 0
    while True:
        obs, r, term, trunc, info = env.step(env.action_space.sample())
        assert list(info["ledger"]) == list(powermix.LEDGER_LINES)
        assert sum(info["ledger"].values()) == pytest.approx(r, abs=1e-6)
        assert info["profit"] == r
        total += r
        n += 1
        if term or trunc:
            break
    assert n == end - start  # 7 days, one of them 23 hours (DST starts on 2024-03-10)
    assert info["episode_profit"] == pytest.approx(total, rel=1e-12)
    assert info["episode_intervals"] == n


def test_python_stepped_profit_equals_the_rust_backtest():
    rng = np.random.default_rng(5)
    env = powermix.SiteEnv(period=WEEK, episode_len=None)
    env.reset(seed=1)
    actions, rewards = [], []
    done = False
    while not done:
        a = rng.random(powermix.ACTION_DIM, dtype=np.float32)
        _, r, term, trunc, _ = env.step(a)
        actions.append(a)
        rewards.append(r)
        done = term or trunc
    s = powermix.score(np.array(actions), period=WEEK, seed=1)
    assert s.intervals == len(rewards)
    assert np.array_equal(s.profit, np.array(rewards))
    assert s.profit_usd == pytest.approx(sum(rewards), rel=1e-12)
    assert s.oracle_usd >= s.profit_usd
    assert s.value_captured == pytest.approx(
        (s.profit_usd - s.always_on_usd) / (s.oracle_usd - s.always_on_usd)
    )


def test_a_policy_function_sees_the_envs_observations():
    # A policy that depends on the observation: the same profits stepped from Python and
    # scored by the harness (which builds observations from its own snapshots) prove that
    # both see the same features.
    w = np.linspace(-1, 1, powermix.OBS_DIM * powermix.ACTION_DIM, dtype=np.float32)
    w = w.reshape(powermix.ACTION_DIM, powermix.OBS_DIM)

    def policy(obs):
        return 1 / (1 + np.exp(-(w @ obs)))

    env = powermix.SiteEnv(period=WEEK, episode_len=None)
    obs, _ = env.reset(seed=2)
    rewards, done = [], False
    while not done:
        obs, r, term, trunc, _ = env.step(policy(obs))
        rewards.append(r)
        done = term or trunc
    s = powermix.score(policy, period=WEEK, seed=2)
    assert np.array_equal(s.profit, np.array(rewards))


def test_whole_period_episode_covers_the_period(market):
    start, end = market.window(WEEK)
    env = powermix.SiteEnv(period=WEEK, episode_len=None)
    _, info = env.reset(seed=0)
    assert info["index"] == start
    assert end - start == 7 * 96 - 4  # DST starts on 2024-03-10
