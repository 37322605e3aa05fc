namespace Pacs.Text;

/// <summary>Text to token ids and back. Implemented by the character tokenizer of the synthetic tasks and by the
/// Hugging Face `tokenizer.json` tokenizer.</summary>
public interface ITokenizer
{
    int VocabSize { get; }

    /// <summary>Begin-of-sequence id, if the tokenizer has one.</summary>
    int? BosId { get; }

    /// <summary>Ids that end a generation (end-of-sequence, end-of-turn).</summary>
    IReadOnlyList<int> EosIds { get; }

    /// <summary>Id used to pad batches; never attended to.</summary>
    int PadId { get; }

    /// <summary>Encodes text. With <paramref name="addSpecialTokens"/> the post-processor adds BOS/EOS as the model expects.</summary>
    int[] Encode(string text, bool addSpecialTokens = false);

    string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false);
}
