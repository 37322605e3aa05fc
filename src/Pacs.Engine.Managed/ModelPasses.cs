using Pacs.Models;
using Pacs.Tensors;

namespace Pacs.Engine.Managed;

/// <summary>The teacher-forced passes over packed prompt+response rows that the managed models share.</summary>
public static class ModelPasses
{
    /// <summary>Log-probs of every target at temperature: ([B*T] tensor in the autograd graph when enabled, logits [B*T, V]).</summary>
    /// <param name="withAdapter">false: the base model without its LoRA adapter (a LoRA run's initial reference).</param>
    public static (Tensor LogProbs, Tensor Logits) LogProbs(Transformer model, PackedSequences packed, float temperature, bool withAdapter = true)
    {
        var logits = model.Forward(packed.Tokens, packed.Batch, packed.SeqLen, packed.ValidLengths, withAdapter ? model.Adapter : null); // [B*T, V]
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
}
