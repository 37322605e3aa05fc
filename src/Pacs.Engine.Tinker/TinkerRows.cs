namespace Pacs.Engine.Tinker;

/// <summary>Rows kept as token ids: each becomes one Datum (input = prompt + response without its last token, targets shifted by one).</summary>
public sealed class TinkerPackedRows : IPackedRows
{
    public TinkerPackedRows(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> responses)
    {
        if (prompts.Count != responses.Count) throw new ArgumentException($"{prompts.Count} prompts but {responses.Count} responses");
        Prompts = prompts.ToArray();
        Responses = responses.ToArray();
        ResponseLengths = Responses.Select(r => r.Length).ToArray();
        TotalTokens = Prompts.Sum(p => (long)p.Length) + Responses.Sum(r => (long)r.Length);
    }

    public int[][] Prompts { get; }

    public int[][] Responses { get; }

    public int Count => Prompts.Length;

    public IReadOnlyList<int> ResponseLengths { get; }

    public long TotalTokens { get; }

    internal static TinkerPackedRows Unwrap(IPackedRows rows) => rows as TinkerPackedRows
        ?? throw new ArgumentException($"the tinker engine reads rows it packed itself, got {rows.GetType().Name}");

    /// <summary>
    /// Row <paramref name="row"/> as a cross_entropy Datum: model_input is the sequence without its last token, target_tokens
    /// the sequence from its second token, weights 0 on the prompt's targets and <paramref name="responseWeights"/> on the response's.
    /// </summary>
    public Datum ToDatum(int row, float[] responseWeights) => ToDatum(row, ("weights", responseWeights));

    /// <summary>
    /// Row <paramref name="row"/> as a Datum of a built-in policy loss: target_tokens as <see cref="ToDatum(int, float[])"/>,
    /// `logprobs` (the old log-probs) and `advantages` 0 on the prompt's targets (no term there) and the given ones on the response's.
    /// </summary>
    public Datum ToBuiltInDatum(int row, float[] oldLogProbs, float[] advantages) =>
        ToDatum(row, ("logprobs", oldLogProbs), ("advantages", advantages));

    /// <summary>model_input, target_tokens and per-target float inputs: 0 on the prompt's targets, the given values on the response's.</summary>
    private Datum ToDatum(int row, params (string Name, float[] ResponseValues)[] inputs)
    {
        int[] full = [.. Prompts[row], .. Responses[row]];
        if (Prompts[row].Length == 0) throw new ArgumentException($"row {row}: an empty prompt has no token to predict the first response token from");
        var lossInputs = new Dictionary<string, TensorData> { ["target_tokens"] = TensorData.Ints(full[1..]) };
        foreach (var (name, responseValues) in inputs)
        {
            if (responseValues.Length != Responses[row].Length)
                throw new ArgumentException($"row {row}: {responseValues.Length} {name} for {Responses[row].Length} response tokens");
            var values = new float[full.Length - 1];
            responseValues.AsSpan().CopyTo(values.AsSpan(Prompts[row].Length - 1));
            lossInputs[name] = TensorData.Floats(values);
        }
        return new Datum(ModelInput.Of(full[..^1]), lossInputs);
    }

    /// <summary>The response part of a per-target output (logprobs, entropy) of row <paramref name="row"/>.</summary>
    public float[] ResponsePart(int row, float[] perTarget)
    {
        int length = Responses[row].Length;
        if (perTarget.Length < length) throw new TinkerException($"row {row}: the server returned {perTarget.Length} values for {length} response tokens");
        return perTarget[^length..];
    }
}
