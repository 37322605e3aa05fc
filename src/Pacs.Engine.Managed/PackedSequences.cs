namespace Pacs.Engine.Managed;

/// <summary>
/// Prompt+response rows packed for one teacher-forced forward: row b holds s_b = prompt ++ response minus its last
/// token (the last token is only ever a target), right-padded to T = max_b |s_b|. The logits at position t predict
/// token t+1, so response token j of row b is scored at flat index b*T + |prompt_b| - 1 + j.
/// </summary>
public sealed class PackedSequences : IPackedRows
{
    private PackedSequences(int batch, int seqLen, int[] tokens, int[] targets, int[] validLengths, int[] responseStart, int[] responseLength)
    {
        Batch = batch;
        SeqLen = seqLen;
        Tokens = tokens;
        Targets = targets;
        ValidLengths = validLengths;
        ResponseStart = responseStart;
        ResponseLength = responseLength;
    }

    public int Batch { get; }

    public int SeqLen { get; }

    /// <summary>[B*T] input ids, padded with the pad id.</summary>
    public int[] Tokens { get; }

    /// <summary>[B*T] the next token of each position (pad id past a row's end).</summary>
    public int[] Targets { get; }

    /// <summary>[B] real positions of each row.</summary>
    public int[] ValidLengths { get; }

    /// <summary>[B] flat index of the position whose logits score the row's first response token.</summary>
    public int[] ResponseStart { get; }

    /// <summary>[B] response tokens per row.</summary>
    public int[] ResponseLength { get; }

    public int Count => Batch;

    public IReadOnlyList<int> ResponseLengths => ResponseLength;

    public long TotalTokens => ValidLengths.Sum(n => (long)n);

    public static PackedSequences Build(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> responses, int padId)
    {
        if (prompts.Count != responses.Count) throw new ArgumentException($"packing: {prompts.Count} prompts but {responses.Count} responses");
        int batch = prompts.Count;
        int seqLen = 1;
        for (int b = 0; b < batch; b++)
        {
            if (prompts[b].Length == 0) throw new ArgumentException($"packing: row {b} has an empty prompt");
            seqLen = Math.Max(seqLen, prompts[b].Length + responses[b].Length - 1);
        }
        var tokens = new int[batch * seqLen];
        var targets = new int[batch * seqLen];
        Array.Fill(tokens, padId);
        Array.Fill(targets, padId);
        var valid = new int[batch];
        var start = new int[batch];
        var length = new int[batch];
        for (int b = 0; b < batch; b++)
        {
            var p = prompts[b];
            var r = responses[b];
            int full = p.Length + r.Length;
            int inputs = Math.Max(1, full - 1);
            valid[b] = inputs;
            for (int t = 0; t < inputs; t++)
            {
                tokens[b * seqLen + t] = t < p.Length ? p[t] : r[t - p.Length];
                int next = t + 1;
                if (next < full) targets[b * seqLen + t] = next < p.Length ? p[next] : r[next - p.Length];
            }
            start[b] = b * seqLen + p.Length - 1;
            length[b] = r.Length;
        }
        return new PackedSequences(batch, seqLen, tokens, targets, valid, start, length);
    }

    /// <summary>The flat indices of every row's response positions (the only ones ever scored), row by row.</summary>
    public int[] ResponsePositions()
    {
        var positions = new int[ResponseLength.Sum()];
        int next = 0;
        for (int b = 0; b < Batch; b++)
            for (int j = 0; j < ResponseLength[b]; j++) positions[next++] = ResponseStart[b] + j;
        return positions;
    }

    /// <summary>Per-row response values out of a [B*T] array.</summary>
    public float[][] Extract(ReadOnlySpan<float> flat)
    {
        var rows = new float[Batch][];
        for (int b = 0; b < Batch; b++) rows[b] = flat.Slice(ResponseStart[b], ResponseLength[b]).ToArray();
        return rows;
    }

    /// <summary>A [B*T] array holding scale × the per-row response values, zeros elsewhere (an upstream gradient).</summary>
    public float[] Scatter(float[][] rows, double scale)
    {
        if (rows.Length != Batch) throw new ArgumentException($"scatter: {rows.Length} rows, batch holds {Batch}");
        var flat = new float[Batch * SeqLen];
        for (int b = 0; b < Batch; b++)
        {
            if (rows[b].Length != ResponseLength[b]) throw new ArgumentException($"scatter: row {b} has {rows[b].Length} values, response has {ResponseLength[b]} tokens");
            for (int j = 0; j < rows[b].Length; j++) flat[ResponseStart[b] + j] = (float)(rows[b][j] * scale);
        }
        return flat;
    }
}
