using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text.Json;
using Pacs.Tensors.Kernels;

namespace Pacs.Models;

/// <summary>Element types we read (into float32, or BF16 kept as bfloat16 bits) and write.</summary>
public enum SafetensorsDtype { F32, BF16, F16 }

/// <summary>One tensor's header entry: dtype, shape and byte range inside the data section.</summary>
public sealed record SafetensorsEntry(string Name, SafetensorsDtype Dtype, int[] Shape, long Begin, long End)
{
    public long Numel => Pacs.Tensors.Shapes.Numel(Shape);
}

/// <summary>A named tensor to write: float32 <see cref="Data"/>, or bfloat16 bits (<see cref="BFloat16Data"/>, Data empty).</summary>
public sealed record NamedArray(string Name, int[] Shape, float[] Data)
{
    public NamedArray(string name, int[] shape, ushort[] bfloat16Data)
        : this(name, shape, Array.Empty<float>())
    {
        BFloat16Data = bfloat16Data;
    }

    public ushort[]? BFloat16Data { get; }

    /// <summary>Elements held.</summary>
    public int Length => BFloat16Data?.Length ?? Data.Length;

    /// <summary>The float32 or bfloat16 storage of <paramref name="tensor"/>, not copied.</summary>
    public static NamedArray Of(string name, Pacs.Tensors.Tensor tensor) => tensor.Dtype == Pacs.Tensors.TensorDtype.BFloat16
        ? new NamedArray(name, tensor.Shape, tensor.BFloat16Data)
        : new NamedArray(name, tensor.Shape, tensor.Data);
}

/// <summary>
/// A memory-mapped `.safetensors` file: an 8-byte little-endian header length, a JSON header mapping names to
/// {dtype, shape, data_offsets}, then the raw little-endian data. The header is read through a memory mapping; tensor
/// data is read with positioned reads straight into the caller's buffer (through a small scratch buffer when it is
/// converted), so no copy of the file is held in memory and its pages do not count in the process's resident set (a
/// mapping's pages would, doubling the resident peak of a load).
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly Microsoft.Win32.SafeHandles.SafeFileHandle _handle;
    private readonly MemoryMappedViewAccessor _view;
    private readonly long _dataStart;
    private readonly long _fileLength;
    private readonly Dictionary<string, SafetensorsEntry> _entries;
    private bool _disposed;

    public string Path { get; }
    public IReadOnlyDictionary<string, SafetensorsEntry> Entries => _entries;
    public IReadOnlyDictionary<string, string> Metadata { get; }

    private SafetensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, long fileLength)
    {
        Path = path;
        _map = map;
        _view = view;
        _fileLength = fileLength;
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        byte* basePtr = p + view.PointerOffset;
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(basePtr, 8));
        if (headerLength > (ulong)(fileLength - 8))
            throw new InvalidDataException($"{path}: truncated file: header says {headerLength} bytes but only {fileLength - 8} follow");
        if (headerLength > 100_000_000)
            throw new InvalidDataException($"{path}: bad header: length {headerLength} is implausibly large");
        _dataStart = 8 + (long)headerLength;
        (_entries, var metadata) = ParseHeader(path, new ReadOnlySpan<byte>(basePtr + 8, (int)headerLength), fileLength - _dataStart);
        Metadata = metadata;
        _handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read); // last: nothing after it can throw
    }

    public static SafetensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: safetensors file not found", path);
        long length = new FileInfo(path).Length;
        if (length < 8) throw new InvalidDataException($"{path}: truncated file: {length} bytes, fewer than the 8-byte header length");
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        MemoryMappedViewAccessor? view = null;
        try
        {
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            return new SafetensorsFile(path, map, view, length);
        }
        catch
        {
            if (view is not null)
            {
                view.SafeMemoryMappedViewHandle.ReleasePointer();
                view.Dispose();
            }
            map.Dispose();
            throw;
        }
    }

    private static (Dictionary<string, SafetensorsEntry>, Dictionary<string, string>) ParseHeader(string path, ReadOnlySpan<byte> json, long dataLength)
    {
        var entries = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json.ToArray());
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: bad header: invalid JSON ({e.Message})");
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: bad header: expected a JSON object");
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind == JsonValueKind.Object)
                        foreach (var m in prop.Value.EnumerateObject())
                            metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                    continue;
                }
                entries[prop.Name] = ParseEntry(path, prop.Name, prop.Value, dataLength);
            }
        }
        return (entries, metadata);
    }

    private static SafetensorsEntry ParseEntry(string path, string name, JsonElement e, long dataLength)
    {
        if (e.ValueKind != JsonValueKind.Object
            || !e.TryGetProperty("dtype", out var dtypeEl) || dtypeEl.ValueKind != JsonValueKind.String
            || !e.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array
            || !e.TryGetProperty("data_offsets", out var offEl) || offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2)
            throw new InvalidDataException($"{path}: bad header: tensor '{name}' needs dtype, shape and data_offsets [begin, end]");
        string dtypeName = dtypeEl.GetString()!;
        SafetensorsDtype dtype = dtypeName switch
        {
            "F32" => SafetensorsDtype.F32,
            "BF16" => SafetensorsDtype.BF16,
            "F16" => SafetensorsDtype.F16,
            _ => throw new NotSupportedException($"{path}: tensor '{name}' has dtype {dtypeName}; only F32, BF16 and F16 are supported"),
        };
        var shape = new int[shapeEl.GetArrayLength()];
        int i = 0;
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int v) || v < 0)
                throw new InvalidDataException($"{path}: bad header: tensor '{name}' has an invalid shape {shapeEl.GetRawText()}");
            shape[i++] = v;
        }
        if (!offEl[0].TryGetInt64(out long begin) || !offEl[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw new InvalidDataException($"{path}: bad header: tensor '{name}' has invalid data_offsets {offEl.GetRawText()}");
        long expected = Pacs.Tensors.Shapes.Numel(shape) * ElementSize(dtype);
        if (end - begin != expected)
            throw new InvalidDataException($"{path}: bad header: tensor '{name}' of shape {Pacs.Tensors.Shapes.Format(shape)} {dtypeName} needs {expected} bytes but data_offsets span {end - begin}");
        if (end > dataLength)
            throw new InvalidDataException($"{path}: truncated file: tensor '{name}' ends at data byte {end} but the data section has {dataLength} bytes");
        return new SafetensorsEntry(name, dtype, shape, begin, end);
    }

    public static int ElementSize(SafetensorsDtype dtype) => dtype == SafetensorsDtype.F32 ? 4 : 2;

    public SafetensorsEntry Entry(string name) =>
        _entries.TryGetValue(name, out var e) ? e : throw new InvalidDataException($"{Path}: missing tensor '{name}'");

    /// <summary>Converts one tensor into <paramref name="destination"/> (length = its element count).</summary>
    public void ReadInto(string name, Span<float> destination)
    {
        var e = CheckedEntry(name, destination.Length);
        var scratch = e.Dtype == SafetensorsDtype.F32 ? [] : new byte[Math.Min(ReadChunk, destination.Length) * 2];
        for (int start = 0; start < destination.Length; start += ReadChunk)
        {
            int count = Math.Min(ReadChunk, destination.Length - start);
            var dst = destination.Slice(start, count);
            if (e.Dtype == SafetensorsDtype.F32)
            {
                ReadData(e, start, MemoryMarshal.AsBytes(dst));
                continue;
            }
            var bytes = scratch.AsSpan(0, count * 2);
            ReadData(e, start, bytes);
            if (e.Dtype == SafetensorsDtype.BF16) BFloat16.Widen(MemoryMarshal.Cast<byte, ushort>(bytes), dst);
            else
            {
                var half = MemoryMarshal.Cast<byte, Half>(bytes);
                for (int i = 0; i < count; i++) dst[i] = (float)half[i];
            }
        }
    }

    /// <summary>
    /// One tensor as bfloat16 bits into <paramref name="destination"/>: BF16 data is copied as it is; F32 and F16 are
    /// rounded to nearest even.
    /// </summary>
    public void ReadInto(string name, Span<ushort> destination)
    {
        var e = CheckedEntry(name, destination.Length);
        if (e.Dtype == SafetensorsDtype.BF16)
        {
            for (int start = 0; start < destination.Length; start += ReadChunk)
                ReadData(e, start, MemoryMarshal.AsBytes(destination.Slice(start, Math.Min(ReadChunk, destination.Length - start))));
            return;
        }
        var buffer = new float[Math.Min(ReadChunk, destination.Length)];
        for (int start = 0; start < destination.Length; start += ReadChunk)
        {
            int count = Math.Min(ReadChunk, destination.Length - start);
            ReadInto(e, start, buffer.AsSpan(0, count));
            BFloat16.Round(buffer.AsSpan(0, count), destination.Slice(start, count));
        }
    }

    /// <summary>Elements per positioned read (and per scratch buffer).</summary>
    private const int ReadChunk = 1 << 20;

    private SafetensorsEntry CheckedEntry(string name, int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var e = Entry(name);
        if (length != e.Numel)
            throw new InvalidDataException($"{Path}: tensor '{name}' has {e.Numel} elements, destination holds {length}");
        return e;
    }

    /// <summary>Elements [start, start + dst.Length / size) of an F32 or F16 tensor converted to float32 (for rounding).</summary>
    private void ReadInto(SafetensorsEntry e, int start, Span<float> dst)
    {
        if (e.Dtype == SafetensorsDtype.F32)
        {
            ReadData(e, start, MemoryMarshal.AsBytes(dst));
            return;
        }
        var bytes = new byte[dst.Length * 2];
        ReadData(e, start, bytes);
        var half = MemoryMarshal.Cast<byte, Half>(bytes.AsSpan());
        for (int i = 0; i < dst.Length; i++) dst[i] = (float)half[i];
    }

    /// <summary>The tensor's bytes from element <paramref name="start"/> on, filling <paramref name="dst"/>.</summary>
    private void ReadData(SafetensorsEntry e, long start, Span<byte> dst)
    {
        long offset = _dataStart + e.Begin + start * ElementSize(e.Dtype);
        while (dst.Length > 0)
        {
            int read = RandomAccess.Read(_handle, dst, offset);
            if (read <= 0) throw new InvalidDataException($"{Path}: truncated file: tensor '{e.Name}' ends past byte {offset}");
            dst = dst[read..];
            offset += read;
        }
    }

    public float[] ReadFloat32(string name)
    {
        var e = Entry(name);
        var data = new float[e.Numel];
        ReadInto(name, data);
        return data;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
        _handle.Dispose();
    }

    /// <summary>Writes tensors to one `.safetensors` file (atomically: temp file + rename).</summary>
    public static void Write(string path, IReadOnlyList<NamedArray> tensors, SafetensorsDtype dtype = SafetensorsDtype.F32,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        int size = ElementSize(dtype);
        string dtypeName = dtype.ToString();
        var header = new MemoryStream();
        using (var w = new Utf8JsonWriter(header))
        {
            w.WriteStartObject();
            w.WriteStartObject("__metadata__");
            w.WriteString("format", "pt");
            if (metadata is not null)
                foreach (var (k, v) in metadata)
                    if (k != "format") w.WriteString(k, v);
            w.WriteEndObject();
            long offset = 0;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var t in tensors)
            {
                if (!seen.Add(t.Name)) throw new ArgumentException($"{path}: tensor '{t.Name}' is written twice");
                if (Pacs.Tensors.Shapes.Numel(t.Shape) != t.Length)
                    throw new ArgumentException($"{path}: tensor '{t.Name}' has shape {Pacs.Tensors.Shapes.Format(t.Shape)} but {t.Length} elements");
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", dtypeName);
                w.WriteStartArray("shape");
                foreach (var d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                offset += (long)t.Length * size;
                w.WriteNumberValue(offset);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        // Pad the header with spaces to a multiple of 8 so the data section is aligned.
        while (header.Length % 8 != 0) header.WriteByte((byte)' ');
        var headerBytes = header.ToArray();
        AtomicFile.Write(path, s =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)headerBytes.Length);
            s.Write(len);
            s.Write(headerBytes);
            var buffer = new byte[1 << 20];
            foreach (var t in tensors)
            {
                if (t.BFloat16Data is { } bits) WriteBFloat16(s, bits, dtype, buffer);
                else WriteData(s, t.Data, dtype, buffer);
            }
        });
    }

    private static void WriteData(Stream s, float[] data, SafetensorsDtype dtype, byte[] buffer)
    {
        if (dtype == SafetensorsDtype.F32)
        {
            s.Write(MemoryMarshal.AsBytes(data.AsSpan()));
            return;
        }
        int perChunk = buffer.Length / 2;
        for (int start = 0; start < data.Length; start += perChunk)
        {
            int count = Math.Min(perChunk, data.Length - start);
            var dst = MemoryMarshal.Cast<byte, ushort>(buffer.AsSpan(0, count * 2));
            for (int i = 0; i < count; i++)
                dst[i] = dtype == SafetensorsDtype.BF16 ? BFloat16.FromSingle(data[start + i]) : BitConverter.HalfToUInt16Bits((Half)data[start + i]);
            s.Write(buffer, 0, count * 2);
        }
    }

    /// <summary>bfloat16 bits: as they are for BF16, widened for F32, widened then rounded to half for F16.</summary>
    private static void WriteBFloat16(Stream s, ushort[] bits, SafetensorsDtype dtype, byte[] buffer)
    {
        if (dtype == SafetensorsDtype.BF16)
        {
            s.Write(MemoryMarshal.AsBytes(bits.AsSpan()));
            return;
        }
        var widened = new float[Math.Min(bits.Length, 1 << 18)];
        for (int start = 0; start < bits.Length; start += widened.Length)
        {
            int count = Math.Min(widened.Length, bits.Length - start);
            BFloat16.Widen(bits.AsSpan(start, count), widened);
            WriteData(s, widened[..count], dtype, buffer);
        }
    }
}

/// <summary>
/// A model folder's weights: `model.safetensors`, or shards listed by `model.safetensors.index.json`.
/// </summary>
public sealed class SafetensorsCheckpoint : IDisposable
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly Dictionary<string, SafetensorsFile> _fileOf;
    private readonly List<SafetensorsFile> _files;

    public string Directory { get; }

    private SafetensorsCheckpoint(string dir, Dictionary<string, SafetensorsFile> fileOf, List<SafetensorsFile> files)
    {
        Directory = dir;
        _fileOf = fileOf;
        _files = files;
    }

    public IEnumerable<string> Names => _fileOf.Keys;

    public bool Contains(string name) => _fileOf.ContainsKey(name);

    public SafetensorsEntry Entry(string name) => File(name).Entry(name);

    public string FileOf(string name) => File(name).Path;

    private SafetensorsFile File(string name) =>
        _fileOf.TryGetValue(name, out var f) ? f : throw new InvalidDataException($"{Describe()}: missing tensor '{name}'");

    private string Describe() => _files.Count == 1 ? _files[0].Path : System.IO.Path.Combine(Directory, IndexFileName);

    public void ReadInto(string name, Span<float> destination) => File(name).ReadInto(name, destination);

    public void ReadInto(string name, Span<ushort> destination) => File(name).ReadInto(name, destination);

    public static SafetensorsCheckpoint Open(string dir)
    {
        if (!System.IO.Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: model directory not found");
        string index = System.IO.Path.Combine(dir, IndexFileName);
        string single = System.IO.Path.Combine(dir, SingleFileName);
        var files = new List<SafetensorsFile>();
        var fileOf = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            if (System.IO.File.Exists(index))
            {
                var shards = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
                foreach (var (name, shard) in ReadIndex(index))
                {
                    if (!shards.TryGetValue(shard, out var file))
                    {
                        string shardPath = System.IO.Path.Combine(dir, shard);
                        if (!System.IO.File.Exists(shardPath))
                            throw new FileNotFoundException($"{index}: shard '{shard}' (holding tensor '{name}') not found", shardPath);
                        file = SafetensorsFile.Open(shardPath);
                        shards[shard] = file;
                        files.Add(file);
                    }
                    if (!file.Entries.ContainsKey(name))
                        throw new InvalidDataException($"{file.Path}: missing tensor '{name}' (listed for this shard in {index})");
                    fileOf[name] = file;
                }
            }
            else if (System.IO.File.Exists(single))
            {
                var file = SafetensorsFile.Open(single);
                files.Add(file);
                foreach (var name in file.Entries.Keys) fileOf[name] = file;
            }
            else
            {
                throw new FileNotFoundException($"{dir}: no {SingleFileName} or {IndexFileName}", single);
            }
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
        return new SafetensorsCheckpoint(dir, fileOf, files);
    }

    private static List<(string Name, string Shard)> ReadIndex(string path)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(System.IO.File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: invalid JSON: {e.Message}");
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: field 'weight_map' is missing or not an object");
            var list = new List<(string, string)>();
            foreach (var p in map.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String) throw new InvalidDataException($"{path}: field 'weight_map.{p.Name}' must be a file name");
                string shard = p.Value.GetString()!;
                if (shard.Contains('/') || shard.Contains('\\') || shard.Contains(".."))
                    throw new InvalidDataException($"{path}: field 'weight_map.{p.Name}' names '{shard}', which is not a file in the model folder");
                list.Add((p.Name, shard));
            }
            return list;
        }
    }

    /// <summary>
    /// Writes tensors into <paramref name="dir"/>: one `model.safetensors` when they fit in
    /// <paramref name="maxShardBytes"/>, else `model-0000i-of-0000n.safetensors` shards plus the index.
    /// Stale weight files of the other layout are removed so the folder has one consistent checkpoint.
    /// </summary>
    public static void Save(string dir, IReadOnlyList<NamedArray> tensors, long maxShardBytes = 2L << 30,
        SafetensorsDtype dtype = SafetensorsDtype.F32)
    {
        if (maxShardBytes <= 0) throw new ArgumentException($"maxShardBytes must be positive, got {maxShardBytes}");
        System.IO.Directory.CreateDirectory(dir);
        int size = SafetensorsFile.ElementSize(dtype);
        var shards = new List<List<NamedArray>> { new() };
        long current = 0, total = 0;
        foreach (var t in tensors)
        {
            long bytes = (long)t.Length * size;
            if (current > 0 && current + bytes > maxShardBytes)
            {
                shards.Add([]);
                current = 0;
            }
            shards[^1].Add(t);
            current += bytes;
            total += bytes;
        }
        string index = System.IO.Path.Combine(dir, IndexFileName);
        foreach (var stale in System.IO.Directory.GetFiles(dir, "model-*-of-*.safetensors")) System.IO.File.Delete(stale);
        if (shards.Count == 1)
        {
            SafetensorsFile.Write(System.IO.Path.Combine(dir, SingleFileName), shards[0], dtype);
            if (System.IO.File.Exists(index)) System.IO.File.Delete(index);
            return;
        }
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < shards.Count; i++)
        {
            string name = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            SafetensorsFile.Write(System.IO.Path.Combine(dir, name), shards[i], dtype);
            foreach (var t in shards[i]) weightMap[t.Name] = name;
        }
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartObject("metadata");
            w.WriteNumber("total_size", total);
            w.WriteEndObject();
            w.WriteStartObject("weight_map");
            foreach (var (k, v) in weightMap) w.WriteString(k, v);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        AtomicFile.WriteAllBytes(index, stream.ToArray());
        string single = System.IO.Path.Combine(dir, SingleFileName);
        if (System.IO.File.Exists(single)) System.IO.File.Delete(single);
    }

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
    }

}
