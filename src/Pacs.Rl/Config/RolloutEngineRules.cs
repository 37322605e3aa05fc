namespace Pacs.Rl.Config;

/// <summary>The `rollout.engine` keys: which engines exist, what each needs, and what a remote one demands of the trainer.</summary>
public static class RolloutEngineRules
{
    public const string Local = "local";

    /// <summary>Every engine a config may name.</summary>
    public static IReadOnlyList<string> Engines { get; } = [Local, "openai", "vllm", "sglang", "pacs"];

    public static bool IsRemote(RolloutSection rollout) => rollout.Engine != Local;

    public static void Validate(TrainConfig c)
    {
        var r = c.Rollout;
        if (!Engines.Contains(r.Engine)) throw new ArgumentException($"rollout.engine '{r.Engine}' is not one of {string.Join(", ", Engines)}");
        if (!IsRemote(r))
        {
            if (r.Servers.Length > 0) throw new ArgumentException($"rollout.servers is set but rollout.engine is local: set rollout.engine to vllm, sglang, pacs or openai to sample on those servers");
            return;
        }
        if (r.Servers.Length == 0) throw new ArgumentException($"rollout.engine={r.Engine} needs rollout.servers: the base URL of each server, e.g. [http://127.0.0.1:8000]");
        foreach (var server in r.Servers)
            if (!Uri.TryCreate(server, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                throw new ArgumentException($"rollout.servers: '{server}' is not an http(s) URL such as http://gpu1:8000");
        if (r.Servers.Distinct(StringComparer.OrdinalIgnoreCase).Count() != r.Servers.Length) throw new ArgumentException("rollout.servers lists a server twice");
        if (!(r.RequestTimeoutS > 0)) throw new ArgumentException($"rollout.request_timeout_s must be > 0, got {r.RequestTimeoutS}");
        if (r.MaxInflight < 1) throw new ArgumentException($"rollout.max_inflight must be >= 1, got {r.MaxInflight}");
        if (r.MaxRetries < 0) throw new ArgumentException($"rollout.max_retries must be >= 0, got {r.MaxRetries}");
        if (r.ApiKeyEnv.Length > 0 && string.IsNullOrEmpty(Environment.GetEnvironmentVariable(r.ApiKeyEnv)))
            throw new ArgumentException($"rollout.api_key_env names the environment variable {r.ApiKeyEnv}, which is not set");
        // A server's log-probs come from other kernels and precision: the loss needs the trainer's own.
        if (!c.Trainer.RecomputeLogprobs)
            throw new ArgumentException($"trainer.recompute_logprobs=false with rollout.engine={r.Engine}: a server's log-probs are not the trainer's, so the rollout policy's log-probs must be recomputed; set it to true");
        if (r.Engine == "openai")
        {
            if (c.Trainer.Steps > 0)
                throw new ArgumentException($"rollout.engine=openai cannot load the weights trainer.steps={c.Trainer.Steps} updates: its rollouts would come from a fixed policy while the trainer treats them as its own; use vllm, sglang or pacs (they load new weights after every optimizer step), or trainer.steps=0 to only evaluate the served model");
            return;
        }
        if (string.IsNullOrWhiteSpace(r.SyncDir))
            throw new ArgumentException($"rollout.engine={r.Engine} needs rollout.sync_dir: a folder every server reads at the same path, where the policy is written after each optimizer step");
    }
}
