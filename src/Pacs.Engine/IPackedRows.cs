namespace Pacs.Engine;

/// <summary>
/// Rows of (prompt ids, response ids) laid out once by a backend (<see cref="IEngineBackend.Pack"/>) for its
/// teacher-forced passes. A trainer packs a step's rows once and hands the same object to the policy, the
/// reference scorer and the critic. Per-row outputs of every pass are ragged: row r has
/// <see cref="ResponseLengths"/>[r] entries, one per response token, in order.
/// </summary>
public interface IPackedRows
{
    /// <summary>Rows in this batch.</summary>
    int Count { get; }

    /// <summary>[Count] response tokens of each row.</summary>
    IReadOnlyList<int> ResponseLengths { get; }

    /// <summary>Prompt plus response tokens over all rows (what a forward pass reads).</summary>
    long TotalTokens { get; }
}
