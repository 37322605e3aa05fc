using Pacs.Engine.Remote;
using Pacs.Engine.Tinker;
using Pacs.Rl.Config;
using Pacs.Rl.Training;
using Pacs.Text;

namespace Pacs.Cli;

/// <summary>
/// The one place a run's config becomes a backend: `engine` picks where it trains (managed: this machine; tinker: a
/// Tinker API server), and for the managed engine `rollout.engine` picks whether its rollouts run on inference servers.
/// </summary>
public static class EngineChoice
{
    public static IEngineBackend For(TrainConfig config) => config.Engine switch
    {
        "tinker" => new TinkerBackend(OptionsOf(config.Tinker, config.Trainer.Seed)),
        _ => WithRollouts(ManagedBackend.Instance, config),
    };

    /// <summary>The backend of a run being resumed, from its saved config.</summary>
    public static IEngineBackend ForRun(string runDir) => For(ConfigBinder.LoadFile<TrainConfig>(RunFiles.RequireConfig(runDir)));

    /// <summary>
    /// The key is read from the variable tinker.api_key_env names; unset sends none (a local `pacs serve --tinker` needs
    /// none). The adapter's seed is the one a local run with model.lora.rank = tinker.lora_rank draws from trainer.seed.
    /// </summary>
    public static TinkerOptions OptionsOf(TinkerSection tinker, long runSeed) =>
        new(tinker.BaseUrl, Environment.GetEnvironmentVariable(tinker.ApiKeyEnv), tinker.BaseModel, tinker.LoraRank,
            LoraSeed: new LoraSection { Rank = tinker.LoraRank }.ToSettings(runSeed)?.Seed);

    /// <summary><paramref name="trainer"/> itself, or with its rollouts on the servers `rollout.engine` names.</summary>
    private static IEngineBackend WithRollouts(IEngineBackend trainer, TrainConfig config)
    {
        var r = config.Rollout;
        if (!RolloutEngineRules.IsRemote(r)) return trainer;
        var options = RemoteOptions.From(r.Engine, r.Servers, r.Model, r.ApiKeyEnv, r.RequestTimeoutS, r.MaxInflight, r.MaxRetries, r.SyncDir);
        // Each synced folder is a complete model folder, tokenizer included, as a server loading it from scratch expects.
        string modelDir = config.Model.Dir;
        return new RemoteRolloutBackend(trainer, options with { CompleteSyncFolder = dir => TokenizerFiles.Copy(modelDir, dir) });
    }
}
