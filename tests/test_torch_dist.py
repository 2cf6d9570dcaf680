"""Sharded init across real processes: torch.distributed on the gloo backend, 2 and 4
CPU ranks (torch.multiprocessing spawn, MASTER_ADDR=127.0.0.1 and a free port).

Every rank fills only its shard; the shards are gathered and compared, bit for bit,
with the unsharded fill: fill_shard_ on plain local tensors (even and uneven shards,
dim-0 and dim-1 splits, torch.chunk-style and array_split-style cuts), the drop-ins on
DTensors (Shard(0), Shard(1), Replicate, and 2-D meshes), and init_module on a model
whose parameters are DTensors.  One spawn per world size runs all cases, so the cost
is mostly starting the processes.
"""
from __future__ import annotations

import datetime
import math
import os
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import fastinit.torch as finit

UINT = {2: torch.int16, 4: torch.int32, 8: torch.int64}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _same_bits(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and torch.equal(
        a.contiguous().view(UINT[a.element_size()]), b.contiguous().view(UINT[b.element_size()]))


def _cuts(n, parts, style):
    """[start, stop) per rank: "chunk" as torch.chunk / DTensor (ceil size, trailing
    shards may be short or empty), "split" as np.array_split (sizes differ by <= 1)."""
    if style == "chunk":
        size = -(-n // parts)
        return [(min(i * size, n), min((i + 1) * size, n)) for i in range(parts)]
    edges = np.cumsum([0] + [n // parts + (1 if i < n % parts else 0) for i in range(parts)])
    return [(int(edges[i]), int(edges[i + 1])) for i in range(parts)]


# (initializer, dtype, PyTorch-style parameters)
SHARD_CASES = [
    ("normal", torch.float32, dict(std=0.02)),
    ("trunc_normal", torch.bfloat16, dict(std=0.02, a=-0.03, b=0.05)),
    ("kaiming_uniform", torch.float64, dict(a=math.sqrt(5))),
    ("xavier_normal", torch.float16, dict(gain=2.0)),
    ("uniform", torch.float32, dict(a=-1.0, b=3.0)),
]


def _check_fill_shard(rank, world):
    for shape in [(16, 12), (13, 10)]:  # even for 2 and 4 ranks; uneven for both
        for dim in (0, 1):
            for style in ("chunk", "split"):
                start, stop = _cuts(shape[dim], world, style)[rank]
                local_shape = list(shape)
                local_shape[dim] = stop - start
                offsets = [0, 0]
                offsets[dim] = start
                for init, dtype, params in SHARD_CASES:
                    local = torch.empty(local_shape, dtype=dtype)
                    finit.fill_shard_(local, shape, tuple(offsets), init, seed=17, stream=init, **params)
                    pieces = [None] * world
                    dist.all_gather_object(pieces, local)
                    gathered = torch.cat(pieces, dim)
                    whole = getattr(finit, init + "_")(torch.empty(shape, dtype=dtype), **params, seed=17,
                                                       stream=init)
                    assert _same_bits(gathered, whole), (shape, dim, style, init)


DTENSOR_FILLS = [("normal_", torch.float32, (0.0, 0.02)),
                 ("kaiming_uniform_", torch.bfloat16, (math.sqrt(5),)),
                 ("trunc_normal_", torch.float64, (0.0, 1.0, -1.0, 0.5))]


def _check_dtensors(rank, world):
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Replicate, Shard
    import torch.distributed.tensor as dtensor

    flat = init_device_mesh("cpu", (world,))
    cases = [(flat, [Shard(0)], (16, 12)), (flat, [Shard(0)], (13, 10)),
             (flat, [Shard(1)], (16, 12)), (flat, [Shard(1)], (13, 10)),
             (flat, [Replicate()], (13, 10))]
    if world == 4:
        grid = init_device_mesh("cpu", (2, 2), mesh_dim_names=("dp", "tp"))
        cases += [(grid, [Shard(0), Shard(1)], (13, 10)), (grid, [Shard(1), Shard(0)], (16, 12)),
                  (grid, [Replicate(), Shard(1)], (13, 10))]
    for i, (mesh, placements, shape) in enumerate(cases):
        # Cycle through the fills: a DTensor gather per case is the expensive part.
        name, dtype, args = DTENSOR_FILLS[i % len(DTENSOR_FILLS)]
        t = dtensor.empty(shape, dtype=dtype, device_mesh=mesh, placements=placements)
        out = getattr(finit, name)(t, *args, seed=5, stream="w")
        assert out is t
        whole = getattr(finit, name)(torch.empty(shape, dtype=dtype), *args, seed=5, stream="w")
        assert _same_bits(t.full_tensor(), whole), (shape, placements, name)


def _check_init_module_on_dtensor_parameters(rank, world):
    from torch import nn
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Replicate, Shard, distribute_tensor

    def make():
        torch.manual_seed(rank)  # a different torch init on every rank: init_module replaces it
        return nn.Sequential(nn.Linear(10, 13), nn.LayerNorm(13), nn.Linear(13, 7))

    mesh = init_device_mesh("cpu", (world,))
    sharded = make()
    for i, placement in [(0, Shard(0)), (1, Replicate()), (2, Shard(1))]:
        for pname, p in list(sharded[i].named_parameters()):
            place = placement if not (i == 2 and pname == "bias") else Replicate()
            setattr(sharded[i], pname, nn.Parameter(distribute_tensor(p.detach(), mesh, [place])))
    finit.init_module(sharded, seed=99)
    plain = finit.init_module(make(), seed=99)
    for (name, p), (_, q) in zip(sharded.named_parameters(), plain.named_parameters()):
        assert p.requires_grad
        assert _same_bits(p.detach().full_tensor(), q.detach()), name


def _worker(rank, world, port):
    torch.set_num_threads(1)  # several ranks share 2 cores
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=datetime.timedelta(seconds=120))
    try:
        _check_fill_shard(rank, world)
        _check_dtensors(rank, world)
        _check_init_module_on_dtensor_parameters(rank, world)
        dist.barrier()
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("world", [2, 4])
def test_sharded_fills_equal_the_unsharded_tensor(world, monkeypatch):
    # One OpenMP thread per rank (the spawned processes inherit the environment): more
    # would only oversubscribe the cores; the values do not depend on it.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    mp.spawn(_worker, args=(world, _free_port()), nprocs=world, join=True)


def test_cuts_cover_every_index_once():
    for n in (10, 13, 16):
        for parts in (2, 3, 4):
            for style in ("chunk", "split"):
                cuts = _cuts(n, parts, style)
                assert cuts[0][0] == 0 and cuts[-1][1] == n
                assert all(a[1] == b[0] for a, b in zip(cuts, cuts[1:]))
