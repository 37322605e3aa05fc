using Pacs.Models;
using Pacs.Tensors;

namespace Pacs.Rl.Training;

/// <summary>
/// PPO's critic: a copy of the base model whose value head is the output-projection row of the pad token, zeroed at
/// the start. That row is a linear map of the final normed hidden state (a value head, bias-free), and the pad
/// token is never a target, so the copy's other rows never matter. V(prefix ending at t) scores response token t.
/// </summary>
public sealed class ValueModel
{
    public ValueModel(Transformer model, int headRow)
    {
        Model = model;
        HeadRow = headRow;
    }

    public Transformer Model { get; }

    /// <summary>Output row read as the value (the tokenizer's pad id).</summary>
    public int HeadRow { get; }

    /// <summary>A fresh critic from the base: a copy with the head row zeroed so every initial value is 0.</summary>
    public static ValueModel FromBase(Transformer baseModel, int padId)
    {
        var copy = new Transformer(baseModel.Config, seed: null);
        copy.CopyWeightsFrom(baseModel);
        int hidden = copy.Config.HiddenSize;
        Array.Clear(copy.LmHead.Data, padId * hidden, hidden);
        return new ValueModel(copy, padId);
    }

    /// <summary>Values at every position ([B*T] tensor in the autograd graph when enabled).</summary>
    public Tensor Values(PackedSequences packed)
    {
        var logits = Model.Forward(packed.Tokens, packed.Batch, packed.SeqLen, packed.ValidLengths); // [B*T, V]
        var column = Ops.Slice(logits, 1, HeadRow, 1);                                                // [B*T, 1]
        return Ops.Reshape(column, packed.Batch * packed.SeqLen);                                    // [B*T]
    }

    /// <summary>No-grad values of the response positions, per row.</summary>
    public float[][] Score(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> responses, int padId, int rowsPerPass)
    {
        var result = new float[prompts.Count][];
        using var noGrad = Autograd.NoGrad();
        for (int start = 0; start < prompts.Count; start += rowsPerPass)
        {
            int end = Math.Min(prompts.Count, start + rowsPerPass);
            var packed = PackedSequences.Build(ModelPasses.Slice(prompts, start, end), ModelPasses.Slice(responses, start, end), padId);
            var rows = packed.Extract(Values(packed).Data);
            for (int i = 0; i < rows.Length; i++) result[start + i] = rows[i];
        }
        return result;
    }
}
