namespace Pacs.Tensors.Optim;

/// <summary>Parameters that share optimiser hyper-parameters (weight decay, learning-rate scale).</summary>
public sealed class ParameterGroup(string name, IReadOnlyList<Tensor> parameters, double weightDecay, double learningRateScale = 1.0)
{
    public string Name { get; } = name;

    public IReadOnlyList<Tensor> Parameters { get; } = parameters;

    /// <summary>Decoupled weight decay λ of this group (p ← p (1 − lr λ)).</summary>
    public double WeightDecay { get; } = weightDecay;

    /// <summary>Multiplies the optimiser's learning rate for this group.</summary>
    public double LearningRateScale { get; } = learningRateScale;

    /// <summary>
    /// The usual split (nanoGPT, HF Trainer): weight matrices and embeddings decay; biases, norm gains and every
    /// tensor of rank ≤ 1 do not. <paramref name="noDecay"/> overrides the default rule
    /// (<see cref="IsNoDecayByDefault"/>). Returns the "decay" group then the "no_decay" group (empty ones omitted).
    /// </summary>
    public static IReadOnlyList<ParameterGroup> DecayAndNoDecay(IEnumerable<Tensor> parameters, double weightDecay, Func<Tensor, bool>? noDecay = null)
    {
        noDecay ??= IsNoDecayByDefault;
        var decay = new List<Tensor>();
        var skip = new List<Tensor>();
        foreach (var p in parameters) (noDecay(p) ? skip : decay).Add(p);
        var groups = new List<ParameterGroup>();
        if (decay.Count > 0) groups.Add(new ParameterGroup("decay", decay, weightDecay));
        if (skip.Count > 0) groups.Add(new ParameterGroup("no_decay", skip, 0));
        return groups;
    }

    /// <summary>Rank ≤ 1, or a name containing "norm" / "bias" (case-insensitive), or ending in "ln_f"/"_ln".</summary>
    public static bool IsNoDecayByDefault(Tensor parameter)
    {
        if (parameter.Rank <= 1) return true;
        var name = parameter.Name?.ToLowerInvariant() ?? "";
        return name.Contains("norm") || name.Contains("bias") || name.EndsWith("ln_f") || name.EndsWith("_ln");
    }
}
