using Pacs.Models;

namespace Pacs.Cli.Bench;

/// <summary>The model shapes `pacs bench` measures (random weights; the same shapes as tools/bench_torch.py).</summary>
public static class BenchShapes
{
    public const string Tiny = "bench-tiny";
    public const string Qwen05B = "qwen2.5-0.5b";

    public const string Qwen15B = "qwen2.5-1.5b";

    public static IReadOnlyList<string> Names { get; } = [Tiny, Qwen05B, Qwen15B];

    /// <summary>vocab 64, hidden 256, 4 layers, 8 heads (4 KV), SwiGLU 704, tied embeddings, no biases.</summary>
    public static ModelConfig BenchTiny() => new()
    {
        ModelType = "llama",
        VocabSize = 64,
        HiddenSize = 256,
        NumHiddenLayers = 4,
        NumAttentionHeads = 8,
        NumKeyValueHeads = 4,
        HeadDim = 32,
        IntermediateSize = 704,
        RopeTheta = 10000,
        RmsNormEps = 1e-6,
        TieWordEmbeddings = true,
        MaxPositionEmbeddings = 256,
    };

    /// <summary>Qwen2.5-0.5B's shape: hidden 896, 24 layers, 14 heads (2 KV), MLP 4864, vocab 151936, q/k/v bias, tied.</summary>
    public static ModelConfig Qwen25HalfB() => new()
    {
        ModelType = "qwen2",
        VocabSize = 151936,
        HiddenSize = 896,
        NumHiddenLayers = 24,
        NumAttentionHeads = 14,
        NumKeyValueHeads = 2,
        HeadDim = 64,
        IntermediateSize = 4864,
        RopeTheta = 1000000,
        RmsNormEps = 1e-6,
        TieWordEmbeddings = true,
        QkvBias = true,
        MaxPositionEmbeddings = 4096,
    };

    /// <summary>Qwen2.5-1.5B's shape: hidden 1536, 28 layers, 12 heads (2 KV), MLP 8960, vocab 151936, q/k/v bias, tied.</summary>
    public static ModelConfig Qwen25OneAndAHalfB() => Qwen25HalfB() with
    {
        HiddenSize = 1536,
        NumHiddenLayers = 28,
        NumAttentionHeads = 12,
        HeadDim = 128,
        IntermediateSize = 8960,
    };

    public static ModelConfig ByName(string name) => name switch
    {
        Tiny => BenchTiny(),
        Qwen05B => Qwen25HalfB(),
        Qwen15B => Qwen25OneAndAHalfB(),
        _ => throw new ArgumentException($"--model-shape: unknown shape '{name}' (expected {string.Join(" or ", Names)})"),
    };
}
