#!/usr/bin/python3
"""Golden fixtures for LoRA in Pacs.Models: LoRA's equations in plain PyTorch (no peft package; PEFT is not installed
here) on the small random Llama / Qwen2 / Qwen3 models of tools/make_model_fixtures.py (tests/fixtures/models/<case>),
whose forward pass this script reuses.

    y = x W^T (+ b) + (lora_alpha / r) * x A^T B^T      on every module of target_modules (lora_dropout = 0)

For each case it writes tests/fixtures/lora/<case>/:
  adapter_config.json, adapter_model.safetensors   the adapter in PEFT's format (PEFT's LoraConfig fields; tensor
                                                   names as PEFT's get_peft_model_state_dict saves them,
                                                   base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight
                                                   [r, in] and ...lora_B.weight [out, r]; the qwen2 case keeps the
                                                   adapter name, ...lora_A.default.weight, as some writers do)
  fixture.json                                     tokens, batch, seq_len, valid_lengths, targets, loss_mask,
                                                   temperature, loss, base (the base model folder, repo-relative)
  expected.safetensors                             logits [B*T, V], logprobs [B*T], and grad.<name> of the loss for
                                                   every adapter tensor (B is random, not zero, so A's gradients
                                                   and the logits are non-trivial)

The loss is  -sum_{valid i} logp_T(target_i | prefix) / n_valid,  as in make_model_fixtures.py.

The other direction: tests/fixtures/lora/pacs_written/ holds an adapter written by Pacs (PeftAdapter.Save; the test
LoraPeftTests.PacsWrittenAdapterIsTheCommittedFixture checks that Pacs still writes exactly these bytes) and the
logits Pacs computes with it (pacs_logits.safetensors). This script reads that folder with PEFT's names and shapes
and checks that its own logits agree (run it to verify; `--verify-only` skips regenerating the fixtures).

Run: /usr/bin/python3 tools/make_lora_fixtures.py [--verify-only]
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_fixtures import forward, read_safetensors, write_safetensors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "tests", "fixtures", "models")
OUT = os.path.join(ROOT, "tests", "fixtures", "lora")
ALL = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def module_path(i, module):
    return f"base_model.model.model.layers.{i}.{'mlp' if module in ('gate_proj', 'up_proj', 'down_proj') else 'self_attn'}.{module}"


def adapter_config(r, alpha, targets, base):
    # The fields PEFT's LoraConfig (src/peft/tuners/lora/config.py) saves; PeftConfig.from_pretrained needs
    # peft_type, and LoRA's layers read r, lora_alpha, lora_dropout, target_modules, bias, fan_in_fan_out, use_rslora.
    return {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": base, "r": r, "lora_alpha": alpha,
            "lora_dropout": 0.0, "target_modules": targets, "bias": "none", "fan_in_fan_out": False, "use_rslora": False,
            "use_dora": False, "inference_mode": True, "init_lora_weights": True, "modules_to_save": None,
            "layers_to_transform": None, "layers_pattern": None, "rank_pattern": {}, "alpha_pattern": {}, "revision": None}


def lora_hook(adapter, targets, scale):
    """forward()'s lora callback: adds scale * x A^T B^T to the outputs of the targeted modules."""
    def hook(i, module, x, y):
        if module not in targets:
            return y
        pre = module_path(i, module)
        return y + scale * ((x @ adapter[pre + ".lora_A.weight"].t()) @ adapter[pre + ".lora_B.weight"].t())
    return hook


def load_base(base_rel):
    d = os.path.join(ROOT, base_rel)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    cfg.setdefault("head_dim", cfg["hidden_size"] // cfg["num_attention_heads"])
    return cfg, read_safetensors(os.path.join(d, "model.safetensors"))


def read_adapter(d):
    """A PEFT adapter folder -> (config, {name without the adapter name: tensor})."""
    with open(os.path.join(d, "adapter_config.json")) as f:
        acfg = json.load(f)
    tensors = read_safetensors(os.path.join(d, "adapter_model.safetensors"))
    return acfg, {k.replace(".default.weight", ".weight"): v for k, v in tensors.items()}


def make_case(name, base_case, r, alpha, targets, gen, keep_adapter_name=False):
    base_rel = os.path.join("tests", "fixtures", "models", base_case)
    cfg, params = load_base(base_rel)
    with open(os.path.join(MODELS, base_case, "fixture.json")) as f:
        base_fixture = json.load(f)
    B, T = base_fixture["batch"], base_fixture["seq_len"]
    tokens = torch.tensor(base_fixture["tokens"]).reshape(B, T)
    valid, temperature = base_fixture["valid_lengths"], base_fixture["temperature"]
    adapter = {}
    for i in range(cfg["num_hidden_layers"]):
        for module in targets:
            w = params[module_path(i, module).replace("base_model.model.", "") + ".weight"]
            out_f, in_f = w.shape
            bound = 1.0 / in_f ** 0.5   # kaiming_uniform_(a=sqrt(5)) on A [r, in]: U(-1/sqrt(in), 1/sqrt(in))
            adapter[module_path(i, module) + ".lora_A.weight"] = (torch.rand(r, in_f, generator=gen) * 2 - 1) * bound
            adapter[module_path(i, module) + ".lora_B.weight"] = 0.1 * torch.randn(out_f, r, generator=gen)
    leaves = {k: v.clone().requires_grad_(True) for k, v in adapter.items()}
    logits = forward(cfg, params, tokens, valid, lora_hook(leaves, targets, alpha / r))     # [B, T, V]
    targets_ids = torch.roll(tokens, -1, dims=1)
    mask = (torch.arange(T)[None, :] < (torch.tensor(valid)[:, None] - 1)).float()
    logp = torch.log_softmax(logits / temperature, dim=-1).gather(-1, targets_ids[..., None])[..., 0]
    loss = -(logp * mask).sum() / mask.sum()
    loss.backward()

    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "adapter_config.json"), "w") as f:
        json.dump(adapter_config(r, alpha, targets, base_rel), f, indent=2)
    stored = {(k.replace(".weight", ".default.weight") if keep_adapter_name else k): v for k, v in adapter.items()}
    write_safetensors(os.path.join(d, "adapter_model.safetensors"), stored)
    expected = {"logits": logits.reshape(B * T, -1), "logprobs": logp.reshape(-1)}
    for k, v in leaves.items():
        expected["grad." + k] = v.grad
    write_safetensors(os.path.join(d, "expected.safetensors"), expected)
    with open(os.path.join(d, "fixture.json"), "w") as f:
        json.dump({"tokens": tokens.reshape(-1).tolist(), "batch": B, "seq_len": T, "valid_lengths": valid,
                   "targets": targets_ids.reshape(-1).tolist(), "loss_mask": mask.reshape(-1).tolist(),
                   "temperature": temperature, "loss": loss.item(), "base": base_rel}, f)
    print(f"{name}: r={r} alpha={alpha} {len(adapter)} tensors, loss {loss.item():.6f}")


def verify_pacs_written():
    """Reads the adapter Pacs wrote and checks that these equations give the logits Pacs computed with it."""
    d = os.path.join(OUT, "pacs_written")
    if not os.path.isdir(d):
        print("pacs_written: absent (written by the .NET test with PACS_WRITE_LORA_FIXTURE=1)")
        return True
    acfg, adapter = read_adapter(d)
    with open(os.path.join(d, "fixture.json")) as f:
        fx = json.load(f)
    cfg, params = load_base(acfg["base_model_name_or_path"])
    tokens = torch.tensor(fx["tokens"]).reshape(fx["batch"], fx["seq_len"])
    for name, t in adapter.items():
        assert name.startswith("base_model.model.model.layers.") and name.endswith((".lora_A.weight", ".lora_B.weight")), name
        assert t.shape[0 if ".lora_A." in name else 1] == acfg["r"], (name, t.shape)
    with torch.no_grad():
        logits = forward(cfg, params, tokens, fx["valid_lengths"],
                         lora_hook(adapter, acfg["target_modules"], acfg["lora_alpha"] / acfg["r"]))
    pacs = read_safetensors(os.path.join(d, "pacs_logits.safetensors"))["logits"].reshape(logits.shape)
    valid = torch.arange(fx["seq_len"])[None, :] < torch.tensor(fx["valid_lengths"])[:, None]
    diff = (logits - pacs).abs()[valid].max().item()
    ref = logits.abs()[valid].max().item()
    ok = diff <= 1e-4 * ref
    print(f"pacs_written: max |logits - Pacs's| {diff:.3e} (max |logits| {ref:.3f}): {'OK' if ok else 'MISMATCH'}")
    return ok


def main():
    if "--verify-only" not in sys.argv:
        gen = torch.Generator().manual_seed(4321)
        make_case("llama_all_targets", "llama_tied_gqa", 4, 8.0, ALL, gen)
        make_case("qwen2_qv_default_names", "qwen2_bias_untied", 2, 16.0, ["q_proj", "v_proj"], gen, keep_adapter_name=True)
        make_case("qwen3_all_targets", "qwen3_qknorm", 8, 16.0, ALL, gen)
    sys.exit(0 if verify_pacs_written() else 1)


if __name__ == "__main__":
    main()
