"""Pickling (multiprocessing, Ray) and copying: a pickle rebuilds the env from its
constructor's arguments; a deep copy is an independent env at the same point."""

import copy
import multiprocessing
import pickle
from pathlib import Path

import gymnasium
import numpy as np
import pytest

import powermix

A = powermix.ACTION_DIM
PERIOD = "2024-05-01..2024-06-01"


def actions(n, seed=0):
    return np.random.default_rng(seed).random((n, A), dtype=np.float32)


def run(env, acts, seed=None):
    """Observations and rewards of reset(seed) then one step per action row."""
    obs, _ = env.reset(seed=seed)
    out, rewards = [obs], []
    for a in acts:
        obs, r, term, trunc, _ = env.step(a)
        out.append(obs)
        rewards.append(r)
        if term or trunc:
            obs, _ = env.reset()
            out.append(obs)
    return np.array(out), np.array(rewards)


def same_run(a, b):
    assert np.array_equal(a[0], b[0])
    assert np.array_equal(a[1], b[1])


def test_market_pickles_as_its_arguments_and_copies_as_itself():
    m = powermix.market()
    m2 = pickle.loads(pickle.dumps(m))
    assert m2 is not m
    assert (len(m2), m2.period, m2.source) == (len(m), m.period, m.source)
    assert np.array_equal(m2.interval_start_ms(), m.interval_start_ms())
    assert copy.deepcopy(m) is m and copy.copy(m) is m
    assert len(pickle.dumps(m)) < 200  # the arguments, not the data


def test_market_from_a_site_file_pickles_its_absolute_path(tmp_path, monkeypatch):
    text = (Path(__file__).resolve().parents[2] / "configs" / "site.toml").read_text()
    (tmp_path / "site.toml").write_text(text)
    monkeypatch.chdir(tmp_path)
    m = powermix.Market(site="site.toml")
    blob = pickle.dumps(m)
    assert str(tmp_path / "site.toml").encode() in blob
    monkeypatch.chdir("/")
    assert len(pickle.loads(blob)) == len(m)


@pytest.mark.parametrize("episode_len", [50, None])
def test_pickled_site_env_gives_the_same_observations_and_rewards(episode_len):
    period = "2024-05-01..2024-05-03" if episode_len is None else PERIOD
    env = powermix.SiteEnv(period=period, episode_len=episode_len, seed=4)
    acts = actions(120)
    blob = pickle.dumps(env)
    same_run(run(pickle.loads(blob), acts), run(env, acts))  # the constructor's seed
    for seed in (7, 8):
        same_run(run(pickle.loads(blob), acts, seed), run(env, acts, seed))
    # Pickled in the middle of an episode: rebuilt from the arguments, reset() first.
    mid = pickle.loads(pickle.dumps(env))
    with pytest.raises(gymnasium.error.ResetNeeded):
        mid.step(acts[0])
    same_run(run(mid, acts, 9), run(env, acts, 9))


def test_pickled_env_made_with_a_market_or_by_gymnasium_make():
    m = powermix.market()
    acts = actions(60)
    env = powermix.SiteEnv(data=m, period=PERIOD, episode_len=40)
    same_run(run(pickle.loads(pickle.dumps(env)), acts, 3), run(env, acts, 3))
    made = gymnasium.make("powermix/Site-v0", period=PERIOD, episode_len=40)
    same_run(run(pickle.loads(pickle.dumps(made)), acts, 3), run(made, acts, 3))
    same_run(run(copy.deepcopy(made), acts, 3), run(made, acts, 3))


def test_deepcopy_continues_the_same_episode_independently():
    env = powermix.SiteEnv(period=PERIOD, episode_len=50)
    acts = actions(130)
    env.reset(seed=5)
    for a in acts[:20]:
        env.step(a)
    for dup in (copy.deepcopy(env), copy.copy(env)):
        assert dup._core is not env._core and dup.market is env.market
        # Both continue from the same point, random stream included (reserve deployments,
        # the next episodes' starts), and stepping one does not move the other.
        a_obs = [dup.step(a)[:2] for a in acts[20:40]]
        b_obs = [env.step(a)[:2] for a in acts[20:40]]
        for (o1, r1), (o2, r2) in zip(a_obs, b_obs):
            assert np.array_equal(o1, o2) and r1 == r2
        same_run(run(dup, acts[40:]), run(env, acts[40:]))
        env.reset(seed=5)
        for a in acts[:20]:
            env.step(a)


def test_vector_env_pickles_and_deep_copies():
    v = powermix.VectorEnv(3, period=PERIOD, episode_len=30, seed=2)
    acts = [actions(3, s) for s in range(70)]

    def vrun(env, seed):
        obs, _ = env.reset(seed=seed)
        out, rew = [obs.copy()], []
        for a in acts:
            obs, r, *_ = env.step(a)
            out.append(obs.copy())
            rew.append(r.copy())
        return np.array(out), np.array(rew)

    same_run(vrun(pickle.loads(pickle.dumps(v)), 11), vrun(v, 11))
    same_run(vrun(pickle.loads(pickle.dumps(v)), None), vrun(powermix.VectorEnv(3, period=PERIOD, episode_len=30, seed=2), None))
    v.reset(seed=1)
    for a in acts[:10]:
        v.step(a)
    dup = copy.deepcopy(v)
    assert not np.shares_memory(dup._obs, v._obs)
    assert np.array_equal(dup._obs, v._obs)
    for a in acts[10:]:
        o1, r1, t1, u1, i1 = dup.step(a)
        o2, r2, t2, u2, i2 = v.step(a)
        assert np.array_equal(o1, o2) and np.array_equal(r1, r2)
        assert np.array_equal(t1, t2) and np.array_equal(u1, u2)
        assert bool(i1) == bool(i2)
    assert not dup._obs.flags.writeable


def test_the_rust_cores_say_how_to_pickle():
    m = powermix.market()
    for core in (powermix._core.Env(m), powermix._core.VecEnv(m, 2)):
        with pytest.raises(TypeError, match="pickle the powermix.SiteEnv or powermix.VectorEnv"):
            pickle.dumps(core)


def _worker_run(env, seed):
    return run(env, actions(60), seed)


def test_env_crosses_a_process_boundary():
    """multiprocessing pickles the env to send it to a worker (spawn: a fresh interpreter)."""
    env = powermix.SiteEnv(period=PERIOD, episode_len=25)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        there = pool.apply(_worker_run, (env, 6))
    same_run(there, run(env, actions(60), 6))
