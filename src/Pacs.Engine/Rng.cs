namespace Pacs.Engine;

/// <summary>
/// SplitMix64: a tiny generator whose whole state is one ulong, so checkpoints can save and restore it exactly
/// (System.Random's state is not serialisable).
/// </summary>
public sealed class Rng(ulong state)
{
    public ulong State { get; set; } = state;

    public ulong NextUInt64()
    {
        ulong z = State += 0x9E3779B97F4A7C15UL;
        return Mix(z);
    }

    /// <summary>Uniform integer in [0, maxExclusive).</summary>
    public int NextInt(int maxExclusive)
    {
        if (maxExclusive <= 0) throw new ArgumentOutOfRangeException(nameof(maxExclusive));
        return (int)(NextUInt64() % (ulong)maxExclusive);
    }

    /// <summary>Fisher-Yates shuffle in place.</summary>
    public void Shuffle<T>(IList<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>A well-mixed 64-bit hash of several integers: stateless seeds (e.g. per sampled response).</summary>
    public static ulong Hash(params long[] parts)
    {
        ulong h = 0x243F6A8885A308D3UL;
        foreach (long p in parts) h = Mix(h ^ (ulong)p) + 0x9E3779B97F4A7C15UL;
        return Mix(h);
    }

    /// <summary>The SplitMix64 finaliser: a bijective 64-bit mix (also the evaluator's per-sample seed).</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
