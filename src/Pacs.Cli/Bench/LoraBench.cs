using System.Diagnostics;
using Pacs.Models;

namespace Pacs.Cli.Bench;

/// <summary>One way of training a model of the shape: its trainable weights, their gradient and AdamW bytes, its step time.</summary>
public sealed record LoraModeFigures(string Mode, long TrainableParameters, double GradientMiB, double OptimizerMiB, Measured StepSeconds, double PeakWorkingSetMiB);

/// <summary>`pacs bench --only lora`: full fine-tuning against LoRA on one random-weight model of the shape.</summary>
public sealed record LoraFigures(int Rank, IReadOnlyList<string> Targets, int Batch, int SeqLen, long Parameters, double WeightsMiB,
    IReadOnlyList<LoraModeFigures> Modes);

/// <summary>
/// Training steps through the seam (forward, backward of -mean log-prob over the response half of each row, gradient
/// clipping, AdamW) on one model of the shape with random weights: first as LoRA (all seven projections; the base
/// frozen), then as full fine-tuning of the same weights. Gradient and optimizer bytes are read from the buffers
/// the step allocated; the step time is the median of the timed steps after one warm-up step; the peak working set
/// is the process's at the end of each mode (LoRA first, so its figure holds no full-fine-tuning buffer).
/// </summary>
public static class LoraBench
{
    public static readonly string[] Modes = ["lora", "full"];

    public static LoraFigures Run(ModelConfig config, int rank, int batch, int seqLen, int repeats, IReadOnlyList<string> modes)
    {
        var model = new Transformer(config, seed: 3);
        long weightBytes = 4L * model.ParameterCount;
        string[] targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
        var rng = new SplitMix64(9);
        int half = seqLen / 2;
        var prompts = Enumerable.Range(0, batch).Select(_ => Tokens(rng, half, config.VocabSize)).ToList();
        var responses = Enumerable.Range(0, batch).Select(_ => Tokens(rng, seqLen - half + 1, config.VocabSize)).ToList();
        var rows = ManagedBackend.Instance.Pack(prompts, responses, padId: 0);
        var upstream = responses.Select(r => Enumerable.Repeat(-1f / (batch * r.Length), r.Length).ToArray()).ToArray();
        var figures = new List<LoraModeFigures>();
        foreach (var mode in Modes.Where(modes.Contains))
        {
            var lora = mode == "lora" ? new LoraSettings(rank, 2.0 * rank, 0, targets, Seed: 1) : null;
            if (lora is null)
            {
                model.Adapter = null;
                foreach (var (_, p) in model.Parameters) p.RequiresGrad = true;
            }
            var trainable = ManagedBackend.Wrap(model, new TrainingSettings(new OptimizerSettings(), Lora: lora));
            var seconds = new List<double>();
            for (int r = -1; r < repeats; r++)
            {
                var watch = Stopwatch.StartNew();
                Step(trainable, rows, upstream);
                if (r >= 0) seconds.Add(watch.Elapsed.TotalSeconds);
            }
            using var process = Process.GetCurrentProcess();
            figures.Add(new LoraModeFigures(mode, trainable.TrainableParameterCount, trainable.GradientBytes / 1048576.0,
                trainable.OptimizerStateBytes / 1048576.0, Measured.Of(seconds, "s"), process.PeakWorkingSet64 / 1048576.0));
            trainable.ZeroGrad();
        }
        return new LoraFigures(rank, targets, batch, seqLen, model.ParameterCount, weightBytes / 1048576.0, figures);
    }

    private static void Step(ManagedModel model, Pacs.Engine.IPackedRows rows, float[][] upstream)
    {
        model.ZeroGrad();
        using (var pass = model.Forward(rows, 1f)) pass.Backward(upstream);
        model.ClipGradNorm(1.0);
        model.Step(1e-5);
    }

    private static int[] Tokens(SplitMix64 rng, int count, int vocab) =>
        Enumerable.Range(0, count).Select(_ => (int)(rng.NextUInt64() % (ulong)vocab)).ToArray();
}
