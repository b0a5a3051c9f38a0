"""Bad input raises the exception a Python user expects, naming the argument and value;
no Rust panic ever reaches Python."""

import gymnasium
import numpy as np
import pytest

import powermix

A = powermix.ACTION_DIM


def test_missing_data_file():
    with pytest.raises(FileNotFoundError) as e:
        gymnasium.make("powermix/Site-v0", data="/nonexistent/prices.parquet")
    assert "data" in str(e.value) and "/nonexistent/prices.parquet" in str(e.value)
    assert e.value.filename == "/nonexistent/prices.parquet"


def test_missing_site_file():
    with pytest.raises(FileNotFoundError, match="site"):
        powermix.Market(site="/nonexistent/site.toml")


def test_data_file_that_is_not_parquet(tmp_path):
    p = tmp_path / "x.parquet"
    p.write_text("not parquet")
    with pytest.raises(ValueError, match="data="):
        powermix.Market(data=p)


def test_bad_site_file(tmp_path):
    p = tmp_path / "site.toml"
    p.write_text("this is = not [ a site")
    with pytest.raises(ValueError, match="site="):
        powermix.Market(site=p)


@pytest.mark.parametrize(
    "period",
    ["2024-13-01..2025-01-01", "2024-01-01", "2024-02-01..2024-01-01", "2030-01-01..2031-01-01",
     "2021-06-01..2022-06-01", "", "2024-01-01..2024-01-01"],
)
def test_bad_period(period):
    with pytest.raises(ValueError) as e:
        gymnasium.make("powermix/Site-v0", period=period)
    assert "period=" in str(e.value) and repr(period) in str(e.value).replace('"', "'")


@pytest.mark.parametrize("n", [0, 10**9])
def test_bad_episode_len(n):
    with pytest.raises(ValueError, match=f"episode_len={n}"):
        powermix.SiteEnv(period="2024-01-01..2024-01-08", episode_len=n)


def test_episode_len_too_long_for_the_data_end():
    # Random episodes need a next observation after their last interval.
    powermix.SiteEnv(period="2024-12-01..2025-01-01", episode_len=31 * 96 - 1)
    with pytest.raises(ValueError, match="episode_len"):
        powermix.SiteEnv(period="2024-12-01..2025-01-01", episode_len=31 * 96)


@pytest.mark.parametrize(
    "action, words",
    [
        (np.zeros(A - 1, dtype=np.float32), ["action", "shape", str((A - 1,))]),
        (np.zeros((1, A), dtype=np.float32), ["action", "shape"]),
        (np.zeros(A, dtype=np.int64), ["action", "dtype int64"]),
        (np.array(["a"] * A), ["action", "dtype"]),
        (np.zeros(A, dtype=bool), ["action", "dtype bool"]),
        (np.array([np.nan] + [0.5] * (A - 1), dtype=np.float32), ["action[0]", powermix.ACTION_NAMES[0], "NaN"]),
        (np.array([0.5] * (A - 1) + [np.inf]), [f"action[{A - 1}]", "inf"]),
        (np.array([0.5] * (A - 1) + [1e300]), [f"action[{A - 1}]", "inf"]),
    ],
)
def test_bad_action(action, words):
    env = gymnasium.make("powermix/Site-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError) as e:
        env.step(action)
    for w in words:
        assert w in str(e.value), (w, str(e.value))
    env.step(np.full(A, 0.5, dtype=np.float32))  # the env is still usable


def test_step_before_reset_and_after_the_episode_ended():
    env = powermix.SiteEnv(period="2024-01-01..2024-01-02", episode_len=None)
    with pytest.raises(gymnasium.error.ResetNeeded):
        env.step(np.zeros(A, dtype=np.float32))
    env.reset(seed=0)
    for _ in range(96):
        *_, term, trunc, _ = env.step(np.zeros(A, dtype=np.float32))
    assert trunc and not term
    with pytest.raises(gymnasium.error.ResetNeeded):
        env.step(np.zeros(A, dtype=np.float32))
    env.reset()
    env.step(np.zeros(A, dtype=np.float32))


def test_stepping_past_the_end_of_the_data_terminates_then_needs_reset():
    env = powermix.SiteEnv(period="2024-12-31..2025-01-01", episode_len=None)
    env.reset(seed=0)
    for _ in range(96):
        obs, _, term, trunc, info = env.step(np.ones(A, dtype=np.float32))
    assert term and not trunc
    assert not obs.any()
    for _ in range(3):
        with pytest.raises(gymnasium.error.ResetNeeded):
            env.step(np.ones(A, dtype=np.float32))


def test_vector_bad_actions_step_no_env():
    v = powermix.VectorEnv(4, period="2024-01-01..2024-02-01")
    obs, _ = v.reset(seed=0)
    before = obs.copy()
    idx = [v.index(i) for i in range(4)]
    bad = np.full((4, A), 0.5, dtype=np.float32)
    bad[2, 3] = np.nan
    with pytest.raises(ValueError, match=rf"actions\[2\].*action\[3\].*{powermix.ACTION_NAMES[3]}.*NaN"):
        v.step(bad)
    assert [v.index(i) for i in range(4)] == idx
    assert np.array_equal(obs, before)
    with pytest.raises(ValueError, match="actions has shape"):
        v.step(np.zeros((3, A), dtype=np.float32))
    with pytest.raises(ValueError, match="dtype"):
        v.step(np.zeros((4, A), dtype=np.int32))
    v.step(np.full((4, A), 0.5, dtype=np.float32)[:, :])  # still usable
    v.step(np.asfortranarray(np.full((4, A), 0.5, dtype=np.float32)))


def test_vector_step_before_reset():
    v = powermix.VectorEnv(2)
    with pytest.raises(gymnasium.error.ResetNeeded):
        v.step(np.zeros((2, A), dtype=np.float32))


@pytest.mark.parametrize("seed", [-1, 2**64])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match="seed="):
        powermix.SiteEnv(seed=seed)
    env = powermix.SiteEnv()
    with pytest.raises(ValueError, match="seed="):
        env.reset(seed=seed)


def test_vector_bad_seeds():
    v = powermix.VectorEnv(3)
    with pytest.raises(ValueError, match="2 seeds for 3 envs"):
        v.reset(seed=[1, 2])
    with pytest.raises(ValueError, match="seed="):
        v.reset(seed=[1, None, 3])
    with pytest.raises(ValueError, match="num_envs=0"):
        powermix.VectorEnv(0)


def test_score_errors():
    week = "2024-03-04..2024-03-11"
    with pytest.raises(ValueError, match=r"actions has shape \(5, "):
        powermix.score(np.zeros((5, A), dtype=np.float32), period=week)
    with pytest.raises(ValueError, match="policy's action has shape"):
        powermix.score(lambda obs: np.zeros(A + 1), period=week)
    with pytest.raises(ValueError, match="NaN"):
        powermix.score(lambda obs: np.full(A, np.nan), period=week)

    class Boom(Exception):
        pass

    def boom(obs):
        raise Boom("policy failed")

    with pytest.raises(Boom):
        powermix.score(boom, period=week)
    with pytest.raises(ValueError, match="period="):
        powermix.score(lambda obs: np.zeros(A), period="2030-01-01..2030-02-01")
    with pytest.raises(ValueError):
        powermix.score()


def test_no_panic_reaches_python():
    """Edge cases at the Rust boundary: each raises an ordinary exception, never a
    pyo3 PanicException (a BaseException)."""
    m = powermix.market()
    core = powermix._core
    cases = [
        lambda: core.Env(m, "2024-01-01..2024-01-02", 96),
        lambda: core.Env(m, "2024-12-31..2025-01-01", 1),
        lambda: core.VecEnv(m, 0),
        lambda: core.VecEnv(m, 2).step(np.zeros((2, A), dtype=np.float32)[:, ::-1]),
        lambda: core.VecEnv(m, 2).index(5),
        lambda: core.Env(m).step(np.zeros(A, dtype=np.float32)),
        lambda: m.window("2025-01-01..2025-01-02"),
        lambda: m.window("1900-01-01..2100-01-01"),
        lambda: core.score(m, "2024-01-01..2024-01-02", 1),
        lambda: core.score(m, "2024-01-01..2024-01-02", 1, policy=3),
        lambda: core.score(m, "2024-01-01..2024-01-02", 1, policy=lambda o: None),
        lambda: core.score(m, "2024-01-01..2024-01-02", 1, policy=lambda o: np.zeros(A)),
    ]
    for i, f in enumerate(cases):
        try:
            f()
        except Exception:
            pass
        except BaseException as e:  # PanicException derives from BaseException
            pytest.fail(f"case {i}: {type(e).__name__}: {e}")


# Arguments of the wrong type or sign: the exception names the argument, the value and
# the form expected (never an OverflowError, or a TypeError that names nothing).


@pytest.mark.parametrize("n", [-5, -1, -(2**70)])
def test_negative_episode_len_is_a_value_error(n):
    with pytest.raises(ValueError, match=f"episode_len={n}: must be"):
        powermix.SiteEnv(episode_len=n)
    with pytest.raises(ValueError, match=f"episode_len={n}: must be"):
        powermix.VectorEnv(2, episode_len=n)


@pytest.mark.parametrize("n", [1.5, 100.0, "100", True])
def test_episode_len_of_the_wrong_type(n):
    with pytest.raises(TypeError, match=r"episode_len=.*expected a whole number \(int\)"):
        powermix.SiteEnv(episode_len=n)


def test_numpy_integers_are_whole_numbers():
    env = powermix.SiteEnv(episode_len=np.int64(100), seed=np.uint32(3))
    a = env.reset(seed=np.int64(5))[0]
    b = powermix.SiteEnv(episode_len=100).reset(seed=5)[0]
    assert np.array_equal(a, b)


@pytest.mark.parametrize("period", [2024, 2024.0, ("2024-01-01", "2024-02-01"), b"2024-01-01..2024-02-01"])
def test_period_of_the_wrong_type(period):
    for make in (powermix.SiteEnv, lambda period: powermix.VectorEnv(2, period=period)):
        with pytest.raises(TypeError) as e:
            make(period=period)
        msg = str(e.value)
        assert msg.startswith("period="), msg
        assert "YYYY-MM-DD..YYYY-MM-DD" in msg and type(period).__name__ in msg
    with pytest.raises(TypeError, match="period="):
        powermix.market().window(period)
    with pytest.raises(TypeError, match="period="):
        powermix.score(np.zeros((5, A), dtype=np.float32), period=period)


@pytest.mark.parametrize("seed", [1.5, 1.0, "1", True, [1]])
def test_seed_of_the_wrong_type(seed):
    words = r"seed=.*expected a whole number \(int\) from 0 to 2\*\*64 - 1"
    with pytest.raises(TypeError, match=words):
        powermix.SiteEnv(seed=seed)
    env = powermix.SiteEnv()
    with pytest.raises(TypeError, match=words):
        env.reset(seed=seed)
    env.reset(seed=1)  # still usable
    with pytest.raises(TypeError, match=words):
        powermix.score(lambda obs: np.zeros(A), period="2024-03-04..2024-03-05", seed=seed)


def test_seed_too_large_for_any_int():
    with pytest.raises(ValueError, match="seed="):
        powermix.SiteEnv().reset(seed=2**200)


def test_vector_seed_of_the_wrong_type():
    v = powermix.VectorEnv(2)
    with pytest.raises(TypeError, match=r"seed=1\.5: expected an int .* a list of 2 ints"):
        v.reset(seed=1.5)
    with pytest.raises(TypeError, match=r"seed\[1\]=2\.5: expected a whole number"):
        v.reset(seed=[1, 2.5])
    with pytest.raises(ValueError, match=r"seed\[0\]=-1: must be"):
        v.reset(seed=[-1, 2])
    v.reset(seed=np.array([3, 4]))
    with pytest.raises(TypeError, match=r"num_envs=2\.0: expected a whole number"):
        powermix.VectorEnv(2.0)
    with pytest.raises(ValueError, match="num_envs=-3"):
        powermix.VectorEnv(-3)


def test_data_or_site_that_is_a_directory(tmp_path):
    for arg in ("data", "site"):
        with pytest.raises(IsADirectoryError) as e:
            powermix.SiteEnv(**{arg: tmp_path})
        assert str(e.value).startswith(f"[Errno 21] {arg}: is a directory"), str(e.value)
        assert e.value.filename == str(tmp_path)
        with pytest.raises(IsADirectoryError, match=f"{arg}: is a directory"):
            powermix.Market(**{arg: str(tmp_path)})


@pytest.mark.parametrize("arg", ["data", "site"])
def test_data_or_site_of_the_wrong_type(arg):
    with pytest.raises(TypeError, match=rf"{arg}=5: expected a path \(str or os.PathLike\)"):
        powermix.SiteEnv(**{arg: 5})
    with pytest.raises(TypeError, match=rf"{arg}=5: expected a path \(str or os.PathLike\)"):
        powermix.Market(**{arg: 5})


def test_relative_data_path_is_named_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as e:
        powermix.Market(data="prices.parquet")
    assert e.value.filename == str(tmp_path / "prices.parquet")
