using System.Text;

namespace Pacs.Engine.Managed;

/// <summary>
/// A flat binary file of named float arrays (optimizer moments, value-head weights): "PACSSTAT", version, count,
/// then per entry a length-prefixed UTF-8 name, an element count and little-endian float32s. Written to a temp
/// file and renamed so a crash never leaves a torn file.
/// </summary>
public static class StateFile
{
    private static readonly byte[] Magic = "PACSSTAT"u8.ToArray();
    private const int Version = 1;

    public static void Write(string path, IReadOnlyList<(string Name, float[] Data)> entries) => AtomicFile.Write(path, stream =>
    {
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        writer.Write(Magic);
        writer.Write(Version);
        writer.Write(entries.Count);
        foreach (var (name, data) in entries)
        {
            writer.Write(name);
            writer.Write(data.Length);
            writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()));
        }
    });

    public static Dictionary<string, float[]> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"state file not found: {path}", path);
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream, Encoding.UTF8);
        if (!reader.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic)) throw new InvalidDataException($"{path}: not a Pacs state file (bad magic)");
        int version = reader.ReadInt32();
        if (version != Version) throw new InvalidDataException($"{path}: unsupported state file version {version}");
        int count = reader.ReadInt32();
        var result = new Dictionary<string, float[]>(count);
        for (int i = 0; i < count; i++)
        {
            string name = reader.ReadString();
            int length = reader.ReadInt32();
            if (length < 0) throw new InvalidDataException($"{path}: entry '{name}' has negative length");
            var data = new float[length];
            var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan());
            if (reader.Read(bytes) != bytes.Length) throw new EndOfStreamException($"{path}: entry '{name}' is truncated");
            result[name] = data;
        }
        return result;
    }

    /// <summary>Copies a stored array into an existing one, checking the name and length.</summary>
    public static void CopyInto(Dictionary<string, float[]> stored, string name, float[] destination, string path)
    {
        if (!stored.TryGetValue(name, out var data)) throw new InvalidDataException($"{path}: missing entry '{name}'");
        if (data.Length != destination.Length) throw new InvalidDataException($"{path}: entry '{name}' has {data.Length} elements, expected {destination.Length}");
        data.CopyTo(destination, 0);
    }
}
