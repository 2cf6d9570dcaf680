"""fastinit.jax as Flax NNX kernel_init/bias_init: the parameters are fastinit's values
for the keys NNX passes, eager and nnx.jit construction agree, a Conv + Linear model
trains with optax, and the Flax sharded-init pattern works on 4 CPU devices."""
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import fastinit
import fastinit.jax as fj

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Recording:
    """Wraps an init to record the (key seed, shape, dtype) of each eager call."""

    def __init__(self, init):
        self.init, self.calls = init, []

    def __call__(self, key, shape, dtype=jnp.float32):
        if not isinstance(key, jax.core.Tracer):
            self.calls.append((fj.key_to_seed(key), tuple(shape), jnp.dtype(dtype)))
        return self.init(key, shape, dtype)


class CNN(nnx.Module):
    def __init__(self, rngs, kernel_init=None, dense_init=None):
        kernel_init = kernel_init or fj.he_normal()
        dense_init = dense_init or fj.glorot_uniform()
        self.conv = nnx.Conv(1, 8, (3, 3), kernel_init=kernel_init, bias_init=fj.zeros, rngs=rngs)
        self.dense = nnx.Linear(8 * 8 * 8, 16, kernel_init=dense_init,
                                bias_init=fj.normal(0.01), rngs=rngs)
        self.out = nnx.Linear(16, 1, kernel_init=fj.orthogonal(0.5), bias_init=fj.constant(0.1),
                              rngs=rngs)

    def __call__(self, x):
        x = nnx.relu(self.conv(x))
        x = nnx.tanh(self.dense(x.reshape(x.shape[0], -1)))
        return self.out(x)


def test_parameters_are_fastinit_values_for_the_nnx_keys():
    conv_init, dense_init = Recording(fj.he_normal()), Recording(fj.glorot_uniform())
    model = CNN(nnx.Rngs(0), conv_init, dense_init)
    (seed_c, shape_c, dt_c), = conv_init.calls
    (seed_d, shape_d, _), = dense_init.calls
    assert shape_c == (3, 3, 1, 8) and dt_c == jnp.float32 and shape_d == (512, 16)
    assert np.array_equal(np.asarray(model.conv.kernel[...]), fastinit.he_normal(shape_c, seed=seed_c))
    assert np.array_equal(np.asarray(model.dense.kernel[...]), fastinit.glorot_uniform(shape_d, seed=seed_d))
    assert seed_c != seed_d  # NNX gives each parameter its own key
    assert np.array_equal(np.asarray(model.conv.bias[...]), np.zeros(8))
    assert np.array_equal(np.asarray(model.out.bias[...]), np.full(1, 0.1, np.float32))
    w = np.asarray(model.out.kernel[...], dtype=np.float64)
    assert np.allclose(w.T @ w, 0.25, atol=1e-6)


def test_eager_and_jit_construction_agree():
    eager = CNN(nnx.Rngs(3))
    jitted = nnx.jit(lambda: CNN(nnx.Rngs(3)))()
    for a, b in zip(jax.tree.leaves(nnx.state(eager, nnx.Param)), jax.tree.leaves(nnx.state(jitted, nnx.Param))):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    abstract = nnx.eval_shape(lambda: CNN(nnx.Rngs(3)))  # shapes only: no fill
    assert abstract.dense.kernel.shape == (512, 16)


def test_param_dtype_bfloat16():
    layer = nnx.Linear(32, 8, kernel_init=fj.lecun_normal(), param_dtype=jnp.bfloat16, rngs=nnx.Rngs(1))
    assert layer.kernel[...].dtype == jnp.bfloat16
    assert np.isfinite(np.asarray(layer.kernel[...], dtype=np.float32)).all()


def test_cnn_trains_with_optax():
    model = CNN(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((64, 8, 8, 1)), jnp.float32)
    y = jnp.mean(x, axis=(1, 2, 3))[:, None]

    def loss_fn(m):
        return jnp.mean((m(x) - y) ** 2)

    @nnx.jit
    def step(m, opt):
        loss, grads = nnx.value_and_grad(loss_fn)(m)
        opt.update(m, grads)
        return loss

    losses = [float(step(model, optimizer)) for _ in range(20)]
    assert all(np.isfinite(losses)) and losses[-1] < 0.5 * losses[0], losses


SHARDED_CHILD = r"""
import jax, numpy as np, fastinit.jax as fj
from flax import nnx
from jax.sharding import PartitionSpec as P
assert jax.device_count() == 4
class MLP(nnx.Module):
    def __init__(self, rngs):
        self.a = nnx.Linear(16, 32, kernel_init=nnx.with_partitioning(fj.he_normal(), (None, "model")), rngs=rngs)
        self.b = nnx.Linear(32, 8, kernel_init=nnx.with_partitioning(fj.lecun_normal(), ("model", None)), rngs=rngs)
@nnx.jit
def create():
    model = MLP(nnx.Rngs(0))
    state = nnx.state(model)
    nnx.update(model, jax.lax.with_sharding_constraint(state, nnx.get_partition_spec(state)))
    return model
mesh = jax.make_mesh((2, 2), ("data", "model"), axis_types=(jax.sharding.AxisType.Auto,) * 2)
with jax.set_mesh(mesh):
    sharded = create()
    eager = MLP(nnx.Rngs(0))  # Flax's eager sharding: the value is placed after the fill
ka = sharded.a.kernel[...]
assert ka.sharding.spec == P(None, "model"), ka.sharding
assert np.array_equal(np.asarray(ka), np.asarray(eager.a.kernel[...]))
assert np.array_equal(np.asarray(sharded.b.kernel[...]), np.asarray(eager.b.kernel[...]))
print("flax sharded ok")
"""


def test_flax_sharded_init_pattern():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", SHARDED_CHILD], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "flax sharded ok" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
