#!/usr/bin/python3
"""Golden fixtures for the objectives around PACS (issue 15), computed with PyTorch autograd.

Run from the repository root:  /usr/bin/python3 tools/make_algorithm_fixtures.py
Writes tests/fixtures/rl/algorithms.json: for each case the inputs of one batch (group rewards, rollout, current and
reference log-probs), the advantages Prepare must produce, and the loss and d loss / d log-prob that Loss must return.

Each objective below is a line-by-line port of the reference implementation named in its docstring; the shared verl
pieces (agg_loss, the GRPO advantage, the vanilla clipped loss, the KL estimators) come from make_pacs_fixtures.py.
Padded positions hold 0 and are masked out, as in verl.
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_pacs_fixtures import (OUT, agg_loss, compute_grpo_outcome_advantage, compute_policy_loss, kl_penalty,  # noqa: E402
                                pad, perturb, ragged, random_log_probs)


def masked_mean(x, mask):
    return (x * mask).sum() / mask.sum()


# ---------------------------------------------------------------- volcengine/verl, verl/trainer/ppo/core_algos.py
def compute_policy_loss_gspo(old_log_prob, log_prob, advantages, response_mask, clip_ratio_low, clip_ratio_high):
    negative_approx_kl = log_prob - old_log_prob
    seq_lengths = torch.sum(response_mask, dim=-1).clamp(min=1)
    negative_approx_kl_seq = torch.sum(negative_approx_kl * response_mask, dim=-1) / seq_lengths
    log_seq_importance_ratio = log_prob - log_prob.detach() + negative_approx_kl_seq.detach().unsqueeze(-1)
    log_seq_importance_ratio = torch.clamp(log_seq_importance_ratio, max=10.0)
    seq_importance_ratio = torch.exp(log_seq_importance_ratio)
    pg_losses1 = -advantages * seq_importance_ratio
    pg_losses2 = -advantages * torch.clamp(seq_importance_ratio, 1 - clip_ratio_low, 1 + clip_ratio_high)
    pg_losses = torch.maximum(pg_losses1, pg_losses2)
    return agg_loss(pg_losses, response_mask, "seq-mean-token-mean", 0.0)


def compute_policy_loss_cispo(old_log_prob, log_prob, advantages, response_mask, clip_ratio_low, clip_ratio_high, loss_agg_mode):
    negative_approx_kl = torch.clamp(log_prob - old_log_prob, min=-20.0, max=20.0)
    ratio = torch.exp(negative_approx_kl)
    clipped_ratio = torch.clamp(ratio, 1 - clip_ratio_low, 1 + clip_ratio_high).detach()
    pg_losses = -clipped_ratio * advantages * log_prob
    return agg_loss(pg_losses, response_mask, loss_agg_mode, 0.0)


# ---------------------------------------------------------------- ZhaolinGao/REBEL, src/tldr/rebel.py (training loop)
def rebel_loss(new_logprobs, mb_logprobs, mb_seq_mask, mb_rewards, eta, batch):
    new_logprobs = (new_logprobs * mb_seq_mask).sum(-1)
    ratio_logprob = new_logprobs - mb_logprobs
    ratio_logprob = ratio_logprob[:batch] - ratio_logprob[batch:]
    reg_diff = ratio_logprob - eta * (mb_rewards[:batch] - mb_rewards[batch:])
    return (reg_diff ** 2).mean()


# ---------------------------------------------------------------- modelscope/Trinity-RFT, ASYMREAdvantageFn ("asymre")
def asymre_advantage(scores, index, shift):
    from collections import defaultdict
    id2score = defaultdict(list)
    id2baseline = {}
    scores = scores.clone()
    for i in range(scores.shape[0]):
        id2score[index[i]].append(scores[i])
    for idx in id2score:
        if len(id2score[idx]) == 1:
            id2baseline[idx] = torch.tensor(0.0, dtype=torch.float64)
        else:
            id2baseline[idx] = torch.mean(torch.tensor(id2score[idx], dtype=torch.float64)) + shift
    for i in range(scores.shape[0]):
        scores[i] = scores[i] - id2baseline[index[i]]
    return scores


def reinforce_loss(log_prob, advantages, response_mask, loss_agg_mode):
    # verl compute_policy_loss_gpg: pg_losses = -log_prob * advantages
    return agg_loss(-log_prob * advantages, response_mask, loss_agg_mode, 0.0)


# ---------------------------------------------------------------- ZhaolinGao/A-PO, verl/trainer/apo/core_algos.py
def apo_compute_policy_loss(attention_mask, ref_log_probs, log_probs, response_length, token_level_rewards, v_star, beta2):
    response_mask = attention_mask[:, -response_length:]
    ref_log_prob = (ref_log_probs * response_mask).sum(dim=-1)
    log_prob = (log_probs * response_mask).sum(dim=-1)
    reward = (token_level_rewards * response_mask).sum(dim=-1)
    log_prob = log_prob - ref_log_prob
    loss = (beta2 * log_prob + v_star - reward) ** 2
    return loss.mean()


# ZhaolinGao/A-PO, verl/utils/dataset/rl_dataset.py, _process_values (eval_i = reward of the i-th initial-policy sample)
def apo_v_star(evals, beta1):
    if beta1 < 0:
        return np.zeros(len(evals))
    if beta1 == 0:
        return np.mean(evals, axis=1)
    v_star = np.exp(evals / beta1).mean(axis=1)
    return np.log(v_star) * beta1


# ---------------------------------------------------------------- McGill-NLP/VinePPO, math_episode_generator_with_mc_advantages.py
def vine_compute_step_advantages(step_rewards, values):
    values = list(values) + [None]
    values[-1] = 0.0
    for i in range(len(values) - 2, -1, -1):
        if values[i] is not None:
            break
        values[i] = step_rewards[i] + values[i + 1]
    advantages = [None] * len(step_rewards)
    for i in range(len(advantages)):
        advantages[i] = step_rewards[i] + values[i + 1] - values[i]
    return advantages


def vine_fixtures(rng):
    out = []
    for steps in [1, 2, 3, 4]:
        length = steps + int(rng.integers(0, 6))
        starts = [0] + sorted(rng.choice(np.arange(1, length), size=steps - 1, replace=False).tolist())
        values = [float(v) for v in rng.integers(0, 10, size=steps) / 9.0]
        reward = float(rng.integers(0, 2))
        step_rewards = [0.0] * (steps - 1) + [reward]
        step_adv = vine_compute_step_advantages(step_rewards, values)
        token_adv = [step_adv[max(i for i, s in enumerate(starts) if s <= t)] for t in range(length)]
        out.append(dict(step_starts=starts, values=values, reward=reward, length=length, advantages=token_adv))
    return out


# ---------------------------------------------------------------- cases
def batch(rng, groups, perturbation):
    rewards = [float(y) for g in groups for y in g]
    lengths = rng.integers(1, 10, size=len(rewards)).tolist()
    old = random_log_probs(rng, lengths)
    current = perturb(rng, old, perturbation)
    ref = perturb(rng, old, 0.2)
    return rewards, lengths, old, current, ref


def case(name, algorithm, options, group_size, rewards, old, current, ref, advantages, loss, current_t, lengths):
    loss.backward()
    grad = [current_t.grad[i, :n].tolist() for i, n in enumerate(lengths)]
    return dict(name=name, algorithm=algorithm, options=options, group_size=group_size, rewards=rewards,
                old_log_probs=ragged(old), log_probs=ragged(current), ref_log_probs=ragged(ref),
                advantages=advantages, loss=loss.item(), grad_log_probs=grad)


def grpo_case(rng, name, algorithm, options, groups, perturbation, policy):
    group_size = len(groups[0])
    rewards, lengths, old, current, ref = batch(rng, groups, perturbation)
    max_len = max(lengths)
    current_t, mask = pad(current, max_len)
    current_t.requires_grad_(True)
    old_t, _ = pad(old, max_len)
    ref_t, _ = pad(ref, max_len)
    scores = torch.tensor(rewards, dtype=torch.float64).unsqueeze(-1)
    adv = compute_grpo_outcome_advantage(scores, group_size).squeeze(-1)
    adv_t = adv.unsqueeze(-1).repeat(1, max_len) * mask
    loss = policy(old_t, current_t, adv_t, mask)
    if options.get("kl_loss_coef", 0.0) > 0:
        kl = kl_penalty(current_t, ref_t, options["kl_loss_type"])
        loss = loss + options["kl_loss_coef"] * agg_loss(kl, mask, options["loss_agg_mode"], 0.0)
    return case(name, algorithm, options, group_size, rewards, old, current, ref, adv.tolist(), loss, current_t, lengths)


def fixtures(rng):
    out = []
    groups = [[1, 0, 0, 1], [1, 1, 1, 0], [0, 0, 0, 0]]
    # GSPO at the paper's ε (3e-4/4e-4: most responses clipped) and at a wide ε (every response inside the range).
    for name, low, high, perturbation in [("gspo_paper_eps", 3e-4, 4e-4, 0.01), ("gspo_wide_eps", 0.2, 0.2, 0.02)]:
        opts = dict(clip_eps_low=low, clip_eps_high=high, dual_clip_c=0.0, loss_agg_mode="seq-mean-token-mean")
        out.append(grpo_case(rng, name, "gspo", opts, groups, perturbation,
                             lambda o, c, a, m, low=low, high=high: compute_policy_loss_gspo(o, c, a, m, low, high)))
    # CISPO: defaults (no lower bound, ε_high 0.28) with large steps so some weights are clipped, and a two-sided clip with k3 KL.
    out.append(grpo_case(rng, "cispo_default", "cispo", dict(clip_eps_low=1.0, clip_eps_high=0.28, dual_clip_c=0.0, loss_agg_mode="token-mean"),
                         groups, 0.4, lambda o, c, a, m: compute_policy_loss_cispo(o, c, a, m, 1.0, 0.28, "token-mean")))
    out.append(grpo_case(rng, "cispo_two_sided_kl", "cispo", dict(clip_eps_low=0.2, clip_eps_high=0.2, dual_clip_c=0.0, loss_agg_mode="seq-mean-token-mean",
                                                                  kl_loss_coef=0.05, kl_loss_type="low_var_kl"),
                         groups, 0.4, lambda o, c, a, m: compute_policy_loss_cispo(o, c, a, m, 0.2, 0.2, "seq-mean-token-mean")))
    # DAPO preset: verl's vanilla clipped loss with clip-higher, token-mean, dual clip 3, GRPO advantage.
    out.append(grpo_case(rng, "dapo_default", "dapo", dict(clip_eps_low=0.2, clip_eps_high=0.28, dual_clip_c=3.0, loss_agg_mode="token-mean"),
                         groups, 0.4, lambda o, c, a, m: compute_policy_loss(o, c, a, m, 0.2, 0.28, 3.0, "token-mean", 0.0)))
    # REBEL: pairs (2k, 2k+1) of each group; the port lays them out as the reference's [a-half; b-half].
    for name, eta, perturbation in [("rebel_eta1", 1.0, 0.05), ("rebel_eta_half", 0.5, 0.3)]:
        rg = [[1, 0, 1, 1], [0, 0, 1, 0], [1, 1, 0, 0]]
        rewards, lengths, old, current, ref = batch(rng, rg, perturbation)
        max_len = max(lengths)
        current_t, mask = pad(current, max_len)
        current_t.requires_grad_(True)
        old_seq = torch.tensor([float(np.sum(r)) for r in old], dtype=torch.float64)
        a_rows = list(range(0, len(rewards), 2))
        b_rows = list(range(1, len(rewards), 2))
        order = a_rows + b_rows
        r_t = torch.tensor(rewards, dtype=torch.float64)
        loss = rebel_loss(current_t[order], old_seq[order], mask[order], r_t[order], eta, len(a_rows))
        out.append(case(name, "rebel", dict(eta=eta), 4, rewards, old, current, ref, None, loss, current_t, lengths))
    # AsymRE: Trinity's advantage, REINFORCE loss; default aggregation and a token-mean one with a KL term.
    for name, shift, mode, kl in [("asymre_default", -0.1, "seq-mean-token-sum", 0.0), ("asymre_shift_up_token_mean_kl", 0.2, "token-mean", 0.1)]:
        rewards, lengths, old, current, ref = batch(rng, groups, 0.3)
        max_len = max(lengths)
        current_t, mask = pad(current, max_len)
        current_t.requires_grad_(True)
        ref_t, _ = pad(ref, max_len)
        index = [i // 4 for i in range(len(rewards))]
        adv = asymre_advantage(torch.tensor(rewards, dtype=torch.float64), index, shift)
        adv_t = adv.unsqueeze(-1).repeat(1, max_len) * mask
        loss = reinforce_loss(current_t, adv_t, mask, mode)
        opts = dict(baseline_shift=shift, loss_agg_mode=mode)
        if kl > 0:
            loss = loss + kl * agg_loss(kl_penalty(current_t, ref_t, "k2"), mask, mode, 0.0)
            opts.update(kl_loss_coef=kl, kl_loss_type="k2")
        out.append(case(name, "asymre", opts, 4, rewards, old, current, ref, adv.tolist(), loss, current_t, lengths))
    # A*-PO: V* from 8 initial-policy samples per prompt, then stage 2's regression (large β₂ so the log-ratio matters).
    for name, beta1, beta2 in [("astar_po_default", 0.5, 1e-3), ("astar_po_mean_v_beta2_half", 0.0, 0.5)]:
        rewards, lengths, old, current, ref = batch(rng, [[1, 0], [0, 0], [1, 1], [0, 1]], 0.3)
        evals = rng.integers(0, 2, size=(4, 8)).astype(np.float64)
        v_star = np.repeat(apo_v_star(evals, beta1), 2)
        max_len = max(lengths)
        current_t, mask = pad(current, max_len)
        current_t.requires_grad_(True)
        ref_t, _ = pad(ref, max_len)
        token_rewards = torch.zeros(len(rewards), max_len, dtype=torch.float64)
        for i, n in enumerate(lengths):
            token_rewards[i, n - 1] = rewards[i]
        loss = apo_compute_policy_loss(mask, ref_t, current_t, max_len, token_rewards, torch.tensor(v_star), beta2)
        fixture = case(name, "astar_po", dict(beta1=beta1, beta2=beta2), 2, rewards, old, current, ref, None, loss, current_t, lengths)
        fixture.update(value_sample_rewards=evals.tolist(), optimal_values=v_star.tolist())
        out.append(fixture)
    return out


def main():
    rng = np.random.default_rng(20251206)
    path = os.path.join(OUT, "algorithms.json")
    with open(path, "w") as f:
        json.dump(dict(torch=torch.__version__, fixtures=fixtures(rng), vineppo=vine_fixtures(rng)), f)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
