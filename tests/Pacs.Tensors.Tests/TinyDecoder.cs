using Pacs.Tensors.Kernels;

namespace Pacs.Tensors.Tests;

/// <summary>A Llama-style decoder built from the ops (tied embeddings), for determinism tests and op benchmarks.</summary>
internal sealed class TinyDecoder
{
    public TinyDecoder(int vocab, int hidden, int layers, int heads, int kvHeads, int mlp, int maxPositions, int seed)
    {
        var rng = new Random(seed);
        Hidden = hidden;
        Heads = heads;
        KvHeads = kvHeads;
        HeadDim = hidden / heads;
        Rope = new RopeTable(HeadDim, maxPositions, 10000);
        Embed = GradCheck.Param(rng, 0.5f, vocab, hidden);
        for (int l = 0; l < layers; l++)
        {
            float s = 1f / MathF.Sqrt(hidden);
            Layers.Add(new Layer(
                Ones(hidden), GradCheck.Param(rng, s, heads * HeadDim, hidden), GradCheck.Param(rng, s, kvHeads * HeadDim, hidden),
                GradCheck.Param(rng, s, kvHeads * HeadDim, hidden), GradCheck.Param(rng, s, hidden, heads * HeadDim),
                Ones(hidden), GradCheck.Param(rng, s, mlp, hidden), GradCheck.Param(rng, s, mlp, hidden),
                GradCheck.Param(rng, 1f / MathF.Sqrt(mlp), hidden, mlp)));
        }
        FinalNorm = Ones(hidden);
    }

    private static Tensor Ones(int n) => Tensor.Parameter(Enumerable.Repeat(1f, n).ToArray(), [n]);

    public sealed record Layer(Tensor AttnNorm, Tensor Wq, Tensor Wk, Tensor Wv, Tensor Wo, Tensor MlpNorm, Tensor Gate, Tensor Up, Tensor Down);

    public int Hidden { get; }
    public int Heads { get; }
    public int KvHeads { get; }
    public int HeadDim { get; }
    public RopeTable Rope { get; }
    public Tensor Embed { get; }
    public List<Layer> Layers { get; } = [];
    public Tensor FinalNorm { get; }

    public IEnumerable<Tensor> Parameters()
    {
        yield return Embed;
        foreach (var l in Layers)
            foreach (var p in new[] { l.AttnNorm, l.Wq, l.Wk, l.Wv, l.Wo, l.MlpNorm, l.Gate, l.Up, l.Down }) yield return p;
        yield return FinalNorm;
    }

    /// <summary>ids [B*T] -> logits [B*T, vocab].</summary>
    public Tensor Logits(int[] ids, int batch, int time, int[]? validLengths, bool checkpoint = false)
    {
        var positions = new int[batch * time];
        for (int i = 0; i < positions.Length; i++) positions[i] = i % time;
        var h = Ops.Embedding(Embed, ids); // [B*T, D]
        foreach (var l in Layers)
            h = checkpoint ? Ops.Checkpoint(t => Block(l, t[0], batch, time, positions, validLengths), h) : Block(l, h, batch, time, positions, validLengths);
        return Ops.Linear(Ops.RmsNorm(h, FinalNorm, 1e-5f), Embed);
    }

    /// <summary>One pre-norm decoder layer: h [B*T, D] -> [B*T, D].</summary>
    private Tensor Block(Layer l, Tensor h, int batch, int time, int[] positions, int[]? validLengths)
    {
        var x = Ops.RmsNorm(h, l.AttnNorm, 1e-5f);
        var q = Ops.Rope(Ops.Reshape(Ops.Linear(x, l.Wq), batch, time, Heads, HeadDim), positions, Rope);
        var k = Ops.Rope(Ops.Reshape(Ops.Linear(x, l.Wk), batch, time, KvHeads, HeadDim), positions, Rope);
        var v = Ops.Reshape(Ops.Linear(x, l.Wv), batch, time, KvHeads, HeadDim);
        var a = Ops.Reshape(Ops.Attention(q, k, v, causal: true, validLengths), batch * time, Heads * HeadDim);
        h = Ops.Add(h, Ops.Linear(a, l.Wo));
        var m = Ops.RmsNorm(h, l.MlpNorm, 1e-5f);
        return Ops.Add(h, Ops.Linear(Ops.SwiGlu(Ops.Linear(m, l.Gate), Ops.Linear(m, l.Up)), l.Down));
    }
}
