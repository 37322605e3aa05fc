namespace Pacs.Rl.Algorithms;

/// <summary>
/// Every algorithm by name, with its options type. Trainers bind the YAML `algorithm:` section into
/// <see cref="OptionsType"/> (YamlDotNet, UnderscoredNamingConvention: `clip_eps_low` → ClipEpsLow) or start from
/// <see cref="DefaultOptions"/>, then call <see cref="Create"/>.
/// </summary>
public static class AlgorithmRegistry
{
    private static readonly Dictionary<string, (Type Options, Func<object, IRlAlgorithm> Create)> s_algorithms = new()
    {
        ["pacs"] = (typeof(PacsOptions), o => new PacsAlgorithm((PacsOptions)o)),
        ["grpo"] = (typeof(GrpoOptions), o => new GrpoAlgorithm((GrpoOptions)o)),
        ["dr_grpo"] = (typeof(DrGrpoOptions), o => new DrGrpoAlgorithm((DrGrpoOptions)o)),
        ["rloo"] = (typeof(RlooOptions), o => new RlooAlgorithm((RlooOptions)o)),
        ["reinforce_plus_plus"] = (typeof(ReinforcePlusPlusOptions), o => new ReinforcePlusPlusAlgorithm((ReinforcePlusPlusOptions)o)),
        ["ppo"] = (typeof(PpoOptions), o => new PpoAlgorithm((PpoOptions)o)),
        ["gspo"] = (typeof(GspoOptions), o => new GspoAlgorithm((GspoOptions)o)),
        ["cispo"] = (typeof(CispoOptions), o => new CispoAlgorithm((CispoOptions)o)),
        ["dapo"] = (typeof(DapoOptions), o => new DapoAlgorithm((DapoOptions)o)),
        ["rebel"] = (typeof(RebelOptions), o => new RebelAlgorithm((RebelOptions)o)),
        ["asymre"] = (typeof(AsymReOptions), o => new AsymReAlgorithm((AsymReOptions)o)),
        ["astar_po"] = (typeof(AStarPoOptions), o => new AStarPoAlgorithm((AStarPoOptions)o)),
        ["vineppo"] = (typeof(VinePpoOptions), o => new VinePpoAlgorithm((VinePpoOptions)o)),
    };

    public static IReadOnlyList<string> Names { get; } = [.. s_algorithms.Keys];

    /// <summary>The options class of an algorithm (a plain class with public settable properties).</summary>
    public static Type OptionsType(string name) => Lookup(name).Options;

    /// <summary>A fresh options object holding the algorithm's defaults.</summary>
    public static object DefaultOptions(string name) => Activator.CreateInstance(OptionsType(name))!;

    /// <summary>Creates the algorithm; <paramref name="options"/> must be of <see cref="OptionsType"/> (null = defaults).</summary>
    public static IRlAlgorithm Create(string name, object? options = null)
    {
        var (type, create) = Lookup(name);
        options ??= Activator.CreateInstance(type)!;
        if (options.GetType() != type)
            throw new ArgumentException($"algorithm {name}: options must be {type.Name}, got {options.GetType().Name}");
        return create(options);
    }

    private static (Type Options, Func<object, IRlAlgorithm> Create) Lookup(string name) =>
        s_algorithms.TryGetValue(name, out var entry)
            ? entry
            : throw new ArgumentException($"algorithm '{name}' is not one of {string.Join(", ", s_algorithms.Keys)}");
}
