using Pacs.Engine.Tinker;
using Pacs.Rl.Config;
using Pacs.Rl.Training;

namespace Pacs.Cli;

/// <summary>The one place a run's `engine` key becomes a backend: managed (this machine) or tinker (a Tinker API server).</summary>
public static class EngineChoice
{
    public static IEngineBackend For(TrainConfig config) => config.Engine switch
    {
        "tinker" => new TinkerBackend(OptionsOf(config.Tinker)),
        _ => ManagedBackend.Instance,
    };

    /// <summary>The backend of a run being resumed, from its saved config.</summary>
    public static IEngineBackend ForRun(string runDir) => For(ConfigBinder.LoadFile<TrainConfig>(RunFiles.RequireConfig(runDir)));

    /// <summary>The key is read from the variable tinker.api_key_env names; unset sends none (a local `pacs serve --tinker` needs none).</summary>
    public static TinkerOptions OptionsOf(TinkerSection tinker) =>
        new(tinker.BaseUrl, Environment.GetEnvironmentVariable(tinker.ApiKeyEnv), tinker.BaseModel, tinker.LoraRank);
}
