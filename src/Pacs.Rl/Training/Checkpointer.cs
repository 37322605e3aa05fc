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

/// <summary>A checkpoint found on disk: its folder, its step, and what had to be worked around to find it.</summary>
public sealed record CheckpointInfo(string Dir, int Step, string? Note);

/// <summary>
/// Checkpoints of a run: `RUN/checkpoints/step_NNNNNN/` folders and `RUN/checkpoints/latest` naming the newest.
/// A save writes the new step into `step_N.tmpPID` beside the old ones, marks it complete (a `COMPLETE` file
/// written last), renames it into place, then switches `latest` (written to a temp file and renamed, so the
/// switch is atomic). Only then are older steps pruned. Re-saving a step that exists moves the old copy aside to
/// `step_N.oldPID` first and deletes it last; <see cref="Recover"/> puts it back if a run died in between. So a
/// crash at any point leaves at least one complete checkpoint, and <see cref="Find"/> falls back to the newest
/// complete step when `latest` names a missing or incomplete folder.
/// </summary>
public static class Checkpointer
{
    /// <summary>Written last into a checkpoint folder: its presence means every other file is complete.</summary>
    public const string CompleteMarker = "COMPLETE";

    private const string TmpTag = ".tmp";
    private const string OldTag = ".old";

    private static readonly AsyncLocal<Action<string>?> s_faultPoint = new();

    /// <summary>
    /// Test hook: called with a short label before every file operation of <see cref="Save"/> (and of the contents
    /// writer as one operation), so a test can throw there (a failed write) or stall there (to kill the process
    /// inside a save). Flows with the calling context, so parallel tests do not see each other's hooks.
    /// </summary>
    public static Action<string>? FaultPoint
    {
        get => s_faultPoint.Value;
        set => s_faultPoint.Value = value;
    }

    public static string DirName(int step) => $"step_{step:D6}";

    /// <summary>The Hugging Face folder of the policy inside a checkpoint (what `pacs eval` and `pacs export` read).</summary>
    public static string ModelDir(string checkpoint) => Path.Combine(checkpoint, CheckpointLayout.ModelFolder);

    /// <summary>Writes a checkpoint; <paramref name="writeContents"/> fills the (temporary) directory it is given.</summary>
    public static string Save(string runDir, int step, Action<string> writeContents, int keep = 0)
    {
        string root = Path.Combine(runDir, RunFiles.CheckpointsDir);
        string name = DirName(step);
        string final = Path.Combine(root, name);
        string tmp = final + TmpTag + Environment.ProcessId;
        string displaced = final + OldTag + Environment.ProcessId;
        Op("create checkpoints folder", () => Directory.CreateDirectory(root));
        if (Directory.Exists(tmp)) Op("remove an earlier temp folder", () => Directory.Delete(tmp, recursive: true));
        Op("create temp folder", () => Directory.CreateDirectory(tmp));
        Op("write contents", () => writeContents(tmp));
        Op("mark complete", () => File.WriteAllText(Path.Combine(tmp, CompleteMarker), name + "\n"));
        bool replacing = Directory.Exists(final);
        if (replacing)
        {
            if (Directory.Exists(displaced)) Op("remove an earlier displaced copy", () => Directory.Delete(displaced, recursive: true));
            Op("move the old copy aside", () => Directory.Move(final, displaced));
        }
        Op("rename into place", () => Directory.Move(tmp, final));
        PointLatestAt(root, name);
        if (replacing) Op("delete the old copy", () => Delete(displaced));
        if (keep > 0) Prune(root, keep, step);
        return final;
    }

    /// <summary>The checkpoint to resume from, or null when the run has none. Never throws for a torn `latest`.</summary>
    public static CheckpointInfo? Find(string runDir)
    {
        string root = Path.Combine(runDir, RunFiles.CheckpointsDir);
        string latest = Path.Combine(root, RunFiles.LatestFile);
        string? named = File.Exists(latest) ? File.ReadAllText(latest).Trim() : null;
        if (named is not null && StepOf(named) is { } namedStep && IsComplete(Path.Combine(root, named)))
            return new CheckpointInfo(Path.Combine(root, named), namedStep, null);
        var complete = CompleteSteps(root);
        if (complete.Count == 0) return null;
        var (step, dir) = complete[^1];
        string why = named is null ? $"{latest} is missing" : $"{latest} names '{named}', which is missing or incomplete";
        return new CheckpointInfo(dir, step, $"{why}; using the newest complete checkpoint, {Path.GetFileName(dir)}");
    }

    /// <summary>The newest complete checkpoint of a run (falling back past a torn `latest`); throws when there is none.</summary>
    public static string Latest(string runDir) => Find(runDir)?.Dir
        ?? throw new FileNotFoundException($"no checkpoint to resume from in {Path.Combine(runDir, RunFiles.CheckpointsDir)}", Path.Combine(runDir, RunFiles.CheckpointsDir, RunFiles.LatestFile));

    /// <summary>
    /// Repairs what interrupted saves left, before a run continues: puts back an old copy moved aside by a
    /// re-save that died before the new copy was in place, removes temp folders and files of processes that are
    /// gone, and points `latest` at the newest complete checkpoint when it names a missing or incomplete one.
    /// Returns one line per repair.
    /// </summary>
    public static List<string> Recover(string runDir)
    {
        var notes = new List<string>();
        string root = Path.Combine(runDir, RunFiles.CheckpointsDir);
        if (!Directory.Exists(root)) return notes;
        foreach (var displaced in Directory.GetDirectories(root, "step_*" + OldTag + "*"))
        {
            string name = Path.GetFileName(displaced);
            string plain = Path.Combine(root, name[..name.IndexOf(OldTag, StringComparison.Ordinal)]);
            if (!OwnedByDeadProcess(name, OldTag)) continue;
            if (!IsComplete(plain) && IsComplete(displaced))
            {
                if (Directory.Exists(plain)) Directory.Delete(plain, recursive: true);
                Directory.Move(displaced, plain);
                notes.Add($"restored {Path.GetFileName(plain)}, moved aside by a save that was interrupted");
            }
            else
            {
                Directory.Delete(displaced, recursive: true);
            }
        }
        int stale = 0;
        foreach (var dir in Directory.GetDirectories(root, "step_*"))
        {
            if (StepOf(Path.GetFileName(dir)) is null || IsComplete(dir)) continue;
            Directory.Delete(dir, recursive: true); // half pruned, or damaged: never a checkpoint to resume from
            stale++;
        }
        foreach (var entry in Directory.GetFileSystemEntries(root, "*" + TmpTag + "*"))
        {
            if (!OwnedByDeadProcess(Path.GetFileName(entry), TmpTag)) continue;
            if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true);
            else File.Delete(entry);
            stale++;
        }
        if (stale > 0) notes.Add($"removed {stale} incomplete or temporary entries left by interrupted saves in {root}");
        if (Find(runDir) is { Note: { } note } found)
        {
            PointLatestAt(root, Path.GetFileName(found.Dir));
            notes.Add(note);
        }
        return notes;
    }

    /// <summary>Whether a folder is a finished checkpoint (or one written before the marker existed, which ends with the trainer state).</summary>
    public static bool IsComplete(string dir) => File.Exists(Path.Combine(dir, CompleteMarker))
        || (Directory.Exists(dir) && !Path.GetFileName(dir).Contains('.') && File.Exists(Path.Combine(dir, TrainerState.FileName)));

    private static void PointLatestAt(string root, string name)
    {
        string latest = Path.Combine(root, RunFiles.LatestFile);
        string latestTmp = latest + TmpTag + Environment.ProcessId;
        Op("write latest.tmp", () => File.WriteAllText(latestTmp, name + "\n"));
        Op("rename latest.tmp to latest", () => File.Move(latestTmp, latest, overwrite: true));
    }

    /// <summary>Complete `step_NNNNNN` folders, oldest first.</summary>
    private static List<(int Step, string Dir)> CompleteSteps(string root) => !Directory.Exists(root) ? []
        : Directory.GetDirectories(root, "step_*")
            .Select(dir => (Step: StepOf(Path.GetFileName(dir)), Dir: dir))
            .Where(c => c.Step is not null && IsComplete(c.Dir))
            .Select(c => (c.Step!.Value, c.Dir))
            .OrderBy(c => c.Item1)
            .ToList();

    /// <summary>The step of a plain `step_NNNNNN` name; null for temp, displaced or foreign names.</summary>
    private static int? StepOf(string name) =>
        name.StartsWith("step_", StringComparison.Ordinal) && int.TryParse(name.AsSpan(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int step)
            ? step : null;

    /// <summary>A temp name ends with its writer's process id; one of a live process (another run) is left alone.</summary>
    private static bool OwnedByDeadProcess(string name, string tag)
    {
        int at = name.LastIndexOf(tag, StringComparison.Ordinal);
        if (!int.TryParse(name.AsSpan(at + tag.Length), out int pid) || pid == Environment.ProcessId) return true;
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return process.HasExited;
        }
        catch (ArgumentException)
        {
            return true;
        }
    }

    private static void Prune(string root, int keep, int newest)
    {
        var complete = CompleteSteps(root);
        foreach (var (step, dir) in complete.Take(Math.Max(0, complete.Count - keep)))
            if (step != newest) Op($"prune {Path.GetFileName(dir)}", () => Delete(dir));
    }

    /// <summary>Removes a checkpoint folder marker first, so one killed half-way through is never taken for complete.</summary>
    private static void Delete(string dir)
    {
        File.Delete(Path.Combine(dir, CompleteMarker));
        Directory.Delete(dir, recursive: true);
    }

    private static void Op(string label, Action action)
    {
        FaultPoint?.Invoke(label);
        action();
    }
}
