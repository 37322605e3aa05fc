using System.Text.Json;
using Parquet.Serialization;

namespace Pacs.Rewards.Datasets;

/// <summary>
/// Parquet prompt sets (verl writes its datasets so): every row, nested structs and lists included, is read with
/// Parquet.Net's untyped deserializer, turned into the JSON object it stands for, and parsed as a JSONL row would be.
/// </summary>
internal static class ParquetRows
{
    public static List<DatasetRow> Read(string path, DatasetKeys keys)
    {
        IEnumerable<IDictionary<string, object>> data;
        try
        {
            using var stream = File.OpenRead(path);
            data = ParquetSerializer.DeserializeUntypedAsync(stream).GetAwaiter().GetResult().Data;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or InvalidOperationException or ArgumentException)
        {
            throw new InvalidDataException($"{path}: not a readable Parquet file ({e.Message})");
        }
        string name = Path.GetFileNameWithoutExtension(path);
        var rows = new List<DatasetRow>();
        int rowNumber = 0;
        foreach (var row in data)
        {
            rowNumber++;
            var json = JsonSerializer.SerializeToElement(row);
            rows.Add(DatasetReader.FromJson(json, keys, $"{path}: row {rowNumber}", fallbackId: $"{name}-{rowNumber - 1}"));
        }
        return rows;
    }
}
