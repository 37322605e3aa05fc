using System.Diagnostics;
using Pacs.Models;
using Pacs.Tensors;
using Pacs.Tensors.Kernels;
using Pacs.Tensors.Optim;

namespace Pacs.Cli.Bench;

/// <summary>Median milliseconds of one op's forward and backward at the shape one training step uses, times its uses per step.</summary>
public sealed record OpTiming(string Op, string Shape, int PerStep, double ForwardMs, double BackwardMs)
{
    public double StepMs => PerStep * (ForwardMs + BackwardMs);
}

/// <summary>One training step split into phases, with the share spent inside SGEMM.</summary>
public sealed record StepPhases(double ForwardMs, double LossMs, double BackwardMs, double OptimizerMs, double SgemmMs,
    long SgemmCalls, double SgemmGflops, double TotalMs);

public sealed record ProfileFigures(StepPhases Step, IReadOnlyList<OpTiming> Ops);

/// <summary>
/// Where a bench-tiny training step spends its time: the step's phases (forward, loss, backward, AdamW) with the SGEMM
/// time counted by <see cref="Gemm.Profiling"/>, and each op timed alone at the shapes the step uses.
/// </summary>
public static class BenchProfile
{
    public static ProfileFigures Run(ModelConfig c, int batch, int seqLen, int repeats)
    {
        return new ProfileFigures(Phases(c, batch, seqLen, repeats), OpTimings(c, batch, seqLen, repeats));
    }

    private static StepPhases Phases(ModelConfig c, int batch, int seqLen, int repeats)
    {
        var model = new Transformer(c, seed: 1);
        var optimizer = new AdamW(model.Parameters.Select(p => p.Value), new AdamWOptions { LearningRate = 1e-3 });
        var rng = new Random(5);
        int n = batch * seqLen;
        var tokens = Enumerable.Range(0, n).Select(_ => rng.Next(c.VocabSize)).ToArray();
        var targets = Enumerable.Range(0, n).Select(_ => rng.Next(c.VocabSize)).ToArray();
        var forward = new List<double>();
        var loss = new List<double>();
        var backward = new List<double>();
        var step = new List<double>();
        var sgemm = new List<double>();
        var total = new List<double>();
        long calls = 0, fmas = 0;
        for (int r = 0; r <= repeats; r++)
        {
            Gemm.ResetCounters();
            Gemm.Profiling = true;
            var watch = Stopwatch.StartNew();
            var logits = model.Forward(tokens, batch, seqLen);   // [B*T, V]
            double t1 = watch.Elapsed.TotalMilliseconds;
            var l = Ops.CrossEntropy(logits, targets);           // scalar
            double t2 = watch.Elapsed.TotalMilliseconds;
            l.Backward();
            double t3 = watch.Elapsed.TotalMilliseconds;
            optimizer.Step();
            optimizer.ZeroGrad();
            double t4 = watch.Elapsed.TotalMilliseconds;
            Gemm.Profiling = false;
            if (r == 0) continue; // warm-up
            forward.Add(t1);
            loss.Add(t2 - t1);
            backward.Add(t3 - t2);
            step.Add(t4 - t3);
            total.Add(t4);
            var counters = Gemm.Counters;
            sgemm.Add(counters.Seconds * 1000);
            (calls, fmas) = (counters.Calls, counters.MultiplyAdds);
        }
        double sgemmMs = Median(sgemm);
        return new StepPhases(Median(forward), Median(loss), Median(backward), Median(step), sgemmMs, calls,
            2.0 * fmas / (sgemmMs / 1000) / 1e9, Median(total));
    }

    private static List<OpTiming> OpTimings(ModelConfig c, int batch, int seqLen, int repeats)
    {
        int n = batch * seqLen, d = c.HiddenSize, hd = c.HeadDim, hq = c.NumAttentionHeads, hkv = c.NumKeyValueHeads;
        int inter = c.IntermediateSize, layers = c.NumHiddenLayers, vocab = c.VocabSize;
        var rng = new Random(9);
        Tensor Param(params int[] shape)
        {
            var data = new float[Shapes.Numel(shape)];
            for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 0.2 - 0.1);
            return Tensor.Parameter(data, shape);
        }
        var ids = Enumerable.Range(0, n).Select(_ => rng.Next(vocab)).ToArray();
        var positions = Enumerable.Range(0, n).Select(i => i % seqLen).ToArray();
        var rope = new RopeTable(hd, Math.Max(seqLen, c.MaxPositionEmbeddings), c.RopeTheta);
        var O = (Func<Tensor[]> inputs, Func<Tensor[], Tensor> op) => (inputs, op);
        var specs = new (string Op, string Shape, int PerStep, (Func<Tensor[]> Inputs, Func<Tensor[], Tensor> Run) Call)[]
        {
            ("Embedding", $"[{vocab},{d}] x {n} ids", 1, O(() => [Param(vocab, d)], t => Pacs.Tensors.Ops.Embedding(t[0], ids))),
            ("RmsNorm", $"[{n},{d}]", 2 * layers + 1, O(() => [Param(n, d), Param(d)], t => Pacs.Tensors.Ops.RmsNorm(t[0], t[1], 1e-6f))),
            ("Linear q/o", $"[{n},{d}] x [{hq * hd},{d}]^T", 2 * layers, O(() => [Param(n, d), Param(hq * hd, d)], t => Pacs.Tensors.Ops.Linear(t[0], t[1]))),
            ("Linear k/v", $"[{n},{d}] x [{hkv * hd},{d}]^T", 2 * layers, O(() => [Param(n, d), Param(hkv * hd, d)], t => Pacs.Tensors.Ops.Linear(t[0], t[1]))),
            ("Linear gate/up", $"[{n},{d}] x [{inter},{d}]^T", 2 * layers, O(() => [Param(n, d), Param(inter, d)], t => Pacs.Tensors.Ops.Linear(t[0], t[1]))),
            ("Linear down", $"[{n},{inter}] x [{d},{inter}]^T", layers, O(() => [Param(n, inter), Param(d, inter)], t => Pacs.Tensors.Ops.Linear(t[0], t[1]))),
            ("Linear lm head", $"[{n},{d}] x [{vocab},{d}]^T", 1, O(() => [Param(n, d), Param(vocab, d)], t => Pacs.Tensors.Ops.Linear(t[0], t[1]))),
            ("Rope q", $"[{batch},{seqLen},{hq},{hd}]", layers, O(() => [Param(batch, seqLen, hq, hd)], t => Pacs.Tensors.Ops.Rope(t[0], positions, rope))),
            ("Rope k", $"[{batch},{seqLen},{hkv},{hd}]", layers, O(() => [Param(batch, seqLen, hkv, hd)], t => Pacs.Tensors.Ops.Rope(t[0], positions, rope))),
            ("Attention", $"q [{batch},{seqLen},{hq},{hd}], k/v {hkv} heads, causal", layers,
                O(() => [Param(batch, seqLen, hq, hd), Param(batch, seqLen, hkv, hd), Param(batch, seqLen, hkv, hd)], t => Pacs.Tensors.Ops.Attention(t[0], t[1], t[2]))),
            ("SwiGlu", $"[{n},{inter}]", layers, O(() => [Param(n, inter), Param(n, inter)], t => Pacs.Tensors.Ops.SwiGlu(t[0], t[1]))),
            ("Add (residual)", $"[{n},{d}]", 2 * layers, O(() => [Param(n, d), Param(n, d)], t => Pacs.Tensors.Ops.Add(t[0], t[1]))),
            ("CrossEntropy", $"[{n},{vocab}]", 1, O(() => [Param(n, vocab)], t => Pacs.Tensors.Ops.CrossEntropy(t[0], ids))),
        };
        return specs.Select(spec => Time(spec.Op, spec.Shape, spec.PerStep, repeats, spec.Call.Inputs, spec.Call.Run)).ToList();
    }

    /// <summary>Forward on fresh inputs (built outside the timed region), then backward from a ones gradient.</summary>
    private static OpTiming Time(string op, string shape, int perStep, int repeats, Func<Tensor[]> inputs, Func<Tensor[], Tensor> run)
    {
        var forward = new List<double>();
        var backward = new List<double>();
        for (int r = 0; r <= repeats; r++)
        {
            var x = inputs();
            var watch = Stopwatch.StartNew();
            var y = run(x);
            double fwdMs = watch.Elapsed.TotalMilliseconds;
            var upstream = new float[y.Numel];
            Array.Fill(upstream, 1f);
            watch.Restart();
            y.Backward(upstream);
            double bwdMs = watch.Elapsed.TotalMilliseconds;
            if (r == 0) continue; // warm-up
            forward.Add(fwdMs);
            backward.Add(bwdMs);
        }
        return new OpTiming(op, shape, perStep, Median(forward), Median(backward));
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length == 0 ? double.NaN : s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}
