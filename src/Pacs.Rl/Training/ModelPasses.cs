using Pacs.Models;
using Pacs.Tensors;

namespace Pacs.Rl.Training;

/// <summary>The teacher-forced passes the trainer makes over packed prompt+response rows.</summary>
public static class ModelPasses
{
    /// <summary>Log-probs of every target at temperature: ([B*T] tensor in the autograd graph when enabled, logits [B*T, V]).</summary>
    public static (Tensor LogProbs, Tensor Logits) LogProbs(Transformer model, PackedSequences packed, float temperature)
    {
        var logits = model.Forward(packed.Tokens, packed.Batch, packed.SeqLen, packed.ValidLengths); // [B*T, V]
        var logProbs = Ops.GatherLogProbs(logits, packed.Targets, temperature);                      // [B*T]
        return (logProbs, logits);
    }

    /// <summary>Entropy of softmax(logits / temperature) at each response position, per row.</summary>
    public static float[][] ResponseEntropy(Tensor logits, PackedSequences packed, float temperature)
    {
        int vocab = logits.Dim(-1);
        var data = logits.Data;
        var rows = new float[packed.Batch][];
        var scaled = new double[vocab];
        for (int b = 0; b < packed.Batch; b++)
        {
            rows[b] = new float[packed.ResponseLength[b]];
            for (int j = 0; j < rows[b].Length; j++)
            {
                int offset = (packed.ResponseStart[b] + j) * vocab;
                double max = double.NegativeInfinity;
                for (int v = 0; v < vocab; v++) max = Math.Max(max, scaled[v] = data[offset + v] / temperature);
                double z = 0, weighted = 0;
                for (int v = 0; v < vocab; v++)
                {
                    double e = Math.Exp(scaled[v] - max);
                    z += e;
                    weighted += e * (scaled[v] - max);
                }
                // H = log Z - E[x - max] with probabilities e/Z.
                rows[b][j] = (float)(Math.Log(z) - weighted / z);
            }
        }
        return rows;
    }

    /// <summary>No-grad log-probs (and optionally entropies) of the response tokens, in micro-batches of rows.</summary>
    public static (float[][] LogProbs, float[][]? Entropy) ScoreResponses(Transformer model, IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> responses,
        int padId, float temperature, int rowsPerPass, bool withEntropy)
    {
        var logProbs = new float[prompts.Count][];
        var entropy = withEntropy ? new float[prompts.Count][] : null;
        using var noGrad = Autograd.NoGrad();
        for (int start = 0; start < prompts.Count; start += rowsPerPass)
        {
            int end = Math.Min(prompts.Count, start + rowsPerPass);
            using var scope = TensorScope.Begin();
            var packed = PackedSequences.Build(Slice(prompts, start, end), Slice(responses, start, end), padId);
            var (lp, logits) = LogProbs(model, packed, temperature);
            var rows = packed.Extract(lp.Data);
            var ent = withEntropy ? ResponseEntropy(logits, packed, temperature) : null;
            for (int i = 0; i < rows.Length; i++)
            {
                logProbs[start + i] = rows[i];
                if (entropy is not null) entropy[start + i] = ent![i];
            }
        }
        return (logProbs, entropy);
    }

    internal static List<T> Slice<T>(IReadOnlyList<T> items, int start, int end)
    {
        var list = new List<T>(end - start);
        for (int i = start; i < end; i++) list.Add(items[i]);
        return list;
    }
}
