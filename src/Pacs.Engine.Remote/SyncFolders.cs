namespace Pacs.Engine.Remote;

/// <summary>
/// The policy's weights as Hugging Face folders under `rollout.sync_dir`, one per weight version (`v00000012`):
/// each is written to a temporary sibling and renamed into place, so a server never reads a half-written folder;
/// `current` is a symbolic link to the newest (vLLM reloads from the path it was started with); older versions are
/// pruned, keeping the newest few this run wrote.
/// </summary>
public sealed class SyncFolders(RemoteOptions options)
{
    public const string CurrentLink = "current";

    private readonly List<string> _published = [];

    /// <summary>Writes <paramref name="policy"/> as version <paramref name="version"/> and returns the folder's absolute path.</summary>
    public string Publish(ITrainableModel policy, long version)
    {
        string root = Path.GetFullPath(options.SyncDir);
        Directory.CreateDirectory(root);
        string dir = Path.Combine(root, $"v{version:D8}");
        string tmp = Path.Combine(root, $".v{version:D8}.tmp-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
        try
        {
            policy.SaveHuggingFace(tmp);
            options.CompleteSyncFolder?.Invoke(tmp);
            // The same version again (a step undone after a non-finite loss) replaces the earlier folder.
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            Directory.Move(tmp, dir);
        }
        catch
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
            throw;
        }
        PointCurrentAt(root, dir);
        _published.Remove(dir);
        _published.Add(dir);
        Prune();
        return dir;
    }

    /// <summary>Re-points `current` by renaming a fresh link over it (rename(2): atomic on POSIX file systems).</summary>
    private static void PointCurrentAt(string root, string dir)
    {
        string link = Path.Combine(root, CurrentLink);
        string tmpLink = Path.Combine(root, $".{CurrentLink}.tmp-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
        File.CreateSymbolicLink(tmpLink, Path.GetFileName(dir));
        if (OperatingSystem.IsWindows())
        {
            // File.Move would follow a link to a folder; Windows has no atomic replace of a link anyway.
            if (Path.Exists(link)) File.Delete(link);
            Directory.Move(tmpLink, link);
            return;
        }
        if (Rename(tmpLink, link) != 0)
            throw new IOException($"rollout.sync_dir: cannot point {link} at {dir} (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()})");
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "rename", SetLastError = true)]
    private static extern int Rename([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string from,
        [System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string to);

    private void Prune()
    {
        while (_published.Count > Math.Max(1, options.KeepSyncedVersions))
        {
            string old = _published[0];
            _published.RemoveAt(0);
            if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
        }
    }
}
