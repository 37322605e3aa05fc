using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Pacs.Text;

/// <summary>
/// One token per character over a small fixed vocabulary, for the synthetic tasks (arith, countdown):
/// ids 0..2 are &lt;pad&gt;, &lt;bos&gt;, &lt;eos&gt;, then newline and the 95 printable ASCII characters.
/// Saved as <see cref="FileName"/> (JSON, <c>"type": "char"</c>) next to the model so a model folder is self-contained.
/// </summary>
public sealed class CharTokenizer : ITokenizer
{
    public const string FileName = "char_tokenizer.json";
    public const string PadToken = "<pad>";
    public const string BosToken = "<bos>";
    public const string EosToken = "<eos>";

    private readonly string[] _vocab;
    private readonly Dictionary<char, int> _ids = [];

    /// <summary>The default vocabulary: specials, '\n', then ' ' .. '~'.</summary>
    public CharTokenizer() : this(DefaultVocabulary()) { }

    private CharTokenizer(string[] vocab, string source = "vocabulary")
    {
        if (vocab.Length < 3 || vocab[0] != PadToken || vocab[1] != BosToken || vocab[2] != EosToken)
            throw new InvalidDataException($"{source}: \"vocab\" must start with {PadToken}, {BosToken}, {EosToken}");
        for (int id = 3; id < vocab.Length; id++)
        {
            if (vocab[id].Length != 1) throw new InvalidDataException($"{source}: \"vocab\"[{id}] = \"{vocab[id]}\" is not a single character");
            if (!_ids.TryAdd(vocab[id][0], id)) throw new InvalidDataException($"{source}: \"vocab\"[{id}] = \"{vocab[id]}\" appears twice");
        }
        _vocab = vocab;
    }

    public int VocabSize => _vocab.Length;

    public int? BosId => 1;

    public IReadOnlyList<int> EosIds { get; } = [2];

    public int EosId => 2;

    public int PadId => 0;

    public bool CanEncode(char c) => _ids.ContainsKey(c);

    /// <summary>Encodes one id per character; with <paramref name="addSpecialTokens"/>, BOS first (EOS is the model's to emit).</summary>
    public int[] Encode(string text, bool addSpecialTokens = false)
    {
        int offset = addSpecialTokens ? 1 : 0;
        var ids = new int[text.Length + offset];
        if (addSpecialTokens) ids[0] = 1;
        for (int i = 0; i < text.Length; i++)
        {
            if (!_ids.TryGetValue(text[i], out int id))
                throw new ArgumentException($"char tokenizer: character U+{(int)text[i]:X4} at position {i} is not in the vocabulary");
            ids[i + offset] = id;
        }
        return ids;
    }

    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var sb = new StringBuilder(ids.Length);
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)_vocab.Length) throw new ArgumentException($"char tokenizer: id {id} is outside the vocabulary of {_vocab.Length}");
            if (id < 3 && skipSpecialTokens) continue;
            sb.Append(_vocab[id]);
        }
        return sb.ToString();
    }

    /// <summary>Writes <see cref="FileName"/> into <paramref name="directory"/> (via a temporary file, then a rename).</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        var json = new JsonObject
        {
            ["type"] = "char",
            ["version"] = 1,
            ["pad"] = PadToken,
            ["bos"] = BosToken,
            ["eos"] = EosToken,
            ["vocab"] = new JsonArray(_vocab.Select(v => (JsonNode)JsonValue.Create(v)).ToArray()),
        };
        string path = Path.Combine(directory, FileName);
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Reads a tokenizer saved by <see cref="Save"/>: a folder holding <see cref="FileName"/>, or the file itself.</summary>
    public static CharTokenizer Load(string path)
    {
        string file = Directory.Exists(path) ? Path.Combine(path, FileName) : path;
        if (!File.Exists(file)) throw new FileNotFoundException($"char tokenizer: {file} does not exist", file);
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(file));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{file}: not valid JSON ({e.Message})");
        }
        if (root is not JsonObject obj) throw new InvalidDataException($"{file}: expected a JSON object");
        if (obj["type"]?.GetValueKind() != JsonValueKind.String || (string)obj["type"]! != "char")
            throw new InvalidDataException($"{file}: \"type\" must be \"char\"");
        if (obj["vocab"] is not JsonArray array) throw new InvalidDataException($"{file}: missing \"vocab\" array");
        var vocab = new string[array.Count];
        for (int i = 0; i < vocab.Length; i++)
        {
            if (array[i]?.GetValueKind() != JsonValueKind.String) throw new InvalidDataException($"{file}: \"vocab\"[{i}] is not a string");
            vocab[i] = (string)array[i]!;
        }
        return new CharTokenizer(vocab, file);
    }

    /// <summary>True when <paramref name="directory"/> holds a saved char tokenizer.</summary>
    public static bool ExistsIn(string directory) => File.Exists(Path.Combine(directory, FileName));

    private static string[] DefaultVocabulary()
    {
        var vocab = new List<string> { PadToken, BosToken, EosToken, "\n" };
        for (char c = ' '; c <= '~'; c++) vocab.Add(c.ToString());
        return [.. vocab];
    }
}
