namespace Pacs.Rewards.Tasks;

/// <summary>Finds the content of the last <c>\boxed{...}</c> in a response, with nested braces balanced.</summary>
public static class Boxed
{
    public static string? Last(string response)
    {
        int start = response.LastIndexOf("\\boxed{", StringComparison.Ordinal);
        while (start >= 0)
        {
            int open = start + "\\boxed{".Length;
            int depth = 1;
            for (int i = open; i < response.Length; i++)
            {
                if (response[i] == '{') depth++;
                else if (response[i] == '}' && --depth == 0) return response[open..i];
            }
            // Unclosed: look for an earlier, complete one.
            start = start == 0 ? -1 : response.LastIndexOf("\\boxed{", start - 1, StringComparison.Ordinal);
        }
        return null;
    }
}
