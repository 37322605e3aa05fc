using Pacs.Cli.Bench;
using Pacs.Models;

namespace Pacs.Cli.Init;

/// <summary>
/// The shapes `pacs init` lays out: the published config.json of real instruct models (random weights), and a tiny
/// one per architecture for tests. Qwen3 has no 0.5B/1.5B, so those presets are its nearest sizes, 0.6B and 1.7B;
/// Llama 3's smallest is 1B.
/// </summary>
public static class ModelPresets
{
    public static IReadOnlyList<string> Architectures { get; } = ["qwen2", "qwen3", "llama"];

    public static IReadOnlyList<string> Names { get; } = ["tiny", "0.5b", "1.5b", "1b"];

    /// <summary>The shape of <paramref name="arch"/> at <paramref name="preset"/>, with the real model's vocabulary size.</summary>
    public static ModelConfig Shape(string arch, string preset) => (arch, preset) switch
    {
        (_, "tiny") when Architectures.Contains(arch) => Tiny(arch),
        ("qwen2", "0.5b") => BenchShapes.Qwen25HalfB() with { MaxPositionEmbeddings = 32768 },
        ("qwen2", "1.5b") => BenchShapes.Qwen25OneAndHalfB() with { MaxPositionEmbeddings = 32768 },
        ("qwen3", "0.5b") => Qwen(arch, hidden: 1024, layers: 28, heads: 16, kvHeads: 8, headDim: 128, mlp: 3072, positions: 40960),
        ("qwen3", "1.5b") => Qwen(arch, hidden: 2048, layers: 28, heads: 16, kvHeads: 8, headDim: 128, mlp: 6144, positions: 40960),
        ("llama", "1b") => new ModelConfig
        {
            ModelType = "llama",
            VocabSize = 128256,
            HiddenSize = 2048,
            NumHiddenLayers = 16,
            NumAttentionHeads = 32,
            NumKeyValueHeads = 8,
            HeadDim = 64,
            IntermediateSize = 8192,
            RopeTheta = 500000,
            RmsNormEps = 1e-5,
            TieWordEmbeddings = true,
            MaxPositionEmbeddings = 131072,
        },
        _ when !Architectures.Contains(arch) => throw new ArgumentException($"--arch: unknown architecture '{arch}' (expected {string.Join(", ", Architectures)})"),
        _ => throw new ArgumentException($"--preset: {arch} has no preset '{preset}' (qwen2 and qwen3: tiny, 0.5b, 1.5b; llama: tiny, 1b)"),
    };

    /// <summary>The ids a chat model of <paramref name="arch"/> stops at (its generation_config.json's eos_token_id).</summary>
    public static IReadOnlyList<string> EndTokens(string arch) => arch == "llama"
        ? ["<|eot_id|>", "<|end_of_text|>", "<|eom_id|>"]
        : ["<|im_end|>", "<|endoftext|>"];

    /// <summary>hidden 64, 2 layers, 4 heads (2 KV) of 16, MLP 128: a real architecture and vocabulary at test size.</summary>
    private static ModelConfig Tiny(string arch) => new()
    {
        ModelType = arch,
        VocabSize = arch == "llama" ? 128256 : 151936,
        HiddenSize = 64,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        HeadDim = 16,
        IntermediateSize = 128,
        RopeTheta = arch == "llama" ? 500000 : 1000000,
        RmsNormEps = arch == "llama" ? 1e-5 : 1e-6,
        TieWordEmbeddings = true,
        QkvBias = arch == "qwen2",
        QkNorm = arch == "qwen3",
        MaxPositionEmbeddings = 2048,
    };

    private static ModelConfig Qwen(string arch, int hidden, int layers, int heads, int kvHeads, int headDim, int mlp, int positions) => new()
    {
        ModelType = arch,
        VocabSize = 151936,
        HiddenSize = hidden,
        NumHiddenLayers = layers,
        NumAttentionHeads = heads,
        NumKeyValueHeads = kvHeads,
        HeadDim = headDim,
        IntermediateSize = mlp,
        RopeTheta = 1000000,
        RmsNormEps = 1e-6,
        TieWordEmbeddings = true,
        QkvBias = arch == "qwen2",
        QkNorm = arch == "qwen3",
        MaxPositionEmbeddings = positions,
    };
}
