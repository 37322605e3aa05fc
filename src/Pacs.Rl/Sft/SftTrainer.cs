using System.Diagnostics;
using System.Text.Json;
using Pacs.Models;
using Pacs.Rewards;
using Pacs.Rewards.Tasks;
using Pacs.Rl.Training;
using Pacs.Tensors;
using Pacs.Tensors.Optim;
using Pacs.Text;

namespace Pacs.Rl.Sft;

/// <summary>What one SFT step did (for progress displays).</summary>
public sealed record SftStepInfo(int Step, int TotalSteps, double Loss, double LearningRate, double GradNorm,
    long ResponseTokens, double TokensPerSecond, TimeSpan Elapsed);

/// <summary>Prompt+response rows packed for one teacher-forced pass; only response tokens are targets.</summary>
/// <param name="Tokens">[B*T] input ids, rows padded with the pad id.</param>
/// <param name="Targets">[B*T] next-token targets; -1 at prompt, last and padding positions.</param>
/// <param name="ValidLengths">[B] real length of each row.</param>
public sealed record SftBatch(int[] Tokens, int[] Targets, int[] ValidLengths, int Batch, int SeqLen, int TargetCount)
{
    public static SftBatch Pack(IReadOnlyList<(int[] Prompt, int[] Response)> rows, int padId)
    {
        if (rows.Count == 0) throw new ArgumentException("sft: empty batch");
        int seqLen = rows.Max(r => r.Prompt.Length + r.Response.Length);
        var tokens = new int[rows.Count * seqLen];
        var targets = new int[rows.Count * seqLen];
        var lengths = new int[rows.Count];
        Array.Fill(tokens, padId);
        Array.Fill(targets, -1);
        int count = 0;
        for (int b = 0; b < rows.Count; b++)
        {
            var (prompt, response) = rows[b];
            if (prompt.Length == 0) throw new ArgumentException($"sft: row {b} has an empty prompt (it needs at least BOS)");
            int length = prompt.Length + response.Length;
            lengths[b] = length;
            int row = b * seqLen;
            prompt.CopyTo(tokens, row);
            response.CopyTo(tokens, row + prompt.Length);
            // Position t predicts token t+1; the first response token is predicted from the last prompt position.
            for (int j = 0; j < response.Length; j++)
            {
                targets[row + prompt.Length - 1 + j] = response[j];
                count++;
            }
        }
        return new SftBatch(tokens, targets, lengths, rows.Count, seqLen, count);
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

    public SftTrainer(SftOptions options)
    {
        options.Validate();
        _options = options;
        Task = TaskRegistry.Create(options.Task, options.Seed, options.Level);
        Tokenizer = new CharTokenizer();
        var config = options.ModelConfig(Tokenizer.VocabSize, Tokenizer.BosId!.Value, Tokenizer.EosIds, Tokenizer.PadId);
        Model = new Transformer(config, seed: (ulong)options.Seed)
        {
            GradientCheckpointing = options.GradientCheckpointing,
            GenerationConfig = new GenerationConfig
            {
                DoSample = true,
                BosTokenId = Tokenizer.BosId,
                EosTokenIds = Tokenizer.EosIds,
                PadTokenId = Tokenizer.PadId,
                MaxNewTokens = 128,
            },
        };
    }

    public ITask Task { get; }

    public CharTokenizer Tokenizer { get; }

    public Transformer Model { get; }

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
        return SftBatch.Pack(rows, Tokenizer.PadId);
    }

    /// <summary>Mean cross-entropy over the batch's response tokens (a scalar in the autograd graph when enabled).</summary>
    public Tensor Loss(SftBatch batch)
    {
        var logits = Model.Forward(batch.Tokens, batch.Batch, batch.SeqLen, batch.ValidLengths); // [B*T, V]
        return Ops.CrossEntropy(logits, batch.Targets);                                           // scalar
    }

    /// <summary>Runs all steps, writing into <paramref name="outDir"/>; returns the mean loss of the last 10% of steps.</summary>
    public double Train(string outDir, Action<SftStepInfo>? onStep = null, CancellationToken cancel = default)
    {
        Directory.CreateDirectory(outDir);
        string metricsPath = Path.Combine(outDir, MetricsLog.FileName);
        if (File.Exists(metricsPath)) File.Delete(metricsPath);
        File.WriteAllText(Path.Combine(outDir, OptionsFileName), JsonSerializer.Serialize(_options, new JsonSerializerOptions { WriteIndented = true }));

        var parameters = Model.Parameters.Select(p => p.Value).ToList();
        var optimizer = new AdamW(ParameterGroup.DecayAndNoDecay(parameters, _options.WeightDecay),
            new AdamWOptions { LearningRate = _options.LearningRate, Beta1 = 0.9, Beta2 = 0.95 });
        var schedule = new LrSchedule("cosine", _options.LearningRate, _options.WarmupSteps, _options.Steps, _options.MinLrRatio);
        var clock = Stopwatch.StartNew();
        var tailLosses = new List<double>();
        long tokens = 0;
        for (int step = 0; step < _options.Steps; step++)
        {
            cancel.ThrowIfCancellationRequested();
            var stepClock = Stopwatch.StartNew();
            var batch = BatchAt(step);
            optimizer.ZeroGrad();
            double lossValue;
            // Activations and their gradients come from a pool and go back to it at the end of the step, so every
            // step reuses the previous step's buffers; the parameters' gradients are ordinary arrays.
            using (TensorScope.Begin())
            {
                var loss = Loss(batch);
                lossValue = loss.Item();
                loss.Backward();
            }
            double gradNorm = GradientTools.ClipGlobalNorm(parameters, _options.GradClip);
            optimizer.LearningRate = schedule.LearningRate(step);
            var result = optimizer.Step();
            tokens += batch.TargetCount;
            double tokensPerSecond = batch.TargetCount / Math.Max(1e-9, stepClock.Elapsed.TotalSeconds);
            if (step >= _options.Steps - Math.Max(1, _options.Steps / 10)) tailLosses.Add(lossValue);

            MetricsLog.Append(outDir, new Dictionary<string, double>
            {
                ["step"] = step + 1,
                ["loss"] = lossValue,
                ["lr"] = result.LearningRate,
                ["grad_norm"] = gradNorm,
                ["skipped"] = result.Skipped ? 1 : 0,
                ["response_tokens"] = batch.TargetCount,
                ["perf/tokens_per_s"] = tokensPerSecond,
                ["time/elapsed_s"] = clock.Elapsed.TotalSeconds,
            });
            onStep?.Invoke(new SftStepInfo(step + 1, _options.Steps, lossValue, result.LearningRate, gradNorm, tokens,
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
        Model.Save(dir);
        Tokenizer.Save(dir);
    }
}
