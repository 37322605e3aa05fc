using System.Text.Json;
using System.Text.Json.Serialization;
using Parquet;
using Parquet.Serialization;

namespace Pacs.Rewards.Datasets;

/// <summary>
/// Parquet prompt sets (verl writes its datasets so). A file with verl's columns is read into <see cref="VerlRow"/>
/// (Parquet.Net's typed reader handles both list layouts writers use for `prompt`); any other file with the untyped
/// reader. Each row is then turned into the JSON object it stands for and parsed as a JSONL row would be.
/// </summary>
internal static class ParquetRows
{
    public static List<DatasetRow> Read(string path, DatasetKeys keys)
    {
        List<JsonElement> objects;
        try
        {
            objects = ReadObjects(path).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or NotImplementedException
            or InvalidOperationException or ArgumentException or IndexOutOfRangeException)
        {
            throw new InvalidDataException($"{path}: not a readable Parquet file ({e.Message}{(e.InnerException is { } inner ? ": " + inner.Message : "")})");
        }
        string name = Path.GetFileNameWithoutExtension(path);
        var rows = new List<DatasetRow>(objects.Count);
        for (int i = 0; i < objects.Count; i++)
            rows.Add(DatasetReader.FromJson(objects[i], keys, $"{path}: row {i + 1}", fallbackId: $"{name}-{i}"));
        return rows;
    }

    private static async Task<List<JsonElement>> ReadObjects(string path)
    {
        await using var stream = File.OpenRead(path);
        var schema = await ParquetReader.ReadSchemaAsync(stream);
        stream.Position = 0;
        var columns = schema.Fields.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        if (columns.Contains("prompt") && columns.Contains("reward_model"))
        {
            var typed = await ParquetSerializer.DeserializeAsync<VerlRow>(stream);
            return [.. typed.Data.Select((row, i) => JsonSerializer.SerializeToElement(row.WithIndex(i)))];
        }
        var untyped = await ParquetSerializer.DeserializeUntypedAsync(stream);
        return [.. untyped.Data.Select(row => JsonSerializer.SerializeToElement(row))];
    }

    /// <summary>The columns of a verl row the trainer reads (extra_info.index is the row's position, as verl's preprocessing writes it).</summary>
    internal sealed class VerlRow
    {
        [JsonPropertyName("data_source")]
        public string? DataSource { get; set; }

        [JsonPropertyName("prompt")]
        public List<VerlMessage>? Prompt { get; set; }

        [JsonPropertyName("reward_model")]
        public VerlReward? RewardModel { get; set; }

        [JsonPropertyName("extra_info")]
        [Parquet.Serialization.Attributes.ParquetIgnore]
        public Dictionary<string, long>? ExtraInfo { get; set; }

        public VerlRow WithIndex(int index)
        {
            ExtraInfo = new() { ["index"] = index };
            return this;
        }
    }

    internal sealed class VerlMessage
    {
        [JsonPropertyName("content")]
        public string? Content { get; set; }

        [JsonPropertyName("role")]
        public string? Role { get; set; }
    }

    internal sealed class VerlReward
    {
        [JsonPropertyName("ground_truth")]
        public string? GroundTruth { get; set; }
    }
}
