"""Speed of fastinit.jax against jax.random / jax.nn.initializers on the default JAX
device (CPU here), best of N, in million elements per second.

    python tools/bench_jax.py [--n 16777216] [--repeat 5] [--dtype float32]

Every timing includes jax.block_until_ready; the fastinit.jax rows are eager calls (host
fill, then jax.device_put) and one jitted call (pure_callback); the JAX rows are jitted
(their normal use; the first call compiles and is not timed).
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import fastinit  # noqa: E402
import fastinit.jax as fj  # noqa: E402


def best(fn, repeat):
    jax.block_until_ready(fn())  # warm up (compilation, page faults)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1 << 24)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dtype", default="float32")
    args = ap.parse_args(argv)
    n, dt = args.n, jnp.dtype(args.dtype)
    shape = (n // 4096, 4096)
    key = jax.random.key(0)
    def jitted(f):
        g = jax.jit(f)
        return lambda: g(key)

    rows = [
        ("fastinit.jax.normal(1.0) eager", lambda: fj.normal(1.0)(key, shape, dt)),
        ("fastinit.jax.normal(1.0) jit", jitted(lambda k: fj.normal(1.0)(k, shape, dt))),
        ("fastinit.jax.he_normal() eager", lambda: fj.he_normal()(key, shape, dt)),
        ("fastinit.jax.uniform(1.0) eager", lambda: fj.uniform(1.0)(key, shape, dt)),
        ("fastinit.normal (NumPy array only)", lambda: fastinit.normal(shape, seed=0, dtype=dt)),
        ("jax.random.normal jit", jitted(lambda k: jax.random.normal(k, shape, dt))),
        ("jax.random.uniform jit", jitted(lambda k: jax.random.uniform(k, shape, dt))),
        ("jax.nn.initializers.normal(1.0) jit", jitted(lambda k: jax.nn.initializers.normal(1.0)(k, shape, dt))),
        ("jax.nn.initializers.he_normal() jit", jitted(lambda k: jax.nn.initializers.he_normal()(k, shape, dt))),
        ("jax.nn.initializers.he_normal() eager", lambda: jax.nn.initializers.he_normal()(key, shape, dt)),
    ]
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, fastinit {fastinit.__version__}, "
          f"{n} x {dt.name}, best of {args.repeat}, {os.cpu_count()} CPUs")
    for name, fn in rows:
        t = best(fn, args.repeat)
        print(f"{name:42s} {t * 1e3:9.1f} ms {n / t / 1e6:9.1f} M/s")


if __name__ == "__main__":
    main()
