using System.CommandLine;
using Pacs.Engine;

namespace Pacs.Cli.Commands;

/// <summary>`--dtype`: the precision the large weights of a loaded model are held in (see <see cref="WeightDtype"/>).</summary>
internal static class DtypeOption
{
    public static Option<string> Create() => new("--dtype")
    {
        Description = "Precision of the large weights: auto (the checkpoint's: bfloat16 for a BF16 checkpoint), bfloat16 (half the memory of float32) or float32",
        DefaultValueFactory = _ => "auto",
    };

    public static WeightDtype Parse(string text) => text switch
    {
        "auto" => WeightDtype.Auto,
        "bfloat16" or "bf16" => WeightDtype.Bfloat16,
        "float32" or "f32" => WeightDtype.Float32,
        _ => throw new ArgumentException($"--dtype must be auto, bfloat16 or float32, got '{text}'"),
    };
}
