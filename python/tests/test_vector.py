import gymnasium
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import powermix

PERIOD = "2024-05-01..2024-06-01"


def test_autoreset_mode_is_declared():
    v = powermix.VectorEnv(2)
    assert v.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert v.observation_space.shape == (2, powermix.OBS_DIM)
    assert v.action_space.shape == (2, powermix.ACTION_DIM)


def test_make_vec_uses_the_rust_vector_env():
    v = gymnasium.make_vec("powermix/Site-v0", num_envs=3, seed=1)
    assert isinstance(v.unwrapped, powermix.VectorEnv)
    obs, _ = v.reset(seed=1)
    assert obs.shape == (3, powermix.OBS_DIM)


def test_vector_env_equals_n_single_envs():
    """Same seeds, same actions: the vector env gives exactly what N SiteEnvs give, with
    SAME_STEP autoreset (episodes of 40 intervals end several times)."""
    n, steps, ep = 4, 130, 40
    seeds = [3, 10, 10, 99]
    v = powermix.VectorEnv(n, period=PERIOD, episode_len=ep)
    singles = [powermix.SiteEnv(period=PERIOD, episode_len=ep) for _ in range(n)]
    obs, _ = v.reset(seed=seeds)
    for i, e in enumerate(singles):
        o, _ = e.reset(seed=seeds[i])
        assert np.array_equal(obs[i], o)
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(steps):
        a = rng.random((n, powermix.ACTION_DIM), dtype=np.float32)
        obs, rew, term, trunc, infos = v.step(a)
        for i, e in enumerate(singles):
            o, r, te, tr, info = e.step(a[i])
            assert rew[i] == np.float32(r)
            assert (term[i], trunc[i]) == (te, tr)
            if te or tr:
                ends += 1
                assert infos["_final_obs"][i]
                assert np.array_equal(infos["final_obs"][i], o)
                fi = infos["final_info"]
                assert fi["_episode_profit"][i]
                assert fi["episode_profit"][i] == pytest.approx(info["episode_profit"], rel=1e-12)
                assert fi["episode_intervals"][i] == ep
                o, _ = e.reset()
            elif infos:
                assert not infos["_final_obs"][i]
            assert np.array_equal(obs[i], o)
    assert ends == n * (steps // ep)


def test_int_seed_seeds_sub_env_i_with_seed_plus_i():
    v = powermix.VectorEnv(3, period=PERIOD)
    obs, _ = v.reset(seed=20)
    for i in range(3):
        o, _ = powermix.SiteEnv(period=PERIOD).reset(seed=20 + i)
        assert np.array_equal(obs[i], o)


def test_constructor_seed_reproduces():
    runs = []
    for _ in range(2):
        v = powermix.VectorEnv(8, seed=5, episode_len=30)
        obs, _ = v.reset()
        rng = np.random.default_rng(1)
        acc = [obs.copy()]
        for _ in range(70):
            obs, rew, *_ = v.step(rng.random((8, powermix.ACTION_DIM), dtype=np.float32))
            acc.append(obs.copy())
            acc.append(rew.copy()[:, None].repeat(powermix.OBS_DIM, 1))
        runs.append(np.array(acc))
    assert np.array_equal(runs[0], runs[1])


def test_buffers_are_not_copied_per_step():
    v = powermix.VectorEnv(16)
    obs0, _ = v.reset(seed=0)
    a = np.full((16, powermix.ACTION_DIM), 0.5, dtype=np.float32)
    obs1, rew1, term1, trunc1, _ = v.step(a)
    obs2, rew2, term2, trunc2, _ = v.step(a)
    assert obs1 is obs2 and rew1 is rew2 and term1 is term2 and trunc1 is trunc2
    assert obs0 is obs1
    assert not obs1.flags.writeable
    with pytest.raises(ValueError):
        obs1[0, 0] = 1.0


def test_copy_true_returns_fresh_arrays():
    v = powermix.VectorEnv(4, copy=True)
    v.reset(seed=0)
    a = np.full((4, powermix.ACTION_DIM), 0.5, dtype=np.float32)
    o1 = v.step(a)[0]
    o2 = v.step(a)[0]
    assert o1 is not o2 and not np.shares_memory(o1, o2)


def test_float64_actions_are_accepted():
    v = powermix.VectorEnv(2)
    v.reset(seed=0)
    v.step(np.full((2, powermix.ACTION_DIM), 0.5))
