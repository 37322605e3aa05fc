using System.Security.Cryptography;
using System.Threading.Channels;
using Pacs.Models;

namespace Pacs.Serve;

/// <summary>What a request asks to sample, whatever route it came by.</summary>
/// <param name="Seed">The first sample's seed; sample i of a prompt uses Seed + i. Null: a random seed per sample.</param>
/// <param name="TopLogProbs">Most likely tokens to report per position (0: none).</param>
/// <param name="StopStrings">Texts that end a sample (not included in its text).</param>
internal sealed record SampleSpec(IReadOnlyList<int[]> Prompts, int N, SamplingOptions Options, ulong? Seed, int TopLogProbs, string[] StopStrings);

/// <summary>One sample of a request: its tokens so far, their log-probs, text, and how it ended.</summary>
internal sealed class ChoiceState(int index, int promptIndex)
{
    public int Index { get; } = index;
    public int PromptIndex { get; } = promptIndex;
    public List<int> Tokens { get; } = [];
    public List<float> LogProbs { get; } = [];
    public List<(int Token, float LogProb)[]> Top { get; } = [];
    /// <summary>The text so far, cut before a matched stop string.</summary>
    public string Text { get; set; } = "";
    /// <summary>"stop" or "length" once finished.</summary>
    public string? FinishReason { get; set; }
    /// <summary>The stop id (SGLang's matched) or stop string that ended it.</summary>
    public object? Matched { get; set; }
    public string WeightVersion { get; set; } = "";
    public CancellationTokenSource Cancel { get; init; } = new();
    public bool Finished => FinishReason is not null;
}

/// <summary>A new piece of one sample: tokens [From, To) and text appended since the last delta.</summary>
internal readonly record struct ChoiceDelta(ChoiceState Choice, int From, int To, string Text);

/// <summary>
/// Runs a request's samples through the scheduler and follows them: applies stop strings (a match cancels the
/// sample, freeing its rows) and yields each sample's new tokens and text as they come.
/// </summary>
internal sealed class GenerationRun
{
    private readonly ServedModel _model;
    private readonly SampleSpec _spec;
    private readonly Channel<JobUpdate> _updates = Channel.CreateUnbounded<JobUpdate>(new UnboundedChannelOptions { SingleReader = true });
    private readonly int _holdBack;

    public ChoiceState[] Choices { get; }

    private GenerationRun(ServedModel model, SampleSpec spec)
    {
        _model = model;
        _spec = spec;
        _holdBack = spec.StopStrings.Length == 0 ? 0 : spec.StopStrings.Max(s => s.Length) - 1;
        Choices = Enumerable.Range(0, spec.Prompts.Count * spec.N).Select(i => new ChoiceState(i, i / spec.N)).ToArray();
    }

    public static GenerationRun Start(BatchScheduler scheduler, ServedModel model, SampleSpec spec, CancellationToken aborted)
    {
        var run = new GenerationRun(model, spec);
        var jobs = run.Choices.Select(c =>
        {
            var cancel = CancellationTokenSource.CreateLinkedTokenSource(aborted, c.Cancel.Token).Token;
            ulong seed = spec.Seed is { } s ? unchecked(s + (ulong)(c.Index % spec.N)) : RandomSeed();
            return new GenerationJob(c.Index, spec.Prompts[c.PromptIndex], spec.Options, seed, spec.TopLogProbs, run._updates.Writer, cancel);
        }).ToList();
        scheduler.Submit(jobs);
        return run;
    }

    private static ulong RandomSeed() => BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));

    /// <summary>Every sample's new pieces until all have finished.</summary>
    public async IAsyncEnumerable<ChoiceDelta> Deltas([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancel = default)
    {
        int open = Choices.Length;
        while (open > 0)
        {
            var update = await _updates.Reader.ReadAsync(cancel);
            var choice = Choices[update.Choice];
            if (choice.Finished) continue;
            int from = choice.Tokens.Count;
            string text = Apply(choice, update);
            if (choice.Finished) open--;
            if (choice.Tokens.Count > from || text.Length > 0 || choice.Finished) yield return new ChoiceDelta(choice, from, choice.Tokens.Count, text);
        }
    }

    /// <summary>Waits for every sample to finish.</summary>
    public async Task CompleteAsync(CancellationToken cancel)
    {
        await foreach (var _ in Deltas(cancel)) { }
    }

    /// <summary>Adds an update to its sample; returns the text that became final.</summary>
    private string Apply(ChoiceState choice, JobUpdate update)
    {
        choice.Tokens.AddRange(update.Tokens);
        choice.LogProbs.AddRange(update.LogProbs);
        if (update.Top is not null) choice.Top.AddRange(update.Top);
        choice.WeightVersion = update.WeightVersion;
        string full = _model.Text(choice.Tokens);
        int stopAt = -1;
        foreach (var stop in _spec.StopStrings)
        {
            int at = full.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (stopAt < 0 || at < stopAt)) { stopAt = at; choice.Matched = stop; }
        }
        string visible;
        if (stopAt >= 0)
        {
            visible = full[..stopAt];
            choice.FinishReason = "stop";
            choice.Cancel.Cancel();
        }
        else if (update.Finished)
        {
            visible = full;
            choice.FinishReason = update.Stopped ? "stop" : "length";
            if (update.Stopped && choice.Tokens.Count > 0) choice.Matched = choice.Tokens[^1];
        }
        else
        {
            // Hold back what may be the start of a stop string, or half of a character.
            int keep = Math.Max(0, full.Length - _holdBack);
            while (keep > 0 && full[keep - 1] == '\uFFFD') keep--;
            visible = full[..keep];
        }
        // Decoding more tokens may rewrite the end of the text (a character split over tokens): a delta is only
        // what extends the text already sent; the final text is always the whole decoded text.
        string delta = visible.StartsWith(choice.Text, StringComparison.Ordinal) ? visible[choice.Text.Length..] : "";
        if (delta.Length > 0 || choice.Finished) choice.Text = visible;
        return delta;
    }
}
