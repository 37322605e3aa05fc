using Pacs.Models;

namespace Pacs.Cli.Tests;

/// <summary>LoRA from the command line: train and resume with model.lora, generate/eval --adapter, export --merge, sft --lora-rank.</summary>
public sealed partial class CliTests
{
    private static void Generates(params string[] args)
    {
        var (code, _, err) = Run(["generate", "--prompt", "Once upon a time", "--greedy", "--max-tokens", "12", .. args]);
        Assert.True(code == 0, err);
    }

    [Fact]
    public void A_lora_run_checkpoints_a_peft_adapter_that_resumes_generates_evaluates_and_merges()
    {
        string stories = Path.Combine(RepoRoot(), "models", "stories260K");
        string run = Path.Combine(_temp, "lora-run");
        string[] settings = ["--set", "model.lora.rank=4", "--set", "model.lora.target_modules=q_proj,v_proj,down_proj", "--set", "optim.lr=0.05",
            "--set", "trainer.eval_every=0", "--set", "trainer.save_every=1", "--set", "rollout.batch_prompts=2", "--set", "rollout.group_size=2",
            "--set", "rollout.max_response_tokens=4"];
        var (code, _, err) = Run(["train", "--model", stories, "--out", run, "--steps", "1", .. settings]);
        Assert.True(code == 0, err);
        (code, _, err) = Run("train", "--resume", run, "--steps", "2");
        Assert.True(code == 0, err);
        string adapter = Path.Combine(run, "checkpoints", "step_000002", "model");
        Assert.True(PeftAdapter.IsAdapterFolder(adapter));
        Assert.False(File.Exists(Path.Combine(adapter, "model.safetensors")));
        Assert.Equal(Path.GetFullPath(stories), PeftAdapter.ReadConfig(adapter).BaseModel);

        // Generation with the adapter unmerged, and with it merged (tests/Pacs.Models.Tests LoraTests check that they agree).
        Generates("--model", stories, "--adapter", adapter);
        string merged = Path.Combine(_temp, "merged");
        (code, _, err) = Run("export", "--merge", "--adapter", adapter, "--out", merged);
        Assert.True(code == 0, err);
        Generates("--model", merged);
        var mergedModel = Transformer.Load(merged);
        var expected = Transformer.Load(stories);
        PeftAdapter.Load(adapter, expected).MergeInto(expected);
        Assert.Equal(expected.Parameters.Select(p => p.Value.Data), mergedModel.Parameters.Select(p => p.Value.Data));
        Assert.Equal(Transformer.Load(stories).Layers[0].KProj.Data, mergedModel.Layers[0].KProj.Data);
        Assert.True(File.Exists(Path.Combine(merged, "tokenizer.json")));

        (code, _, err) = Run("eval", "--model", stories, "--adapter", adapter, "--problems", "2", "--samples", "1", "--max-new-tokens", "4",
            "--out", Path.Combine(_temp, "eval"));
        Assert.True(code == 0, err);
        Assert.Contains("\"adapter\"", File.ReadAllText(Path.Combine(_temp, "eval", "eval_metrics.json")));
    }

    [Fact]
    public void Sft_trains_a_lora_adapter_on_a_base_and_eval_finds_the_base_from_it()
    {
        string baseDir = Path.Combine(_temp, "base"), adapter = Path.Combine(_temp, "adapter");
        var (code, _, err) = Run("sft", "--out", baseDir, "--steps", "2", "--batch-size", "2");
        Assert.True(code == 0, err);
        (code, _, err) = Run("sft", "--model", baseDir, "--out", adapter, "--steps", "2", "--batch-size", "2", "--lora-rank", "4");
        Assert.True(code == 0, err);
        Assert.True(PeftAdapter.IsAdapterFolder(adapter));
        (code, _, err) = Run("eval", "--model", adapter, "--problems", "2", "--samples", "1", "--max-new-tokens", "4", "--out", Path.Combine(_temp, "eval"));
        Assert.True(code == 0, err);

        (code, _, err) = Run("sft", "--model", baseDir, "--out", Path.Combine(_temp, "bad"), "--lora-rank", "4", "--lora-targets", "q_proj,lm_head");
        AssertUserError(code, err, "--lora-targets: unknown target module 'lm_head'");
        (code, _, err) = Run("export", "--adapter", adapter, "--out", Path.Combine(_temp, "x"));
        AssertUserError(code, err, "--merge is required");
    }
}
