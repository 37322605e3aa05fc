namespace Pacs.Rewards.Math;

/// <summary>
/// Multiple-choice answers: a letter in parentheses, with or without the option's value (<c>\textbf{(C) }18</c>,
/// <c>(C)</c>, <c>C</c>). Read from the normalized key (<see cref="Normalization.Key"/>), so \text, \textbf, braces and
/// spaces are already gone.
/// </summary>
public static class MultipleChoice
{
    /// <summary>The letter and the value written after it ("" when none), if <paramref name="key"/> is "(C)" followed
    /// by a value or nothing.</summary>
    public static (char Letter, string Value)? Parse(string key)
    {
        if (key.Length < 3 || key[0] != '(' || key[2] != ')' || !char.IsAsciiLetterUpper(key[1])) return null;
        return (key[1], key[3..]);
    }

    /// <summary>The verdict when either side is a choice in parentheses, else null (the caller compares as usual).
    /// Letters must agree; values, where both sides give one, must be equal; a choice answered by its value alone
    /// is equal when the values are. A second letter or a joining word in the value ("(C)or(D)") is never a value.</summary>
    public static (bool Equal, string Reason)? Compare(string goldKey, string predKey, Func<string, string, bool> valuesEqual)
    {
        var gold = Parse(goldKey);
        var pred = Parse(predKey);
        if (gold is null && pred is null) return null;
        if (gold is { } g && pred is { } p)
        {
            if (g.Letter != p.Letter) return (false, "different choice");
            if (!IsValue(g.Value) || !IsValue(p.Value)) return (false, "choice with more than one option");
            bool same = g.Value.Length == 0 || p.Value.Length == 0 || valuesEqual(g.Value, p.Value);
            return (same, same ? "same choice" : "same letter, different value");
        }
        var (choice, other) = gold is { } only ? (only, predKey) : (pred!.Value, goldKey);
        if (!IsValue(choice.Value)) return (false, "choice with more than one option");
        if (IsLetter(other)) return other[0] == choice.Letter ? (true, "same choice") : (false, "different choice");
        bool equal = choice.Value.Length > 0 && IsValue(other) && valuesEqual(choice.Value, other);
        return (equal, equal ? "value of the choice" : "not the choice");
    }

    private static bool IsLetter(string key) => key.Length == 1 && char.IsAsciiLetterUpper(key[0]);

    /// <summary>Whether the text after a letter is one value: no other "(X)" option and no "or"/"and" joining two.</summary>
    private static bool IsValue(string value)
    {
        for (int k = 0; k + 2 < value.Length; k++)
            if (value[k] == '(' && char.IsAsciiLetterUpper(value[k + 1]) && value[k + 2] == ')') return false;
        if (value.Contains(',') || value.Contains(';')) return false;
        for (int k = 0; k < value.Length;)
        {
            if (!char.IsAsciiLetter(value[k])) { k++; continue; }
            int start = k;
            while (k < value.Length && char.IsAsciiLetter(value[k])) k++;
            bool command = start > 0 && value[start - 1] == '\\';
            var word = value[start..k].ToLowerInvariant();
            if (command ? word is "lor" or "vee" or "cup" : word is "or" or "and") return false;
        }
        return true;
    }
}
