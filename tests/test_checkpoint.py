"""save_init: the checkpoint equals init_module bit for bit, loads with from_pretrained,
streams in bounded units, and is written atomically."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import warnings

import _torchvision_shim  # noqa: F401  (transformers imports torchvision)
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig

import fastinit.torch as finit
from fastinit.torch import _unit_init, checkpoint
from fastinit.torch.safetensors_writer import ShardFile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def llama_config(**kw):
    base = {"vocab_size": 256, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "tie_word_embeddings": True}
    base.update(kw)
    return LlamaConfig(**base)


def gpt2_config():
    return GPT2Config(vocab_size=256, n_embd=64, n_layer=2, n_head=4, n_positions=64,
                      bos_token_id=0, eos_token_id=0)


def build(cfg):
    with finit.empty_init():
        return AutoModelForCausalLM.from_config(cfg)


def reference(cfg, seed, dtype=None):
    model = build(cfg)
    if dtype is not None:
        model = model.to(dtype)
    return finit.init_module(model, seed=seed)


def read_all(path):
    out = {}
    for name in sorted(os.listdir(path)):
        if name.endswith(".safetensors"):
            with safe_open(os.path.join(path, name), "pt") as f:
                for k in f.keys():  # noqa: SIM118  (safe_open is not a mapping)
                    assert k not in out
                    out[k] = f.get_tensor(k)
    return out


@pytest.fixture
def small_units(monkeypatch):
    """Every module its own unit and every tensor over 1 KB in row blocks: the most
    streaming a tiny model can get.  Counts the tensors written as blocks."""
    monkeypatch.setattr(_unit_init, "UNIT_BYTES", 1)
    monkeypatch.setattr(_unit_init, "CHUNK_BYTES", 1024)
    made = []
    original = _unit_init.Blocks.__init__

    def counting(self, like, fills, threads):
        made.append(tuple(like.shape))
        original(self, like, fills, threads)

    monkeypatch.setattr(_unit_init.Blocks, "__init__", counting)
    return made


# ------------------------------------------------------------------ the writer ----
def test_writer_bytes_equal_safetensors(tmp_path):
    gen = torch.Generator().manual_seed(0)
    tensors = {"b.w": torch.randn(3, 5, generator=gen), "a": torch.randn(7, generator=gen).double(),
               "z": torch.randn(2, 2, generator=gen).half(), "m": torch.randn(4, generator=gen).bfloat16(),
               "n": torch.arange(6).reshape(2, 3), "e": torch.empty(0, 4), "k": torch.tensor([True, False]),
               "i": torch.arange(3, dtype=torch.int32)}
    save_file(tensors, str(tmp_path / "ref.safetensors"), metadata={"format": "pt"})
    f = ShardFile(str(tmp_path / "ours.safetensors"),
                  [(k, t.dtype, tuple(t.shape)) for k, t in tensors.items()])
    f.open()
    for k in reversed(list(tensors)):  # any order: each tensor goes to its offset
        f.write(k, tensors[k])
    f.close()
    assert (tmp_path / "ours.safetensors").read_bytes() == (tmp_path / "ref.safetensors").read_bytes()


def test_split_shards_as_huggingface_hub():
    from huggingface_hub import split_torch_state_dict_into_shards

    sizes = [6, 6, 2, 6, 2, 2, 11, 1]
    sd = {f"t{i}": torch.empty(n, dtype=torch.uint8) for i, n in enumerate(sizes)}
    ref = split_torch_state_dict_into_shards(sd, filename_pattern="model{suffix}.safetensors", max_shard_size=10)
    assert checkpoint.split_shards([(k, t.numel()) for k, t in sd.items()], 10) == ref.filename_to_tensors
    assert checkpoint.split_shards([("a", 3)], 10) == {"model.safetensors": ["a"]}


# ------------------------------------------------------- values and loading ----
@pytest.mark.parametrize("cfg", [llama_config(), llama_config(tie_word_embeddings=False, pad_token_id=0),
                                 gpt2_config()], ids=["llama-tied", "llama-pad", "gpt2"])
def test_equals_init_module_and_loads(tmp_path, cfg, small_units):
    out = tmp_path / "ckpt"
    model = build(cfg)
    res = finit.save_init(model, out, seed=5, shard_size="40KB", progress=False)
    assert all(p.is_meta for p in model.parameters())  # the model is left as it was
    ref = reference(cfg, 5).state_dict()
    got = read_all(out)
    tied = {"lm_head.weight"} if cfg.tie_word_embeddings else set()
    assert set(got) == set(ref) - tied
    assert all(torch.equal(got[k], ref[k]) for k in got), [k for k in got if not torch.equal(got[k], ref[k])]
    assert len(res["files"]) > 1 and small_units  # sharded, and some tensors written in row blocks
    index = json.loads((out / checkpoint.INDEX_NAME).read_text())
    assert set(index["weight_map"]) == set(got) and set(index["weight_map"].values()) == set(res["files"])
    loaded, info = AutoModelForCausalLM.from_pretrained(out, output_loading_info=True)
    assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    lsd = loaded.state_dict()
    assert all(torch.equal(lsd[k], ref[k]) for k in ref)
    assert json.loads((out / "config.json").read_text())["architectures"] == [type(model).__name__]


def test_files_equal_save_pretrained(tmp_path):
    """Byte for byte what init_module + save_pretrained writes (shards, index, headers)."""
    cfg = llama_config()
    finit.save_init(build(cfg), tmp_path / "ours", seed=1, shard_size="50KB", progress=False)
    reference(cfg, 1).save_pretrained(tmp_path / "ref", max_shard_size="50KB")
    ref_files = sorted(n for n in os.listdir(tmp_path / "ref") if n.endswith(".safetensors"))
    assert len(ref_files) > 1
    assert sorted(n for n in os.listdir(tmp_path / "ours") if n.endswith(".safetensors")) == ref_files
    for n in ref_files + [checkpoint.INDEX_NAME]:
        assert (tmp_path / "ours" / n).read_bytes() == (tmp_path / "ref" / n).read_bytes(), n


def test_dtype_override(tmp_path, small_units):
    cfg = llama_config(tie_word_embeddings=False)
    finit.save_init(build(cfg), tmp_path / "bf16", seed=2, dtype="bfloat16", progress=False)
    got, ref = read_all(tmp_path / "bf16"), reference(cfg, 2, torch.bfloat16).state_dict()
    assert {t.dtype for t in got.values()} == {torch.bfloat16}
    assert all(torch.equal(got[k], ref[k]) for k in ref)
    assert json.loads((tmp_path / "bf16" / "config.json").read_text())["dtype"] == "bfloat16"
    with pytest.raises(ValueError, match="float32, float64, float16, bfloat16"):
        finit.save_init(build(cfg), tmp_path / "bad", seed=2, dtype=torch.int8)
    with pytest.raises(ValueError, match="float32, float64"):
        finit.save_init(build(cfg), tmp_path / "bad", seed=2, dtype="fp8")
    assert not (tmp_path / "bad").exists()


def test_parent_reaching_into_a_released_child_is_redone(tmp_path, monkeypatch):
    """GPT-2's attention rescales its child c_proj: with every module a unit of its own
    the child is already written when the parent runs; save_init notices and redoes
    it with the parent's subtree as one unit."""
    monkeypatch.setattr(_unit_init, "UNIT_BYTES", 1)
    seen = []
    original = _unit_init.NotLocal.__init__

    def note(self, scope, name):
        seen.append(scope)
        original(self, scope, name)

    monkeypatch.setattr(_unit_init.NotLocal, "__init__", note)
    cfg = gpt2_config()
    finit.save_init(build(cfg), tmp_path / "g", seed=0, progress=False)
    assert seen and all(s.endswith(("attn", "mlp")) for s in seen)
    ref = reference(cfg, 0).state_dict()
    got = read_all(tmp_path / "g")
    assert all(torch.equal(got[k], ref[k]) for k in got)


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(),
                                        torch.nn.Linear(16, 4))
        self.scale = torch.nn.Parameter(torch.empty(4))

    def reset_parameters(self):
        torch.nn.init.normal_(self.scale, std=0.5)


def test_plain_module_and_warnings(tmp_path, small_units):
    with finit.empty_init():
        net = _Net()
    finit.save_init(net, tmp_path / "net", seed=9, progress=False)
    with finit.empty_init():
        ref = finit.init_module(_Net(), seed=9).state_dict()
    got = read_all(tmp_path / "net")
    assert set(got) == set(ref) and all(torch.equal(got[k], ref[k]) for k in ref)
    assert got["body.1.num_batches_tracked"].dtype == torch.int64
    assert not (tmp_path / "net" / "config.json").exists()

    real = _Net()  # not on meta: recomputed, and left untouched
    before = {k: v.clone() for k, v in real.state_dict().items()}
    with pytest.warns(UserWarning, match="ignored and recomputed"):
        finit.save_init(real, tmp_path / "real", seed=9, progress=False)
    assert all(torch.equal(v, before[k]) for k, v in real.state_dict().items())
    got = read_all(tmp_path / "real")
    assert all(torch.equal(got[k], ref[k]) for k in ref)


class _WholeInit(torch.nn.Module):
    """The timm convention: one init_weights() for the whole model."""

    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Linear(6, 6), torch.nn.Linear(6, 3)

    def init_weights(self):
        for m in (self.a, self.b):
            torch.nn.init.trunc_normal_(m.weight, std=0.02)
            torch.nn.init.zeros_(m.bias)


def test_whole_model_init_method(tmp_path):
    with finit.empty_init():
        net = _WholeInit()
    with pytest.warns(UserWarning, match="materialized in full"):
        finit.save_init(net, tmp_path / "w", seed=4, progress=False)
    with finit.empty_init():
        ref = finit.init_module(_WholeInit(), seed=4).state_dict()
    got = read_all(tmp_path / "w")
    assert all(torch.equal(got[k], ref[k]) for k in ref)
    assert all(p.is_meta for p in net.parameters())


# ------------------------------------------------------------------ bad input ----
def test_bad_input(tmp_path, monkeypatch):
    cfg = llama_config()
    with pytest.raises(TypeError, match="torch.nn.Module"):
        finit.save_init("model", tmp_path / "x", seed=0)
    with pytest.raises(ValueError, match="no parameters"):
        finit.save_init(torch.nn.ReLU(), tmp_path / "x", seed=0)
    with pytest.raises(ValueError, match="shard_size"):
        finit.save_init(build(cfg), tmp_path / "x", seed=0, shard_size="5 parsecs")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        finit.save_init(build(cfg), tmp_path / "no" / "x", seed=0)
    monkeypatch.setattr(checkpoint, "_free_bytes", lambda d: 1000)
    with pytest.raises(OSError, match="GB are free"):
        finit.save_init(build(cfg), tmp_path / "x", seed=0, progress=False)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []  # nothing written by any of these

    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        finit.save_init(build(cfg), tmp_path / "x", seed=0)
    with pytest.raises(FileExistsError, match="not a checkpoint"):
        finit.save_init(build(cfg), tmp_path / "x", seed=0, overwrite=True)
    assert (tmp_path / "x" / "notes.txt").read_text() == "mine"


def test_overwrite_replaces_a_checkpoint(tmp_path):
    cfg = llama_config()
    finit.save_init(build(cfg), tmp_path / "c", seed=0, progress=False)
    first = read_all(tmp_path / "c")
    finit.save_init(build(cfg), tmp_path / "c", seed=1, progress=False, overwrite=True)
    second = read_all(tmp_path / "c")
    assert not torch.equal(first["model.embed_tokens.weight"], second["model.embed_tokens.weight"])
    assert sorted(os.listdir(tmp_path)) == ["c"]  # no temporary, lock or old copy left


def test_progress_bar_and_summary(tmp_path, capsys):
    finit.save_init(build(llama_config()), tmp_path / "p", seed=0)
    err = capsys.readouterr().err
    assert "save_init" in err and "B/s" in err and "GB/s" in err.splitlines()[-1]


# ------------------------------------------------------------- atomicity ----
_SAVE = textwrap.dedent("""
    import signal, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if the parent ignores it
    sys.path[:0] = [{root!r}, {tests!r}]
    import torch
    import fastinit.torch as finit
    from fastinit.torch import safetensors_writer

    write = safetensors_writer.ShardFile.write

    def slow_write(self, *args, **kwargs):  # a big model's pace, so the test can stop it midway
        print("writing", flush=True)
        time.sleep(0.05)
        return write(self, *args, **kwargs)

    safetensors_writer.ShardFile.write = slow_write
    if {llama!r}:
        import _torchvision_shim
        from transformers import AutoModelForCausalLM, LlamaConfig
        cfg = LlamaConfig(vocab_size=1024, hidden_size=128, intermediate_size=256, num_hidden_layers=4,
                          num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False)
        with finit.empty_init():
            model = AutoModelForCausalLM.from_config(cfg)
    else:  # the same writer without transformers' import time
        with finit.empty_init():
            model = {plain}
    finit.save_init(model, {out!r}, seed=0, shard_size="200KB", progress=False)
""")
PLAIN = "torch.nn.Sequential(*[torch.nn.Linear(128, 128) for _ in range(16)])"


def _save_process(out, llama):
    code = _SAVE.format(root=ROOT, tests=os.path.join(ROOT, "tests"), out=str(out), llama=llama, plain=PLAIN)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_killed_or_interrupted_save_leaves_no_checkpoint(tmp_path, sig):
    out = tmp_path / "ckpt"
    proc = _save_process(out, llama=sig == signal.SIGKILL)
    for _ in range(5):  # a few tensors written
        assert proc.stdout.readline().strip() == "writing", proc.stderr.read()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert not out.exists()
    with pytest.raises(OSError):
        AutoModelForCausalLM.from_pretrained(out)
    if sig == signal.SIGINT:  # cleaned up: its temporary and its lock are gone
        assert "KeyboardInterrupt" in err and os.listdir(tmp_path) == []
    else:  # the temporary stays (nothing could remove it) but is not a loadable checkpoint
        (part,) = [p for p in tmp_path.iterdir() if p.name.endswith(".fastinit-partial")]
        assert any(p.stat().st_size for p in part.iterdir())  # it was writing
        assert not (part / checkpoint.INDEX_NAME).exists() and not (part / "config.json").exists()
        with pytest.raises((OSError, ValueError)):
            AutoModelForCausalLM.from_pretrained(part)
    # a dead writer's lock is stale: a new save succeeds
    finit.save_init(build(llama_config()), out, seed=0, progress=False)
    assert (out / checkpoint.INDEX_NAME).exists()


def test_concurrent_saves_one_wins(tmp_path):
    out = tmp_path / "ckpt"
    procs = [_save_process(out, llama=False) for _ in range(2)]
    results = [p.communicate(timeout=180)[1:] + (p.returncode,) for p in procs]
    ok = [r for r in results if r[1] == 0]
    failed = [r for r in results if r[1] != 0]
    assert len(ok) == 1 and len(failed) == 1, results
    assert ("being written by another fastinit writer" in failed[0][0]
            or "already exists" in failed[0][0]), failed[0][0]
    assert sorted(os.listdir(tmp_path)) == ["ckpt"]  # the loser left nothing behind
    with finit.empty_init():
        ref = finit.init_module(eval(PLAIN), seed=0).state_dict()
    got = read_all(out)
    index = json.loads((out / checkpoint.INDEX_NAME).read_text())
    assert set(index["weight_map"]) == set(got) == set(ref)
    assert all(torch.equal(got[k], ref[k]) for k in ref)


def test_torch_distributed_checkpoint_reads_it(tmp_path):
    """DCP's HuggingFaceStorageReader (what torchtitan's initial_load_in_hf uses) loads it."""
    import torch.distributed.checkpoint as dcp

    cfg = llama_config(tie_word_embeddings=False)
    model = build(cfg)
    finit.save_init(model, tmp_path / "c", seed=6, shard_size="40KB", progress=False)
    sd = {k: torch.empty(v.shape, dtype=v.dtype) for k, v in model.state_dict().items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "torch.distributed is ... uninitialized": one process
        dcp.load(sd, storage_reader=dcp.HuggingFaceStorageReader(str(tmp_path / "c")))
    ref = reference(cfg, 6).state_dict()
    assert all(torch.equal(sd[k], ref[k]) for k in ref)


class _Wrapper(torch.nn.Module):
    """A transformers model inside a plain module: it keeps its own scheme."""

    def __init__(self, cfg):
        super().__init__()
        self.lm = AutoModelForCausalLM.from_config(cfg)
        self.head = torch.nn.Linear(64, 2)


def test_model_inside_a_plain_wrapper(tmp_path, small_units):
    cfg = llama_config()
    with finit.empty_init():
        net = _Wrapper(cfg)
    finit.save_init(net, tmp_path / "w", seed=8, progress=False)
    with finit.empty_init():
        ref = finit.init_module(_Wrapper(cfg), seed=8).state_dict()
    got = read_all(tmp_path / "w")
    assert set(got) == set(ref) - {"lm.lm_head.weight"}  # tied: stored once
    assert all(torch.equal(got[k], ref[k]) for k in got)
