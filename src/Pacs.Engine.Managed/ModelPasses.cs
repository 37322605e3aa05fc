using System.Buffers;
using Pacs.Models;
using Pacs.Tensors;
using Pacs.Tensors.Kernels;

namespace Pacs.Engine.Managed;

/// <summary>The teacher-forced passes over packed prompt+response rows that the managed models share.</summary>
public static class ModelPasses
{
    /// <summary>
    /// Log-probs of the targets at temperature ([B*T] tensor in the autograd graph when enabled; meaningful at the
    /// response positions, which are all that is ever read) and, when asked, the entropy at each response position per
    /// row. <paramref name="logitsChunkRows"/> &gt; 0 takes the output layer's logits that many response positions at a
    /// time (<see cref="Ops.ChunkedLogProbs"/>: no [B*T, V] buffer, and no logits for prompt positions); 0 computes the
    /// whole [B*T, V] logits at once. Log-probs, entropy and the gradients of everything but a trained output layer
    /// are the same to the bit either way.
    /// </summary>
    /// <param name="withAdapter">false: the base model without its LoRA adapter (a LoRA run's initial reference).</param>
    public static (Tensor LogProbs, float[][]? Entropy) LogProbs(Transformer model, PackedSequences packed, float temperature, bool withAdapter = true,
        bool withEntropy = false, int logitsChunkRows = TrainingSettings.DefaultLogitsChunkRows)
    {
        var adapter = withAdapter ? model.Adapter : null;
        if (logitsChunkRows <= 0)
        {
            var logits = model.Forward(packed.Tokens, packed.Batch, packed.SeqLen, packed.ValidLengths, adapter); // [B*T, V]
            var logProbs = Ops.GatherLogProbs(logits, packed.Targets, temperature);                             // [B*T]
            return (logProbs, withEntropy ? ResponseEntropy(logits, packed, temperature) : null);
        }
        var hidden = model.FinalHidden(packed.Tokens, packed.Batch, packed.SeqLen, packed.ValidLengths, adapter); // [B*T, D]
        int[] positions = packed.ResponsePositions();
        int vocab = model.Config.VocabSize;
        float[]? entropy = null;
        Action<int, float[], int>? onLogits = null;
        if (withEntropy)
        {
            var flat = entropy = new float[packed.Batch * packed.SeqLen];
            onLogits = (first, logits, count) => RowParallel.For(count, 8L * vocab, i =>
                flat[positions[first + i]] = RowEntropy(logits.AsSpan(i * vocab, vocab), temperature));
        }
        var chunked = Ops.ChunkedLogProbs(hidden, model.LmHead, positions, packed.Targets, temperature, logitsChunkRows, onLogits);
        return (chunked, entropy is null ? null : packed.Extract(entropy));
    }

    /// <summary>Entropy of softmax(logits / temperature) at each response position, per row.</summary>
    public static float[][] ResponseEntropy(Tensor logits, PackedSequences packed, float temperature)
    {
        int vocab = logits.Dim(-1);
        var data = logits.Data;
        var rows = new float[packed.Batch][];
        for (int b = 0; b < packed.Batch; b++)
        {
            rows[b] = new float[packed.ResponseLength[b]];
            for (int j = 0; j < rows[b].Length; j++)
                rows[b][j] = RowEntropy(data.AsSpan((packed.ResponseStart[b] + j) * vocab, vocab), temperature);
        }
        return rows;
    }

    /// <summary>Entropy of softmax(logits / temperature) of one row, in double.</summary>
    private static float RowEntropy(ReadOnlySpan<float> logits, float temperature)
    {
        var scaled = ArrayPool<double>.Shared.Rent(logits.Length);
        double max = double.NegativeInfinity;
        for (int v = 0; v < logits.Length; v++) max = Math.Max(max, scaled[v] = logits[v] / temperature);
        double z = 0, weighted = 0;
        for (int v = 0; v < logits.Length; v++)
        {
            double e = Math.Exp(scaled[v] - max);
            z += e;
            weighted += e * (scaled[v] - max);
        }
        ArrayPool<double>.Shared.Return(scaled);
        // H = log Z - E[x - max] with probabilities e/Z.
        return (float)(Math.Log(z) - weighted / z);
    }
}
