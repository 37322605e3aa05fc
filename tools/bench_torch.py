#!/usr/bin/python3
"""PyTorch (CPU, eager) twin of `pacs bench`: the same shapes, the same figures, JSON output.

  /usr/bin/python3 tools/bench_torch.py [--json FILE] [--repeats N] [--model-shape bench-tiny|qwen2.5-0.5b]

bench-tiny: torch.mm GFLOP/s at 1024^3; training tokens/s (batch 32 x 128, forward + cross-entropy + backward +
AdamW) with the peak resident set; generation tokens/s (64 sequences, 16-token prompts, 112 new tokens,
temperature 1, KV cache). qwen2.5-0.5b (random weights): prefill and decode tokens/s at batch 1 and 16 (128-token
prompts, 32 decode tokens), measured like `pacs bench`: prefill = generate 1 token, decode = the extra time of
generating 1 + 32. Every figure is the median of --repeats timed runs after one warm-up run.
"""
import argparse
import json
import math
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SHAPES = {
    "bench-tiny": dict(vocab=64, hidden=256, layers=4, heads=8, kv_heads=4, head_dim=32, mlp=704, theta=10000.0,
                       eps=1e-6, qkv_bias=False, max_pos=256),
    "qwen2.5-0.5b": dict(vocab=151936, hidden=896, layers=24, heads=14, kv_heads=2, head_dim=64, mlp=4864,
                         theta=1000000.0, eps=1e-6, qkv_bias=True, max_pos=4096),
}


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(head_dim, max_pos, theta):
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    freqs = torch.outer(torch.arange(max_pos, dtype=torch.float32), inv)  # [P, hd/2]
    return torch.cos(freqs), torch.sin(freqs)


def apply_rope(x, cos, sin):
    # x [B, H, T, hd] in the Hugging Face "rotate half" layout; cos/sin [T, hd/2]
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, hd = c["hidden"], c["head_dim"]
        self.heads, self.kv_heads, self.hd = c["heads"], c["kv_heads"], hd
        self.input_norm = RMSNorm(d, c["eps"])
        self.q = nn.Linear(d, c["heads"] * hd, bias=c["qkv_bias"])
        self.k = nn.Linear(d, c["kv_heads"] * hd, bias=c["qkv_bias"])
        self.v = nn.Linear(d, c["kv_heads"] * hd, bias=c["qkv_bias"])
        self.o = nn.Linear(c["heads"] * hd, d, bias=False)
        self.post_norm = RMSNorm(d, c["eps"])
        self.gate = nn.Linear(d, c["mlp"], bias=False)
        self.up = nn.Linear(d, c["mlp"], bias=False)
        self.down = nn.Linear(c["mlp"], d, bias=False)

    def forward(self, x, cos, sin, cache=None):
        # x [B, T, D]; cos/sin for these T positions; cache = (k [B, Hkv, S, hd], v) of earlier positions or None
        b, t, _ = x.shape
        h = self.input_norm(x)
        q = self.q(h).view(b, t, self.heads, self.hd).transpose(1, 2)
        k = self.k(h).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        v = self.v(h).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        new_cache = (k, v)
        group = self.heads // self.kv_heads
        kr = k.repeat_interleave(group, dim=1)
        vr = v.repeat_interleave(group, dim=1)
        s = k.shape[2]
        scores = q @ kr.transpose(-1, -2) / math.sqrt(self.hd)  # [B, H, T, S]
        if t > 1:
            mask = torch.ones(t, s, dtype=torch.bool).tril(diagonal=s - t)
            scores = scores.masked_fill(~mask, float("-inf"))
        a = (scores.softmax(-1) @ vr).transpose(1, 2).reshape(b, t, self.heads * self.hd)
        x = x + self.o(a)
        h = self.post_norm(x)
        x = x + self.down(F.silu(self.gate(h)) * self.up(h))
        return x, new_cache


class Decoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed = nn.Embedding(c["vocab"], c["hidden"])
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["layers"]))
        self.norm = RMSNorm(c["hidden"], c["eps"])
        cos, sin = rope_tables(c["head_dim"], c["max_pos"], c["theta"])
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        for name, p in self.named_parameters():  # as Hugging Face: weights N(0, 0.02), biases 0, norms 1
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)
            elif name.endswith(".bias"):
                nn.init.zeros_(p)

    def forward(self, tokens, start=0, caches=None):
        # tokens [B, T] -> logits [B, T, V] (tied head), new caches
        t = tokens.shape[1]
        cos, sin = self.cos[start:start + t], self.sin[start:start + t]
        x = self.embed(tokens)
        new_caches = []
        for i, layer in enumerate(self.layers):
            x, cache = layer(x, cos, sin, None if caches is None else caches[i])
            new_caches.append(cache)
        return self.norm(x) @ self.embed.weight.t(), new_caches


def generate(model, prompts, new_tokens, generator):
    # prompts [B, P]; temperature-1 sampling with a KV cache; returns [B, new_tokens]
    with torch.no_grad():
        logits, caches = model(prompts)
        pos = prompts.shape[1]
        out = []
        nxt = torch.multinomial(logits[:, -1].softmax(-1), 1, generator=generator)
        out.append(nxt)
        for _ in range(new_tokens - 1):
            logits, caches = model(nxt, start=pos, caches=caches)
            pos += 1
            nxt = torch.multinomial(logits[:, -1].softmax(-1), 1, generator=generator)
            out.append(nxt)
        return torch.cat(out, dim=1)


def measured(runs, unit):
    return dict(median=statistics.median(runs), best=max(runs), runs=runs, unit=unit)


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def bench_mm(size, repeats):
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    t0 = time.perf_counter()
    torch.mm(a, b)
    calls = max(1, int(0.2 / max(1e-6, time.perf_counter() - t0)))
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            torch.mm(a, b)
        runs.append(2.0 * size ** 3 * calls / (time.perf_counter() - t0) / 1e9)
    return measured(runs, "GFLOP/s")


WARM_UP_STEPS = 8


def bench_train(c, batch, seq, repeats):
    torch.manual_seed(1)
    model = Decoder(c)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    tokens = torch.randint(c["vocab"], (batch, seq))
    targets = torch.randint(c["vocab"], (batch, seq))

    def step():
        logits, _ = model(tokens)
        loss = F.cross_entropy(logits.reshape(-1, c["vocab"]), targets.reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    reset = reset_peak_rss()
    first = step()
    last = first
    for _ in range(WARM_UP_STEPS):  # the same untimed warm-up as `pacs bench`
        last = step()
    seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        last = step()
        seconds.append(time.perf_counter() - t0)
    params = sum(p.numel() for p in model.parameters())
    return dict(batch=batch, seq_len=seq, parameters=params,
                tokens_per_second=measured([batch * seq / s for s in seconds], "tokens/s"),
                step_seconds=measured(seconds, "s"), peak_working_set_mib=peak_rss_mib(),
                peak_scope="training steps" if reset else "process lifetime", first_loss=first, last_loss=last)


def bench_generate(c, sequences, prompt, new, repeats):
    torch.manual_seed(2)
    model = Decoder(c).eval()
    prompts = torch.randint(c["vocab"], (sequences, prompt))
    g = torch.Generator().manual_seed(7)
    generate(model, prompts, new, g)
    seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = generate(model, prompts, new, g)
        seconds.append(time.perf_counter() - t0)
    return dict(sequences=sequences, prompt_tokens=prompt, new_tokens=new,
                tokens_per_second=measured([out.numel() / s for s in seconds], "tokens/s"),
                seconds=measured(seconds, "s"))


def bench_prefill_decode(model, c, batch, prompt, decode, repeats):
    prompts = torch.randint(c["vocab"], (batch, prompt))
    g = torch.Generator().manual_seed(11)

    def timed(n):
        t0 = time.perf_counter()
        generate(model, prompts, n, g)
        return time.perf_counter() - t0

    generate(model, torch.randint(c["vocab"], (1, 4)), 2, g)  # warm-up on a short request, as pacs bench
    prefill, dec = [], []
    for _ in range(repeats):
        t_prefill = timed(1)
        t_full = timed(1 + decode)
        prefill.append(batch * prompt / t_prefill)
        dec.append(batch * decode / max(1e-9, t_full - t_prefill))
    return dict(batch=batch, prompt_tokens=prompt, decode_tokens=decode,
                prefill_tokens_per_second=measured(prefill, "tokens/s"),
                decode_tokens_per_second=measured(dec, "tokens/s"))


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model-shape", default="bench-tiny", choices=sorted(SHAPES))
    parser.add_argument("--only", default="sgemm,train,generate")
    args = parser.parse_args()
    parts = args.only.split(",")
    torch.set_num_threads(os.cpu_count())
    c = SHAPES[args.model_shape]
    machine = dict(date_utc=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), nproc=os.cpu_count(),
                   runtime=f"PyTorch {torch.__version__}", threads=torch.get_num_threads(),
                   load_average_start=load_average())
    print(f"bench_torch: {args.model_shape}, {args.repeats} runs per figure (median), {machine['nproc']} cores, "
          f"{machine['threads']} threads, {machine['runtime']}; load average {machine['load_average_start']}")
    report = dict(tool="tools/bench_torch.py", model_shape=args.model_shape, repeats=args.repeats, machine=machine)
    if "sgemm" in parts:
        report["sgemm"] = dict(size=1024, torch_mm_gflops=bench_mm(1024, args.repeats))
        print(f"torch.mm 1024^3: {report['sgemm']['torch_mm_gflops']['median']:.1f} GFLOP/s")
    if args.model_shape == "bench-tiny":
        if "train" in parts:
            t = bench_train(c, 32, 128, args.repeats)
            report["train"] = t
            print(f"train 32x128 tokens, {t['parameters']:,} parameters: {t['tokens_per_second']['median']:.0f} tokens/s "
                  f"({t['step_seconds']['median'] * 1000:.0f} ms/step), peak working set {t['peak_working_set_mib']:.0f} MiB "
                  f"({t['peak_scope']}), loss {t['first_loss']:.3f} -> {t['last_loss']:.3f}")
        if "generate" in parts:
            g = bench_generate(c, 64, 16, 112, args.repeats)
            report["generate"] = g
            print(f"generate 64 x (16 prompt + 112 new): {g['tokens_per_second']['median']:.0f} new tokens/s "
                  f"({g['seconds']['median'] * 1000:.0f} ms per batch)")
    elif "generate" in parts:
        torch.manual_seed(3)
        model = Decoder(c).eval()
        report["prefill_decode"] = []
        for batch in (1, 16):
            f = bench_prefill_decode(model, c, batch, 128, 32, args.repeats)
            report["prefill_decode"].append(f)
            print(f"{args.model_shape} batch {batch}: prefill {f['prefill_tokens_per_second']['median']:.0f} tokens/s, "
                  f"decode {f['decode_tokens_per_second']['median']:.1f} tokens/s")
    machine["load_average_end"] = load_average()
    print(f"load average at end: {machine['load_average_end']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
