"""init_module, empty_init and patch_torch_init on real timm models (a small ViT and a
ResNet): their own ``init_weights``, every random value from fastinit's stream under
the parameter's name, timm's own ``trunc_normal_`` computed as fastinit's exact
truncated normal."""
from __future__ import annotations

import math
import warnings

import _torchvision_shim  # noqa: F401  (timm imports torchvision; must come first)
import pytest
import timm
import torch
from timm.models.resnet import BasicBlock, ResNet
from timm.models.vision_transformer import VisionTransformer

import fastinit
import fastinit.torch as finit

UINT = {2: torch.int16, 4: torch.int32, 8: torch.int64}


def same_bits(a, b):
    a, b = torch.as_tensor(a).detach(), torch.as_tensor(b).detach()
    return a.shape == b.shape and a.dtype == b.dtype and torch.equal(
        a.contiguous().view(UINT[a.element_size()]), b.contiguous().view(UINT[b.element_size()]))


def vit():
    return VisionTransformer(img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=4,
                             mlp_ratio=2.0, num_classes=10)


def resnet():
    return ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10)


def state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert same_bits(a[k], b[k]), k


def forward(model, shape=(2, 3, 32, 32)):
    x = torch.linspace(-1, 1, math.prod(shape)).reshape(shape)
    model.eval()
    with torch.no_grad():
        return model(x)


def timm_trunc(shape, std, seed, name, a=-2.0, b=2.0):
    # timm.layers.trunc_normal_(w, std=std): bounds a, b are absolute, as in torch
    return fastinit.trunc_normal(shape, 0.0, std, a / std, b / std, seed=seed, stream=name)


def test_vit_init_weights_values():
    model = vit()
    finit.init_module(model, seed=3)
    seen = set()
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.Linear):
            w = f"{name}.weight"
            assert same_bits(m.weight, timm_trunc(tuple(m.weight.shape), 0.02, 3, w)), w
            assert torch.equal(m.bias, torch.zeros_like(m.bias))
            seen.add(name)
        elif isinstance(m, torch.nn.LayerNorm):
            assert torch.equal(m.weight, torch.ones_like(m.weight))
            assert torch.equal(m.bias, torch.zeros_like(m.bias))
    assert len(seen) == 2 * 4 + 1  # qkv, proj, fc1, fc2 per block and the head
    assert same_bits(model.pos_embed, timm_trunc(tuple(model.pos_embed.shape), 0.02, 3, "pos_embed"))
    assert same_bits(model.cls_token, fastinit.normal((1, 1, 64), 0.0, 1e-6, seed=3, stream="cls_token"))
    conv = model.patch_embed.proj.weight  # timm keeps PyTorch's conv default: reset_parameters()
    assert same_bits(conv, fastinit.kaiming_uniform(tuple(conv.shape), a=math.sqrt(5), seed=3,
                                                    stream="patch_embed.proj.weight"))


def test_vit_reproducible_from_empty_and_across_torch_seeds():
    torch.manual_seed(0)
    a = finit.init_module(vit(), seed=1)
    torch.manual_seed(1)
    with finit.empty_init():
        b = vit()
    assert all(p.is_meta for p in b.parameters())
    finit.init_module(b, seed=1, threads=1)
    assert_same_state(state(a), state(b))
    out = forward(a)
    assert torch.isfinite(out).all() and torch.equal(out, forward(b))


def test_resnet_zero_init_last_and_kaiming_fan_out():
    model = resnet()
    finit.init_module(model, seed=8)
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.Conv2d):
            w = f"{name}.weight"
            ref = fastinit.kaiming_normal(tuple(m.weight.shape), mode="fan_out", nonlinearity="relu",
                                          seed=8, stream=w)
            assert same_bits(m.weight, ref), w
        if isinstance(m, BasicBlock):
            assert torch.equal(m.bn2.weight, torch.zeros_like(m.bn2.weight)), name  # zero_init_last
            assert torch.equal(m.bn1.weight, torch.ones_like(m.bn1.weight)), name
    fc = model.fc.weight  # not touched by init_weights: PyTorch's Linear default, as at construction
    assert same_bits(fc, fastinit.kaiming_uniform((10, 512), a=math.sqrt(5), seed=8, stream="fc.weight"))


def test_resnet_from_meta_device_resets_running_stats():
    with torch.device("meta"):
        model = resnet()
    finit.init_module(model, seed=8)
    ref = finit.init_module(resnet(), seed=8)
    assert_same_state(state(ref), state(model))
    assert torch.equal(model.bn1.running_var, torch.ones(64))
    out = forward(model)
    assert torch.isfinite(out).all() and torch.equal(out, forward(ref))


def test_patch_torch_init_reaches_timms_own_trunc_normal():
    def build(torch_seed):
        torch.manual_seed(torch_seed)
        with finit.patch_torch_init(seed=5):
            return vit()

    a, b = build(0), build(1)
    assert_same_state(state(a), state(b))  # every tensor, timm.layers.trunc_normal_ included
    torch.manual_seed(0)
    plain = vit()
    assert not torch.equal(plain.blocks[0].attn.qkv.weight, a.blocks[0].attn.qkv.weight)
    # after the block timm's function is its own again
    t = torch.empty(1000)
    torch.manual_seed(2)
    timm.layers.trunc_normal_(t, std=0.02)
    u = torch.empty(1000)
    torch.manual_seed(2)
    timm.layers.trunc_normal_(u, std=0.02)
    assert torch.equal(t, u) and float(t.abs().max()) <= 2.0


@pytest.mark.parametrize("build", [vit, resnet])
def test_scheme_torch_ignores_init_weights(build):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        model = finit.init_module(build(), seed=2, scheme="torch")
    # PyTorch has no default for ViT's bare parameters: named in one warning
    assert [str(w.message).split(": ")[-1] for w in seen] == (["cls_token, pos_embed"] if build is vit else [])
    for name, m in model.named_modules():
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
            w = f"{name}.weight"
            assert same_bits(m.weight, fastinit.kaiming_uniform(tuple(m.weight.shape), a=math.sqrt(5),
                                                                seed=2, stream=w)), w
