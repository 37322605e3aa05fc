namespace Pacs.Text.Tests;

internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string Get(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Pacs.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("Pacs.sln not found above " + AppContext.BaseDirectory);
    }
}
