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

    [Fact]
    public void Missing_checkpoint_and_corrupt_state_are_reported_by_path()
    {
        var e = Assert.Throws<FileNotFoundException>(() => Checkpointer.Latest(_dir));
        Assert.Contains(RunFiles.LatestFile, e.Message);
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
