"""fastinit init-checkpoint: a checkpoint from a config file, with fill's exit codes."""
import json
import os

import _torchvision_shim  # noqa: F401  (transformers imports torchvision)
import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig

import fastinit.torch as finit
from fastinit.cli.app import main

CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 256,
          "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
          "num_key_value_heads": 2, "tie_word_embeddings": True}


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(CONFIG))
    return path


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


def test_writes_a_loadable_checkpoint(tmp_path, config_file, capsys):
    out = tmp_path / "ckpt"
    status, stdout, _ = run(capsys, "init-checkpoint", config_file, out, "--seed", 3, "--dtype", "bfloat16",
                            "--shard-size", "60KB", "--no-progress")
    assert status == 0
    assert stdout.startswith(f"wrote {out}: LlamaForCausalLM") and "GB/s" in stdout
    with finit.empty_init():
        ref = AutoModelForCausalLM.from_config(LlamaConfig(**CONFIG))
    ref = finit.init_module(ref.to(torch.bfloat16), seed=3).state_dict()
    loaded, info = AutoModelForCausalLM.from_pretrained(out, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert loaded.dtype == torch.bfloat16
    lsd = loaded.state_dict()
    assert all(torch.equal(lsd[k], ref[k]) for k in ref)
    assert len([n for n in os.listdir(out) if n.endswith(".safetensors")]) > 1
    capsys.readouterr()  # from_pretrained's own progress bar

    status, _, err = run(capsys, "init-checkpoint", config_file, out, "--seed", 3)
    assert status == 2 and "already exists: pass --force" in err and len(err.splitlines()) == 1
    status, _, _ = run(capsys, "init-checkpoint", config_file, out, "--seed", 4, "--force", "--no-progress")
    assert status == 0


@pytest.mark.parametrize("args, message", [
    (["--dtype", "int8"], "dtype must be one of float32"),
    (["--shard-size", "big"], "shard_size 'big'"),
    (["--threads", "0"], "threads"),
])
def test_usage_errors(tmp_path, config_file, capsys, args, message):
    status, _, err = run(capsys, "init-checkpoint", config_file, tmp_path / "o", "--seed", 0, *args)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_seed_is_required(tmp_path, config_file, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["init-checkpoint", str(config_file), str(tmp_path / "o")])
    assert exc.value.code == 2 and "--seed" in capsys.readouterr().err


def test_bad_config_files(tmp_path, capsys):
    status, _, err = run(capsys, "init-checkpoint", tmp_path / "missing.json", tmp_path / "o", "--seed", 0)
    assert status == 1 and "no such file" in err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    status, _, err = run(capsys, "init-checkpoint", bad, tmp_path / "o", "--seed", 0)
    assert status == 2 and "not a JSON file" in err
    bad.write_text(json.dumps({"hidden_size": 4}))
    status, _, err = run(capsys, "init-checkpoint", bad, tmp_path / "o", "--seed", 0)
    assert status == 2 and "no \"model_type\"" in err
    bad.write_text(json.dumps({**CONFIG, "architectures": ["NoSuchModel"]}))
    status, _, err = run(capsys, "init-checkpoint", bad, tmp_path / "o", "--seed", 0)
    assert status == 2 and "'NoSuchModel' is not a class" in err
    status, _, err = run(capsys, "init-checkpoint", bad, tmp_path / "no" / "o", "--seed", 0)
    assert status == 2 and "does not exist" in err
    assert sorted(os.listdir(tmp_path)) == ["bad.json"]


def test_not_enough_disk_space(tmp_path, config_file, capsys, monkeypatch):
    from fastinit.torch import checkpoint

    monkeypatch.setattr(checkpoint, "_free_bytes", lambda d: 1000)  # a full disk
    status, _, err = run(capsys, "init-checkpoint", config_file, tmp_path / "o", "--seed", 0)
    assert status == 2 and "GB are free" in err and len(err.strip().splitlines()) == 1
    assert sorted(os.listdir(tmp_path)) == ["config.json"]
