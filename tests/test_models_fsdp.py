"""A transformers Llama built under empty_init, sharded with FSDP2 (``fully_shard``) or
laid out tensor-parallel (``Shard(1)`` / ``Shard(0)`` DTensors), then init_module: each
rank fills only its shard, and the gathered parameters equal the single-process
model's bit for bit (real gloo process groups on 2 and 4 CPU ranks)."""
from __future__ import annotations

import datetime
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

UINT = {2: torch.int16, 4: torch.int32, 8: torch.int64}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _same_bits(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and torch.equal(
        a.contiguous().view(UINT[a.element_size()]), b.contiguous().view(UINT[b.element_size()]))


def _config():
    from transformers import LlamaConfig

    # odd sizes: FSDP2 shards of unequal length on 4 ranks (vocab 90 = 23 + 23 + 23 + 21)
    return LlamaConfig(vocab_size=90, hidden_size=48, intermediate_size=72, num_hidden_layers=3,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=16,
                       tie_word_embeddings=False)


def _empty_model():
    from transformers import AutoModelForCausalLM

    import fastinit.torch as finit

    with finit.empty_init():
        return AutoModelForCausalLM.from_config(_config())


def _reference():
    from transformers import AutoModelForCausalLM

    import fastinit.torch as finit

    torch.manual_seed(123)  # anything: the values must not depend on it
    return finit.init_module(AutoModelForCausalLM.from_config(_config()), seed=0)


def _check_gathered(model, ref, rank, expect_dtensor):
    from torch.distributed.tensor import DTensor

    ref_params = dict(ref.named_parameters())
    sharded = 0
    for name, p in model.named_parameters():
        assert not p.is_meta, name
        if isinstance(p, DTensor):
            sharded += 1
            full = p.full_tensor()
        else:
            full = p.detach()
        assert _same_bits(full, ref_params[name].detach()), f"rank {rank}: {name}"
    assert sharded >= expect_dtensor


def _check_fsdp2(rank, world):
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    import fastinit.torch as finit

    mesh = init_device_mesh("cpu", (world,))
    model = _empty_model()
    for layer in model.model.layers:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    finit.init_module(model, seed=0)
    ref = _reference()
    n = sum(1 for _ in model.parameters())
    _check_gathered(model, ref, rank, n)
    tokens = torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6]])
    with torch.no_grad():
        out = model(tokens).logits
        expected = ref(tokens).logits
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)


def _check_tensor_parallel(rank, world):
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import DTensor, Shard
    from torch.distributed.tensor.parallel import (
        ColwiseParallel,
        RowwiseParallel,
        parallelize_module,
    )

    import fastinit.torch as finit

    mesh = init_device_mesh("cpu", (world,))
    model = _empty_model()
    for layer in model.model.layers:
        parallelize_module(layer.mlp, mesh, {"gate_proj": ColwiseParallel(), "up_proj": ColwiseParallel(),
                                             "down_proj": RowwiseParallel()})
    down = model.model.layers[0].mlp.down_proj.weight
    assert isinstance(down, DTensor) and down.placements == (Shard(1),)
    finit.init_module(model, seed=0)
    _check_gathered(model, _reference(), rank, 3 * len(model.model.layers))


def _worker(rank, world, port):
    import _torchvision_shim  # noqa: F401  (transformers imports torchvision)

    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=datetime.timedelta(seconds=300))
    try:
        _check_fsdp2(rank, world)
        _check_tensor_parallel(rank, world)
        dist.barrier()
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("world", [2, 4])
def test_fsdp2_and_tensor_parallel_llama_equal_the_single_process_model(world, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the spawned ranks share 2 cores
    mp.spawn(_worker, args=(world, _free_port()), nprocs=world, join=True)
