using Pacs.Tensors;

namespace Pacs.Models;

public sealed partial class Transformer
{
    /// <summary>
    /// Logits [B*T, V] for tokens [B*T] (row-major batch of B sequences of length T), with autograd.
    /// Sequence b is right-padded after validLengths[b] tokens: keys there are masked (their own rows are junk).
    /// </summary>
    public Tensor Forward(int[] tokens, int batch, int seqLen, int[]? validLengths = null) =>
        Forward(tokens, batch, seqLen, validLengths, Adapter);

    /// <summary>The forward pass with an explicit adapter (null: the base model, e.g. a LoRA run's frozen reference).</summary>
    public Tensor Forward(int[] tokens, int batch, int seqLen, int[]? validLengths, LoraAdapter? adapter) =>
        Ops.Linear(FinalHidden(tokens, batch, seqLen, validLengths, adapter), LmHead); // [B*T, V]

    /// <summary>
    /// The final normed hidden state [B*T, D] that <see cref="LmHead"/> maps to the logits (<see cref="Forward(int[], int, int, int[], LoraAdapter)"/>
    /// without its last projection), for passes that take the logits of a few rows at a time (<see cref="Ops.ChunkedLogProbs"/>).
    /// Without autograd each layer's intermediates are freed as soon as the layer is done (<see cref="Ops.InferenceBlock"/>).
    /// </summary>
    public Tensor FinalHidden(int[] tokens, int batch, int seqLen, int[]? validLengths, LoraAdapter? adapter)
    {
        var c = Config;
        int n = batch * seqLen;
        if (batch <= 0 || seqLen <= 0 || tokens.Length != n)
            throw new ArgumentException($"Forward: {tokens.Length} tokens for batch {batch} x seqLen {seqLen}");
        if (seqLen > c.MaxPositionEmbeddings)
            throw new ArgumentException($"Forward: seqLen {seqLen} exceeds max_position_embeddings {c.MaxPositionEmbeddings}");
        if (validLengths is not null)
        {
            if (validLengths.Length != batch) throw new ArgumentException($"Forward: {validLengths.Length} valid lengths for batch {batch}");
            foreach (var len in validLengths)
                if (len < 1 || len > seqLen) throw new ArgumentException($"Forward: valid length {len} outside [1, {seqLen}]");
        }
        var positions = new int[n];                                   // [B*T]
        for (int i = 0; i < n; i++) positions[i] = i % seqLen;
        float eps = (float)c.RmsNormEps;

        var lora = adapter?.BeginPass();
        var x = Ops.Embedding(Embed, tokens);                         // [B*T, D]
        for (int l = 0; l < Layers.Count; l++)
        {
            int index = l;
            Tensor Block(Tensor[] t) => DecoderLayer(index, lora, t[0], batch, seqLen, positions, validLengths);
            if (!Autograd.IsEnabled) x = Ops.InferenceBlock(Block, x);
            else if (!GradientCheckpointing) x = Block([x]);
            // The last layer's backward comes first, right after the head's: recomputing it would save memory only
            // during the head, so it keeps its activations, in a scope of their own freed after its backward.
            else if (l == Layers.Count - 1) x = Ops.ScopedBlock(Block, x);
            else x = Ops.Checkpoint(Block, x);
        }
        return Ops.RmsNorm(x, FinalNorm, eps);                        // [B*T, D]
    }

    /// <summary>
    /// When true, <see cref="Forward"/> wraps each decoder layer but the last in <see cref="Ops.Checkpoint"/> while
    /// autograd is on: only those layers' inputs are kept for the backward pass, which recomputes each one's forward
    /// (about one more forward pass of time, less a layer, for the activations of one layer instead of all of them).
    /// The last layer's backward runs first, so it is not recomputed: its activations stay alive through the final
    /// norm, LM head and loss (<see cref="Ops.ScopedBlock"/>), which is the only time recomputing would save memory.
    /// Gradients are bit-identical to those without it. Off by default; it has no effect on inference (no graph is
    /// recorded).
    /// </summary>
    public bool GradientCheckpointing { get; set; }

    /// <summary>One pre-norm decoder layer: x [B*T, D] -> [B*T, D].</summary>
    private Tensor DecoderLayer(int l, LoraPass? lora, Tensor x, int batch, int seqLen, int[] positions, int[]? validLengths)
    {
        var c = Config;
        var layer = Layers[l];
        int n = batch * seqLen, hd = c.HeadDim, hq = c.NumAttentionHeads, hkv = c.NumKeyValueHeads;
        float eps = (float)c.RmsNormEps;
        var h = Ops.RmsNorm(x, layer.InputNorm, eps);             // [B*T, D]
        var q = Ops.Reshape(Project(lora, l, LoraTarget.QProj, h, layer.QProj, layer.QBias), batch, seqLen, hq, hd);   // [B, T, Hq, hd]
        var k = Ops.Reshape(Project(lora, l, LoraTarget.KProj, h, layer.KProj, layer.KBias), batch, seqLen, hkv, hd);  // [B, T, Hkv, hd]
        var v = Ops.Reshape(Project(lora, l, LoraTarget.VProj, h, layer.VProj, layer.VBias), batch, seqLen, hkv, hd);  // [B, T, Hkv, hd]
        if (layer.QNorm is not null) q = Ops.RmsNorm(q, layer.QNorm, eps);
        if (layer.KNorm is not null) k = Ops.RmsNorm(k, layer.KNorm, eps);
        q = Ops.Rope(q, positions, Rope);
        k = Ops.Rope(k, positions, Rope);
        var a = Ops.Attention(q, k, v, causal: true, validLengths);                            // [B, T, Hq, hd]
        a = Ops.Reshape(a, n, hq * hd);                                                        // [B*T, Hq*hd]
        x = Ops.Add(x, Project(lora, l, LoraTarget.OProj, a, layer.OProj, layer.OBias));                               // [B*T, D]
        h = Ops.RmsNorm(x, layer.PostAttentionNorm, eps);                                      // [B*T, D]
        var mlp = Ops.SwiGlu(Project(lora, l, LoraTarget.GateProj, h, layer.GateProj), Project(lora, l, LoraTarget.UpProj, h, layer.UpProj));     // [B*T, I]
        return Ops.Add(x, Project(lora, l, LoraTarget.DownProj, mlp, layer.DownProj));                                    // [B*T, D]
    }

    /// <summary>
    /// log softmax(logits / temperature)[target] per position [B*T] with autograd (targets [B*T]; -1 = ignore,
    /// giving 0), and optionally the entropy of softmax(logits / temperature) [B*T].
    /// </summary>
    public (Tensor LogProbs, Tensor? Entropy) TokenLogProbs(int[] tokens, int batch, int seqLen, int[] targets,
        float temperature = 1f, int[]? validLengths = null, bool withEntropy = false)
    {
        if (targets.Length != tokens.Length) throw new ArgumentException($"TokenLogProbs: {targets.Length} targets for {tokens.Length} tokens");
        if (!(temperature > 0)) throw new ArgumentException($"TokenLogProbs: temperature must be > 0, got {temperature}");
        var logits = Forward(tokens, batch, seqLen, validLengths);    // [B*T, V]
        var logProbs = Ops.GatherLogProbs(logits, targets, temperature); // [B*T]
        var entropy = withEntropy ? Ops.Entropy(logits, temperature) : null; // [B*T]
        return (logProbs, entropy);
    }
}
