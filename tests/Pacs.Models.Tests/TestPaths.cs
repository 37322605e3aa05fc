using System.Text;
using System.Text.Json;

namespace Pacs.Models.Tests;

internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRoot();

    public static string Models(string name) => Path.Combine(RepoRoot, "models", name);

    public static string Fixture(string name) => Path.Combine(RepoRoot, "tests", "fixtures", "models", name);

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Pacs.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Pacs.sln not found above " + AppContext.BaseDirectory);
    }

    public static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "pacs-models-tests-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Decodes ids with a SentencePiece-style vocab (▁ = space, &lt;0xNN&gt; = byte): enough for the tests,
    /// which must not depend on the real tokenizer in Pacs.Text.</summary>
    public static string DecodeWithVocab(string tokenizerJson, IEnumerable<int> ids)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(tokenizerJson));
        var byId = new Dictionary<int, string>();
        foreach (var p in doc.RootElement.GetProperty("model").GetProperty("vocab").EnumerateObject()) byId[p.Value.GetInt32()] = p.Name;
        var bytes = new List<byte>();
        foreach (var id in ids)
        {
            string piece = byId[id];
            if (piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal)) bytes.Add(Convert.ToByte(piece[3..5], 16));
            else bytes.AddRange(Encoding.UTF8.GetBytes(piece.Replace('▁', ' ')));
        }
        string text = Encoding.UTF8.GetString(bytes.ToArray());
        return text.StartsWith(' ') ? text[1..] : text;
    }
}
