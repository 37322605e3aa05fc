using System.Diagnostics;
using System.Text.Json;
using Pacs.Engine;
using Pacs.Rewards;
using Pacs.Rewards.Tasks;
using Pacs.Rl.Training;
using Pacs.Text;

namespace Pacs.Rl.Sft;

/// <summary>What one SFT step did (for progress displays).</summary>
public sealed record SftStepInfo(int Step, int TotalSteps, double Loss, double LearningRate, double GradNorm,
    long ResponseTokens, double TokensPerSecond, TimeSpan Elapsed);

/// <summary>
/// The rows of one SFT step: BOS + prompt and worked solution + EOS, packed by the backend. Each response carries one
/// extra pad token at its end, so the pass also reads the last real token as an input (as a causal-LM batch of
/// prompt + response does); that extra position is never a target.
/// </summary>
/// <param name="Rows">The packed rows.</param>
/// <param name="TargetCount">Solution and EOS tokens over all rows: what the loss averages over.</param>
public sealed record SftBatch(IPackedRows Rows, int TargetCount)
{
    public static SftBatch Pack(IEngineBackend backend, IReadOnlyList<(int[] Prompt, int[] Response)> rows, int padId)
    {
        if (rows.Count == 0) throw new ArgumentException("sft: empty batch");
        for (int b = 0; b < rows.Count; b++)
            if (rows[b].Prompt.Length == 0) throw new ArgumentException($"sft: row {b} has an empty prompt (it needs at least BOS)");
        var packed = backend.Pack(rows.Select(r => r.Prompt).ToList(), rows.Select(r => (int[])[.. r.Response, padId]).ToList(), padId);
        return new SftBatch(packed, rows.Sum(r => r.Response.Length));
    }
}

/// <summary>The SFT loss as a log-prob loss: mean cross-entropy = -(sum of the targets' log pi) / N.</summary>
public static class SftLoss
{
    /// <summary>
    /// The loss of per-row log-probs whose last entry is the extra pad position of <see cref="SftBatch"/>, and its
    /// gradient with respect to each log-prob (-1/N on targets, 0 on the extra position).
    /// </summary>
    public static (double Loss, float[][] Grad) Compute(float[][] logProbs, int targetCount)
    {
        double total = 0;
        var grad = new float[logProbs.Length][];
        // -(1f / N) as a float, the exact coefficient a fused cross-entropy backward uses.
        float coefficient = targetCount == 0 ? 0f : -(1f / targetCount);
        for (int r = 0; r < logProbs.Length; r++)
        {
            grad[r] = new float[logProbs[r].Length];
            for (int j = 0; j < logProbs[r].Length - 1; j++)
            {
                total -= logProbs[r][j];
                grad[r][j] = coefficient;
            }
        }
        return (targetCount == 0 ? 0f : (float)(total / targetCount), grad);
    }
}

/// <summary>
/// Trains a small decoder from scratch on a synthetic task's worked solutions: rows are BOS + prompt + solution +
/// EOS, the loss is the mean cross-entropy over solution tokens (and EOS) only; AdamW with decoupled weight decay
/// on matrices, linear warm-up then cosine decay, global-norm gradient clipping. Writes `metrics.jsonl`, atomic
/// checkpoints under `checkpoints/`, and finally a self-contained model folder (config.json, model.safetensors,
/// generation_config.json, char_tokenizer.json) into the output directory.
/// </summary>
public sealed class SftTrainer
{
    public const string OptionsFileName = "sft_options.json";

    private readonly SftOptions _options;
    private readonly IEngineBackend _backend;

    public SftTrainer(SftOptions options, IEngineBackend backend)
    {
        options.Validate();
        _options = options;
        _backend = backend;
        Task = TaskRegistry.Create(options.Task, options.Seed, options.Level);
        Tokenizer = new CharTokenizer();
        var spec = options.ModelSpec(Tokenizer.VocabSize, Tokenizer.BosId!.Value, Tokenizer.EosIds, Tokenizer.PadId);
        var settings = new TrainingSettings(new OptimizerSettings(Beta1: 0.9, Beta2: 0.95, WeightDecay: options.WeightDecay), options.GradientCheckpointing,
            Lora: options.Lora.ToSettings(options.Seed));
        if (options.BaseModel is { } baseDir)
        {
            var info = backend.Describe(baseDir);
            if (info.VocabSize < Tokenizer.VocabSize)
                throw new InvalidDataException($"{baseDir}: vocab_size {info.VocabSize} is smaller than the char tokenizer's {Tokenizer.VocabSize} ids");
        }
        Model = options.BaseModel is { } start ? backend.LoadPolicy(start, settings) : backend.CreatePolicy(spec, (ulong)options.Seed, settings);
    }

    public ITask Task { get; }

    public CharTokenizer Tokenizer { get; }

    /// <summary>The model being trained.</summary>
    public ITrainableModel Model { get; }

    /// <summary>Prompt ids (BOS + prompt) and response ids (solution + EOS) of a problem.</summary>
    public (int[] Prompt, int[] Response) Encode(Problem problem)
    {
        var solution = problem.Solution ?? throw new ArgumentException($"sft: problem {problem.Id} of task '{Task.Name}' has no worked solution");
        return (Tokenizer.Encode(problem.Prompt, addSpecialTokens: true), [.. Tokenizer.Encode(solution), Tokenizer.EosId]);
    }

    /// <summary>The training batch of a step: train-split problems step*B .. step*B+B-1.</summary>
    public SftBatch BatchAt(int step)
    {
        var rows = new List<(int[], int[])>(_options.BatchSize);
        for (int i = 0; i < _options.BatchSize; i++)
            rows.Add(Encode(Task.Get(Split.Train, (long)step * _options.BatchSize + i)));
        return SftBatch.Pack(_backend, rows, Tokenizer.PadId);
    }

    /// <summary>Mean cross-entropy over the batch's response tokens, without gradients.</summary>
    public double Loss(SftBatch batch) => SftLoss.Compute(Model.Score(batch.Rows, temperature: 1f), batch.TargetCount).Loss;

    /// <summary>One forward and backward: accumulates the gradient of the mean cross-entropy; returns the loss.</summary>
    private double Accumulate(SftBatch batch)
    {
        using var pass = Model.Forward(batch.Rows, temperature: 1f);
        var (loss, grad) = SftLoss.Compute(pass.Outputs, batch.TargetCount);
        pass.Backward(grad);
        return loss;
    }

    /// <summary>Runs all steps, writing into <paramref name="outDir"/>; returns the mean loss of the last 10% of steps.</summary>
    public double Train(string outDir, Action<SftStepInfo>? onStep = null, CancellationToken cancel = default)
    {
        Directory.CreateDirectory(outDir);
        string metricsPath = Path.Combine(outDir, MetricsLog.FileName);
        if (File.Exists(metricsPath)) File.Delete(metricsPath);
        AtomicFile.WriteAllText(Path.Combine(outDir, OptionsFileName), JsonSerializer.Serialize(_options, new JsonSerializerOptions { WriteIndented = true }));

        var schedule = new LrSchedule("cosine", _options.LearningRate, _options.WarmupSteps, _options.Steps, _options.MinLrRatio);
        var clock = Stopwatch.StartNew();
        var tailLosses = new List<double>();
        long tokens = 0;
        for (int step = 0; step < _options.Steps; step++)
        {
            cancel.ThrowIfCancellationRequested();
            var stepClock = Stopwatch.StartNew();
            var batch = BatchAt(step);
            Model.ZeroGrad();
            double lossValue = Accumulate(batch);
            double gradNorm = Model.ClipGradNorm(_options.GradClip);
            double learningRate = schedule.LearningRate(step);
            bool applied = Model.Step(learningRate);
            tokens += batch.TargetCount;
            double tokensPerSecond = batch.TargetCount / Math.Max(1e-9, stepClock.Elapsed.TotalSeconds);
            if (step >= _options.Steps - Math.Max(1, _options.Steps / 10)) tailLosses.Add(lossValue);

            MetricsLog.Append(outDir, new Dictionary<string, double>
            {
                ["step"] = step + 1,
                ["loss"] = lossValue,
                ["lr"] = learningRate,
                ["grad_norm"] = gradNorm,
                ["skipped"] = applied ? 0 : 1,
                ["response_tokens"] = batch.TargetCount,
                ["perf/tokens_per_s"] = tokensPerSecond,
                ["time/elapsed_s"] = clock.Elapsed.TotalSeconds,
            });
            onStep?.Invoke(new SftStepInfo(step + 1, _options.Steps, lossValue, learningRate, gradNorm, tokens,
                tokens / Math.Max(1e-9, clock.Elapsed.TotalSeconds), clock.Elapsed));

            bool last = step + 1 == _options.Steps;
            if ((step + 1) % _options.CheckpointEvery == 0 && !last)
                Checkpointer.Save(outDir, step + 1, SaveModelDir, _options.KeepCheckpoints);
        }
        SaveModelDir(outDir);
        return tailLosses.Average();
    }

    /// <summary>Writes the model, its generation config and the tokenizer: a folder `pacs eval` can load alone.</summary>
    public void SaveModelDir(string dir)
    {
        Model.SaveHuggingFace(dir);
        Tokenizer.Save(dir);
    }
}
