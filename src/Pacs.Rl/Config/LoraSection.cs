using Pacs.Engine;

namespace Pacs.Rl.Config;

/// <summary>
/// `model.lora`: y = x W^T + (alpha / rank) * dropout(x) A^T B^T on each target module, A and B the only trainable
/// weights (PEFT's initialisation: B = 0). Checkpoints then hold the adapter as a PEFT folder.
/// </summary>
public sealed class LoraSection
{
    /// <summary>The default target modules: every attention and MLP projection.</summary>
    public const string AllProjections = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj";

    private static readonly string[] Known = AllProjections.Split(',');

    [Knob("Adapter rank r (0: no LoRA, every weight trains).")]
    public int Rank { get; set; } = 0;

    [Knob("lora_alpha: the low-rank term is scaled by alpha / rank.")]
    public double Alpha { get; set; } = 16;

    [Knob("Dropout on the adapter's input while training (not when scoring or sampling).")]
    public double Dropout { get; set; } = 0;

    [Knob("Projections that get an adapter, a YAML list or comma-separated: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj.")]
    public string[] TargetModules { get; set; } = AllProjections.Split(',');

    public bool Enabled => Rank > 0;

    /// <summary>The target module names; an unknown one is an error naming the key.</summary>
    public IReadOnlyList<string> Targets()
    {
        var names = TargetModules.SelectMany(item => item.Split([',', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries)).ToArray();
        foreach (var name in names)
            if (!Known.Contains(name))
                throw new ArgumentException($"model.lora.target_modules: unknown target module '{name}' (known: {string.Join(", ", Known)})");
        if (names.Length == 0) throw new ArgumentException("model.lora.target_modules: no target modules given");
        return names.Distinct().ToList();
    }

    /// <summary>Throws naming the bad key; checked only when LoRA is on.</summary>
    public void Validate()
    {
        if (Rank < 0) throw new ArgumentException($"model.lora.rank must be >= 0 (0 disables LoRA), got {Rank}");
        if (!Enabled) return;
        if (!(Alpha > 0)) throw new ArgumentException($"model.lora.alpha must be > 0, got {Alpha}");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"model.lora.dropout must be in [0, 1), got {Dropout}");
        Targets();
    }

    /// <summary>The engine's settings (null when LoRA is off); A's initialisation and the dropout masks come from <paramref name="seed"/>.</summary>
    public LoraSettings? ToSettings(long seed) => Enabled ? new LoraSettings(Rank, Alpha, Dropout, Targets(), Rng.Hash(seed, 0x10CA)) : null;
}
