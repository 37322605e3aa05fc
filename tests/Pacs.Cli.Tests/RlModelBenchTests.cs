using Pacs.Cli.Bench;
using Pacs.Cli.Init;
using Pacs.Engine;

namespace Pacs.Cli.Tests;

public sealed class RlModelBenchTests
{
    [Fact]
    public void Real_shape_rl_step_runs_every_response_to_the_cap_and_times_each_phase()
    {
        var sizes = new RlStepShape(Prompts: 2, GroupSize: 2, PromptTokens: 16, ResponseTokens: 5);
        var f = RlModelBench.Run("qwen2-tiny", ModelPresets.Shape("qwen2", "tiny"), sizes, RealPathTests.Repo("models", "tokenizers", "qwen3"), repeats: 2);
        Assert.Equal(2, f.TimedSteps.Count);
        foreach (var s in f.TimedSteps.Prepend(f.FirstStep))
        {
            Assert.Equal(5, s.MeanResponseTokens); // no end token: every response runs to the length cap
            Assert.True(s.Rollout > 0 && s.Update > 0 && s.CpuSeconds > 0);
            Assert.False(s.LogProbPass); // on-policy: the old log-probs come from the update's forward
            Assert.True(s.Rollout + s.Score + s.LogProb + s.Update <= s.Step + 1e-6, "the parts exceed the step");
        }
        Assert.Equal(sizes.Rows * sizes.ResponseTokens / f.TimedSteps[0].Rollout, f.RolloutTokensPerSecond.Runs[0], 6);
        Assert.Null(f.LogProbTokensPerSecond);
        Assert.Equal(sizes.Rows * (sizes.PromptTokens + sizes.ResponseTokens) / f.TimedSteps[1].Update, f.UpdateTokensPerSecond.Runs[1], 6);
        Assert.True(f.Parameters > 0 && f.PeakResidentSetMiB > 0);
    }

    /// <summary>
    /// The bench's step is on-policy, so by default its old log-probs come from the update's forward and PACS has no
    /// scoring phase; with trainer.logprobs_from_update=false their no-grad pass is a phase of its own, and PPO's
    /// critic scores its values there either way.
    /// </summary>
    [Theory]
    [InlineData("pacs", true)]
    [InlineData("pacs", false)]
    [InlineData("ppo", true)]
    public void Lora_step_on_a_bf16_base_with_the_memory_knobs_reports_each_phases_peak(string algorithm, bool logProbsFromUpdate)
    {
        var sizes = new RlStepShape(Prompts: 2, GroupSize: 2, PromptTokens: 16, ResponseTokens: 4, WarmupSteps: 0);
        var held = new RlStepModel(WeightDtype.Bfloat16, LoraRank: 4, ["rollout.max_batch_rows=3", "model.gradient_checkpointing=true", "model.logits_chunk_rows=5",
            $"trainer.logprobs_from_update={(logProbsFromUpdate ? "true" : "false")}", $"algorithm.name={algorithm}"]);
        bool scored = !logProbsFromUpdate || algorithm == "ppo";
        var f = RlModelBench.Run("qwen2-tiny", ModelPresets.Shape("qwen2", "tiny"), sizes, RealPathTests.Repo("models", "tokenizers", "qwen3"), repeats: 1, held);
        Assert.Equal(held, f.Model);
        Assert.Equal(algorithm.ToUpperInvariant(), held.Algorithm);
        Assert.Equal("PACS", new RlStepModel().Algorithm);
        Assert.Equal(4, f.FirstStep.MeanResponseTokens);
        Assert.True(f.ResidentBeforeMiB > 0);
        if (f.Phases is { } phases) // null where the high-water mark cannot be reset
        {
            Assert.Equal(scored ? [PhaseMemory.Rollout, PhaseMemory.LogProbs, PhaseMemory.Update] : [PhaseMemory.Rollout, PhaseMemory.Update],
                phases.Select(p => p.Phase));
            Assert.Equal(scored, f.FirstStep.LogProbPass);
            Assert.Equal(scored, f.LogProbTokensPerSecond is not null);
            Assert.All(phases, p => Assert.True(p.Step == 1 && p.PeakMiB + 1 >= p.EndMiB && p.EndMiB > 0, $"{p}"));
            Assert.True(phases.Max(p => p.PeakMiB) <= f.PeakResidentSetMiB + 1);
        }
    }

    [Fact]
    public void Missing_tokenizer_is_one_clear_error()
    {
        var e = Assert.Throws<FileNotFoundException>(() => RlModelBench.Run("qwen2-tiny", ModelPresets.Shape("qwen2", "tiny"), new RlStepShape(), Path.Combine(Path.GetTempPath(), "no-such-tokenizer"), 1));
        Assert.Contains("has no tokenizer.json", e.Message);
    }
}
