using Pacs.Rl.Reporting;
using Pacs.Rl.Training;

namespace Pacs.Rl.Tests.Training;

public sealed class RunFilesTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "pacs-runfiles-" + Guid.NewGuid().ToString("N"));

    public RunFilesTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Metrics_round_trip_with_nan_as_null_and_truncate_after_a_step()
    {
        MetricsLog.Append(_dir, new Dictionary<string, double> { ["step"] = 1, ["reward/mean"] = 0.25, ["x"] = double.NaN });
        MetricsLog.Append(_dir, new Dictionary<string, double> { ["step"] = 2, ["reward/mean"] = 0.5 });
        MetricsLog.Append(_dir, new Dictionary<string, double> { ["step"] = 3, ["reward/mean"] = 0.75 });
        string path = Path.Combine(_dir, MetricsLog.FileName);
        Assert.Contains("\"x\":null", File.ReadAllText(path));
        var records = MetricsLog.Read(path);
        Assert.Equal(3, records.Count);
        Assert.Equal(0.25, records[0]["reward/mean"]);
        Assert.True(double.IsNaN(records[0]["x"]));
        MetricsLog.TruncateAfter(_dir, 2);
        Assert.Equal([1.0, 2.0], MetricsLog.Read(path).Select(r => r["step"]));
        Assert.False(MetricsLog.IsDeterministic("time/rollout"));
        Assert.True(MetricsLog.IsDeterministic("reward/mean"));
    }

    [Fact]
    public void Checkpoints_are_renamed_into_place_and_pruned()
    {
        for (int step = 1; step <= 3; step++)
            Checkpointer.Save(_dir, step, tmp =>
            {
                Assert.Contains(".tmp", tmp);
                new TrainerState(step, 10L * step, 99UL + (ulong)step, 0).Write(tmp);
                StateFile.Write(Path.Combine(tmp, "opt.bin"), [("m", new float[] { step, 2.5f }), ("v", new float[] { float.Epsilon })]);
            }, keep: 2);
        string latest = Checkpointer.Latest(_dir);
        Assert.EndsWith(Checkpointer.DirName(3), latest);
        var names = Directory.GetDirectories(Path.Combine(_dir, RunFiles.CheckpointsDir)).Select(d => Path.GetFileName(d)!).Order().ToArray();
        Assert.Equal([Checkpointer.DirName(2), Checkpointer.DirName(3)], names);
        var state = TrainerState.Read(latest);
        Assert.Equal(new TrainerState(3, 30, 102, 0), state);
        var arrays = StateFile.Read(Path.Combine(latest, "opt.bin"));
        Assert.Equal(new float[] { 3, 2.5f }, arrays["m"]);
        Assert.Equal(new float[] { float.Epsilon }, arrays["v"]);
    }

    [Fact]
    public void A_failed_checkpoint_write_leaves_latest_on_the_previous_one()
    {
        Checkpointer.Save(_dir, 1, tmp => new TrainerState(1, 0, 0, 0).Write(tmp));
        Assert.Throws<IOException>(() => Checkpointer.Save(_dir, 2, _ => throw new IOException("disk full")));
        Assert.EndsWith(Checkpointer.DirName(1), Checkpointer.Latest(_dir));
        Assert.False(Directory.Exists(Path.Combine(_dir, RunFiles.CheckpointsDir, Checkpointer.DirName(2))));
    }

    /// <summary>A checkpoint whose trainer state records its step and, in the data position, which save wrote it.</summary>
    private void SaveTagged(int step, long tag, int keep = 0) =>
        Checkpointer.Save(_dir, step, tmp =>
        {
            new TrainerState(step, tag, 0, 0).Write(tmp);
            StateFile.Write(Path.Combine(tmp, "opt.bin"), [("m", new float[] { step })]);
        }, keep);

    /// <summary>Runs <paramref name="save"/> with an IOException injected before file operation <paramref name="failAt"/> (none when -1); returns the labels seen.</summary>
    private static List<string> WithFaultAt(int failAt, Action save)
    {
        var labels = new List<string>();
        Checkpointer.FaultPoint = label =>
        {
            labels.Add(label);
            if (labels.Count - 1 == failAt) throw new IOException("injected fault at " + label);
        };
        try
        {
            if (failAt < 0) save();
            else Assert.Throws<IOException>(save);
        }
        finally
        {
            Checkpointer.FaultPoint = null;
        }
        return labels;
    }

    public static TheoryData<string> SaveKinds => ["first", "next_with_prune", "replace_same_step"];

    [Theory]
    [MemberData(nameof(SaveKinds))]
    public void A_save_failing_at_any_file_operation_leaves_a_complete_checkpoint_after_recovery(string kind)
    {
        // What exists before the save under test, and the save itself (tag 2 marks its contents).
        void Before()
        {
            if (kind != "first") SaveTagged(1, tag: 1);
            if (kind == "replace_same_step") SaveTagged(2, tag: 1);
        }
        int step = kind == "first" ? 1 : 2;
        void Save() => SaveTagged(step, tag: 2, keep: kind == "next_with_prune" ? 1 : 0);

        Before();
        var labels = WithFaultAt(-1, Save);
        if (kind == "replace_same_step") Assert.Contains("move the old copy aside", labels);
        Assert.True(labels.Count >= 6, string.Join(", ", labels));
        for (int failAt = 0; failAt < labels.Count; failAt++)
        {
            Directory.Delete(_dir, recursive: true);
            Directory.CreateDirectory(_dir);
            Before();
            WithFaultAt(failAt, Save);
            string where = $"{kind}, failed at '{labels[failAt]}'";

            Checkpointer.Recover(_dir);
            var found = Checkpointer.Find(_dir);
            if (kind == "first" && found is null) continue; // nothing was promised before the first save completed
            Assert.True(found is not null, where);
            Assert.Null(found.Note);
            var state = TrainerState.Read(found.Dir);
            Assert.Equal(found.Step, state.Step);
            Assert.True(found.Step == step || (kind == "next_with_prune" && found.Step == 1), $"{where}: step {found.Step}");
            Assert.Equal(found.Step, StateFile.Read(Path.Combine(found.Dir, "opt.bin"))["m"][0]);
            var leftovers = Directory.GetFileSystemEntries(Path.Combine(_dir, RunFiles.CheckpointsDir))
                .Select(Path.GetFileName).Where(n => n!.Contains(".tmp") || n.Contains(".old")).ToList();
            Assert.True(leftovers.Count == 0, $"{where}: left {string.Join(", ", leftovers)}");

            SaveTagged(step + 1, tag: 3, keep: 1); // and the run goes on saving
            Assert.Equal(step + 1, Checkpointer.Find(_dir)!.Step);
        }
    }

    [Fact]
    public void Latest_naming_a_missing_or_incomplete_folder_falls_back_to_the_newest_complete_step()
    {
        SaveTagged(1, tag: 1);
        SaveTagged(2, tag: 1);
        string root = Path.Combine(_dir, RunFiles.CheckpointsDir);
        File.WriteAllText(Path.Combine(root, RunFiles.LatestFile), Checkpointer.DirName(7) + "\n");
        var found = Checkpointer.Find(_dir)!;
        Assert.Equal(2, found.Step);
        Assert.Contains(Checkpointer.DirName(7), found.Note);

        // An incomplete step 3 (no COMPLETE marker, no trainer state) named by latest: step 2 is used and step 3 removed.
        Directory.CreateDirectory(Path.Combine(root, Checkpointer.DirName(3)));
        File.WriteAllText(Path.Combine(root, RunFiles.LatestFile), Checkpointer.DirName(3));
        Directory.CreateDirectory(Path.Combine(root, Checkpointer.DirName(4) + ".tmp999999"));
        var notes = Checkpointer.Recover(_dir);
        Assert.Equal(2, notes.Count); // the two leftovers removed, latest repointed
        Assert.Equal([RunFiles.LatestFile, Checkpointer.DirName(1), Checkpointer.DirName(2)], Directory.GetFileSystemEntries(root).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(Checkpointer.DirName(2), File.ReadAllText(Path.Combine(root, RunFiles.LatestFile)).Trim());
        Assert.Null(Checkpointer.Find(_dir)!.Note);
    }

    [Fact]
    public void Resuming_drops_a_cut_last_metrics_line_but_names_a_damaged_line_before_it()
    {
        MetricsLog.Append(_dir, new Dictionary<string, double> { ["step"] = 1 });
        MetricsLog.Append(_dir, new Dictionary<string, double> { ["step"] = 2 });
        string path = Path.Combine(_dir, MetricsLog.FileName);
        File.AppendAllText(path, "{\"step\":3,\"rew");
        MetricsLog.TruncateAfter(_dir, 2);
        Assert.Equal([1.0, 2.0], MetricsLog.Read(path).Select(r => r["step"]));

        File.WriteAllText(path, "{\"step\":1}\n{\"st\n{\"step\":2}\n");
        var e = Assert.Throws<InvalidDataException>(() => MetricsLog.TruncateAfter(_dir, 2));
        Assert.Contains("line 2", e.Message);
    }

    [Fact]
    public void Missing_checkpoint_and_corrupt_state_are_reported_by_path()
    {
        var e = Assert.Throws<FileNotFoundException>(() => Checkpointer.Latest(_dir));
        Assert.Contains("no checkpoint", e.Message);
        Assert.Contains(RunFiles.CheckpointsDir, e.Message);
        string bad = Path.Combine(_dir, "bad.bin");
        File.WriteAllText(bad, "not a state file");
        var b = Assert.Throws<InvalidDataException>(() => StateFile.Read(bad));
        Assert.Contains(bad, b.Message);
    }

    [Fact]
    public void Report_is_self_contained_html_with_one_chart_per_metric()
    {
        for (int step = 1; step <= 5; step++)
        {
            var record = new Dictionary<string, double> { ["step"] = step, ["reward/mean"] = step / 10.0, ["time/step"] = 1.5 };
            if (step % 2 == 0) record["val/pass@1"] = step / 20.0;
            MetricsLog.Append(_dir, record);
        }
        File.WriteAllText(Path.Combine(_dir, RunFiles.ConfigFile), "trainer:\n  steps: 5\n");
        string path = HtmlReport.Write(_dir);
        string html = File.ReadAllText(path);
        Assert.StartsWith("<!DOCTYPE html>", html);
        Assert.Equal(3, CountOf(html, "<svg"));
        Assert.Contains("val/pass@1", html);
        Assert.Contains("steps: 5", html);
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org/2000/svg", ""));
    }

    private static int CountOf(string text, string needle)
    {
        int count = 0;
        for (int i = text.IndexOf(needle, StringComparison.Ordinal); i >= 0; i = text.IndexOf(needle, i + 1, StringComparison.Ordinal)) count++;
        return count;
    }
}
