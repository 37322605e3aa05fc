namespace Pacs.Rewards.Tasks;

/// <summary>
/// SplitMix64: a tiny, fully specified PRNG, so generated problems are identical on every runtime and machine
/// (System.Random's sequence is an implementation detail).
/// </summary>
public sealed class TaskRandom
{
    private ulong _state;

    public TaskRandom(ulong seed) => _state = seed;

    /// <summary>A generator for one (seed, split, index, attempt) cell; neighbouring cells get unrelated streams.</summary>
    public static TaskRandom For(long seed, Split split, long index, int attempt)
    {
        ulong h = Mix((ulong)seed ^ 0x9E3779B97F4A7C15UL);
        h = Mix(h ^ (ulong)split);
        h = Mix(h ^ (ulong)index);
        h = Mix(h ^ (ulong)attempt);
        return new TaskRandom(h);
    }

    public ulong NextUInt64()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return Mix(_state);
    }

    /// <summary>Uniform integer in [min, max] inclusive.</summary>
    public int Next(int min, int max)
    {
        if (max < min) throw new ArgumentException($"empty range [{min}, {max}]");
        ulong span = (ulong)((long)max - min + 1);
        return (int)(min + (long)(NextUInt64() % span));
    }

    public bool NextBool() => (NextUInt64() & 1) == 1;

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

/// <summary>
/// Assigns a problem to a split by hashing its canonical form (FNV-1a 64), independently of any seed: the same
/// problem always lands in the same split, so the splits are disjoint whichever seeds generated them. Of the 100 hash
/// buckets, the first <c>testPercent</c> are Test, the next <c>rlPercent</c> are Rl and the rest Train.
/// </summary>
public static class SplitAssigner
{
    public static Split Of(string taskName, string canonical, int testPercent, int rlPercent)
    {
        ulong hash = 14695981039346656037UL;
        foreach (char c in taskName + "\u0001" + canonical)
        {
            hash ^= c;
            hash *= 1099511628211UL;
        }
        // FNV's low bits are weak for short keys; fold the high half in before taking the remainder.
        hash ^= hash >> 32;
        int bucket = (int)(hash % 100);
        return bucket < testPercent ? Split.Test : bucket < testPercent + rlPercent ? Split.Rl : Split.Train;
    }

    /// <summary>
    /// Draws candidates from <paramref name="generate"/> (given a fresh stream per attempt) until one hashes into
    /// <paramref name="split"/>; deterministic in (seed, split, index).
    /// </summary>
    public static T Draw<T>(string taskName, long seed, Split split, long index, int testPercent, int rlPercent,
        Func<TaskRandom, T?> generate, Func<T, string> canonical) where T : class
    {
        if (split == Split.Rl && rlPercent == 0) throw new ArgumentException($"{taskName}: this task reserves no problems for RL (RlPercent = 0)");
        for (int attempt = 0; attempt < 100_000; attempt++)
        {
            var candidate = generate(TaskRandom.For(seed, split, index, attempt));
            if (candidate is not null && Of(taskName, canonical(candidate), testPercent, rlPercent) == split) return candidate;
        }
        throw new InvalidOperationException($"{taskName}: no {split} problem found for index {index}; the options leave too few problems");
    }
}
