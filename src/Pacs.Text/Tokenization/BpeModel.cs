using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;

namespace Pacs.Text.Tokenization;

/// <summary>The BPE `model` of tokenizer.json: a vocabulary and ranked merges, applied per pre-token word. Handles
/// GPT-2 style byte-level input (the word's UTF-8 bytes in the byte alphabet) and SentencePiece style input (code
/// points, with byte fallback to &lt;0xXX&gt; tokens). Results are cached per word.</summary>
public sealed class BpeModel
{
    private const int MaxCachedWordLength = 256;
    private const int MaxCacheEntries = 1 << 20;
    private const int HeapMergeThreshold = 48;

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocabBySpan;
    private readonly Dictionary<long, long> _merges; // (left id << 32 | right id) -> (rank << 32 | merged id)
    private readonly ConcurrentDictionary<string, int[]> _cache = new();
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheBySpan;
    private int _cacheSize;
    private readonly int[] _byteAlphabetIds = new int[256]; // id of the byte-alphabet character of each byte, -1 if absent
    private readonly int[] _byteFallbackIds = new int[256]; // id of "<0xXX>", -1 if absent

    public IReadOnlyDictionary<string, int> Vocab => _vocab;
    public int? UnkId { get; }
    public string? UnkToken { get; }
    public bool ByteFallback { get; }
    public bool IgnoreMerges { get; }
    public bool FuseUnk { get; }

    /// <summary>Set when the pre-tokenizer ends in ByteLevel: words are then read as UTF-8 bytes in the byte alphabet.</summary>
    public bool ByteLevelInput { get; set; }

    private BpeModel(Dictionary<string, int> vocab, Dictionary<long, long> merges, string? unkToken, bool byteFallback,
        bool ignoreMerges, bool fuseUnk, string file)
    {
        _vocab = vocab;
        _vocabBySpan = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _merges = merges;
        _cacheBySpan = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
        UnkToken = unkToken;
        if (unkToken is not null)
        {
            if (!vocab.TryGetValue(unkToken, out int unk))
                throw new InvalidDataException($"{file}: model.unk_token '{unkToken}' is not in model.vocab");
            UnkId = unk;
        }
        ByteFallback = byteFallback;
        IgnoreMerges = ignoreMerges;
        FuseUnk = fuseUnk;
        for (int b = 0; b < 256; b++)
        {
            _byteAlphabetIds[b] = vocab.TryGetValue(ByteLevelAlphabet.ByteToChar[b].ToString(), out int a) ? a : -1;
            _byteFallbackIds[b] = vocab.TryGetValue($"<0x{b:X2}>", out int f) ? f : -1;
        }
    }

    public static BpeModel FromJson(JsonElement model, string file)
    {
        string type = TokenizerJson.OptionalString(model, "type") ?? "BPE";
        if (type != "BPE") throw new NotSupportedException($"{file}: model type '{type}' is not supported (only BPE)");
        var dropout = TokenizerJson.Optional(model, "dropout");
        if (dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() != 0)
            throw new NotSupportedException($"{file}: model.dropout {dropout.GetDouble()} is not supported");
        foreach (var affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (!string.IsNullOrEmpty(TokenizerJson.OptionalString(model, affix)))
                throw new NotSupportedException($"{file}: model.{affix} is not supported");

        var vocabJson = TokenizerJson.Optional(model, "vocab");
        if (vocabJson.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{file}: model.vocab must be an object");
        int vocabCount = 0;
        foreach (var _ in vocabJson.EnumerateObject()) vocabCount++;
        var vocab = new Dictionary<string, int>(vocabCount, StringComparer.Ordinal);
        foreach (var entry in vocabJson.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
                throw new InvalidDataException($"{file}: model.vocab['{entry.Name}'] must be a non-negative integer");
            vocab[entry.Name] = id;
        }

        var mergesJson = TokenizerJson.Optional(model, "merges");
        var merges = new Dictionary<long, long>(mergesJson.ValueKind == JsonValueKind.Array ? mergesJson.GetArrayLength() : 0, PairComparer.Instance);
        int rank = 0;
        foreach (var merge in TokenizerJson.RequireArray(model, "merges", file, "model"))
        {
            string left, right;
            if (merge.ValueKind == JsonValueKind.String)
            {
                string pair = merge.GetString()!;
                int space = pair.IndexOf(' ', 1);
                if (space < 0) throw new InvalidDataException($"{file}: model.merges[{rank}] '{pair}' is not 'left right'");
                left = pair[..space];
                right = pair[(space + 1)..];
            }
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2)
            {
                left = merge[0].GetString() ?? "";
                right = merge[1].GetString() ?? "";
            }
            else throw new InvalidDataException($"{file}: model.merges[{rank}] must be a string or a pair of strings");
            if (!vocab.TryGetValue(left, out int l) || !vocab.TryGetValue(right, out int r))
                throw new InvalidDataException($"{file}: model.merges[{rank}] uses a token missing from model.vocab");
            if (!vocab.TryGetValue(left + right, out int merged))
                throw new InvalidDataException($"{file}: model.merges[{rank}] makes '{left + right}', which is not in model.vocab");
            merges.TryAdd(Key(l, r), ((long)rank << 32) | (uint)merged);
            rank++;
        }

        return new BpeModel(vocab, merges, TokenizerJson.OptionalString(model, "unk_token"),
            TokenizerJson.OptionalBool(model, "byte_fallback", false), TokenizerJson.OptionalBool(model, "ignore_merges", false),
            TokenizerJson.OptionalBool(model, "fuse_unk", false), file);
    }

    /// <summary>long.GetHashCode is left ^ right for our keys, which collides heavily between token-id pairs.</summary>
    private sealed class PairComparer : IEqualityComparer<long>
    {
        public static readonly PairComparer Instance = new();

        public bool Equals(long x, long y) => x == y;

        public int GetHashCode(long key) => (int)(((ulong)key * 0x9E3779B97F4A7C15UL) >> 32);
    }

    private static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>Appends the ids of one pre-token word.</summary>
    public void EncodeWord(ReadOnlySpan<char> word, List<int> output)
    {
        if (word.IsEmpty) return;
        if (word.Length < MaxCachedWordLength && _cacheBySpan.TryGetValue(word, out var cached))
        {
            foreach (int id in cached) output.Add(id);
            return;
        }
        int[] ids = ByteLevelInput ? EncodeBytes(word) : EncodeCodePoints(word);
        if (word.Length < MaxCachedWordLength)
        {
            // ConcurrentDictionary.Count takes every lock, so the size is tracked separately.
            if (Interlocked.Increment(ref _cacheSize) > MaxCacheEntries)
            {
                _cache.Clear();
                Interlocked.Exchange(ref _cacheSize, 0);
            }
            _cacheBySpan.TryAdd(word, ids);
        }
        foreach (int id in ids) output.Add(id);
    }

    private int[] EncodeBytes(ReadOnlySpan<char> word)
    {
        int byteCount = Encoding.UTF8.GetByteCount(word);
        Span<byte> bytes = byteCount <= 512 ? stackalloc byte[byteCount] : new byte[byteCount];
        Encoding.UTF8.GetBytes(word, bytes);
        if (IgnoreMerges)
        {
            Span<char> mapped = byteCount <= 512 ? stackalloc char[byteCount] : new char[byteCount];
            for (int i = 0; i < byteCount; i++) mapped[i] = ByteLevelAlphabet.ByteToChar[bytes[i]];
            if (_vocabBySpan.TryGetValue(mapped, out int whole)) return [whole];
        }
        var symbols = new int[byteCount];
        int count = 0;
        for (int i = 0; i < byteCount; i++)
        {
            int id = _byteAlphabetIds[bytes[i]];
            if (id >= 0) symbols[count++] = id;
            else if (UnkId is int unk) { if (!(FuseUnk && count > 0 && symbols[count - 1] == unk)) symbols[count++] = unk; }
        }
        return Merge(symbols, count);
    }

    private int[] EncodeCodePoints(ReadOnlySpan<char> word)
    {
        if (IgnoreMerges && _vocabBySpan.TryGetValue(word, out int whole)) return [whole];
        var symbols = new List<int>(word.Length);
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < word.Length;)
        {
            int width = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
            var codePoint = word.Slice(i, width);
            i += width;
            if (_vocabBySpan.TryGetValue(codePoint, out int id))
            {
                symbols.Add(id);
                continue;
            }
            if (ByteFallback)
            {
                int n = Encoding.UTF8.GetBytes(codePoint, utf8);
                bool all = true;
                for (int b = 0; b < n; b++) all &= _byteFallbackIds[utf8[b]] >= 0;
                if (all)
                {
                    for (int b = 0; b < n; b++) symbols.Add(_byteFallbackIds[utf8[b]]);
                    continue;
                }
            }
            if (UnkId is int unk && !(FuseUnk && symbols.Count > 0 && symbols[^1] == unk)) symbols.Add(unk);
        }
        var array = symbols.ToArray();
        return Merge(array, array.Length);
    }

    /// <summary>Applies merges, lowest rank first and leftmost among equal ranks, to symbols[0..count).</summary>
    private int[] Merge(int[] symbols, int count)
    {
        if (count > HeapMergeThreshold) return MergeWithHeap(symbols, count);
        while (count > 1)
        {
            long best = long.MaxValue;
            int bestPos = -1;
            for (int i = 0; i < count - 1; i++)
            {
                if (_merges.TryGetValue(Key(symbols[i], symbols[i + 1]), out long m) && m < best)
                {
                    best = m;
                    bestPos = i;
                }
            }
            if (bestPos < 0) break;
            symbols[bestPos] = (int)(best & 0xFFFFFFFF);
            Array.Copy(symbols, bestPos + 2, symbols, bestPos + 1, count - bestPos - 2);
            count--;
        }
        return count == symbols.Length ? symbols : symbols[..count];
    }

    private int[] MergeWithHeap(int[] ids, int count)
    {
        if (count == 0) return [];
        var next = new int[count];
        var prev = new int[count];
        var alive = new bool[count];
        var queue = new PriorityQueue<(int Pos, int Left, int Right), long>();
        for (int i = 0; i < count; i++)
        {
            next[i] = i + 1 < count ? i + 1 : -1;
            prev[i] = i - 1;
            alive[i] = true;
        }
        void Push(int pos)
        {
            int n = next[pos];
            if (n >= 0 && _merges.TryGetValue(Key(ids[pos], ids[n]), out long m))
                queue.Enqueue((pos, ids[pos], ids[n]), (m & ~0xFFFFFFFFL) | (uint)pos);
        }
        for (int i = 0; i < count - 1; i++) Push(i);
        while (queue.TryDequeue(out var top, out _))
        {
            int pos = top.Pos, right = next[pos];
            if (!alive[pos] || right < 0 || ids[pos] != top.Left || ids[right] != top.Right) continue;
            _merges.TryGetValue(Key(top.Left, top.Right), out long m);
            ids[pos] = (int)(m & 0xFFFFFFFF);
            alive[right] = false;
            next[pos] = next[right];
            if (next[right] >= 0) prev[next[right]] = pos;
            if (prev[pos] >= 0) Push(prev[pos]);
            Push(pos);
        }
        var result = new List<int>(count);
        for (int i = 0; i >= 0; i = next[i]) result.Add(ids[i]);
        return result.ToArray();
    }
}
