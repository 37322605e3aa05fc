using System.Text.Json;
using Pacs.Engine;

namespace Pacs.Rl.Training;

/// <summary>Trainer bookkeeping saved with each checkpoint besides the weights and optimizer moments.</summary>
public sealed record TrainerState(int Step, long DataPosition, ulong RngState, int ConsecutiveNanSkips)
{
    public const string FileName = "trainer_state.json";

    public void Write(string dir)
    {
        var json = JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["step"] = Step.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["data_position"] = DataPosition.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["rng_state"] = RngState.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["consecutive_nan_skips"] = ConsecutiveNanSkips.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }, new JsonSerializerOptions { WriteIndented = true });
        File.WriteAllText(Path.Combine(dir, FileName), json);
    }

    public static TrainerState Read(string dir)
    {
        string path = Path.Combine(dir, FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint is missing {FileName}: {path}", path);
        Dictionary<string, string> map;
        try
        {
            map = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path}: empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({e.Message})");
        }
        string Get(string key) => map.TryGetValue(key, out var v) ? v : throw new InvalidDataException($"{path}: missing key '{key}'");
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return new TrainerState(int.Parse(Get("step"), inv), long.Parse(Get("data_position"), inv), ulong.Parse(Get("rng_state"), inv),
            int.Parse(Get("consecutive_nan_skips"), inv));
    }
}

/// <summary>
/// Checkpoints of a run: `RUN/checkpoints/step_NNNNNN/` directories, each written into a temp directory and renamed
/// into place, then recorded in `RUN/checkpoints/latest` (also temp + rename). A crash at any point leaves the
/// previous checkpoint intact and `latest` pointing at a complete one.
/// </summary>
public static class Checkpointer
{
    public static string DirName(int step) => $"step_{step:D6}";

    /// <summary>The Hugging Face folder of the policy inside a checkpoint (what `pacs eval` and `pacs export` read).</summary>
    public static string ModelDir(string checkpoint) => Path.Combine(checkpoint, CheckpointLayout.ModelFolder);

    /// <summary>Writes a checkpoint; <paramref name="writeContents"/> fills the (temporary) directory it is given.</summary>
    public static string Save(string runDir, int step, Action<string> writeContents, int keep = 0)
    {
        string root = Path.Combine(runDir, RunFiles.CheckpointsDir);
        Directory.CreateDirectory(root);
        string final = Path.Combine(root, DirName(step));
        string tmp = final + $".tmp{Environment.ProcessId}";
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        Directory.CreateDirectory(tmp);
        writeContents(tmp);
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
        Directory.Move(tmp, final);
        string latestTmp = Path.Combine(root, RunFiles.LatestFile + ".tmp");
        File.WriteAllText(latestTmp, DirName(step) + "\n");
        File.Move(latestTmp, Path.Combine(root, RunFiles.LatestFile), overwrite: true);
        if (keep > 0) Prune(root, keep, DirName(step));
        return final;
    }

    /// <summary>The newest complete checkpoint of a run.</summary>
    public static string Latest(string runDir)
    {
        string root = Path.Combine(runDir, RunFiles.CheckpointsDir);
        string latest = Path.Combine(root, RunFiles.LatestFile);
        if (!File.Exists(latest)) throw new FileNotFoundException($"no checkpoint to resume from: {latest} does not exist", latest);
        string dir = Path.Combine(root, File.ReadAllText(latest).Trim());
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{latest} names {dir}, which does not exist");
        return dir;
    }

    private static void Prune(string root, int keep, string newest)
    {
        var complete = Directory.GetDirectories(root, "step_*")
            .Select(Path.GetFileName)
            .Where(n => n is not null && !n.Contains(".tmp", StringComparison.Ordinal))
            .Select(n => n!)
            .OrderBy(n => n, StringComparer.Ordinal)
            .ToList();
        foreach (var name in complete.Take(Math.Max(0, complete.Count - keep)))
            if (name != newest) Directory.Delete(Path.Combine(root, name), recursive: true);
    }
}
