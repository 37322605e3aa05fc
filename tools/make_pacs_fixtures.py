#!/usr/bin/python3
"""Golden fixtures for Pacs.Rl.Algorithms and Pacs.Tensors.Optim, computed with PyTorch 1.13 autograd.

Run from the repository root:  /usr/bin/python3 tools/make_pacs_fixtures.py
Writes tests/fixtures/rl/pacs_loss.json, policy_loss.json, advantage_value.json and adamw.json.

The PACS functions below are a line-by-line port of compute_pacs_loss and its helpers in the paper's released code
(github.com/ritzz-ai/PACS, src/pacs/pacs_core_algos.py), with two substitutions: sklearn's
compute_class_weight("balanced") is written out (n_samples / (n_classes * bincount)), and the prompt-equality
assertion is dropped (the fixtures have no prompts). Padded positions hold 0 in every log-prob tensor, so the
released unmasked sums equal sums over response tokens.
"""
import json
import os

import numpy as np
import torch
from torch.nn import BCEWithLogitsLoss

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "rl")


# ---------------------------------------------------------------- port of src/pacs/pacs_core_algos.py
def compute_reward(old_log_prob, log_prob, response_mask, beta=1.0, reward_method="1"):
    if str(reward_method) == "1":
        reward = beta * (log_prob - old_log_prob).sum(dim=-1, keepdim=True)
    elif str(reward_method) == "2":
        response_len = response_mask.sum(dim=-1, keepdim=True)
        reward = beta * (log_prob).sum(dim=-1, keepdim=True) / response_len
    else:
        raise ValueError(reward_method)
    return reward


def compute_rloo_outcome_advantage(reward, rollout_n):
    reward = reward.reshape(-1, rollout_n, reward.size(-1))
    total_reward = torch.sum(reward, dim=1, keepdim=True).repeat(1, rollout_n, 1)
    mean_reward = (total_reward - reward) / (rollout_n - 1)
    return (reward - mean_reward).reshape(-1, 1)


def compute_grpo_outcome_advantage(reward, rollout_n, epsilon=1e-6, norm_adv_by_std_in_grpo=True):
    reward = reward.reshape(-1, rollout_n, reward.size(-1))
    mean_reward = torch.mean(reward, dim=1, keepdim=True)
    if norm_adv_by_std_in_grpo:
        std = torch.std(reward, dim=1, keepdim=True)
        advantage = (reward - mean_reward) / (std + epsilon)
    else:
        advantage = reward - mean_reward
    return advantage.reshape(-1, advantage.size(-1))


def compute_class_weight_balanced(classes, y):
    # sklearn.utils.class_weight.compute_class_weight("balanced", classes=classes, y=y)
    y = np.asarray(y)
    counts = np.array([np.sum(y == c) for c in classes], dtype=np.float64)
    return len(y) / (len(classes) * counts)


def compute_weight(score, rollout_n, mode="question"):
    labels = score.squeeze(-1)
    weight = torch.ones_like(labels, dtype=torch.float64)
    if mode == "question":
        for i in range(0, len(labels), rollout_n):
            chunk = labels[i:i + rollout_n].tolist()
            if len(set(chunk)) > 1:
                classes = np.unique(chunk)
                weight_map = dict(zip(classes, compute_class_weight_balanced(classes, chunk)))
                for j, label in enumerate(chunk):
                    weight[i + j] = weight_map[label]
    elif mode == "only_positive":
        for idx, label in enumerate(labels):
            weight[idx] = 1.0 if label == 1 else 0.0
    elif mode == "only_negative":
        for idx, label in enumerate(labels):
            weight[idx] = 1.0 if label == 0 else 0.0
    else:
        raise ValueError(mode)
    return weight.reshape(-1, 1)


def compute_pacs_loss(old_log_prob, log_prob, token_level_scores, response_mask, rollout_n, cfg):
    reward = compute_reward(old_log_prob, log_prob, response_mask, beta=cfg["beta"], reward_method=cfg["reward_method"])
    if cfg["adv_estimator"] == "rloo":
        advantage = compute_rloo_outcome_advantage(reward, rollout_n)
    elif cfg["adv_estimator"] == "grpo":
        advantage = compute_grpo_outcome_advantage(reward, rollout_n, norm_adv_by_std_in_grpo=cfg["norm_adv_by_std_in_grpo"])
    elif cfg["adv_estimator"] == "naive":
        advantage = reward
    else:
        raise ValueError(cfg["adv_estimator"])
    score = token_level_scores.sum(dim=-1, keepdim=True)
    if cfg["use_weight"]:
        weight = compute_weight(score, rollout_n, mode=cfg["weight_mode"])
        return BCEWithLogitsLoss(weight=weight)(advantage, score)
    return BCEWithLogitsLoss()(advantage, score)


# ---------------------------------------------------------------- port of verl core_algos (policy side)
def agg_loss(loss_mat, loss_mask, mode, normalizer):
    if mode == "token-mean":
        return (loss_mat * loss_mask).sum() / loss_mask.sum()
    if mode == "seq-mean-token-sum":
        return torch.sum(loss_mat * loss_mask, dim=-1).mean()
    if mode == "seq-mean-token-mean":
        return (torch.sum(loss_mat * loss_mask, dim=-1) / torch.sum(loss_mask, dim=-1)).mean()
    if mode == "seq-mean-token-sum-norm":
        # Dr.GRPO paper form: mean over responses of token-sum / constant (verl omits the mean over responses).
        return (torch.sum(loss_mat * loss_mask, dim=-1) / normalizer).mean()
    raise ValueError(mode)


def kl_penalty(logprob, ref_logprob, kind):
    if kind in ("kl", "k1"):
        return logprob - ref_logprob
    if kind == "abs":
        return (logprob - ref_logprob).abs()
    if kind in ("mse", "k2"):
        return 0.5 * (logprob - ref_logprob).square()
    if kind in ("low_var_kl", "k3"):
        kl = torch.clamp(ref_logprob - logprob, min=-20, max=20)
        ratio = torch.exp(kl)
        return torch.clamp(ratio - kl - 1, min=-10, max=10)
    raise ValueError(kind)


def compute_policy_loss(old_log_prob, log_prob, advantages, response_mask, clip_low, clip_high, clip_ratio_c, mode, normalizer):
    negative_approx_kl = torch.clamp(log_prob - old_log_prob, min=-20.0, max=20.0)
    ratio = torch.exp(negative_approx_kl)
    pg_losses1 = -advantages * ratio
    pg_losses2 = -advantages * torch.clamp(ratio, 1 - clip_low, 1 + clip_high)
    clip_pg_losses1 = torch.maximum(pg_losses1, pg_losses2)
    if clip_ratio_c > 0:
        pg_losses3 = -advantages * clip_ratio_c
        clip_pg_losses2 = torch.min(pg_losses3, clip_pg_losses1)
        pg_losses = torch.where(advantages < 0, clip_pg_losses2, clip_pg_losses1)
    else:
        pg_losses = clip_pg_losses1
    return agg_loss(pg_losses, response_mask, mode, normalizer)


def masked_whiten(values, mask, shift_mean=True):
    mean = (values * mask).sum() / mask.sum()
    centered = values - mean
    var = (centered.square() * mask).sum() / mask.sum()
    var = var * mask.sum() / (mask.sum() - 1)  # unbiased, as verl masked_var
    whitened = centered * torch.rsqrt(var + 1e-8)
    return whitened if shift_mean else whitened + mean


def compute_gae_advantage_return(token_level_rewards, values, response_mask, gamma, lam):
    with torch.no_grad():
        lastgaelam = 0
        advantages_reversed = []
        gen_len = token_level_rewards.shape[-1]
        for t in reversed(range(gen_len)):
            nextvalues = values[:, t + 1] if t < gen_len - 1 else 0.0
            delta = token_level_rewards[:, t] + gamma * nextvalues - values[:, t]
            lastgaelam = delta + gamma * lam * lastgaelam
            advantages_reversed.append(lastgaelam)
        advantages = torch.stack(advantages_reversed[::-1], dim=1)
        returns = advantages + values
        advantages = masked_whiten(advantages, response_mask)
    return advantages, returns


def compute_reinforce_plus_plus_outcome_advantage(token_level_rewards, response_mask, gamma):
    with torch.no_grad():
        returns = torch.zeros_like(token_level_rewards)
        running_return = 0
        for t in reversed(range(token_level_rewards.shape[1])):
            running_return = token_level_rewards[:, t] + gamma * running_return
            returns[:, t] = running_return
            running_return = running_return * response_mask[:, t]
        advantages = masked_whiten(returns, response_mask) * response_mask
    return advantages


def compute_value_loss(vpreds, returns, values, response_mask, cliprange_value, mode, normalizer):
    vpredclipped = torch.clamp(vpreds, values - cliprange_value, values + cliprange_value)
    vf_losses1 = (vpreds - returns) ** 2
    vf_losses2 = (vpredclipped - returns) ** 2
    clipped_vf_losses = torch.max(vf_losses1, vf_losses2)
    return 0.5 * agg_loss(clipped_vf_losses, response_mask, mode, normalizer)


# ---------------------------------------------------------------- helpers
def ragged(rows):
    return [[float(v) for v in row] for row in rows]


def pad(rows, length):
    out = torch.zeros(len(rows), length, dtype=torch.float64)
    mask = torch.zeros(len(rows), length, dtype=torch.float64)
    for i, row in enumerate(rows):
        out[i, :len(row)] = torch.tensor(row, dtype=torch.float64)
        mask[i, :len(row)] = 1
    return out, mask


def random_log_probs(rng, lengths, scale=2.0):
    # float32-representable so the C# side reads the same numbers
    return [(-np.abs(rng.normal(0.0, scale, n))).astype(np.float32).astype(np.float64) for n in lengths]


def perturb(rng, rows, scale):
    return [(row + rng.normal(0.0, scale, len(row))).astype(np.float32).astype(np.float64) for row in rows]


def pacs_fixtures(rng):
    configs = [
        # name, options (C#), released-code config, group size, groups, labels
        ("rloo_sum_balanced", dict(beta=1.0, reference="rollout", proxy="sum", psi="rloo", weights="balanced"),
         dict(reward_method="1", adv_estimator="rloo", use_weight=True, weight_mode="question"), 4, [[1, 0, 0, 1], [1, 1, 1, 0], [0, 0, 0, 0]]),
        ("rloo_sum_none_beta2", dict(beta=2.0, reference="rollout", proxy="sum", psi="rloo", weights="none"),
         dict(reward_method="1", adv_estimator="rloo", use_weight=False, weight_mode="question"), 4, [[0, 1, 0, 0], [1, 1, 1, 1]]),
        ("grpo_sum_balanced", dict(beta=1.0, reference="rollout", proxy="sum", psi="grpo", weights="balanced"),
         dict(reward_method="1", adv_estimator="grpo", norm_adv_by_std_in_grpo=True, use_weight=True, weight_mode="question"), 3, [[1, 0, 0], [0, 1, 1], [1, 0, 1]]),
        ("grpo_nostd_initial", dict(beta=0.5, reference="initial", proxy="sum", psi="grpo", psi_norm_by_std=False, weights="balanced"),
         dict(reward_method="1", adv_estimator="grpo", norm_adv_by_std_in_grpo=False, use_weight=True, weight_mode="question"), 4, [[1, 0, 0, 0], [0, 1, 1, 0]]),
        ("none_mean_positive_only", dict(beta=1.0, reference="rollout", proxy="mean", psi="none", weights="positive_only"),
         dict(reward_method="2", adv_estimator="naive", use_weight=True, weight_mode="only_positive"), 2, [[1, 0], [1, 1], [0, 0]]),
        ("rloo_mean_negative_only", dict(beta=3.0, reference="rollout", proxy="mean", psi="rloo", weights="negative_only"),
         dict(reward_method="2", adv_estimator="rloo", use_weight=True, weight_mode="only_negative"), 3, [[1, 0, 0], [0, 1, 1]]),
        ("rloo_sum_initial_group8", dict(beta=1.0, reference="initial", proxy="sum", psi="rloo", weights="balanced"),
         dict(reward_method="1", adv_estimator="rloo", use_weight=True, weight_mode="question"), 8, [[1, 0, 0, 0, 0, 0, 1, 0]]),
    ]
    fixtures = []
    for name, options, released, group_size, groups, in configs:
        released = dict(released, beta=options["beta"])
        labels = [float(y) for g in groups for y in g]
        count = len(labels)
        lengths = rng.integers(1, 12, size=count).tolist()
        old = random_log_probs(rng, lengths)
        current = perturb(rng, old, 0.05)
        ref = perturb(rng, old, 0.1)
        max_len = max(lengths)
        current_t, mask = pad(current, max_len)
        current_t.requires_grad_(True)
        reference = ref if options["reference"] == "initial" else old
        reference_t, _ = pad(reference, max_len)
        scores = torch.zeros(count, max_len, dtype=torch.float64)
        for i, n in enumerate(lengths):
            scores[i, n - 1] = labels[i]
        loss = compute_pacs_loss(reference_t, current_t, scores, mask, group_size, released)
        loss.backward()
        grad = [current_t.grad[i, :n].tolist() for i, n in enumerate(lengths)]
        fixtures.append(dict(name=name, options=options, group_size=group_size, labels=labels,
                             log_probs=ragged(current), old_log_probs=ragged(old), ref_log_probs=ragged(ref),
                             loss=loss.item(), grad_log_probs=grad))
    return fixtures


def policy_fixtures(rng):
    configs = [
        dict(name="token_mean_clip", clip_eps_low=0.2, clip_eps_high=0.2, dual_clip_c=3.0, loss_agg_mode="token-mean", kl_loss_coef=0.0, kl_loss_type="low_var_kl"),
        dict(name="clip_higher_seq_mean_token_mean_k3", clip_eps_low=0.2, clip_eps_high=0.28, dual_clip_c=3.0, loss_agg_mode="seq-mean-token-mean", kl_loss_coef=0.04, kl_loss_type="low_var_kl"),
        dict(name="seq_mean_token_sum_k2_no_dual", clip_eps_low=0.1, clip_eps_high=0.3, dual_clip_c=0.0, loss_agg_mode="seq-mean-token-sum", kl_loss_coef=0.1, kl_loss_type="k2"),
        dict(name="sum_norm_k1", clip_eps_low=0.2, clip_eps_high=0.2, dual_clip_c=1.5, loss_agg_mode="seq-mean-token-sum-norm", loss_normalizer=16.0, kl_loss_coef=0.01, kl_loss_type="k1"),
    ]
    fixtures = []
    for cfg in configs:
        count = 6
        lengths = rng.integers(1, 10, size=count).tolist()
        old = random_log_probs(rng, lengths)
        # large perturbations so that many tokens fall outside the clip range and under the dual clip
        current = perturb(rng, old, 0.4)
        ref = perturb(rng, old, 0.3)
        advantages = [rng.normal(0.0, 1.0, n).astype(np.float32).astype(np.float64) for n in lengths]
        max_len = max(lengths)
        current_t, mask = pad(current, max_len)
        current_t.requires_grad_(True)
        old_t, _ = pad(old, max_len)
        ref_t, _ = pad(ref, max_len)
        adv_t, _ = pad(advantages, max_len)
        normalizer = cfg.get("loss_normalizer", 0.0)
        loss = compute_policy_loss(old_t, current_t, adv_t, mask, cfg["clip_eps_low"], cfg["clip_eps_high"], cfg["dual_clip_c"], cfg["loss_agg_mode"], normalizer)
        if cfg["kl_loss_coef"] > 0:
            kl = kl_penalty(current_t, ref_t, cfg["kl_loss_type"])
            loss = loss + cfg["kl_loss_coef"] * agg_loss(kl, mask, cfg["loss_agg_mode"], normalizer)
        loss.backward()
        grad = [current_t.grad[i, :n].tolist() for i, n in enumerate(lengths)]
        fixtures.append(dict(cfg, log_probs=ragged(current), old_log_probs=ragged(old), ref_log_probs=ragged(ref),
                             advantages=ragged(advantages), loss=loss.item(), grad_log_probs=grad))
    return fixtures


def advantage_value_fixture(rng):
    """PPO (GAE + clipped value loss, k1 KL in the token rewards) and REINFORCE++ on one random batch."""
    count = 5
    lengths = rng.integers(1, 9, size=count).tolist()
    rewards = [float(v) for v in rng.integers(0, 2, size=count)]
    old = random_log_probs(rng, lengths)
    ref = perturb(rng, old, 0.3)
    old_values = [rng.normal(0.3, 0.5, n).astype(np.float32).astype(np.float64) for n in lengths]
    values = perturb(rng, old_values, 0.4)
    max_len = max(lengths)
    old_t, mask = pad(old, max_len)
    ref_t, _ = pad(ref, max_len)
    old_values_t, _ = pad(old_values, max_len)
    kl_coef, gamma, lam, value_clip, vf_coef = 0.05, 0.99, 0.95, 0.2, 0.5
    token_rewards = -kl_coef * kl_penalty(old_t, ref_t, "k1") * mask
    for i, n in enumerate(lengths):
        token_rewards[i, n - 1] += rewards[i]
    advantages, returns = compute_gae_advantage_return(token_rewards, old_values_t, mask, gamma, lam)
    values_t, _ = pad(values, max_len)
    values_t.requires_grad_(True)
    vf_loss = compute_value_loss(values_t, returns, old_values_t, mask, value_clip, "token-mean", 0.0)
    (vf_coef * vf_loss).backward()
    rpp = compute_reinforce_plus_plus_outcome_advantage(token_rewards, mask, gamma)
    cut = lambda t: [t[i, :n].tolist() for i, n in enumerate(lengths)]
    return dict(rewards=rewards, old_log_probs=ragged(old), ref_log_probs=ragged(ref), old_values=ragged(old_values),
                values=ragged(values), kl_in_reward_coef=kl_coef, gamma=gamma, lam=lam, value_clip=value_clip,
                value_loss_coef=vf_coef, gae_advantages=cut(advantages), gae_returns=cut(returns),
                vf_loss=vf_loss.item(), grad_values=cut(values_t.grad), reinforce_pp_advantages=cut(rpp))


def adamw_fixture(rng):
    torch.manual_seed(1234)
    shapes = {"wte": [5, 7], "ln_f.weight": [13], "fc.bias": [33]}
    params = {n: torch.randn(*s, dtype=torch.float32) for n, s in shapes.items()}
    initial = {n: p.flatten().tolist() for n, p in params.items()}
    tensors = {n: torch.nn.Parameter(p.clone()) for n, p in params.items()}
    optimizer = torch.optim.AdamW([
        {"params": [tensors["wte"]], "weight_decay": 0.1},
        {"params": [tensors["ln_f.weight"], tensors["fc.bias"]], "weight_decay": 0.0},
    ], lr=1e-2, betas=(0.9, 0.95), eps=1e-8)
    steps = []
    for step in range(6):
        lr = 1e-2 * (step + 1) / 3 if step < 3 else 1e-2 * 0.5 * (1 + np.cos(np.pi * (step - 3) / 3))
        for group in optimizer.param_groups:
            group["lr"] = lr
        grads = {}
        for n, t in tensors.items():
            g = torch.randn(*shapes[n], dtype=torch.float32) * (0.1 if n == "fc.bias" else 1.0)
            t.grad = g.clone()
            grads[n] = g.flatten().tolist()
        optimizer.step()
        steps.append(dict(lr=float(lr), grads=grads, params={n: t.detach().flatten().tolist() for n, t in tensors.items()}))
    return dict(betas=[0.9, 0.95], eps=1e-8, decay_group=["wte"], weight_decay=0.1, shapes=shapes,
                initial=initial, steps=steps)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20250902)
    outputs = {
        "pacs_loss.json": dict(torch=torch.__version__, fixtures=pacs_fixtures(rng)),
        "policy_loss.json": dict(torch=torch.__version__, fixtures=policy_fixtures(rng)),
        "adamw.json": dict(torch=torch.__version__, **adamw_fixture(rng)),
        "advantage_value.json": dict(torch=torch.__version__, **advantage_value_fixture(rng)),
    }
    for name, data in outputs.items():
        path = os.path.join(OUT, name)
        with open(path, "w") as f:
            json.dump(data, f)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
