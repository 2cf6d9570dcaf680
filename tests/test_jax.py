"""fastinit.jax against jax.nn.initializers, name by name; the key -> seed mapping; jit,
vmap and eval_shape; dtypes and errors; sharded make_array on 4 CPU devices (subprocess:
XLA_FLAGS must be set before jax is imported)."""
import hashlib
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.stats

import jax
import jax.numpy as jnp
from jax._src.nn.initializers import _compute_fans as jax_compute_fans

import fastinit
import fastinit.jax as fj

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JNI = jax.nn.initializers
TRUNC = 0.87962566103423978

# (name, factory args) in jax.nn.initializers; None: a plain init function (zeros, ones)
CASES = [
    ("constant", (-7.0,)), ("zeros", None), ("ones", None),
    ("normal", ()), ("normal", (0.5,)), ("uniform", ()), ("uniform", (3.0,)),
    ("truncated_normal", ()), ("truncated_normal", (2.0, None, -1.0, 3.0)),
    ("glorot_normal", ()), ("glorot_uniform", ()), ("xavier_normal", ()), ("xavier_uniform", ()),
    ("he_normal", ()), ("he_uniform", ()), ("kaiming_normal", ()), ("kaiming_uniform", ()),
    ("lecun_normal", ()), ("lecun_uniform", ()),
    ("he_normal", (0, 1)), ("glorot_uniform", (-2, -1, 0)),
    ("variance_scaling", (1.0, "fan_in", "truncated_normal")),
    ("variance_scaling", (2.0, "fan_out", "normal")),
    ("variance_scaling", (0.5, "fan_avg", "uniform")),
    ("variance_scaling", (3.0, "fan_geo_avg", "normal")),
    ("variance_scaling", (1.0, "fan_in", "uniform", (0, 1), -1)),
    ("orthogonal", ()), ("orthogonal", (2.0, 0)), ("delta_orthogonal", ()),
]
SHAPES = [(1000, 100), (100, 1000), (3, 3, 64, 128)]
NAMES = sorted({n for n, _ in CASES})


def make(module, name, args):
    obj = getattr(module, name)
    return obj if args is None else obj(*args)


def draw(module, name, args, shape, seed=3, dtype=jnp.float32):
    return np.asarray(make(module, name, args)(jax.random.key(seed), shape, dtype)).astype(np.float64)


def test_every_jax_name_is_provided():
    assert sorted(n for n in dir(JNI) if not n.startswith("_") and n != "Initializer") == sorted(
        n for n in fj.__all__ if n not in ("key_to_seed", "make_array", "Initializer"))
    assert set(NAMES) == set(n for n in fj.__all__ if n not in ("key_to_seed", "make_array", "Initializer"))


@pytest.mark.parametrize("name,args", CASES, ids=[f"{n}{a or ''}" for n, a in CASES])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_statistics_match_jax(name, args, shape):
    if name == "delta_orthogonal" and len(shape) == 2:
        shape = (3,) + tuple(sorted(shape))  # a 3-D kernel with in <= out
    if args in ((-2, -1, 0), (1.0, "fan_in", "uniform", (0, 1), -1)) and len(shape) == 2:
        shape = (4,) + shape  # explicit axes need a third one
    ours, theirs = draw(fj, name, args, shape), draw(JNI, name, args, shape)
    assert ours.shape == theirs.shape == tuple(shape)
    if name in ("constant", "zeros", "ones"):
        assert np.array_equal(ours, theirs)
        return
    if name in ("orthogonal", "delta_orthogonal"):
        axis = args[1] if len(args) > 1 else -1
        for w in (ours, theirs):
            shp = shape
            if name == "delta_orthogonal":
                centre = tuple((k - 1) // 2 for k in shape[:-2])
                assert abs(w).sum() == abs(w[centre]).sum()  # zero off the centre
                w, shp = w[centre], shape[-2:]
            gain = args[0] if args else 1.0
            m = np.moveaxis(w, axis, -1).reshape(-1, shp[axis])
            small = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
            assert np.allclose(small, gain ** 2 * np.eye(small.shape[0]), atol=1e-4)
    ours_f, theirs_f = ours.ravel(), theirs.ravel()
    if name == "delta_orthogonal":
        ours_f, theirs_f = ours_f[ours_f != 0], theirs_f[theirs_f != 0]
    ks = scipy.stats.ks_2samp(ours_f, theirs_f)
    assert ks.pvalue > 1e-4, (name, args, shape, ks)
    spread = theirs_f.std()
    assert abs(ours_f.std() - spread) < 0.02 * spread
    assert abs(ours_f.mean() - theirs_f.mean()) < 0.02 * spread
    bounded = name in ("uniform", "truncated_normal") or "uniform" in name or (
        name.endswith("_normal") and name != "normal") or (args and "truncated_normal" in args) or (
        args and "uniform" in args)
    if bounded and name not in ("orthogonal", "delta_orthogonal"):
        assert abs(ours_f.min() - theirs_f.min()) < 0.02 * spread
        assert abs(ours_f.max() - theirs_f.max()) < 0.02 * spread


def test_kaiming_and_xavier_are_jax_aliases_not_pytorch():
    # the case: kaiming_normal on (1000, 100) has std 0.0448 in JAX (fan_in = 1000)
    w = np.asarray(fj.kaiming_normal()(jax.random.key(0), (1000, 100)))
    assert abs(w.std() - math.sqrt(2 / 1000)) < 1e-3
    assert abs(w).max() <= 2 * math.sqrt(2 / 1000) / TRUNC * (1 + 1e-6)  # truncated
    assert fj.kaiming_normal is fj.he_normal and fj.xavier_uniform is fj.glorot_uniform
    assert fj.kaiming_uniform is fj.he_uniform and fj.xavier_normal is fj.glorot_normal
    # defaults of the plain distributions: 0.01, as in JAX
    assert abs(np.asarray(fj.normal()(jax.random.key(0), (100000,))).std() - 0.01) < 2e-4
    assert np.asarray(fj.uniform()(jax.random.key(0), (1000,))).max() < 0.01
    tn = np.asarray(fj.truncated_normal()(jax.random.key(0), (100000,)))
    assert abs(tn).max() <= 0.02 and abs(tn.std() - 0.01 * TRUNC) < 2e-4  # no correction


@pytest.mark.parametrize("shape,axes", [
    ((5, 3), {}), ((3, 3, 16, 32), {}), ((2, 3, 4, 5, 6), {}), ((7, 9), {"in_axis": 0, "out_axis": 1}),
    ((2, 4, 8), {"batch_axis": 0}), ((4, 5, 6, 7), {"in_axis": (0, 1), "out_axis": -1}),
    ((3, 5, 7, 11), {"in_axis": 1, "out_axis": (2, 3), "batch_axis": 0}), ((6, 4), {"in_axis": 1, "out_axis": 0}),
    # JAX takes shared and repeated axes as given (prod(shape) / in / out / batch)
    ((4, 8), {"in_axis": 0, "out_axis": 0}), ((3, 5, 7), {"in_axis": -1, "out_axis": (1, 2)}),
    ((2, 3, 4, 5), {"in_axis": (0, 0), "batch_axis": -1}), ((6, 10), {"in_axis": 1, "batch_axis": 1}),
])
def test_fans_bit_equal_to_jax(shape, axes):
    jax_axes = {"in_axis": -2, "out_axis": -1, "batch_axis": (), **axes}
    ours = fastinit.fans(shape, "jax", jax_axes["in_axis"], jax_axes["out_axis"], jax_axes["batch_axis"])
    theirs = jax_compute_fans(shape, **jax_axes)
    assert ours == theirs and all(type(v) is float for v in ours)
    # and the uniform variance scaling bound is JAX's: sqrt(3 * scale / fan_in)
    w = np.asarray(fj.variance_scaling(2.0, "fan_in", "uniform", **jax_axes)(jax.random.key(1), shape))
    bound = math.sqrt(3 * 2.0 / theirs[0])
    assert abs(w).max() < bound and abs(w).max() > 0.5 * bound


# The documented meaning of each factory as a NumPy API call with seed = key_to_seed(key)
EXACT = [
    (fj.normal(0.02), lambda s, seed, dt: fastinit.normal(s, 0.0, 0.02, seed=seed, dtype=dt)),
    (fj.uniform(3.0), lambda s, seed, dt: fastinit.uniform(s, 0.0, 3.0, seed=seed, dtype=dt)),
    (fj.truncated_normal(0.5, None, -1.0, 3.0),
     lambda s, seed, dt: fastinit.trunc_normal(s, 0.0, 0.5, -1.0, 3.0, seed=seed, dtype=dt)),
    (fj.he_normal(), lambda s, seed, dt: fastinit.he_normal(s, seed=seed, dtype=dt)),
    (fj.glorot_uniform(), lambda s, seed, dt: fastinit.glorot_uniform(s, seed=seed, dtype=dt)),
    (fj.lecun_normal(in_axis=0, out_axis=-1),
     lambda s, seed, dt: fastinit.lecun_normal(s, in_axis=0, out_axis=-1, seed=seed, dtype=dt)),
    (fj.variance_scaling(2.0, "fan_geo_avg", "normal", batch_axis=0),
     lambda s, seed, dt: fastinit.variance_scaling(s, 2.0, "fan_geo_avg", "normal", batch_axis=0,
                                                   seed=seed, dtype=dt)),
    (fj.orthogonal(2.0, column_axis=0),
     lambda s, seed, dt: fastinit.orthogonal(s, 2.0, column_axis=0, seed=seed, dtype=dt)),
    (fj.delta_orthogonal(), lambda s, seed, dt: fastinit.delta_orthogonal((3,) + s[-2:], seed=seed, dtype=dt)),
    (fj.constant(1.5), lambda s, seed, dt: fastinit.full(s, 1.5, dtype=dt)),
]


@pytest.mark.parametrize("case", range(len(EXACT)))
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_values_are_the_documented_numpy_call(case, dtype):
    init, numpy_call = EXACT[case]
    shape = (3, 16, 24) if init.__repr__().startswith("fastinit.jax.delta") else (2, 16, 24)
    for seed in (0, 7, 2**32 - 1):
        got = init(jax.random.key(seed), shape, jnp.dtype(dtype))
        assert isinstance(got, jax.Array) and got.dtype == jnp.dtype(dtype) and got.shape == shape
        want = numpy_call(shape, seed, dtype)
        want = np.ascontiguousarray(want)
        assert np.array_equal(np.asarray(got).view(np.uint8), want.view(np.uint8))
        jitted = jax.jit(lambda k: init(k, shape, jnp.dtype(dtype)))(jax.random.key(seed))
        assert np.array_equal(np.asarray(jitted).view(np.uint8), want.view(np.uint8))


def test_key_to_seed():
    assert fj.key_to_seed(jax.random.key(42)) == 42
    assert fj.key_to_seed(jax.random.PRNGKey(7)) == 7
    wrapped = jax.random.wrap_key_data(np.array([1, 2], np.uint32))
    assert fj.key_to_seed(wrapped) == 2**32 + 2
    rbg = jax.random.key(3, impl="rbg")
    words = np.asarray(jax.random.key_data(rbg), dtype="<u4")
    want = int.from_bytes(hashlib.blake2b(words.tobytes(), digest_size=8).digest(), "little")
    assert fj.key_to_seed(rbg) == want
    got = fj.normal(1.0)(rbg, (5,))
    assert np.array_equal(np.asarray(got), fastinit.normal((5,), seed=want))
    k1, k2 = jax.random.split(jax.random.key(0))
    assert fj.key_to_seed(k1) != fj.key_to_seed(k2)
    with pytest.raises(ValueError, match="one PRNG key"):
        fj.normal()(jax.random.split(jax.random.key(0), 3), (2,))
    with pytest.raises(TypeError, match="PRNG key"):
        fj.normal()(42, (2,))
    with pytest.raises(TypeError, match="PRNG key"):
        fj.zeros(np.zeros(2, np.float32), (2,))


def test_jit_vmap_eval_shape():
    init = fj.he_uniform()
    key = jax.random.key(5)
    eager = init(key, (64, 32))
    jaxpr = str(jax.make_jaxpr(lambda k: init(k, (64, 32)))(key))
    assert "pure_callback" in jaxpr
    assert np.array_equal(np.asarray(jax.jit(lambda k: init(k, (64, 32)))(key)), np.asarray(eager))
    keys = jax.random.split(key, 4)
    batched = jax.vmap(lambda k: init(k, (64, 32)))(keys)
    assert batched.shape == (4, 64, 32)
    for i in range(4):
        assert np.array_equal(np.asarray(batched[i]), np.asarray(init(keys[i], (64, 32))))
    assert not np.array_equal(np.asarray(batched[0]), np.asarray(batched[1]))
    out = jax.eval_shape(lambda k: init(k, (64, 32), jnp.bfloat16), key)
    assert out.shape == (64, 32) and out.dtype == jnp.bfloat16
    # zeros/ones/constant need no callback
    assert "pure_callback" not in str(jax.make_jaxpr(lambda k: fj.constant(2.0)(k, (3,)))(key))


def test_dtypes():
    key = jax.random.key(0)
    assert fj.normal()(key, (4,)).dtype == jnp.float32  # default float
    assert fj.normal(dtype=jnp.bfloat16)(key, (4,)).dtype == jnp.bfloat16  # factory dtype
    assert fj.normal(dtype=jnp.bfloat16)(key, (4,), None).dtype == jnp.float32  # as in JAX
    assert fj.normal()(key, (4,), jnp.float64).dtype == jnp.float32  # x64 disabled: as jnp
    assert fj.ones(key, (3,), jnp.int32).dtype == jnp.int32
    assert np.array_equal(np.asarray(fj.constant(3)(key, (2, 2), jnp.int8)), np.full((2, 2), 3))
    assert np.array_equal(np.asarray(fj.constant(np.arange(3.0))(key, (2, 3))), [[0, 1, 2]] * 2)
    with pytest.raises(ValueError, match="complex"):
        fj.he_normal()(key, (4, 4), jnp.complex64)
    with pytest.raises(ValueError, match="fills"):
        fj.normal()(key, (4,), jnp.int32)


def test_errors_match_jax():
    key = jax.random.key(0)
    for shape in [(), (5,)]:
        with pytest.raises(ValueError, match="Can't compute input and output sizes"):
            fj.he_normal()(key, shape)
        with pytest.raises(ValueError, match="Can't compute input and output sizes"):
            JNI.he_normal()(key, shape)
    with pytest.raises(ValueError, match="at least a 2D shape"):
        fj.orthogonal()(key, (5,))
    with pytest.raises(ValueError, match="3D, 4D or 5D"):
        fj.delta_orthogonal()(key, (4, 4))
    with pytest.raises(ValueError, match="fan_in"):
        fj.delta_orthogonal()(key, (3, 8, 4))
    with pytest.raises(ValueError, match="invalid mode"):
        fj.variance_scaling(1.0, "fan_sideways", "normal")
    with pytest.raises(ValueError, match="invalid distribution"):
        fj.variance_scaling(1.0, "fan_in", "untruncated_normal")
    with pytest.raises(ValueError, match="stddev"):
        fj.normal(-1.0)
    with pytest.raises(ValueError, match="lower must be < upper"):
        fj.truncated_normal(1.0, None, 2.0, -2.0)
    assert fj.orthogonal()(key, (0, 4)).shape == (0, 4)


def test_out_sharding_single_device():
    mesh = jax.make_mesh((1,), ("x",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("x", None))
    got = fj.lecun_uniform()(jax.random.key(9), (8, 6), out_sharding=sharding)
    assert got.sharding == sharding
    assert np.array_equal(np.asarray(got), fastinit.lecun_uniform((8, 6), seed=9))
    with pytest.raises(TypeError, match="out_sharding"):
        fj.normal()(jax.random.key(0), (2,), out_sharding="x")
    with pytest.raises(ValueError, match="no mesh is set"):
        fj.normal()(jax.random.key(0), (2,), out_sharding=jax.sharding.PartitionSpec("x"))


def test_make_array_argument_checks():
    mesh = jax.make_mesh((1,), ("x",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    with pytest.raises(TypeError, match="sharding"):
        fj.make_array(fj.normal(), (4,), "x", seed=0)
    with pytest.raises(TypeError, match="init"):
        fj.make_array(3, (4,), sharding, seed=0)
    a = fj.make_array(fj.normal(1.0), (4, 2), sharding, seed=jax.random.key(6))
    assert np.array_equal(np.asarray(a), fastinit.normal((4, 2), seed=6))


SHARDED_CHILD = r"""
import functools, numpy as np, jax, fastinit, fastinit.jax as fj
from jax.sharding import NamedSharding, PartitionSpec as P
assert jax.device_count() == 4, jax.devices()
shape = (16, 12)
inits = {
    "normal": (fj.normal(1.0), fastinit.normal(shape, seed=5, stream=3)),
    "he_normal": (fj.he_normal(), fastinit.he_normal(shape, seed=5, stream=3)),
    "orthogonal": (fj.orthogonal(), fastinit.orthogonal(shape, column_axis=-1, seed=5, stream=3)),
    "numpy_fn": (functools.partial(fastinit.trunc_normal, std=0.02), fastinit.trunc_normal(shape, std=0.02, seed=5, stream=3)),
    "ones": (fj.ones, np.ones(shape, np.float32)),
}
calls = []
def counting(shape, *, seed, stream, out, region):
    calls.append(tuple((r.start, r.stop) for r in region))
    return fastinit.uniform(shape, seed=seed, stream=stream, out=out, region=region)
layouts = [((1, 4), P("x", "y")), ((1, 4), P(None, "y")), ((4, 1), P("x", "y")), ((4, 1), P("x")),
           ((2, 2), P("x", "y")), ((2, 2), P("y", "x")), ((2, 2), P("x")), ((2, 2), P(None, "y")),
           ((2, 2), P()), ((4, 1), P()), ((2, 2), P(("x", "y"))), ((2, 2), P(None, ("y", "x")))]
for mesh_shape, spec in layouts:
    mesh = jax.make_mesh(mesh_shape, ("x", "y"))
    sharding = NamedSharding(mesh, spec)
    for name, (init, want) in inits.items():
        a = fj.make_array(init, shape, sharding, seed=5, stream=3)
        assert a.sharding == sharding and a.shape == shape
        assert np.array_equal(np.asarray(a), want), (mesh_shape, spec, name)
        for s in a.addressable_shards:
            assert np.array_equal(np.asarray(s.data), want[s.index]), (mesh_shape, spec, name, s.index)
    calls.clear()
    a = fj.make_array(counting, shape, sharding, seed=5, stream=3)
    regions = {tuple((sl.start or 0, sl.stop if sl.stop is not None else n) for sl, n in zip(s.index, shape))
               for s in a.addressable_shards}
    assert sorted(calls) == sorted(regions), (calls, regions)  # each region filled once, alone
    assert np.array_equal(np.asarray(a), fastinit.uniform(shape, seed=5, stream=3))
# the init's out_sharding argument uses the same path
mesh = jax.make_mesh((2, 2), ("x", "y"))
sh = NamedSharding(mesh, P("x", "y"))
w = fj.glorot_normal()(jax.random.key(11), shape, out_sharding=sh)
assert w.sharding == sh and np.array_equal(np.asarray(w), fastinit.glorot_normal(shape, seed=11))
with jax.set_mesh(mesh):
    w2 = fj.glorot_normal()(jax.random.key(11), shape, out_sharding=P("x", "y"))
    assert np.array_equal(np.asarray(w2), np.asarray(w))
# under jit (JAX wants the mesh set for Explicit axes), resharded after the host fill
with jax.set_mesh(mesh):
    w3 = jax.jit(lambda k: fj.glorot_normal()(k, shape, out_sharding=sh))(jax.random.key(11))
    ref = jax.jit(lambda k: jax.nn.initializers.glorot_normal()(k, shape, out_sharding=sh))(jax.random.key(11))
assert w3.sharding.is_equivalent_to(ref.sharding, 2)
assert np.array_equal(np.asarray(w3), np.asarray(w)) and w3.sharding.is_equivalent_to(sh, 2)
# auto (non-explicit) axes take a with_sharding_constraint
auto = jax.make_mesh((2, 2), ("x", "y"), axis_types=(jax.sharding.AxisType.Auto,) * 2)
sa = NamedSharding(auto, P("x", None))
w4 = jax.jit(lambda k: fj.he_uniform()(k, shape, out_sharding=sa))(jax.random.key(2))
assert w4.sharding.is_equivalent_to(sa, 2) and np.array_equal(np.asarray(w4), fastinit.he_uniform(shape, seed=2))
with jax.set_mesh(auto):  # eager under a mesh: replicated over it, as jnp arrays made there
    r = fj.normal()(jax.random.key(1), (4, 4))
    assert r.sharding == NamedSharding(auto, P()) and np.array_equal(np.asarray(r), fastinit.normal((4, 4), 0, 0.01, seed=1))
print("sharded ok")
"""


def test_make_array_equal_for_every_mesh_and_spec():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", SHARDED_CHILD], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "sharded ok" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_docstring_examples():
    import doctest

    result = doctest.testmod(fj, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 10 and result.failed == 0
