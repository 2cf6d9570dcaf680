"""fastinit.keras against Keras 3: name by name statistics, fans, values equal to the
NumPy API, seeds, the same values on every backend, and real training plus
model.save()/keras.saving.load_model() under jax, torch and numpy (subprocesses: a Keras
backend is fixed per process)."""
import json
import math
import os
import subprocess
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.stats  # noqa: E402

import keras  # noqa: E402
from keras.src.initializers.random_initializers import compute_fans as keras_compute_fans  # noqa: E402

import fastinit  # noqa: E402
import fastinit.keras as fk  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKENDS = ("jax", "torch", "numpy")
TRUNC = 0.87962566103423978


def np_of(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def run_child(code, backend, *args):
    env = dict(os.environ, KERAS_BACKEND=backend)
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


# ------------------------------------------------------- name by name vs Keras ----
CASES = [
    ("GlorotNormal", {}), ("GlorotUniform", {}), ("HeNormal", {}), ("HeUniform", {}),
    ("LecunNormal", {}), ("LecunUniform", {}),
    ("RandomNormal", {}), ("RandomNormal", {"mean": 1.0, "stddev": 0.3}),
    ("RandomUniform", {}), ("RandomUniform", {"minval": -2.0, "maxval": 3.0}),
    ("TruncatedNormal", {}), ("TruncatedNormal", {"mean": -1.0, "stddev": 2.0}),
    ("VarianceScaling", {}),
    ("VarianceScaling", {"scale": 2.0, "mode": "fan_out", "distribution": "normal"}),
    ("VarianceScaling", {"scale": 0.5, "mode": "fan_avg", "distribution": "untruncated_normal"}),
    ("VarianceScaling", {"scale": 3.0, "mode": "fan_in", "distribution": "uniform"}),
    ("VarianceScaling", {"mode": "fan_in", "input_axes": [0], "output_axes": [1, 2]}),
]
SHAPES = [(1000, 100), (3, 3, 64, 128), (512, 8, 64)]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_statistics_match_keras(name, kwargs, shape):
    if "input_axes" in kwargs and len(shape) != 3:
        shape = (512, 8, 64)
    ours = np_of(getattr(fk, name)(seed=11, **kwargs)(shape)).ravel().astype(np.float64)
    theirs = np_of(getattr(keras.initializers, name)(seed=11, **kwargs)(shape)).ravel().astype(np.float64)
    assert ours.shape == theirs.shape
    # same distribution: two-sample KS on >= 100k values (deterministic seeds, no flakiness)
    ks = scipy.stats.ks_2samp(ours, theirs)
    assert ks.pvalue > 1e-4, (name, kwargs, shape, ks)
    spread = theirs.std()
    assert abs(ours.std() - spread) < 0.02 * spread
    assert abs(ours.mean() - theirs.mean()) < 0.02 * spread
    unbounded = name == "RandomNormal" or kwargs.get("distribution") == "untruncated_normal"
    if not unbounded:  # bounded supports: both reach the same bounds (within 2% of the std)
        assert abs(ours.min() - theirs.min()) < 0.02 * spread
        assert abs(ours.max() - theirs.max()) < 0.02 * spread


def expected_values(name, shape, seed, dtype="float32", stream=0, **kw):
    """The NumPy API call fastinit.keras.<name> documents."""
    common = dict(seed=seed, stream=stream, dtype=dtype)
    if name == "RandomNormal":
        return fastinit.normal(shape, kw.get("mean", 0.0), kw.get("stddev", 0.05), **common)
    if name == "RandomUniform":
        return fastinit.uniform(shape, kw.get("minval", -0.05), kw.get("maxval", 0.05), **common)
    if name == "TruncatedNormal":
        return fastinit.trunc_normal(shape, kw.get("mean", 0.0), kw.get("stddev", 0.05), -2, 2, **common)
    if name == "Orthogonal":
        return fastinit.orthogonal(shape, kw.get("gain", 1.0), column_axis=-1, **common)
    scale, mode, dist = {
        "GlorotNormal": (1.0, "fan_avg", "truncated_normal"), "GlorotUniform": (1.0, "fan_avg", "uniform"),
        "HeNormal": (2.0, "fan_in", "truncated_normal"), "HeUniform": (2.0, "fan_in", "uniform"),
        "LecunNormal": (1.0, "fan_in", "truncated_normal"), "LecunUniform": (1.0, "fan_in", "uniform"),
    }[name]
    fan_in, fan_out = keras_compute_fans(shape)
    n = {"fan_in": fan_in, "fan_avg": (fan_in + fan_out) / 2}[mode]
    var = scale / max(1.0, n)
    if dist == "uniform":
        lim = math.sqrt(3 * var)
        return fastinit.uniform(shape, -lim, lim, **common)
    return fastinit.trunc_normal(shape, 0.0, math.sqrt(var) / TRUNC, -2, 2, **common)


RANDOM = ["GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform",
          "RandomNormal", "RandomUniform", "TruncatedNormal", "Orthogonal"]


@pytest.mark.parametrize("name", RANDOM)
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_values_are_the_documented_numpy_call(name, dtype):
    for shape in [(40, 24), (3, 3, 8, 16)]:
        got = fk.__dict__[name](seed=123)(shape, dtype=dtype)
        assert keras.backend.standardize_dtype(got.dtype) == dtype
        want = expected_values(name, shape, 123, dtype)
        assert np.array_equal(np_of(got).view(np.uint16 if dtype != "float32" else np.uint32),
                              want.view(np.uint16 if dtype != "float32" else np.uint32))


def test_variance_scaling_names_keep_keras_meanings():
    shape = (300, 200)
    normal = np_of(fk.VarianceScaling(2.0, "fan_in", "normal", seed=1)(shape))
    trunc = np_of(fk.VarianceScaling(2.0, "fan_in", "truncated_normal", seed=1)(shape))
    untrunc = np_of(fk.VarianceScaling(2.0, "fan_in", "untruncated_normal", seed=1)(shape))
    assert np.array_equal(normal, trunc)  # Keras: "normal" means truncated
    std = math.sqrt(2.0 / 300)
    assert abs(trunc).max() <= 2 * std / TRUNC * (1 + 1e-6)
    assert abs(untrunc).max() > 3.5 * std
    assert abs(trunc.std() - std) < 0.01 * std and abs(untrunc.std() - std) < 0.01 * std
    # equal to fastinit's own NumPy names for the same meaning
    assert np.array_equal(trunc, fastinit.variance_scaling(shape, 2.0, "fan_in", "truncated_normal", seed=1))
    assert np.array_equal(untrunc, fastinit.variance_scaling(shape, 2.0, "fan_in", "normal", seed=1))


@pytest.mark.parametrize("shape", [(), (7,), (5, 3), (3, 3, 16, 32), (2, 3, 4, 5, 6), (4, 0), (0, 3, 2)])
def test_fans_equal_keras(shape):
    assert fk.compute_fans(shape) == keras_compute_fans(shape)
    if len(shape) == 3:
        for axes in ([[0], [1, 2]], [[0, 1], [2]], [[2], [0]]):
            assert fk.compute_fans(shape, *axes) == keras_compute_fans(shape, *axes)


def test_orthogonal_keras_flattening():
    w = np_of(fk.Orthogonal(gain=1.5, seed=2)((3, 3, 16, 32), dtype="float64")).astype(np.float64)
    m = w.reshape(-1, 32)  # Keras: (prod(shape[:-1]), shape[-1]) with orthonormal columns
    assert np.allclose(m.T @ m, 1.5 ** 2 * np.eye(32), atol=1e-5)
    wide = np_of(fk.Orthogonal(seed=2)((4, 10))).astype(np.float64)
    assert np.allclose(wide @ wide.T, np.eye(4), atol=1e-5)


def test_constant_initializers():
    assert np.array_equal(np_of(fk.Zeros()((3, 2), dtype="bfloat16")).astype(np.float32), np.zeros((3, 2)))
    assert np.array_equal(np_of(fk.Ones()((2,), dtype="int32")), [1, 1])
    assert keras.backend.standardize_dtype(fk.Ones()((2,), dtype="int32").dtype) == "int32"
    assert np.array_equal(np_of(fk.Constant(2.5)((2, 2))), np.full((2, 2), 2.5, np.float32))
    assert np.array_equal(np_of(fk.Constant([1.0, 2.0])((2, 2))), [[1, 2], [1, 2]])
    assert np.array_equal(np_of(fk.Identity(gain=3.0)((2, 3))), 3.0 * np.eye(2, 3))
    assert keras.backend.standardize_dtype(fk.Zeros()((2,)).dtype) == keras.config.floatx()


def test_errors():
    with pytest.raises(ValueError, match="floating"):
        fk.HeNormal(seed=0)((4, 4), dtype="int32")
    with pytest.raises(ValueError, match="at least two-dimensional"):
        fk.Orthogonal(seed=0)((4,))
    with pytest.raises(ValueError, match="2D matrices"):
        fk.Identity()((2, 2, 2))
    with pytest.raises(ValueError, match=r"seed must be an int in \[0, 2\*\*64\)"):
        fk.RandomNormal(seed=-1)((2,))
    with pytest.raises(ValueError, match="Argument `scale`"):
        fk.VarianceScaling(scale=0.0)
    with pytest.raises(ValueError):
        fk.get("no_such_initializer")


# -------------------------------------------------------------------- seeds ----
def test_seed_semantics():
    a = fk.HeNormal(seed=9)
    assert np.array_equal(np_of(a((8, 8))), np_of(a((8, 8))))
    assert a.get_config()["seed"] == 9
    assert np.array_equal(np_of(fk.HeNormal.from_config(a.get_config())((8, 8))), np_of(a((8, 8))))
    # seed=None: like Keras, one seed per instance, drawn with Python's random
    u1, u2 = fk.RandomNormal(), fk.RandomNormal()
    assert u1.get_config()["seed"] is None and isinstance(u1.seed, int)
    assert np.array_equal(np_of(u1((50,))), np_of(u1((50,))))
    assert not np.array_equal(np_of(u1((50,))), np_of(u2((50,))))
    assert not np.array_equal(np_of(u1((50,))), np_of(u1.clone()((50,))))
    keras.utils.set_random_seed(5)
    r1 = np_of(fk.GlorotUniform()((20, 10)))
    keras.utils.set_random_seed(5)
    assert np.array_equal(r1, np_of(fk.GlorotUniform()((20, 10))))
    # SeedGenerator(s): call k uses (seed=s, stream=k); the first call equals seed=s
    g = fk.RandomNormal(stddev=1.0, seed=keras.random.SeedGenerator(77))
    first, second = np_of(g((30,))), np_of(g((30,)))
    assert np.array_equal(first, fastinit.normal((30,), 0.0, 1.0, seed=77))
    assert np.array_equal(second, fastinit.normal((30,), 0.0, 1.0, seed=77, stream=1))
    assert np.array_equal(first, np_of(fk.RandomNormal(stddev=1.0, seed=77)((30,))))


# ----------------------------------------------------------------- get() ----
def test_get():
    assert fk.get(None) is None
    for name, cls in [("he_normal", fk.HeNormal), ("HeNormal", fk.HeNormal), ("normal", fk.RandomNormal),
                      ("uniform", fk.RandomUniform), ("zero", fk.Zeros), ("one", fk.Ones),
                      ("truncated_normal", fk.TruncatedNormal), ("variance_scaling", fk.VarianceScaling),
                      ("orthogonal", fk.Orthogonal), ("identity", fk.Identity), ("constant", fk.Constant)]:
        assert type(fk.get(name)) is cls, name
    obj = fk.get({"class_name": "HeNormal", "config": {"seed": 4}})
    assert type(obj) is fk.HeNormal and obj.seed == 4
    # a Keras-serialized built-in resolves to fastinit's class; a fastinit one to itself
    assert type(fk.get(keras.initializers.serialize(keras.initializers.Orthogonal(seed=1)))) is fk.Orthogonal
    ser = keras.initializers.serialize(fk.LecunUniform(seed=3))
    assert ser["registered_name"] == "fastinit>LecunUniform"
    assert type(keras.initializers.deserialize(ser)) is fk.LecunUniform
    inst = fk.GlorotNormal(seed=1)
    assert fk.get(inst) is inst
    assert type(fk.get(fk.Ones)) is fk.Ones
    assert isinstance(fk.get("STFT"), keras.initializers.STFT)


def test_subclasses_keras_classes():
    for name in fk.__all__:
        cls = getattr(fk, name)
        if isinstance(cls, type):
            assert issubclass(cls, keras.initializers.Initializer)
            assert issubclass(cls, getattr(keras.initializers, name))
    assert isinstance(fk.HeNormal(), keras.initializers.VarianceScaling)


# ------------------------------------------------------------ across backends ----
HASH_CHILD = r"""
import hashlib, json, keras, numpy as np, fastinit.keras as fk
out = {}
for name in %r:
    for dt in ["float32", "bfloat16", "float16"]:
        for shape in [(40, 24), (3, 3, 8, 16)]:
            v = getattr(fk, name)(seed=2024)(shape, dtype=dt)
            a = np.asarray(keras.ops.convert_to_numpy(v))
            assert keras.backend.standardize_dtype(v.dtype) == dt and a.shape == shape
            out[f"{name}/{dt}/{shape}"] = hashlib.sha256(a.tobytes()).hexdigest()
g = fk.HeUniform(seed=keras.random.SeedGenerator(3))
for k in range(3):
    out[f"gen{k}"] = hashlib.sha256(np.asarray(keras.ops.convert_to_numpy(g((16, 4)))).tobytes()).hexdigest()
print(json.dumps(out))
""" % (RANDOM,)


def test_same_values_on_every_backend():
    results = {b: json.loads(run_child(HASH_CHILD, b).strip().splitlines()[-1]) for b in BACKENDS}
    assert results["jax"] == results["torch"] == results["numpy"]
    import hashlib

    for key, digest in results["jax"].items():
        if key.startswith("gen"):
            continue
        name, dt, shape = key.split("/")
        want = expected_values(name, eval(shape), 2024, dt)
        assert hashlib.sha256(want.tobytes()).hexdigest() == digest, key


# ----------------------------------------------------- training and save/load ----
TRAIN_CHILD = r"""
import os, sys, numpy as np, keras, fastinit, fastinit.keras as fk
backend = keras.backend.backend()
path = sys.argv[1]
model = keras.Sequential([
    keras.Input((8, 8, 1)),
    keras.layers.Conv2D(4, 3, activation="relu", kernel_initializer=fk.HeNormal(seed=1),
                        bias_initializer=fk.Zeros()),
    keras.layers.Flatten(),
    keras.layers.Dense(16, activation="tanh", kernel_initializer=fk.GlorotUniform(seed=2),
                       bias_initializer=fk.Constant(0.1)),
    keras.layers.Dense(16, kernel_initializer=fk.Orthogonal(gain=0.5, seed=3),
                       bias_initializer=fk.RandomUniform(seed=4)),
    keras.layers.Dense(1, kernel_initializer=fk.VarianceScaling(0.5, "fan_avg", "normal", seed=5)),
])
conv = model.layers[0].kernel
assert np.array_equal(keras.ops.convert_to_numpy(conv), fastinit.he_normal((3, 3, 1, 4), seed=1))
rng = np.random.default_rng(0)
x = rng.standard_normal((64, 8, 8, 1)).astype("float32")
y = x.mean(axis=(1, 2, 3))[:, None].astype("float32")
model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
if backend != "numpy":  # the numpy backend has no training
    before = model.evaluate(x, y, verbose=0)
    hist = model.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False)
    after = model.evaluate(x, y, verbose=0)
    assert np.isfinite(hist.history["loss"]).all() and after < before, (before, after)
pred = np.asarray(keras.ops.convert_to_numpy(model.predict(x, verbose=0)))
model.save(path)
np.save(path + ".pred.npy", pred)
print("trained", backend)
"""

LOAD_CHILD = r"""
import sys, numpy as np, keras, fastinit, fastinit.keras as fk
path = sys.argv[1]
model = keras.saving.load_model(path)
inits = [type(l.kernel_initializer) for l in model.layers if hasattr(l, "kernel_initializer")]
assert inits == [fk.HeNormal, fk.GlorotUniform, fk.Orthogonal, fk.VarianceScaling], inits
assert model.layers[3].kernel_initializer.get_config()["seed"] == 3
assert model.layers[2].bias_initializer.get_config() == {"value": 0.1}
x = np.random.default_rng(0).standard_normal((64, 8, 8, 1)).astype("float32")
pred = np.asarray(keras.ops.convert_to_numpy(model.predict(x, verbose=0)))
assert np.allclose(pred, np.load(path + ".pred.npy"), atol=1e-5)
clone = keras.models.clone_model(model)  # re-initializes from the reloaded configs
assert np.array_equal(keras.ops.convert_to_numpy(clone.layers[0].kernel),
                      fastinit.he_normal((3, 3, 1, 4), seed=1))
print("loaded")
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_train_save_load(backend, tmp_path):
    path = str(tmp_path / f"model_{backend}.keras")
    assert f"trained {backend}" in run_child(TRAIN_CHILD, backend, path)
    assert "loaded" in run_child(LOAD_CHILD, backend, path)


def test_load_without_fastinit_gives_keras_builtins(tmp_path):
    # Without `import fastinit.keras` Keras resolves the saved class names to its own
    # built-ins (same config, same loaded weights); with it, to fastinit's classes.
    path = str(tmp_path / "m.keras")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, kernel_initializer=fk.HeNormal(seed=1))])
    model.save(path)
    code = ("import sys, keras, numpy as np; m = keras.saving.load_model(sys.argv[1]); "
            "i = m.layers[0].kernel_initializer; "
            "print(type(i).__module__, i.get_config()['seed'], 'fastinit' in sys.modules, "
            "np.asarray(keras.ops.convert_to_numpy(m.layers[0].kernel)).tobytes().hex())")
    out = run_child(code, keras.backend.backend(), path).split()
    kernel = np_of(model.layers[0].kernel)
    assert out == ["keras.src.initializers.random_initializers", "1", "False", kernel.tobytes().hex()]
    reloaded = keras.saving.load_model(path)  # this process imported fastinit.keras
    assert type(reloaded.layers[0].kernel_initializer) is fk.HeNormal


def test_import_fastinit_does_not_import_frameworks():
    code = "import sys, fastinit; print(sorted(m for m in ('keras', 'jax', 'flax', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr
