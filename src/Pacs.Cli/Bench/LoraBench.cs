using System.Diagnostics;
using Pacs.Models;

namespace Pacs.Cli.Bench;

/// <summary>One way of training a model of the shape: its trainable weights, their gradient and AdamW bytes, its step time.</summary>
/// <summary>PeakWorkingSetMiB: the process's peak after this mode's warm-up step (LoRA's before any full-fine-tuning buffer).</summary>
public sealed record LoraModeFigures(string Mode, long TrainableParameters, double GradientMiB, double OptimizerMiB, Measured StepSeconds, double PeakWorkingSetMiB);

/// <summary>`pacs bench --only lora`: full fine-tuning against LoRA on one random-weight model of the shape.</summary>
public sealed record LoraFigures(int Rank, IReadOnlyList<string> Targets, int Batch, int SeqLen, long Parameters, double WeightsMiB,
    IReadOnlyList<LoraModeFigures> Modes);

/// <summary>
/// Training steps through the seam (forward, backward of -mean log-prob over the response half of each row, gradient
/// clipping, AdamW) on one model of the shape with random weights, as LoRA (all seven projections; the base frozen)
/// and as full fine-tuning of the same weights. LoRA goes first: its gradient and AdamW bytes are read from the buffers
/// its step allocated, and its peak working set is taken before any full-fine-tuning buffer exists; then the full
/// model's. After one warm-up step each, the timed steps alternate LoRA and full (the order swapping every repeat),
/// so a change in the machine's load hits both alike; each step time is a median.
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

        // Each mode: its model, how to switch the shared Transformer to it, its memory figures after a warm-up step.
        var runs = new List<(string Mode, ManagedModel Trainable, Action Use, double GradientMiB, double OptimizerMiB, double PeakMiB, List<double> Seconds)>();
        LoraAdapter? adapter = null;
        foreach (var mode in Modes.Where(modes.Contains))
        {
            bool lora = mode == "lora";
            void Use()
            {
                model.Adapter = lora ? adapter : null;
                foreach (var (_, p) in model.Parameters) p.RequiresGrad = !lora;
            }
            if (!lora) Use();
            var trainable = ManagedBackend.Wrap(model, new TrainingSettings(new OptimizerSettings(),
                Lora: lora ? new LoraSettings(rank, 2.0 * rank, 0, targets, Seed: 1) : null));
            if (lora) adapter = trainable.Adapter;
            Step(trainable, rows, upstream);
            using var process = Process.GetCurrentProcess();
            runs.Add((mode, trainable, Use, trainable.GradientBytes / 1048576.0, trainable.OptimizerStateBytes / 1048576.0,
                process.PeakWorkingSet64 / 1048576.0, []));
        }
        for (int r = 0; r < repeats; r++)
            foreach (var run in r % 2 == 0 ? runs : Enumerable.Reverse(runs))
            {
                run.Use();
                var watch = Stopwatch.StartNew();
                Step(run.Trainable, rows, upstream);
                run.Seconds.Add(watch.Elapsed.TotalSeconds);
            }
        var figures = runs.Select(r => new LoraModeFigures(r.Mode, r.Trainable.TrainableParameterCount, r.GradientMiB, r.OptimizerMiB,
            Measured.OfSeconds(r.Seconds), r.PeakMiB)).ToList();
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
