using Pacs.Engine;
using Pacs.Text;

namespace Pacs.Eval;

/// <summary>
/// Samples responses through any <see cref="IRolloutEngine"/>: prompt text → ids (chat template or BOS + text, see
/// <see cref="PromptEncoder"/>) → the engine → text. Stop ids default to the tokenizer's end-of-sequence ids.
/// </summary>
public sealed class RolloutSampler(IRolloutEngine engine, ITokenizer tokenizer, SamplingParams sampling, PromptEncoder? prompts = null) : IResponseSampler
{
    private readonly PromptEncoder _prompts = prompts ?? new PromptEncoder(tokenizer);

    public SamplingParams Sampling { get; } = sampling.StopTokenIds.Count == 0 ? sampling with { StopTokenIds = tokenizer.EosIds } : sampling;

    public IReadOnlyList<string> Sample(IReadOnlyList<SampleRequest> requests)
    {
        var rollouts = requests.Select(r => new RolloutRequest(_prompts.Encode(r.Prompt, r.System), r.Seed, Sampling)).ToList();
        return engine.Generate(rollouts).Select(r => tokenizer.Decode(r.ResponseIds, skipSpecialTokens: true)).ToList();
    }

    /// <summary>
    /// A sampler over the model folder <paramref name="modelDir"/>: the backend's rollout engine on its weights, its
    /// tokenizer and chat template (<see cref="PromptEncoder.ForModel"/>). <paramref name="engine"/>, when given,
    /// samples instead of the backend's engine over the folder (e.g. the folder's model with a LoRA adapter).
    /// </summary>
    public static RolloutSampler ForModel(IEngineBackend backend, string modelDir, SamplingParams sampling, WeightDtype dtype = WeightDtype.Auto,
        IRolloutEngine? engine = null)
    {
        var tokenizer = TokenizerFiles.Load(modelDir);
        var info = backend.Describe(modelDir);
        if (tokenizer.VocabSize > info.VocabSize)
            throw new InvalidDataException($"{modelDir}: the tokenizer has {tokenizer.VocabSize} ids but config.json 'vocab_size' is {info.VocabSize}");
        return new RolloutSampler(engine ?? backend.LoadRollout(modelDir, dtype), tokenizer, sampling, PromptEncoder.ForModel(modelDir, tokenizer));
    }
}
