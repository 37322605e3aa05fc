namespace Pacs.Rl.Training;

/// <summary>The layout of a run directory.</summary>
public static class RunFiles
{
    /// <summary>The resolved config, every knob spelled out.</summary>
    public const string ConfigFile = "config.yaml";

    public const string CheckpointsDir = "checkpoints";

    /// <summary>Text file in <see cref="CheckpointsDir"/> naming the newest complete checkpoint.</summary>
    public const string LatestFile = "latest";

    /// <summary>The run's saved config, or a one-line error saying the folder is not a training run.</summary>
    public static string RequireConfig(string runDir)
    {
        if (!Directory.Exists(runDir)) throw new DirectoryNotFoundException($"--resume: run folder not found: {runDir}");
        string path = Path.Combine(runDir, ConfigFile);
        if (!File.Exists(path))
            throw new FileNotFoundException($"--resume: {runDir} is not a `pacs train` run folder (it has no {ConfigFile}){(File.Exists(Path.Combine(runDir, "config.json")) ? "; it holds a model: pass it to --model" : "")}", path);
        return path;
    }

    /// <summary>Saves the resolved config (temp file and rename: never torn).</summary>
    public static void WriteConfig(string runDir, string yaml)
    {
        AtomicFile.WriteAllText(Path.Combine(runDir, ConfigFile), yaml);
    }

    /// <summary>
    /// Where a resumed run continues: the newest complete checkpoint after repairing interrupted saves, or null
    /// when there is none, in which case the run's progress (metrics, checkpoint leftovers) is cleared so that it
    /// restarts from step 0 exactly as a fresh run would. <paramref name="log"/> hears each repair and the restart.
    /// </summary>
    public static CheckpointInfo? ResumePoint(string runDir, Action<string>? log)
    {
        foreach (var note in Checkpointer.Recover(runDir)) log?.Invoke(note);
        if (Checkpointer.Find(runDir) is { } found) return found;
        log?.Invoke($"no checkpoint in {runDir}: restarting from step 0 with its saved config");
        foreach (var file in new[] { MetricsLog.FileName, "report.html" }) File.Delete(Path.Combine(runDir, file));
        string checkpoints = Path.Combine(runDir, CheckpointsDir);
        if (Directory.Exists(checkpoints)) Directory.Delete(checkpoints, recursive: true);
        return null;
    }
}

/// <summary>
/// The folder a command writes (`--out`): refused when it is a file, or when it holds anything and the user did
/// not pass `--overwrite`; with `--overwrite` its old contents are removed first, so nothing stale is left next to
/// the new files. Folders that hold the current directory, the home folder, or an input of the command are never
/// removed.
/// </summary>
public static class OutputFolder
{
    /// <summary>Makes <paramref name="dir"/> an empty folder, or throws a one-line <see cref="ArgumentException"/> saying why not.</summary>
    /// <param name="inputs">Folders the command reads (a model): the output may not contain them when it is emptied.</param>
    public static void Prepare(string dir, bool overwrite, params string[] inputs)
    {
        if (File.Exists(dir)) throw new ArgumentException($"--out {dir} is a file, not a folder; choose a folder");
        if (IsNonEmpty(dir))
        {
            if (!overwrite) throw new ArgumentException($"{Describe(dir)}; pass --overwrite to replace its contents, or choose another --out");
            RefuseToRemove(dir, inputs);
            Directory.Delete(dir, recursive: true);
        }
        Directory.CreateDirectory(dir);
    }

    /// <summary>Whether a folder holds anything but temp files (`*.tmp`, left by a process killed while writing one: never data).</summary>
    public static bool IsNonEmpty(string dir) => Directory.Exists(dir)
        && Directory.EnumerateFileSystemEntries(dir).Any(e => !e.EndsWith(".tmp", StringComparison.Ordinal));

    /// <summary>What a non-empty folder holds, in the words of the command that wrote it.</summary>
    public static string Describe(string dir)
    {
        if (File.Exists(Path.Combine(dir, RunFiles.ConfigFile)))
        {
            var checkpoint = Checkpointer.Find(dir);
            string state = checkpoint is null ? "no checkpoint yet" : $"a checkpoint at step {checkpoint.Step}";
            return $"{dir} already holds a training run ({state}): continue it with `pacs train --resume {dir}`";
        }
        if (File.Exists(Path.Combine(dir, "config.json"))) return $"{dir} already holds a model (config.json)";
        int entries = Directory.EnumerateFileSystemEntries(dir).Count();
        return $"{dir} is not empty ({entries} entr{(entries == 1 ? "y" : "ies")})";
    }

    private static void RefuseToRemove(string dir, string[] inputs)
    {
        string full = Full(dir);
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        foreach (var (path, what) in new[] { (Directory.GetCurrentDirectory(), "the current directory"), (home, "your home folder") }
            .Concat(inputs.Select(i => (i, $"the input {i}"))))
        {
            if (string.IsNullOrEmpty(path)) continue;
            if (Contains(full, Full(path)))
                throw new ArgumentException($"refusing to --overwrite {dir}: it holds {what}; choose another --out");
        }
        if (Path.GetPathRoot(full) == full) throw new ArgumentException($"refusing to --overwrite {dir}: it is a filesystem root");
    }

    private static string Full(string path) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));

    private static bool Contains(string outer, string inner) =>
        inner == outer || inner.StartsWith(outer + Path.DirectorySeparatorChar, StringComparison.Ordinal);
}
