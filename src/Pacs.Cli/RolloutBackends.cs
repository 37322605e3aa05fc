using Pacs.Engine.Remote;
using Pacs.Rl.Config;
using Pacs.Rl.Training;
using Pacs.Text;

namespace Pacs.Cli;

/// <summary>The backend a training run uses: the managed engine, with its rollouts on inference servers when `rollout.engine` names a remote one.</summary>
public static class RolloutBackends
{
    public static IEngineBackend For(TrainConfig config)
    {
        var r = config.Rollout;
        if (!RolloutEngineRules.IsRemote(r)) return ManagedBackend.Instance;
        var options = RemoteOptions.From(r.Engine, r.Servers, r.Model, r.ApiKeyEnv, r.RequestTimeoutS, r.MaxInflight, r.MaxRetries, r.SyncDir);
        // Each synced folder is a complete model folder, tokenizer included, as a server loading it from scratch expects.
        string modelDir = config.Model.Dir;
        return new RemoteRolloutBackend(ManagedBackend.Instance, options with { CompleteSyncFolder = dir => TokenizerFiles.Copy(modelDir, dir) });
    }

    /// <summary>The backend of the run in <paramref name="runDir"/>, from its saved config.</summary>
    public static IEngineBackend ForRun(string runDir) => For(ConfigBinder.LoadFile<TrainConfig>(RunFiles.RequireConfig(runDir)));
}
