namespace Pacs.Engine.Tests;

public sealed class SeamHelpersTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "pacs-seam-" + Guid.NewGuid().ToString("N"));

    public SeamHelpersTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Atomic_writes_replace_the_file_and_leave_no_temporary_behind_even_when_the_writer_fails()
    {
        string path = Path.Combine(_dir, "a.txt");
        AtomicFile.WriteAllText(path, "old");
        Assert.Throws<IOException>(() => AtomicFile.Write(path, stream =>
        {
            stream.WriteByte((byte)'x');
            throw new IOException("disk full");
        }));
        Assert.Equal("old", File.ReadAllText(path));
        AtomicFile.WriteAllText(path, "new");
        Assert.Equal("new", File.ReadAllText(path));
        Assert.Equal(["a.txt"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void Rng_streams_and_hashes_are_fixed_for_a_seed()
    {
        var a = new Rng(42);
        var b = new Rng(42);
        Assert.Equal(Enumerable.Range(0, 5).Select(_ => a.NextUInt64()), Enumerable.Range(0, 5).Select(_ => b.NextUInt64()));
        Assert.Equal(Rng.Hash(1, 2, 3), Rng.Hash(1, 2, 3));
        Assert.NotEqual(Rng.Hash(1, 2, 3), Rng.Hash(1, 3, 2));
        // SplitMix64's published first output for seed 0.
        Assert.Equal(0xE220A8397B1DCDAFUL, new Rng(0).NextUInt64());
    }
}
