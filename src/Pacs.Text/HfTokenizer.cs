using System.Text.Json;
using Pacs.Text.Tokenization;

namespace Pacs.Text;

/// <summary>A Hugging Face tokenizer read from `tokenizer.json` (BPE model: byte-level like Qwen2/Qwen3, Llama 3 and
/// GPT-2, or SentencePiece-style with byte fallback like Llama 2), with BOS/EOS/PAD from `tokenizer_config.json` and
/// `generation_config.json` when they sit beside it. Thread-safe after loading.</summary>
public sealed class HfTokenizer : ITokenizer
{
    private readonly Normalizer? _normalizer;
    private readonly PreTokenizer? _preTokenizer;
    private readonly BpeModel _model;
    private readonly PostProcessor? _postProcessor;
    private readonly Decoder? _decoder;
    private readonly AddedTokenSplitter _rawSplitter = new();
    private readonly AddedTokenSplitter _normalizedSplitter = new();
    private readonly string?[] _idToToken;
    private readonly HashSet<int> _specialIds = [];
    private readonly bool _cleanUpTokenizationSpaces;

    public int VocabSize => _idToToken.Length;
    public int? BosId { get; }
    public IReadOnlyList<int> EosIds { get; }
    public int PadId { get; }
    public IReadOnlyList<AddedToken> AddedTokens { get; }

    /// <summary>The `chat_template` of tokenizer_config.json, if any.</summary>
    public string? ChatTemplateSource { get; }

    /// <summary>The `bos_token`/`eos_token` strings of tokenizer_config.json, for chat templates.</summary>
    public string? BosToken { get; }
    public string? EosToken { get; }

    private HfTokenizer(JsonElement root, string file, JsonElement config, JsonElement generation, string? configFile)
    {
        _normalizer = Normalizer.FromJson(TokenizerJson.Optional(root, "normalizer"), file);
        _preTokenizer = PreTokenizer.FromJson(TokenizerJson.Optional(root, "pre_tokenizer"), file);
        var modelJson = TokenizerJson.Optional(root, "model");
        if (modelJson.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{file}: missing 'model' object");
        _model = BpeModel.FromJson(modelJson, file);
        _model.ByteLevelInput = _preTokenizer?.MapsToByteAlphabet ?? false;
        _postProcessor = PostProcessor.FromJson(TokenizerJson.Optional(root, "post_processor"), file);

        var added = new List<AddedToken>();
        var addedJson = TokenizerJson.Optional(root, "added_tokens");
        if (addedJson.ValueKind == JsonValueKind.Array)
        {
            foreach (var t in addedJson.EnumerateArray())
            {
                bool special = TokenizerJson.OptionalBool(t, "special", false);
                added.Add(new AddedToken(
                    TokenizerJson.OptionalInt(t, "id", -1) is var id and >= 0 ? id : throw new InvalidDataException($"{file}: added_tokens entry without a valid 'id'"),
                    TokenizerJson.RequireString(t, "content", file, "added_tokens entry"),
                    special,
                    TokenizerJson.OptionalBool(t, "normalized", !special),
                    TokenizerJson.OptionalBool(t, "lstrip", false),
                    TokenizerJson.OptionalBool(t, "rstrip", false),
                    TokenizerJson.OptionalBool(t, "single_word", false)));
            }
        }
        AddedTokens = added;

        int size = _model.Vocab.Count == 0 ? 0 : _model.Vocab.Values.Max() + 1;
        foreach (var t in added) size = Math.Max(size, t.Id + 1);
        _idToToken = new string?[size];
        foreach (var (token, id) in _model.Vocab) _idToToken[id] = token;
        var addedContents = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in added)
        {
            _idToToken[t.Id] = t.Content;
            addedContents.Add(t.Content);
            if (t.Special) _specialIds.Add(t.Id);
            if (t.Normalized && _normalizer is not null) _normalizedSplitter.Add(_normalizer.Normalize(t.Content), t);
            else _rawSplitter.Add(t.Content, t);
        }
        _decoder = Decoder.FromJson(TokenizerJson.Optional(root, "decoder"), file, addedContents);

        string where = configFile ?? file;
        BosToken = TokenContent(config, "bos_token");
        EosToken = TokenContent(config, "eos_token");
        string? padToken = TokenContent(config, "pad_token");
        ChatTemplateSource = TokenizerJson.OptionalString(config, "chat_template");
        foreach (var extra in SpecialTokenList(config))
            if (TokenToId(extra) is int extraId) _specialIds.Add(extraId);
        // Python's transformers defaults this to False now; the JavaScript port defaults it to true. Without a
        // tokenizer_config.json we behave like the Rust `tokenizers` library (no clean-up).
        _cleanUpTokenizationSpaces = TokenizerJson.OptionalBool(config, "clean_up_tokenization_spaces", false);

        int? generationBos = TokenizerJson.Optional(generation, "bos_token_id") is { ValueKind: JsonValueKind.Number } b ? b.GetInt32() : null;
        BosId = generationBos ?? (BosToken is null ? null : TokenToId(BosToken) ?? throw new InvalidDataException($"{where}: bos_token '{BosToken}' is not in the vocabulary"));
        var eos = new List<int>();
        if (EosToken is not null) eos.Add(TokenToId(EosToken) ?? throw new InvalidDataException($"{where}: eos_token '{EosToken}' is not in the vocabulary"));
        var generationEos = TokenizerJson.Optional(generation, "eos_token_id");
        if (generationEos.ValueKind == JsonValueKind.Number) eos.Add(generationEos.GetInt32());
        else if (generationEos.ValueKind == JsonValueKind.Array) eos.AddRange(generationEos.EnumerateArray().Select(e => e.GetInt32()));
        EosIds = eos.Distinct().ToArray();
        int? generationPad = TokenizerJson.Optional(generation, "pad_token_id") is { ValueKind: JsonValueKind.Number } p ? p.GetInt32() : null;
        PadId = (padToken is null ? null : TokenToId(padToken)) ?? generationPad ?? (EosIds.Count > 0 ? EosIds[0] : 0);
    }

    /// <summary>Loads `tokenizer.json` (a directory holding it, or the file itself) and, from the same directory,
    /// `tokenizer_config.json` and `generation_config.json` if present.</summary>
    public static HfTokenizer Load(string dirOrFile)
    {
        string file = Directory.Exists(dirOrFile) ? Path.Combine(dirOrFile, "tokenizer.json") : dirOrFile;
        if (!File.Exists(file)) throw new FileNotFoundException($"tokenizer file not found: {file}", file);
        string dir = Path.GetDirectoryName(Path.GetFullPath(file))!;
        string configFile = Path.Combine(dir, "tokenizer_config.json");
        string generationFile = Path.Combine(dir, "generation_config.json");
        using var root = ParseJson(file);
        using var config = File.Exists(configFile) ? ParseJson(configFile) : null;
        using var generation = File.Exists(generationFile) ? ParseJson(generationFile) : null;
        return new HfTokenizer(root.RootElement, file, config?.RootElement ?? default, generation?.RootElement ?? default,
            config is null ? null : configFile);
    }

    private static JsonDocument ParseJson(string file)
    {
        try
        {
            using var stream = File.OpenRead(file);
            return JsonDocument.Parse(stream, new JsonDocumentOptions { AllowTrailingCommas = true, MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{file}: not valid JSON ({e.Message})");
        }
    }

    private static string? TokenContent(JsonElement config, string key)
    {
        var v = TokenizerJson.Optional(config, key);
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Object => TokenizerJson.OptionalString(v, "content"),
            _ => null,
        };
    }

    private static IEnumerable<string> SpecialTokenList(JsonElement config)
    {
        var list = TokenizerJson.Optional(config, "additional_special_tokens");
        if (list.ValueKind != JsonValueKind.Array) yield break;
        foreach (var item in list.EnumerateArray())
            if (item.ValueKind == JsonValueKind.String) yield return item.GetString()!;
            else if (TokenizerJson.OptionalString(item, "content") is { } content) yield return content;
    }

    /// <summary>The id of a vocabulary or added token, or null.</summary>
    public int? TokenToId(string token)
    {
        foreach (var t in AddedTokens) if (t.Content == token) return t.Id;
        return _model.Vocab.TryGetValue(token, out int id) ? id : null;
    }

    /// <summary>The token string of an id, or null when the id has none.</summary>
    public string? IdToToken(int id) => (uint)id < (uint)_idToToken.Length ? _idToToken[id] : null;

    public bool IsSpecial(int id) => _specialIds.Contains(id);

    public int[] Encode(string text, bool addSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        EncodeInto(text, ids);
        if (addSpecialTokens) _postProcessor?.AddSpecialTokens(ids);
        return ids.ToArray();
    }

    private void EncodeInto(string text, List<int> ids)
    {
        var sections = new List<(string Text, AddedToken? Token)>();
        _rawSplitter.Split(text, sections);
        var subsections = new List<(string Text, AddedToken? Token)>();
        var ranges = new List<(int Start, int Length)>();
        List<string>? pieces = null;
        for (int s = 0; s < sections.Count; s++)
        {
            var (sectionText, sectionToken) = sections[s];
            if (sectionToken is not null) { ids.Add(sectionToken.Id); continue; }
            if (sectionText.Length == 0) continue;
            string normalized = _normalizer?.Normalize(sectionText) ?? sectionText;
            subsections.Clear();
            _normalizedSplitter.Split(normalized, subsections);
            for (int u = 0; u < subsections.Count; u++)
            {
                var (piece, token) = subsections[u];
                if (token is not null) { ids.Add(token.Id); continue; }
                if (piece.Length == 0) continue;
                if (_preTokenizer is null)
                {
                    _model.EncodeWord(piece, ids);
                }
                else if (_preTokenizer.IsPureSplitter)
                {
                    ranges.Clear();
                    _preTokenizer.Split(piece, 0, piece.Length, ranges);
                    foreach (var (start, length) in ranges) _model.EncodeWord(piece.AsSpan(start, length), ids);
                }
                else
                {
                    (pieces ??= []).Clear();
                    _preTokenizer.PreTokenize(piece, s == 0 && u == 0, pieces);
                    foreach (var word in pieces) _model.EncodeWord(word, ids);
                }
            }
        }
    }

    /// <summary>Decodes ids to text. Ids without a token (past the vocabulary) are skipped, as the Rust library does.</summary>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var tokens = new List<string>(ids.Length);
        foreach (int id in ids)
        {
            if (IdToToken(id) is not { } token) continue;
            if (skipSpecialTokens && _specialIds.Contains(id)) continue;
            tokens.Add(token);
        }
        string text = _decoder is null ? string.Join(' ', tokens) : string.Concat(_decoder.DecodeChain(tokens));
        return _cleanUpTokenizationSpaces ? CleanUpTokenization(text) : text;
    }

    /// <summary>transformers' `clean_up_tokenization`: removes the space before punctuation and English contractions.</summary>
    public static string CleanUpTokenization(string text) => text
        .Replace(" .", ".", StringComparison.Ordinal).Replace(" ?", "?", StringComparison.Ordinal)
        .Replace(" !", "!", StringComparison.Ordinal).Replace(" ,", ",", StringComparison.Ordinal)
        .Replace(" ' ", "'", StringComparison.Ordinal).Replace(" n't", "n't", StringComparison.Ordinal)
        .Replace(" 'm", "'m", StringComparison.Ordinal).Replace(" 's", "'s", StringComparison.Ordinal)
        .Replace(" 've", "'ve", StringComparison.Ordinal).Replace(" 're", "'re", StringComparison.Ordinal);
}
