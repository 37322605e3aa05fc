using Pacs.Tensors;

namespace Pacs.Models;

/// <summary>The projections of a decoder layer a LoRA adapter can target (PEFT's `target_modules` names).</summary>
public enum LoraTarget { QProj, KProj, VProj, OProj, GateProj, UpProj, DownProj }

/// <summary>Names and shapes of <see cref="LoraTarget"/>s.</summary>
public static class LoraTargets
{
    /// <summary>Every target, in layer order; also the default of `model.lora.target_modules`.</summary>
    public static IReadOnlyList<LoraTarget> All { get; } = Enum.GetValues<LoraTarget>();

    /// <summary>The Hugging Face module name: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj.</summary>
    public static string Name(LoraTarget target) => target switch
    {
        LoraTarget.QProj => "q_proj",
        LoraTarget.KProj => "k_proj",
        LoraTarget.VProj => "v_proj",
        LoraTarget.OProj => "o_proj",
        LoraTarget.GateProj => "gate_proj",
        LoraTarget.UpProj => "up_proj",
        _ => "down_proj",
    };

    /// <summary>The module path under a layer: self_attn.q_proj ... mlp.down_proj.</summary>
    public static string ModulePath(LoraTarget target) =>
        (target <= LoraTarget.OProj ? "self_attn." : "mlp.") + Name(target);

    public static bool TryParse(string name, out LoraTarget target)
    {
        foreach (var t in All)
            if (Name(t) == name) { target = t; return true; }
        target = default;
        return false;
    }

    /// <summary>
    /// Targets from a list of module names separated by commas or spaces; an unknown name is an error naming
    /// <paramref name="key"/> and the known ones.
    /// </summary>
    public static IReadOnlyList<LoraTarget> Parse(IEnumerable<string> names, string key)
    {
        var targets = new List<LoraTarget>();
        foreach (var raw in names)
        {
            string name = raw.Trim();
            if (name.Length == 0) continue;
            if (!TryParse(name, out var t))
                throw new ArgumentException($"{key}: unknown target module '{name}' (known: {string.Join(", ", All.Select(Name))})");
            if (!targets.Contains(t)) targets.Add(t);
        }
        if (targets.Count == 0) throw new ArgumentException($"{key}: no target modules given");
        return targets.OrderBy(t => t).ToList();
    }

    /// <summary>Splits "q_proj, v_proj" or "q_proj v_proj".</summary>
    public static IReadOnlyList<LoraTarget> Parse(string names, string key) =>
        Parse(names.Split([',', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries), key);

    /// <summary>The base weight [out, in] of a target in a layer.</summary>
    public static Tensor Weight(TransformerLayer layer, LoraTarget target) => target switch
    {
        LoraTarget.QProj => layer.QProj,
        LoraTarget.KProj => layer.KProj,
        LoraTarget.VProj => layer.VProj,
        LoraTarget.OProj => layer.OProj,
        LoraTarget.GateProj => layer.GateProj,
        LoraTarget.UpProj => layer.UpProj,
        _ => layer.DownProj,
    };
}

/// <summary>
/// LoRA's hyper-parameters: y = x W^T + Scale * dropout(x) A^T B^T on each targeted projection, with A [rank, in]
/// and B [out, rank]; Scale is alpha / rank (alpha / sqrt(rank) with rsLoRA, as PEFT's `use_rslora`).
/// </summary>
public sealed record LoraConfig(int Rank, double Alpha, double Dropout, IReadOnlyList<LoraTarget> Targets, bool UseRsLora = false)
{
    public float Scale => (float)(UseRsLora ? Alpha / Math.Sqrt(Rank) : Alpha / Rank);

    /// <summary>Throws naming <paramref name="prefix"/>.rank / .alpha / .dropout when a value is out of range.</summary>
    public void Validate(string prefix = "lora")
    {
        if (Rank < 1) throw new ArgumentException($"{prefix}.rank must be >= 1, got {Rank}");
        if (!(Alpha > 0 && double.IsFinite(Alpha))) throw new ArgumentException($"{prefix}.alpha must be > 0, got {Alpha}");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"{prefix}.dropout must be in [0, 1), got {Dropout}");
        if (Targets.Count == 0) throw new ArgumentException($"{prefix}.target_modules: no target modules given");
    }
}

/// <summary>The two factors of one adapted projection: A [rank, in], B [out, rank].</summary>
public sealed record LoraPair(Tensor A, Tensor B);

/// <summary>
/// A LoRA adapter over a <see cref="Transformer"/>: per layer and targeted projection, trainable A (Kaiming-uniform,
/// as PEFT's `nn.init.kaiming_uniform_(a=sqrt(5))`: U(-1/sqrt(in), 1/sqrt(in))) and B (zeros), so a fresh adapter
/// changes nothing. Parameters are named as in PEFT's `adapter_model.safetensors`
/// (`base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight`). Attach it with
/// <see cref="Transformer.Adapter"/>; the base weights are not touched (and not copied).
/// </summary>
public sealed class LoraAdapter
{
    /// <summary>PEFT's prefix of every tensor name: the PeftModel's `base_model` (LoraModel) `.model` (the causal LM).</summary>
    public const string NamePrefix = "base_model.model.";

    private readonly LoraPair?[][] _pairs;
    private long _dropoutPasses;

    private LoraAdapter(LoraConfig config, LoraPair?[][] pairs, ulong dropoutSeed)
    {
        Config = config;
        _pairs = pairs;
        DropoutSeed = dropoutSeed;
        var parameters = new List<KeyValuePair<string, Tensor>>();
        for (int l = 0; l < pairs.Length; l++)
            foreach (var target in config.Targets)
                if (pairs[l][(int)target] is { } pair)
                {
                    parameters.Add(new(TensorName(l, target, "lora_A"), pair.A));
                    parameters.Add(new(TensorName(l, target, "lora_B"), pair.B));
                }
        Parameters = parameters;
    }

    public LoraConfig Config { get; }

    public int LayerCount => _pairs.Length;

    /// <summary>Every A and B, keyed by its PEFT tensor name, layer by layer.</summary>
    public IReadOnlyList<KeyValuePair<string, Tensor>> Parameters { get; }

    public long ParameterCount => Parameters.Sum(p => (long)p.Value.Numel);

    /// <summary>Seed of the dropout masks (each training forward draws new ones from it and a pass counter).</summary>
    public ulong DropoutSeed { get; }

    /// <summary>Training forwards that drew dropout masks so far (a checkpoint keeps it, so a resumed run draws the same masks).</summary>
    public long DropoutPasses
    {
        get => _dropoutPasses;
        set => _dropoutPasses = value;
    }

    /// <summary>The tensor name PEFT saves for factor "lora_A" / "lora_B" of a target in a layer.</summary>
    public static string TensorName(int layer, LoraTarget target, string factor) =>
        $"{NamePrefix}model.layers.{layer}.{LoraTargets.ModulePath(target)}.{factor}.weight";

    /// <summary>The factors of a target in a layer; null when the adapter does not target it.</summary>
    public LoraPair? Pair(int layer, LoraTarget target) => _pairs[layer][(int)target];

    /// <summary>A fresh adapter for <paramref name="model"/>: A Kaiming-uniform from <paramref name="seed"/>, B zero.</summary>
    public static LoraAdapter Create(Transformer model, LoraConfig config, ulong seed)
    {
        config.Validate();
        var rng = new SplitMix64(seed);
        return Build(model, config, seed, (layer, target, rows, cols) =>
        {
            var a = new float[rows * cols];
            double bound = 1.0 / Math.Sqrt(cols);
            for (int i = 0; i < a.Length; i++) a[i] = (float)((2 * rng.NextDouble() - 1) * bound);
            return a;
        }, (_, _, rows, cols) => new float[rows * cols]);
    }

    /// <summary>An adapter whose factors are filled by the given functions (layer, target, rows, cols) -> row-major data.</summary>
    public static LoraAdapter Build(Transformer model, LoraConfig config, ulong dropoutSeed,
        Func<int, LoraTarget, int, int, float[]> fillA, Func<int, LoraTarget, int, int, float[]> fillB)
    {
        config.Validate();
        var pairs = new LoraPair?[model.Layers.Count][];
        for (int l = 0; l < pairs.Length; l++)
        {
            pairs[l] = new LoraPair?[LoraTargets.All.Count];
            foreach (var target in config.Targets)
            {
                var w = LoraTargets.Weight(model.Layers[l], target);
                int outF = w.Shape[0], inF = w.Shape[1], r = config.Rank;
                var a = Tensor.Parameter(fillA(l, target, r, inF), [r, inF], TensorName(l, target, "lora_A"));
                var b = Tensor.Parameter(fillB(l, target, outF, r), [outF, r], TensorName(l, target, "lora_B"));
                pairs[l][(int)target] = new LoraPair(a, b);
            }
        }
        return new LoraAdapter(config, pairs, dropoutSeed);
    }

    /// <summary>
    /// What one forward pass adds: the dropout key of a training pass (autograd on and dropout &gt; 0), else none.
    /// Taken once per <see cref="Transformer.Forward(int[], int, int, int[], LoraAdapter)"/>, so activation
    /// checkpointing's recomputation uses the same masks.
    /// </summary>
    internal LoraPass BeginPass()
    {
        bool dropout = Config.Dropout > 0 && Autograd.IsEnabled;
        ulong? key = dropout ? Mix(DropoutSeed ^ Mix((ulong)Interlocked.Increment(ref _dropoutPasses))) : null;
        return new LoraPass(this, key);
    }

    /// <summary>W += Scale * B A for every adapted projection of <paramref name="model"/> (export --merge).</summary>
    public void MergeInto(Transformer model)
    {
        for (int l = 0; l < _pairs.Length; l++)
            foreach (var target in Config.Targets)
            {
                if (Pair(l, target) is not { } pair) continue;
                var w = LoraTargets.Weight(model.Layers[l], target);
                int outF = w.Shape[0], inF = w.Shape[1];
                Pacs.Tensors.Kernels.Gemm.Sgemm(false, false, outF, inF, Config.Rank, Config.Scale, pair.B.Data, Config.Rank,
                    pair.A.Data, inF, 1f, w.Data, inF);
            }
    }

    internal static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

/// <summary>One forward pass's view of an adapter: adds the low-rank term to a projection's output.</summary>
internal sealed class LoraPass(LoraAdapter adapter, ulong? dropoutKey)
{
    /// <summary>
    /// y + Scale * dropout(x) A^T B^T when the adapter targets this projection, else y itself. The sum is written into
    /// y's buffer: y is the base projection's fresh output, which nothing else reads.
    /// </summary>
    public Tensor Add(int layer, LoraTarget target, Tensor x, Tensor y)
    {
        if (adapter.Pair(layer, target) is not { } pair) return y;
        var input = dropoutKey is { } key
            ? Ops.Dropout(x, (float)adapter.Config.Dropout, LoraAdapter.Mix(key + (ulong)(layer * LoraTargets.All.Count + (int)target + 1)))
            : x;
        var t = Ops.Linear(input, pair.A);                              // [..., r]
        return Ops.AddLowRank(y, t, pair.B, adapter.Config.Scale, inPlace: true); // [..., out]
    }
}
