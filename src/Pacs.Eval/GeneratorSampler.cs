using Pacs.Models;
using Pacs.Text;

namespace Pacs.Eval;

/// <summary>Samples responses with a model's KV-cache <see cref="Generator"/>: prompt text → ids (chat template or BOS + text, see <see cref="PromptEncoder"/>) → new tokens → text.</summary>
public sealed class GeneratorSampler(Transformer model, ITokenizer tokenizer, SamplingOptions sampling, PromptEncoder? prompts = null) : IResponseSampler
{
    private readonly Generator _generator = new(model);
    private readonly PromptEncoder _prompts = prompts ?? new PromptEncoder(tokenizer);

    public SamplingOptions Sampling { get; } = sampling.StopTokenIds is null ? sampling with { StopTokenIds = tokenizer.EosIds } : sampling;

    public IReadOnlyList<string> Sample(IReadOnlyList<SampleRequest> requests)
    {
        var generation = requests.Select(r => new GenerationRequest(_prompts.Encode(r.Prompt), r.Seed)).ToList();
        var results = _generator.Generate(generation, Sampling);
        return results.Select(r => tokenizer.Decode(r.Tokens, skipSpecialTokens: true)).ToList();
    }
}

/// <summary>A model folder: weights, config and the tokenizer saved next to them.</summary>
public static class ModelDirectory
{
    /// <summary>Loads the model and its tokenizer: char_tokenizer.json if present, else a Hugging Face tokenizer.json.</summary>
    public static (Transformer Model, ITokenizer Tokenizer) Load(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: model directory not found");
        var model = Transformer.Load(dir);
        ITokenizer tokenizer = CharTokenizer.ExistsIn(dir) ? CharTokenizer.Load(dir)
            : File.Exists(Path.Combine(dir, "tokenizer.json")) ? HfTokenizer.Load(dir)
            : throw new FileNotFoundException($"{dir}: no tokenizer ({CharTokenizer.FileName} or tokenizer.json) next to the model");
        if (tokenizer.VocabSize > model.Config.VocabSize)
            throw new InvalidDataException($"{dir}: the tokenizer has {tokenizer.VocabSize} ids but config.json 'vocab_size' is {model.Config.VocabSize}");
        return (model, tokenizer);
    }
}
