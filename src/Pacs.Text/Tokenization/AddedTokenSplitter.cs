namespace Pacs.Text.Tokenization;

/// <summary>One entry of `added_tokens` in tokenizer.json.</summary>
public sealed record AddedToken(int Id, string Content, bool Special, bool Normalized, bool LStrip, bool RStrip, bool SingleWord);

/// <summary>Cuts text at occurrences of added tokens, longest match first at each position (a trie over characters).</summary>
public sealed class AddedTokenSplitter
{
    private sealed class Node
    {
        public Dictionary<char, Node>? Children;
        public AddedToken? Token;
    }

    private readonly Node _root = new();
    private System.Buffers.SearchValues<char> _firstChars = System.Buffers.SearchValues.Create("");

    public bool IsEmpty { get; private set; } = true;

    public void Add(string content, AddedToken token)
    {
        if (content.Length == 0) return;
        var node = _root;
        foreach (char c in content)
        {
            node.Children ??= new Dictionary<char, Node>();
            if (!node.Children.TryGetValue(c, out var child)) node.Children[c] = child = new Node();
            node = child;
        }
        node.Token ??= token;
        IsEmpty = false;
        _firstChars = System.Buffers.SearchValues.Create(_root.Children!.Keys.ToArray());
    }

    /// <summary>Appends (text, null) for plain pieces and (content, token) for matches, then applies lstrip/rstrip
    /// by trimming whitespace off the neighbouring plain pieces.</summary>
    public void Split(string text, List<(string Text, AddedToken? Token)> output)
    {
        int first = output.Count;
        if (IsEmpty)
        {
            output.Add((text, null));
            return;
        }
        int pieceStart = 0;
        for (int i = 0; i < text.Length;)
        {
            int skip = text.AsSpan(i).IndexOfAny(_firstChars);
            if (skip < 0) break;
            i += skip;
            var node = _root;
            AddedToken? match = null;
            int matchLength = 0;
            for (int j = i; j < text.Length && node.Children is not null && node.Children.TryGetValue(text[j], out node); j++)
            {
                if (node.Token is { } t && (!t.SingleWord || IsWordBoundary(text, i, j + 1)))
                {
                    match = t;
                    matchLength = j + 1 - i;
                }
            }
            if (match is null)
            {
                i++;
                continue;
            }
            if (i > pieceStart) output.Add((text[pieceStart..i], null));
            output.Add((text.Substring(i, matchLength), match));
            i += matchLength;
            pieceStart = i;
        }
        if (pieceStart < text.Length) output.Add((text[pieceStart..], null));

        for (int k = first; k < output.Count; k++)
        {
            if (output[k].Token is not { } token) continue;
            if (token.LStrip && k > first && output[k - 1].Token is null) output[k - 1] = (output[k - 1].Text.TrimEnd(), null);
            if (token.RStrip && k + 1 < output.Count && output[k + 1].Token is null) output[k + 1] = (output[k + 1].Text.TrimStart(), null);
        }
    }

    private static bool IsWordBoundary(string text, int start, int end)
    {
        static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';
        return (start == 0 || !IsWordChar(text[start - 1])) && (end == text.Length || !IsWordChar(text[end]));
    }
}
