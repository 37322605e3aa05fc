using System.Numerics;

namespace Pacs.Tensors.Optim;

/// <summary>Hyper-parameters of <see cref="AdamW"/>; defaults are torch.optim.AdamW's.</summary>
public sealed class AdamWOptions
{
    /// <summary>Base learning rate; a schedule overwrites <see cref="AdamW.LearningRate"/> every step.</summary>
    public double LearningRate { get; set; } = 1e-3;

    public double Beta1 { get; set; } = 0.9;

    public double Beta2 { get; set; } = 0.999;

    public double Epsilon { get; set; } = 1e-8;

    /// <summary>Decoupled weight decay for constructors that take a flat parameter list.</summary>
    public double WeightDecay { get; set; } = 0.01;

    /// <summary>When true (default), a step whose gradients hold NaN/∞ changes nothing and is reported as skipped.</summary>
    public bool SkipNonFinite { get; set; } = true;
}

/// <summary>What one <see cref="AdamW.Step"/> did.</summary>
public readonly record struct OptimizerStepResult(bool Skipped, double LearningRate, string? Reason);

/// <summary>
/// AdamW (Loshchilov &amp; Hutter 2019) exactly as torch.optim.AdamW (single-tensor path, amsgrad off, float32):
/// p ← p (1 − lr λ); m ← β1 m + (1 − β1) g; v ← β2 v + (1 − β2) g²;
/// p ← p − (lr / (1 − β1^t)) m / (sqrt(v) / sqrt(1 − β2^t) + ε).
/// Parameters whose <see cref="Tensor.Grad"/> is null are left alone (their step count does not advance), as in torch.
/// </summary>
public sealed class AdamW
{
    private readonly AdamWOptions _options;
    private readonly List<ParameterGroup> _groups;
    private readonly Dictionary<Tensor, ParameterState> _state = new(ReferenceEqualityComparer.Instance);
    private readonly List<(Tensor Parameter, string Name, ParameterGroup Group)> _parameters = [];

    public AdamW(IEnumerable<Tensor> parameters, AdamWOptions options)
        : this([new ParameterGroup("default", parameters.ToList(), options.WeightDecay)], options)
    {
    }

    public AdamW(IEnumerable<ParameterGroup> groups, AdamWOptions options)
    {
        if (!(options.LearningRate >= 0)) throw new ArgumentException($"adamw: learning_rate must be >= 0, got {options.LearningRate}");
        if (!(options.Beta1 >= 0 && options.Beta1 < 1)) throw new ArgumentException($"adamw: beta1 must be in [0, 1), got {options.Beta1}");
        if (!(options.Beta2 >= 0 && options.Beta2 < 1)) throw new ArgumentException($"adamw: beta2 must be in [0, 1), got {options.Beta2}");
        if (!(options.Epsilon >= 0)) throw new ArgumentException($"adamw: epsilon must be >= 0, got {options.Epsilon}");
        _options = options;
        _groups = groups.ToList();
        LearningRate = options.LearningRate;
        var names = new HashSet<string>();
        foreach (var group in _groups)
        {
            if (!(group.WeightDecay >= 0)) throw new ArgumentException($"adamw: group {group.Name} weight_decay must be >= 0, got {group.WeightDecay}");
            foreach (var p in group.Parameters)
            {
                if (_state.ContainsKey(p)) throw new ArgumentException($"adamw: parameter {p.Name ?? "<unnamed>"} appears twice");
                var name = p.Name ?? $"param{_parameters.Count}";
                if (!names.Add(name)) throw new ArgumentException($"adamw: two parameters are named {name}; names key the optimiser state");
                _state[p] = new ParameterState(p.Numel);
                _parameters.Add((p, name, group));
            }
        }
    }

    /// <summary>Learning rate of the next step (before each group's scale); set it from a schedule.</summary>
    public double LearningRate { get; set; }

    /// <summary>Steps taken (skipped steps excluded).</summary>
    public long StepCount { get; private set; }

    /// <summary>Steps skipped because a gradient held NaN/∞.</summary>
    public long SkippedSteps { get; private set; }

    public IReadOnlyList<ParameterGroup> Groups => _groups;

    /// <summary>Bytes held by the moments (exp_avg and exp_avg_sq, float32, for every parameter).</summary>
    public long StateBytes => _state.Values.Sum(s => 4L * (s.ExpAvg.Length + s.ExpAvgSq.Length));

    public IEnumerable<Tensor> Parameters => _parameters.Select(entry => entry.Parameter);

    public void ZeroGrad()
    {
        foreach (var (p, _, _) in _parameters) p.ZeroGrad();
    }

    /// <summary>Applies one update from the accumulated gradients (it does not zero them).</summary>
    public OptimizerStepResult Step()
    {
        if (_options.SkipNonFinite && !GradientTools.AllFinite(Parameters))
        {
            SkippedSteps++;
            var bad = GradientTools.NonFiniteGradients(Parameters.ToList());
            return new OptimizerStepResult(true, LearningRate, $"non-finite gradient in {string.Join(", ", bad.Take(5))}{(bad.Count > 5 ? ", ..." : "")}");
        }
        foreach (var (p, _, group) in _parameters)
        {
            if (p.Grad is null) continue;
            var state = _state[p];
            state.Step++;
            Update(p.Data, p.Grad, state, LearningRate * group.LearningRateScale, group.WeightDecay);
        }
        StepCount++;
        return new OptimizerStepResult(false, LearningRate, null);
    }

    private void Update(float[] param, float[] grad, ParameterState state, double lr, double weightDecay)
    {
        double beta1 = _options.Beta1, beta2 = _options.Beta2;
        float decay = (float)(1 - lr * weightDecay);
        float b1 = (float)beta1, oneMinusB1 = (float)(1 - beta1);
        float b2 = (float)beta2, oneMinusB2 = (float)(1 - beta2);
        float stepSize = (float)(lr / (1 - Math.Pow(beta1, state.Step)));
        float invBiasCorrection2Sqrt = (float)(1 / Math.Sqrt(1 - Math.Pow(beta2, state.Step)));
        float eps = (float)_options.Epsilon;
        var m = state.ExpAvg;
        var v = state.ExpAvgSq;
        int i = 0;
        int width = Vector<float>.Count;
        if (Vector.IsHardwareAccelerated)
        {
            for (; i <= param.Length - width; i += width)
            {
                var g = new Vector<float>(grad, i);
                var p = new Vector<float>(param, i) * decay;
                var mi = new Vector<float>(m, i) * b1 + g * oneMinusB1;
                var vi = new Vector<float>(v, i) * b2 + g * g * oneMinusB2;
                var denom = Vector.SquareRoot(vi) * invBiasCorrection2Sqrt + new Vector<float>(eps);
                p -= stepSize * mi / denom;
                mi.CopyTo(m, i);
                vi.CopyTo(v, i);
                p.CopyTo(param, i);
            }
        }
        for (; i < param.Length; i++)
        {
            float g = grad[i];
            float p = param[i] * decay;
            float mi = m[i] * b1 + g * oneMinusB1;
            float vi = v[i] * b2 + g * g * oneMinusB2;
            float denom = MathF.Sqrt(vi) * invBiasCorrection2Sqrt + eps;
            param[i] = p - stepSize * mi / denom;
            m[i] = mi;
            v[i] = vi;
        }
    }

    /// <summary>
    /// The optimiser state as named float arrays, for checkpoints: "{name}.exp_avg", "{name}.exp_avg_sq" (each the
    /// parameter's length) and "{name}.step" (one element), plus "optimizer.step_count" and "optimizer.skipped_steps".
    /// Counts are stored as floats, exact up to 2^24 steps. <paramref name="copy"/> false hands out the live moment
    /// arrays instead of copies (a checkpoint writer that is done before the next step): copying them doubles the
    /// optimizer's memory for the length of the save.
    /// </summary>
    public IReadOnlyDictionary<string, float[]> ExportState(bool copy = true)
    {
        var state = new Dictionary<string, float[]>
        {
            ["optimizer.step_count"] = [StepCount],
            ["optimizer.skipped_steps"] = [SkippedSteps],
        };
        foreach (var (p, name, _) in _parameters)
        {
            var s = _state[p];
            state[$"{name}.exp_avg"] = copy ? (float[])s.ExpAvg.Clone() : s.ExpAvg;
            state[$"{name}.exp_avg_sq"] = copy ? (float[])s.ExpAvgSq.Clone() : s.ExpAvgSq;
            state[$"{name}.step"] = [s.Step];
        }
        return state;
    }

    /// <summary>Restores <see cref="ExportState"/>'s arrays; every parameter's entries must be present with matching lengths.</summary>
    public void ImportState(IReadOnlyDictionary<string, float[]> state)
    {
        StepCount = (long)Scalar(state, "optimizer.step_count");
        SkippedSteps = (long)Scalar(state, "optimizer.skipped_steps");
        foreach (var (p, name, _) in _parameters)
        {
            var s = _state[p];
            Copy(state, $"{name}.exp_avg", s.ExpAvg);
            Copy(state, $"{name}.exp_avg_sq", s.ExpAvgSq);
            s.Step = (long)Scalar(state, $"{name}.step");
        }
    }

    private static float Scalar(IReadOnlyDictionary<string, float[]> state, string key)
    {
        if (!state.TryGetValue(key, out var value)) throw new InvalidDataException($"optimizer state: missing {key}");
        if (value.Length != 1) throw new InvalidDataException($"optimizer state: {key} has {value.Length} elements, expected 1");
        return value[0];
    }

    private static void Copy(IReadOnlyDictionary<string, float[]> state, string key, float[] destination)
    {
        if (!state.TryGetValue(key, out var value)) throw new InvalidDataException($"optimizer state: missing {key}");
        if (value.Length != destination.Length)
            throw new InvalidDataException($"optimizer state: {key} has {value.Length} elements, parameter has {destination.Length}");
        Array.Copy(value, destination, value.Length);
    }

    private sealed class ParameterState(int length)
    {
        public float[] ExpAvg { get; } = new float[length];

        public float[] ExpAvgSq { get; } = new float[length];

        public long Step { get; set; }
    }
}
