#!/usr/bin/python3
"""Golden fixtures for Pacs.Tensors.Ops, computed with PyTorch 1.13 (float32 forward as Hugging Face runs it,
attention reference in float64).

Run from the repository root:  /usr/bin/python3 tools/make_op_fixtures.py
Writes tests/fixtures/ops/*.json. Each file maps names to {"shape": [...], "data": [...]} (int tensors too) plus
scalar settings. "upstream" is the gradient fed to backward; "grad_<x>" is the resulting gradient of input x.

The rotary embedding and llama3 frequency scaling follow transformers' LlamaRotaryEmbedding,
_compute_default_rope_parameters and _compute_llama3_parameters (float32 throughout); RMSNorm follows
LlamaRMSNorm; attention follows the eager path (repeat_kv, scale 1/sqrt(hd), additive mask, float softmax).
"""
import json
import math
import os

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "ops")


def enc(t):
    t = t.detach()
    return {"shape": list(t.shape), "data": [float(v) if t.is_floating_point() else int(v) for v in t.reshape(-1).tolist()]}


def write(name, obj):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(obj, f, separators=(",", ":"))


def randn(g, *shape, scale=1.0):
    return (torch.randn(*shape, generator=g) * scale).float()


# ---------------------------------------------------------------- attention
def attention_reference(q, k, v, causal, valid_lengths):
    """q [B,T,Hq,hd], k/v [B,T,Hkv,hd] (float64) -> [B,T,Hq,hd]."""
    b, t, hq, hd = q.shape
    hkv = k.shape[2]
    rep = hq // hkv
    qh = q.transpose(1, 2)                                   # [B,Hq,T,hd]
    kh = k.transpose(1, 2).repeat_interleave(rep, dim=1)     # [B,Hq,T,hd] (repeat_kv)
    vh = v.transpose(1, 2).repeat_interleave(rep, dim=1)
    scores = qh @ kh.transpose(-1, -2) / math.sqrt(hd)       # [B,Hq,T,T]
    mask = torch.zeros(b, 1, t, t, dtype=torch.bool)
    if causal:
        mask |= torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
    if valid_lengths is not None:
        for i, n in enumerate(valid_lengths):
            mask[i, :, :, n:] = True
    scores = scores.masked_fill(mask, float("-inf"))
    p = torch.softmax(scores, dim=-1)
    return (p @ vh).transpose(1, 2)


def make_attention(g):
    cases = {}
    for name, causal, lengths in [("gqa_causal_lengths", True, [7, 4]), ("gqa_causal", True, None),
                                  ("gqa_bidirectional_lengths", False, [5, 7])]:
        b, t, hq, hkv, hd = 2, 7, 6, 2, 8
        q, k, v = randn(g, b, t, hq, hd), randn(g, b, t, hkv, hd), randn(g, b, t, hkv, hd)
        up = randn(g, b, t, hq, hd)
        q64, k64, v64 = (x.double().requires_grad_() for x in (q, k, v))
        o = attention_reference(q64, k64, v64, causal, lengths)
        o.backward(up.double())
        case = {"causal": causal, "q": enc(q), "k": enc(k), "v": enc(v), "upstream": enc(up), "out": enc(o),
                "grad_q": enc(q64.grad), "grad_k": enc(k64.grad), "grad_v": enc(v64.grad)}
        if lengths is not None:
            case["valid_lengths"] = lengths
        cases[name] = case
    write("attention.json", cases)


# ---------------------------------------------------------------- rope (transformers LlamaRotaryEmbedding)
def default_inv_freq(base, dim):
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))


def llama3_inv_freq(base, dim, factor, low_freq_factor, high_freq_factor, old_context_len):
    inv_freq = default_inv_freq(base, dim)
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(x, position_ids, inv_freq):
    """x [B,T,H,hd], position_ids [B,T]."""
    b = x.shape[0]
    inv_freq_expanded = inv_freq[None, :, None].float().expand(b, -1, 1)
    position_ids_expanded = position_ids[:, None, :].float()
    freqs = (inv_freq_expanded.float() @ position_ids_expanded.float()).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()                          # [B,T,hd]
    cos, sin = cos.unsqueeze(2), sin.unsqueeze(2)            # broadcast over heads
    return (x * cos) + (rotate_half(x) * sin)


def make_rope(g):
    cases = {}
    b, t, h, hd = 2, 5, 3, 32
    settings = [("default", 10000.0, None, 512),
                ("llama3", 500000.0, dict(factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=256), 2048)]
    for name, theta, scaling, max_pos in settings:
        x = randn(g, b, t, h, hd).requires_grad_()
        positions = torch.randint(0, max_pos, (b, t), generator=g)
        positions[0, 0] = 0
        positions[1, -1] = max_pos - 1
        if scaling is None:
            inv = default_inv_freq(theta, hd)
        else:
            inv = llama3_inv_freq(theta, hd, scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"],
                                  scaling["original_max_position_embeddings"])
        y = apply_rope(x, positions, inv)
        up = randn(g, b, t, h, hd)
        y.backward(up)
        cases[name] = {"theta": theta, "max_positions": max_pos, "rope_scaling": scaling, "x": enc(x), "positions": enc(positions),
                       "inv_freq": enc(inv), "out": enc(y), "upstream": enc(up), "grad_x": enc(x.grad)}
    write("rope.json", cases)


# ---------------------------------------------------------------- rmsnorm (LlamaRMSNorm)
def make_rmsnorm(g):
    eps = 1e-6
    x = randn(g, 3, 4, 64, scale=2.0).requires_grad_()
    w = (1.0 + randn(g, 64, scale=0.1)).requires_grad_()
    hidden = x.to(torch.float32)
    variance = hidden.pow(2).mean(-1, keepdim=True)
    hidden = hidden * torch.rsqrt(variance + eps)
    y = w * hidden.to(x.dtype)
    up = randn(g, 3, 4, 64)
    y.backward(up)
    write("rmsnorm.json", {"eps": eps, "x": enc(x), "weight": enc(w), "out": enc(y), "upstream": enc(up),
                           "grad_x": enc(x.grad), "grad_weight": enc(w.grad)})


# ---------------------------------------------------------------- log-probs, entropy, cross-entropy, bce
def make_logits(g):
    n, vocab, temperature = 12, 97, 0.7
    logits = randn(g, n, vocab, scale=3.0).requires_grad_()
    targets = torch.randint(0, vocab, (n,), generator=g)
    logp = torch.log_softmax(logits / temperature, dim=-1).gather(-1, targets[:, None]).squeeze(-1)
    up = randn(g, n)
    logp.backward(up)
    gather = {"temperature": temperature, "logits": enc(logits), "targets": enc(targets), "out": enc(logp),
              "upstream": enc(up), "grad_logits": enc(logits.grad)}

    logits2 = randn(g, n, vocab, scale=3.0).requires_grad_()
    temperature2 = 0.6
    logp2 = torch.log_softmax(logits2 / temperature2, dim=-1)
    entropy = -(logp2.exp() * logp2).sum(-1)
    up2 = randn(g, n)
    entropy.backward(up2)
    ent = {"temperature": temperature2, "logits": enc(logits2), "out": enc(entropy), "upstream": enc(up2),
           "grad_logits": enc(logits2.grad)}

    logits3 = randn(g, n, vocab, scale=3.0).requires_grad_()
    targets3 = torch.randint(0, vocab, (n,), generator=g)
    targets3[[2, 7]] = -1
    ce = torch.nn.functional.cross_entropy(logits3, targets3, ignore_index=-1)
    ce.backward()
    cross = {"logits": enc(logits3), "targets": enc(targets3), "out": enc(ce.reshape(1)), "grad_logits": enc(logits3.grad)}

    x = randn(g, 16, scale=4.0).requires_grad_()
    y = torch.rand(16, generator=g)
    y[:8] = (y[:8] > 0.5).float()
    w = torch.rand(16, generator=g) * 2
    bce = torch.nn.functional.binary_cross_entropy_with_logits(x, y, weight=w, reduction="none")
    up4 = randn(g, 16)
    bce.backward(up4)
    b = {"logits": enc(x), "targets": enc(y), "weights": enc(w), "out": enc(bce), "upstream": enc(up4), "grad_logits": enc(x.grad)}

    write("logprobs.json", {"gather_logprobs": gather, "entropy": ent, "cross_entropy": cross, "bce_with_logits": b})


if __name__ == "__main__":
    g = torch.Generator().manual_seed(20250902)
    make_attention(g)
    make_rope(g)
    make_rmsnorm(g)
    make_logits(g)
    for f in sorted(os.listdir(OUT)):
        print(f, os.path.getsize(os.path.join(OUT, f)), "bytes")
