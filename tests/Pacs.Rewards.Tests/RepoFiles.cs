namespace Pacs.Rewards.Tests;

/// <summary>Files of the repository (found by walking up to Pacs.sln), so tests never read outside it.</summary>
internal static class RepoFiles
{
    public static string Root { get; } = FindRoot();

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Pacs.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("Pacs.sln not found above " + AppContext.BaseDirectory);
    }
}
