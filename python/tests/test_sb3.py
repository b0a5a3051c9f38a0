"""The SB3 adapter (skipped when stable-baselines3 is not installed, as in CI)."""

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

import powermix  # noqa: E402
from powermix.sb3 import SB3VecEnv  # noqa: E402


def test_sb3_conventions():
    env = SB3VecEnv(3, period="2024-05-01..2024-06-01", seed=0, episode_len=20)
    env.seed(7)
    obs = env.reset()
    assert isinstance(obs, np.ndarray) and obs.shape == (3, powermix.OBS_DIM)
    for i in range(3):
        o, _ = powermix.SiteEnv(period="2024-05-01..2024-06-01", episode_len=20).reset(seed=7 + i)
        assert np.array_equal(obs[i], o)
    a = np.full((3, powermix.ACTION_DIM), 0.5, dtype=np.float32)
    for t in range(20):
        obs2, rew, dones, infos = env.step(a)
        assert obs2 is not obs
    assert dones.all()
    for info in infos:
        assert info["terminal_observation"].shape == (powermix.OBS_DIM,)
        assert info["TimeLimit.truncated"] is True
        assert info["episode"]["l"] == 20


def test_sb3_ppo_learns_a_few_steps():
    from stable_baselines3 import PPO

    env = SB3VecEnv(4, period="2024-05-01..2024-06-01", seed=0, episode_len=50)
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=512)
    assert model.num_timesteps >= 512
