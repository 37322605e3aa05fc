namespace Pacs.Rl.Tests;

internal static class RepoRoot
{
    public static string Find()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Pacs.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Pacs.sln not found above " + AppContext.BaseDirectory);
    }
}
