using Pacs.Models;
using Pacs.Text;

namespace Pacs.Serve;

/// <summary>
/// The model a server samples from: weights, tokenizer (optional: a model without one takes token-id prompts only),
/// chat template (optional), and the names a request may use for it.
/// </summary>
public sealed class ServedModel
{
    public ServedModel(string id, Transformer model, ITokenizer? tokenizer = null, ChatTemplate? chatTemplate = null, string? path = null)
    {
        Id = id;
        Model = model;
        Tokenizer = tokenizer;
        ChatTemplate = chatTemplate;
        Path = path;
    }

    /// <summary>The id /v1/models lists (the model folder's name).</summary>
    public string Id { get; }

    /// <summary>The folder it was loaded from, as given (also accepted as the request's `model`).</summary>
    public string? Path { get; }

    public Transformer Model { get; }

    public ITokenizer? Tokenizer { get; }

    public ChatTemplate? ChatTemplate { get; }

    public long CreatedUnixSeconds { get; } = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary>Loads config.json, the weights, the tokenizer and the chat template (when tokenizer_config.json has one).</summary>
    public static ServedModel Load(string dir)
    {
        var model = Transformer.Load(dir);
        var tokenizer = TokenizerFiles.Load(dir);
        var template = tokenizer is HfTokenizer { ChatTemplateSource: not null } ? ChatTemplate.FromTokenizerConfig(dir) : null;
        string id = new DirectoryInfo(dir).Name;
        return new ServedModel(id, model, tokenizer, template, dir);
    }

    public bool Answers(string name) => name == Id || (Path is not null && name == Path);

    private volatile ServedAdapter? _adapter;

    /// <summary>
    /// The LoRA adapter every request runs with (also <see cref="Transformer.Adapter"/> of <see cref="Model"/>), or
    /// null for the base. Set only by the scheduler's thread while no sequence runs (see LoraEndpoints).
    /// </summary>
    public ServedAdapter? Adapter
    {
        get => _adapter;
        internal set
        {
            Model.Adapter = value?.Weights;
            _adapter = value;
        }
    }

    /// <summary>The ids that end a sequence unless the request says ignore_eos: generation_config.json's, else config.json's, plus the tokenizer's.</summary>
    public IReadOnlyList<int> EndIds
    {
        get
        {
            var ids = new SortedSet<int>(Model.GenerationConfig?.EosTokenIds is { Count: > 0 } g ? g : Model.Config.EosTokenIds);
            if (Tokenizer is not null) ids.UnionWith(Tokenizer.EosIds);
            return [.. ids];
        }
    }

    /// <summary>The text of one token, as the logprobs lists show it ("token_id:N" without a tokenizer).</summary>
    public string TokenText(int id) => Tokenizer is null ? TokenIdText(id) : Tokenizer.Decode([id]);

    /// <summary>vLLM's return_tokens_as_token_ids form of a token: "token_id:N".</summary>
    public static string TokenIdText(int id) => $"token_id:{id}";

    /// <summary>The text of a token list (empty without a tokenizer).</summary>
    public string Text(IReadOnlyList<int> ids) => Tokenizer is null ? "" : Tokenizer.Decode(ids.ToArray(), skipSpecialTokens: true);
}

/// <summary>A PEFT adapter loaded onto the served base: the name requests use for it and the folder it came from.</summary>
public sealed record ServedAdapter(string Name, string Path, LoraAdapter Weights);
