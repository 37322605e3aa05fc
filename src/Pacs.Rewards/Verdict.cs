namespace Pacs.Rewards;

/// <summary>A verifier's judgement of one response: whether it is correct, the answer it extracted, and why.</summary>
public sealed record Verdict(bool Correct, string? Extracted, string Reason)
{
    public double Reward => Correct ? 1.0 : 0.0;
}
