"""mypy --strict on user code of the public API reports nothing: every public function
(fills, initializers, the configured-initializer factory, the registry) is typed, and
the types are real (wrong calls are reported)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

USER_CODE = textwrap.dedent('''
from __future__ import annotations

import numpy as np

import fastinit


def build() -> list[np.ndarray]:
    out: list[np.ndarray] = []
    out.append(fastinit.normal((4, 4), 0.0, 0.02, seed=0, stream="w", dtype="float32"))
    out.append(fastinit.uniform(10, -1.0, 1.0, seed=1))
    out.append(fastinit.trunc_normal((3, 3), std=0.02, seed=0, threads=2))
    out.append(fastinit.zeros((2, 2)))
    out.append(fastinit.ones(3, dtype="float64"))
    out.append(fastinit.full(3, 0.5))
    out.append(fastinit.constant(3, 0.5))
    out.append(fastinit.he_normal((3, 3, 16, 32), seed=0))
    out.append(fastinit.glorot_uniform((16, 32), seed=0, in_axis=0, out_axis=1))
    out.append(fastinit.lecun_normal((16, 32), seed=0))
    out.append(fastinit.kaiming_uniform((64, 32), a=5 ** 0.5, seed=0))
    out.append(fastinit.kaiming_normal((64, 32), mode="fan_out", nonlinearity="relu", seed=0))
    out.append(fastinit.xavier_normal((64, 32), gain=1.0, seed=0))
    out.append(fastinit.xavier_uniform((64, 32), seed=0))
    out.append(fastinit.variance_scaling((3, 3), 2.0, "fan_avg", "uniform", seed=0))
    out.append(fastinit.orthogonal((8, 8), gain=2.0, seed=0, region=np.s_[0:4, :]))
    out.append(fastinit.eye((3, 3)))
    out.append(fastinit.identity((3, 3), gain=0.5))
    out.append(fastinit.dirac((4, 4, 3), groups=2))
    out.append(fastinit.delta_orthogonal((3, 3, 4, 8), seed=0))
    out.append(fastinit.sparse((10, 4), 0.3, seed=0))
    out.append(fastinit.random_raw(4, seed=0))
    init = fastinit.initializer("he_normal", in_axis=0)
    out.append(init((4, 4), seed=0))
    cfg: dict[str, object] = init.get_config()
    conf: fastinit.Initializer = fastinit.he_normal.with_(in_axis=0)
    out.append(conf((4, 4), seed=1))
    out.append(fastinit.normal.with_(std=2.0)((3,), seed=0))
    fan_in, fan_out = fastinit.fans((64, 32, 3, 3))
    gain: float = fastinit.calculate_gain("leaky_relu", 0.2)
    sid: int = fastinit.stream_id("layer.0")
    dt: np.dtype = fastinit.resolve_dtype("bfloat16")
    version: int = fastinit.STREAM_VERSION
    entries = fastinit.available_initializers()
    kind: str = entries["he_normal"].kind
    moments = entries["normal"].moments((3,), {"std": 2.0})
    info: dict[str, object] = fastinit.show_config(file=False)
    print(cfg, fan_in + fan_out, gain, sid, dt, version, kind, moments, info)
    return out
''')

WRONG = textwrap.dedent('''
    import fastinit

    fastinit.normal(3, seed="0")
    fastinit.he_normal((3, 3), seed=0, bogus=1)
    x: str = fastinit.orthogonal((3, 3), seed=0)
''')


def _mypy(tmp_path, code):
    (tmp_path / "user.py").write_text(code)
    # fastinit found on MYPYPATH, its own modules checked silently: what a user sees of
    # an installed, py.typed package
    env = dict(os.environ, MYPYPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
                           "--cache-dir", str(tmp_path / "cache"), "user.py"],
                          cwd=tmp_path, capture_output=True, text=True, env=env)


def test_mypy_strict_accepts_user_code_of_the_public_api(tmp_path):
    out = _mypy(tmp_path, USER_CODE)
    assert out.returncode == 0 and out.stdout.startswith("Success"), out.stdout + out.stderr


def test_mypy_reports_wrong_calls(tmp_path):
    out = _mypy(tmp_path, WRONG)
    assert out.returncode == 1, out.stdout
    assert 'Argument "seed" to "__call__" of "Registered" has incompatible type "str"; expected "int"' \
        in out.stdout, out.stdout
    assert 'Unexpected keyword argument "bogus"' in out.stdout, out.stdout
    assert "Incompatible types in assignment" in out.stdout, out.stdout
