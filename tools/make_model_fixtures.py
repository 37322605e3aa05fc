#!/usr/bin/python3
"""Golden fixtures for Pacs.Models: the Hugging Face Llama / Qwen2 / Qwen3 forward pass written out in plain
PyTorch (no transformers package), run on small random configs and on the two real checkpoints in models/.

For each case it writes tests/fixtures/models/<case>/:
  config.json, model.safetensors   the model (random cases only; real models are read from models/)
  fixture.json                     tokens [B*T], batch, seq_len, valid_lengths, targets, temperature, loss
  expected.safetensors             logits [B*T, V], logprobs [B*T], entropy [B*T], and for the random cases
                                   grad.<param> of the loss for every parameter

The loss is  -sum_{valid i} logp_T(target_i | prefix) / n_valid  with logp_T = log_softmax(logits / T).
Run: /usr/bin/python3 tools/make_model_fixtures.py
"""
import json
import math
import os
import struct

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "models")


# ---------------------------------------------------------------- safetensors (plain struct + json)
def write_safetensors(path, tensors):
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name, t in tensors.items():
        data = t.detach().contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        dtype = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}[e["dtype"]]
        out[name] = torch.frombuffer(bytearray(data[b:end]), dtype=dtype).to(torch.float32).reshape(e["shape"])
    return out


# ---------------------------------------------------------------- the HF modeling equations
def rms_norm(x, w, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def inv_freq_of(cfg):
    hd = cfg["head_dim"]
    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    rs = cfg.get("rope_scaling")
    if rs:  # transformers' _compute_llama3_parameters
        factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / low, old / high
        wavelen = 2 * math.pi / inv
        inv_l = torch.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
        medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
        inv = torch.where(medium, smoothed, inv_l)
    return inv


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(cfg, p, tokens, valid, lora=None):
    """tokens [B, T] -> logits [B, T, V]; keys at t >= valid[b] are masked out. lora(layer, module, x, y), when
    given, returns each projection's output with an adapter's term added (tools/make_lora_fixtures.py)."""
    adapt = lora or (lambda layer, module, inp, out: out)
    B, T = tokens.shape
    H, Hkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps = cfg["rms_norm_eps"]
    x = p["model.embed_tokens.weight"][tokens]                                  # [B, T, D]
    pos = torch.arange(T, dtype=torch.int64).float()
    freqs = pos[:, None] * inv_freq_of(cfg)[None, :]                            # [T, hd/2]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[None, None], emb.sin()[None, None]                     # [1, 1, T, hd]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    keymask = torch.arange(T)[None, :] < torch.tensor(valid)[:, None]            # [B, T]
    allowed = causal[None, None] & keymask[:, None, None, :]                     # [B, 1, T, T]
    neg = torch.finfo(torch.float32).min
    qkv_bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    o_bias = cfg["model_type"] != "qwen2" and cfg.get("attention_bias", False)
    for i in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{i}."
        h = rms_norm(x, p[pre + "input_layernorm.weight"], eps)
        def proj(name, bias):
            y = h @ p[pre + f"self_attn.{name}.weight"].t()
            return adapt(i, name, h, y + p[pre + f"self_attn.{name}.bias"] if bias else y)
        q = proj("q_proj", qkv_bias).view(B, T, H, hd)
        k = proj("k_proj", qkv_bias).view(B, T, Hkv, hd)
        v = proj("v_proj", qkv_bias).view(B, T, Hkv, hd)
        if cfg["model_type"] == "qwen3":
            q = rms_norm(q, p[pre + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, p[pre + "self_attn.k_norm.weight"], eps)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)          # [B, H, T, hd]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        g = H // Hkv
        k = k.repeat_interleave(g, dim=1)
        v = v.repeat_interleave(g, dim=1)
        s = (q @ k.transpose(2, 3)) / math.sqrt(hd)                               # [B, H, T, T]
        s = s.masked_fill(~allowed, neg)
        a = torch.softmax(s, dim=-1) @ v                                          # [B, H, T, hd]
        a = a.transpose(1, 2).reshape(B, T, H * hd)
        o = a @ p[pre + "self_attn.o_proj.weight"].t()
        if o_bias:
            o = o + p[pre + "self_attn.o_proj.bias"]
        o = adapt(i, "o_proj", a, o)
        x = x + o
        h = rms_norm(x, p[pre + "post_attention_layernorm.weight"], eps)
        gate = adapt(i, "gate_proj", h, h @ p[pre + "mlp.gate_proj.weight"].t())
        up = adapt(i, "up_proj", h, h @ p[pre + "mlp.up_proj.weight"].t())
        m = torch.nn.functional.silu(gate) * up
        x = x + adapt(i, "down_proj", m, m @ p[pre + "mlp.down_proj.weight"].t())
    x = rms_norm(x, p["model.norm.weight"], eps)
    head = p["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else p["lm_head.weight"]
    return x @ head.t()


def param_shapes(cfg):
    D, V, I = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"]
    H, Hkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    qkv_bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    o_bias = cfg["model_type"] != "qwen2" and cfg.get("attention_bias", False)
    shapes = {"model.embed_tokens.weight": [V, D]}
    for i in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{i}."
        shapes[pre + "input_layernorm.weight"] = [D]
        for name, rows in (("q_proj", H * hd), ("k_proj", Hkv * hd), ("v_proj", Hkv * hd)):
            shapes[pre + f"self_attn.{name}.weight"] = [rows, D]
            if qkv_bias:
                shapes[pre + f"self_attn.{name}.bias"] = [rows]
        shapes[pre + "self_attn.o_proj.weight"] = [D, H * hd]
        if o_bias:
            shapes[pre + "self_attn.o_proj.bias"] = [D]
        if cfg["model_type"] == "qwen3":
            shapes[pre + "self_attn.q_norm.weight"] = [hd]
            shapes[pre + "self_attn.k_norm.weight"] = [hd]
        shapes[pre + "post_attention_layernorm.weight"] = [D]
        shapes[pre + "mlp.gate_proj.weight"] = [I, D]
        shapes[pre + "mlp.up_proj.weight"] = [I, D]
        shapes[pre + "mlp.down_proj.weight"] = [D, I]
    shapes["model.norm.weight"] = [D]
    if not cfg["tie_word_embeddings"]:
        shapes["lm_head.weight"] = [V, D]
    return shapes


def random_params(cfg, gen):
    p = {}
    for name, shape in param_shapes(cfg).items():
        if name.endswith("norm.weight"):   # perturbed around 1 so the norm weights matter
            p[name] = 1 + 0.1 * torch.randn(shape, generator=gen)
        elif name.endswith(".bias"):
            p[name] = 0.1 * torch.randn(shape, generator=gen)
        else:
            p[name] = 0.2 * torch.randn(shape, generator=gen)
    return p


def run_case(name, cfg, params, tokens, valid, temperature, write_model):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    if write_model:
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        write_safetensors(os.path.join(d, "model.safetensors"), params)
    B, T = tokens.shape
    targets = torch.roll(tokens, -1, dims=1)
    mask = (torch.arange(T)[None, :] < (torch.tensor(valid)[:, None] - 1)).float()   # a next token exists
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    logits = forward(cfg, leaves, tokens, valid)                                       # [B, T, V]
    logp_all = torch.log_softmax(logits / temperature, dim=-1)
    logprobs = logp_all.gather(-1, targets[..., None])[..., 0]                         # [B, T]
    entropy = -(logp_all.exp() * logp_all).sum(-1)                                     # [B, T]
    loss = -(logprobs * mask).sum() / mask.sum()
    loss.backward()
    expected = {"logits": logits.reshape(B * T, -1), "logprobs": logprobs.reshape(-1), "entropy": entropy.reshape(-1)}
    if write_model:  # gradients only for the small random models (the real ones stay under 1 MB of fixtures)
        for k, v in leaves.items():
            expected["grad." + k] = v.grad
    write_safetensors(os.path.join(d, "expected.safetensors"), expected)
    with open(os.path.join(d, "fixture.json"), "w") as f:
        json.dump({"tokens": tokens.reshape(-1).tolist(), "batch": B, "seq_len": T, "valid_lengths": valid,
                   "targets": targets.reshape(-1).tolist(), "loss_mask": mask.reshape(-1).tolist(),
                   "temperature": temperature, "loss": loss.item()}, f)
    print(f"{name}: loss {loss.item():.6f}, |logits| max {logits.abs().max().item():.3f}")


def base_cfg(model_type, **kw):
    cfg = {"architectures": [{"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}[model_type]],
           "model_type": model_type, "hidden_act": "silu", "vocab_size": 64, "hidden_size": 32, "num_hidden_layers": 2,
           "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8, "intermediate_size": 48,
           "rope_theta": 10000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": True, "attention_bias": False,
           "rope_scaling": None, "max_position_embeddings": 128, "bos_token_id": 1, "eos_token_id": 2}
    cfg.update(kw)
    return cfg


def main():
    gen = torch.Generator().manual_seed(1234)
    cases = [
        ("llama_tied_gqa", base_cfg("llama")),
        ("qwen2_bias_untied", base_cfg("qwen2", tie_word_embeddings=False, num_key_value_heads=1, eos_token_id=[2, 3])),
        ("qwen3_qknorm", base_cfg("qwen3", head_dim=16, rope_theta=1000000.0)),
        ("llama3_rope_scaling", base_cfg("llama", num_key_value_heads=4, rope_theta=500000.0, rope_scaling={
            "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 16})),
    ]
    B, T = 2, 9
    for name, cfg in cases:
        params = random_params(cfg, gen)
        tokens = torch.randint(0, cfg["vocab_size"], (B, T), generator=gen)
        run_case(name, cfg, params, tokens, [T, 5], 0.7, write_model=True)

    # Real checkpoints: read the weights from models/, write only the expectations.
    for name, vocab in (("stories260K", 512), ("verl-tiny-llama-bf16", 16)):
        mdir = os.path.join(ROOT, "models", name)
        with open(os.path.join(mdir, "config.json")) as f:
            cfg = json.load(f)
        cfg.setdefault("head_dim", cfg["hidden_size"] // cfg["num_attention_heads"])
        params = read_safetensors(os.path.join(mdir, "model.safetensors"))
        tokens = torch.randint(0, vocab, (B, T), generator=gen)
        tokens[:, 0] = 1
        run_case(name, cfg, params, tokens, [T, 6], 1.0, write_model=False)


if __name__ == "__main__":
    main()
