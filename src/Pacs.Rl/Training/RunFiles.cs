namespace Pacs.Rl.Training;

/// <summary>The layout of a run directory.</summary>
public static class RunFiles
{
    /// <summary>The resolved config, every knob spelled out.</summary>
    public const string ConfigFile = "config.yaml";

    public const string CheckpointsDir = "checkpoints";

    /// <summary>Text file in <see cref="CheckpointsDir"/> naming the newest complete checkpoint.</summary>
    public const string LatestFile = "latest";
}
