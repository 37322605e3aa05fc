#!/usr/bin/python3
"""PyTorch (CPU, eager) twin of `pacs bench`: the same shapes, the same figures, JSON output.

  /usr/bin/python3 tools/bench_torch.py [--json FILE] [--repeats N] [--model-shape bench-tiny|qwen2.5-0.5b]

bench-tiny: torch.mm GFLOP/s at 1024^3; training tokens/s (batch 32 x 128, forward + cross-entropy + backward +
AdamW) with the peak resident set; generation tokens/s (64 sequences, 16-token prompts, 112 new tokens,
temperature 1, KV cache). qwen2.5-0.5b (random weights): prefill and decode tokens/s at batch 1 and 16 (128-token
prompts, 32 decode tokens), measured like `pacs bench`: prefill = generate 1 token, decode = the extra time of
generating 1 + 32. Every figure is the median of --repeats timed runs after one warm-up run.

--only rl --model-shape qwen2.5-0.5b: the twin of `pacs bench --only rl --model-shape qwen2.5-0.5b`, one PACS step
(--rl-prompts x --rl-group rows, --rl-prompt-tokens-token prompts, --rl-response-tokens response tokens with the end
token ignored): rollout with a KV cache, old log-probs, and one update (forward, PACS loss, backward, gradient
clipping, AdamW) over micro-batches of whole groups; the split of step 2.. (step 1 warms up) and the peak RSS.
Run as the anchors are: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 tools/bench_torch.py ...
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

    def forward(self, tokens, start=0, caches=None, last_only=False, keep_from=0):
        # tokens [B, T] -> logits [B, T - keep_from, V] (tied head; [B, 1, V] with last_only), new caches; keep_from
        # skips the head on the first positions, as Hugging Face's `logits_to_keep` (which TRL's GRPO trainer passes)
        t = tokens.shape[1]
        cos, sin = self.cos[start:start + t], self.sin[start:start + t]
        x = self.embed(tokens)
        new_caches = []
        for i, layer in enumerate(self.layers):
            x, cache = layer(x, cos, sin, None if caches is None else caches[i])
            new_caches.append(cache)
        if last_only:
            x = x[:, -1:]
        elif keep_from:
            x = x[:, keep_from:]
        return self.norm(x) @ self.embed.weight.t(), new_caches


def decode(model, logits, caches, pos, new_tokens, generator):
    # samples new_tokens at temperature 1 from the prefill's last logits on, feeding each token back through the cache
    out = []
    nxt = torch.multinomial(logits[:, -1].softmax(-1), 1, generator=generator)
    out.append(nxt)
    for _ in range(new_tokens - 1):
        logits, caches = model(nxt, start=pos, caches=caches)
        pos += 1
        nxt = torch.multinomial(logits[:, -1].softmax(-1), 1, generator=generator)
        out.append(nxt)
    return torch.cat(out, dim=1)


def generate(model, prompts, new_tokens, generator):
    # prompts [B, P]; temperature-1 sampling with a KV cache; returns [B, new_tokens]
    with torch.no_grad():
        logits, caches = model(prompts)
        return decode(model, logits, caches, prompts.shape[1], new_tokens, generator)


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


def generate_fixed(model, prompts, new_tokens, generator, group=1):
    # As generate, but the prefill computes only the last position's logits (a [B, P, V] tensor is 10 GB at the full
    # RL shape) and every response runs to new_tokens: random weights rarely sample an end token, and the bench
    # ignores it on both sides so both sides generate the same number of tokens. group > 1: the rows are each prompt
    # repeated group times, and the prefill runs each prompt once and repeats its caches (as a prefix cache does).
    with torch.no_grad():
        if group > 1:
            logits, caches = model(prompts[::group], last_only=True)
            logits = logits.repeat_interleave(group, 0)
            caches = [tuple(t.repeat_interleave(group, 0) for t in cache) for cache in caches]
        else:
            logits, caches = model(prompts, last_only=True)
        return decode(model, logits, caches, prompts.shape[1], new_tokens, generator)


def response_log_probs(model, rows, prompt_tokens, response_logits=False):
    # log pi(o_t | x, o_<t) of the response tokens, and the logits' log-softmax over the response positions; the
    # logits of every position are computed, as a Hugging Face causal LM's forward does by default, or with
    # response_logits only those of the positions that score response tokens (TRL's `logits_to_keep`, and `pacs`)
    if response_logits:
        logits, _ = model(rows, keep_from=prompt_tokens - 1)
        log_softmax = logits[:, :-1].log_softmax(-1)
    else:
        logits, _ = model(rows)
        log_softmax = logits[:, prompt_tokens - 1:-1].log_softmax(-1)
    return log_softmax.gather(-1, rows[:, prompt_tokens:, None]).squeeze(-1), log_softmax


def pacs_loss(log_probs, old_log_probs, labels, group, beta, divisor):
    # the released compute_pacs_loss (see tools/make_pacs_fixtures.py) for whole groups: beta * sum of the log-ratio,
    # RLOO score, class-balanced BCE weights (a group with one label value weighs 1), summed and divided by the
    # responses of the whole batch so that micro-batches add up to the batch's loss
    proxy = beta * (log_probs - old_log_probs).sum(-1).reshape(-1, group)
    psi = proxy - (proxy.sum(1, keepdim=True) - proxy) / (group - 1)
    y = labels.reshape(-1, group)
    positives = y.sum(1, keepdim=True)
    mixed = (positives > 0) & (positives < group)
    balanced = torch.where(y == 1, group / (2 * positives.clamp(min=1)), group / (2 * (group - positives).clamp(min=1)))
    weights = torch.where(mixed, balanced, torch.ones_like(y))
    return F.binary_cross_entropy_with_logits(psi, y, weight=weights, reduction="sum") / divisor


def rl_step(model, opt, prompts, group, new_tokens, micro, generator, response_logits=False, share_prefill=False):
    # One PACS step as `pacs` runs it with update.mini_batches=1: rollout, old log-probs (no grad), then one
    # optimizer step over micro-batches of whole groups (forward, entropy, PACS loss, backward), gradient clipping
    # at 1.0 and AdamW. Returns the seconds of each phase.
    rows_prompts = prompts.repeat_interleave(group, 0)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    responses = generate_fixed(model, rows_prompts, new_tokens, generator, group if share_prefill else 1)
    t1 = time.perf_counter()
    rows = torch.cat([rows_prompts, responses], dim=1)
    labels = torch.zeros(rows.shape[0])  # the verifier's reward for random text: no response is correct
    prompt_tokens = prompts.shape[1]
    slices = [slice(s, min(s + micro, rows.shape[0])) for s in range(0, rows.shape[0], micro)]
    with torch.no_grad():
        old = [response_log_probs(model, rows[s], prompt_tokens, response_logits)[0] for s in slices]
    t2 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    for s, old_log_probs in zip(slices, old):
        log_probs, log_softmax = response_log_probs(model, rows[s], prompt_tokens, response_logits)
        with torch.no_grad():
            entropy = -(log_softmax.exp() * log_softmax).sum(-1)  # the entropy metric, as pacs computes it
        loss = pacs_loss(log_probs, old_log_probs, labels[s], group, beta=1.0, divisor=rows.shape[0])
        loss.backward()
        del log_probs, log_softmax, entropy, loss
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    t3 = time.perf_counter()
    return dict(rollout=t1 - t0, logprob=t2 - t1, update=t3 - t2, step=t3 - t0, cpu=time.process_time() - cpu0)


def bench_rl(c, prompts, group, prompt_tokens, response_tokens, micro, repeats, warmup, response_logits=False, share_prefill=False):
    torch.manual_seed(4)
    model = Decoder(c)
    # the trainer's defaults: Adam betas (0.9, 0.999), eps 1e-8, no weight decay; a small rate keeps the weights sane
    opt = torch.optim.AdamW(model.parameters(), lr=1e-6, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    prompt_ids = torch.randint(c["vocab"], (prompts, prompt_tokens), generator=torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(6)
    rows = prompts * group
    steps = []
    for _ in range(warmup + repeats):  # the first `warmup` steps warm up (allocations), as in pacs bench; the rest are timed
        steps.append(rl_step(model, opt, prompt_ids, group, response_tokens, micro, g, response_logits, share_prefill))
        s = steps[-1]
        print(f"  step {len(steps)}: {s['step']:.1f} s (rollout {s['rollout']:.1f}, log-probs {s['logprob']:.1f}, update {s['update']:.1f}; "
              f"{s['cpu']:.0f} CPU s)", flush=True)
    timed = steps[warmup:]
    seq = prompt_tokens + response_tokens
    return dict(prompts=prompts, group_size=group, prompt_tokens=prompt_tokens, response_tokens=response_tokens,
                micro_batch_rows=micro, warmup_steps=warmup, response_logits=response_logits, share_prefill=share_prefill, parameters=sum(p.numel() for p in model.parameters()),
                step_seconds=measured([s["step"] for s in timed], "s"), step_cpu_seconds=measured([s["cpu"] for s in timed], "s"),
                rollout_seconds=measured([s["rollout"] for s in timed], "s"),
                logprob_seconds=measured([s["logprob"] for s in timed], "s"),
                update_seconds=measured([s["update"] for s in timed], "s"),
                rollout_tokens_per_second=measured([rows * response_tokens / s["rollout"] for s in timed], "tokens/s"),
                logprob_tokens_per_second=measured([rows * seq / s["logprob"] for s in timed], "tokens/s"),
                update_tokens_per_second=measured([rows * seq / s["update"] for s in timed], "tokens/s"),
                first_step=steps[0], peak_rss_mib=peak_rss_mib(), peak_scope="process lifetime")


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
    parser.add_argument("--rl-prompts", type=int, default=16, help="rl: prompts per step")
    parser.add_argument("--rl-group", type=int, default=8, help="rl: responses per prompt")
    parser.add_argument("--rl-prompt-tokens", type=int, default=128, help="rl: tokens per prompt")
    parser.add_argument("--rl-response-tokens", type=int, default=256, help="rl: tokens per response (end tokens ignored)")
    parser.add_argument("--rl-response-logits", action="store_true",
                        help="rl: the LM head only at the positions that score response tokens (TRL's logits_to_keep), as pacs does")
    parser.add_argument("--rl-share-prefill", action="store_true",
                        help="rl: prefill each prompt once and repeat its KV cache over the group (a prefix cache), as pacs does")
    parser.add_argument("--rl-warmup-steps", type=int, default=1, help="rl: untimed steps first (0: time the first step)")
    parser.add_argument("--rl-micro-batch", type=int, default=0, help="rl: rows per forward/backward (0: one group)")
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
    elif "rl" in parts:
        r = bench_rl(c, args.rl_prompts, args.rl_group, args.rl_prompt_tokens, args.rl_response_tokens,
                     args.rl_micro_batch or args.rl_group, args.repeats, args.rl_warmup_steps,
                     args.rl_response_logits, args.rl_share_prefill)
        report["rl"] = r
        print(f"rl {args.model_shape} ({r['parameters']:,} parameters, random weights): one PACS step of {r['prompts']} prompts x "
              f"{r['group_size']}, {r['prompt_tokens']}-token prompts, {r['response_tokens']} response tokens (end token ignored), "
              f"micro-batches of {r['micro_batch_rows']} rows; median of {args.repeats} step(s) after {args.rl_warmup_steps} warm-up step(s): "
              f"step {r['step_seconds']['median']:.1f} s ({r['step_cpu_seconds']['median']:.0f} CPU s) = rollout {r['rollout_seconds']['median']:.1f} "
              f"({r['rollout_tokens_per_second']['median']:.1f} tokens/s) + log-probs {r['logprob_seconds']['median']:.1f} "
              f"({r['logprob_tokens_per_second']['median']:.0f} tokens/s) + update {r['update_seconds']['median']:.1f} "
              f"({r['update_tokens_per_second']['median']:.0f} tokens/s); peak RSS {r['peak_rss_mib']:.0f} MiB (process lifetime)")
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
