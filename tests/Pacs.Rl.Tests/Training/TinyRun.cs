using Pacs.Models;
using Pacs.Rl.Config;
using Pacs.Text;

namespace Pacs.Rl.Tests.Training;

/// <summary>A throwaway run directory with a tiny random model (hidden 32, one layer) and the char tokenizer.</summary>
internal sealed class TinyRun : IDisposable
{
    /// <param name="initializerRange">Std of the random weights. A LoRA run trains only adapters on the layers, so
    /// its logits can span no more than the frozen output layer allows: about ±0.6 at the default 0.02 (hidden 32),
    /// far flatter than any pretrained head; LoRA tests use a wider one.</param>
    public TinyRun(double initializerRange = 0.02)
    {
        Root = Path.Combine(Path.GetTempPath(), "pacs-rl-" + Guid.NewGuid().ToString("N"));
        ModelDir = Path.Combine(Root, "base");
        var tokenizer = new CharTokenizer();
        var config = new ModelConfig
        {
            ModelType = "llama",
            VocabSize = tokenizer.VocabSize,
            HiddenSize = 32,
            NumHiddenLayers = 1,
            NumAttentionHeads = 4,
            NumKeyValueHeads = 2,
            HeadDim = 8,
            IntermediateSize = 64,
            MaxPositionEmbeddings = 128,
            BosTokenId = tokenizer.BosId,
            EosTokenIds = tokenizer.EosIds,
            PadTokenId = tokenizer.PadId,
            InitializerRange = initializerRange,
        };
        new Transformer(config, seed: 3).Save(ModelDir);
        tokenizer.Save(ModelDir);
    }

    public string Root { get; }

    public string ModelDir { get; }

    public string RunDir(string name) => Path.Combine(Root, name);

    /// <summary>A small, fast config: 4 prompts x 4 samples, short responses, frequent checkpoints.</summary>
    public TrainConfig Config(string algorithm, params string[] overrides)
    {
        var config = new TrainConfig();
        ConfigBinder.Set(config, "algorithm.name=" + algorithm);
        foreach (var kv in new[]
        {
            "model.dir=" + ModelDir, "task.name=arith", "task.level=1", "task.eval_problems=4", "task.eval_samples=2",
            "rollout.batch_prompts=4", "rollout.group_size=4", "rollout.max_response_tokens=6", "optim.lr=0.01",
            "update.mini_batches=2", "update.micro_batch_size=4", "update.epochs=2",
            "trainer.steps=4", "trainer.eval_every=2", "trainer.save_every=2", "trainer.seed=11",
        })
            ConfigBinder.Set(config, kv);
        foreach (var kv in overrides) ConfigBinder.Set(config, kv);
        return config;
    }

    public void Dispose()
    {
        if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
    }
}
