using Pacs.Rewards.Datasets;

namespace Pacs.Rewards.Tests;

/// <summary>Prompt sets as users have them: verl rows in Parquet and JSONL, plain rows with their own keys, and bad rows.</summary>
public sealed class DatasetReaderTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("pacs-data-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    private string Write(string name, params string[] lines)
    {
        string path = System.IO.Path.Combine(_temp, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void A_verl_parquet_file_written_by_the_fixture_tool_reads_back_row_for_row_as_its_jsonl()
    {
        // tools/verl_parquet/make_verl_parquet.mjs wrote both files from the same rows (Parquet in pyarrow's nested layout).
        var parquet = DatasetReader.Read(RepoFiles.Path("tests", "Pacs.Rewards.Tests", "Data", "verl_rows.parquet"));
        var jsonl = DatasetReader.Read(RepoFiles.Path("tests", "Pacs.Rewards.Tests", "Data", "verl_rows.jsonl"));
        Assert.Equal(3, parquet.Count);
        Assert.Equal(jsonl, parquet);
        Assert.Equal("openai/gsm8k-0", parquet[0].Id);
        Assert.Equal("72", parquet[0].Answer);
        Assert.True(parquet[0].Formatted);
        Assert.EndsWith("output the final answer after \"####\".", parquet[0].Prompt);
        Assert.Null(parquet[0].System);
        Assert.Equal("You are a careful solver.", parquet[1].System);
    }

    [Fact]
    public void Verl_rows_are_used_as_they_are_and_plain_rows_get_the_template()
    {
        var rows = DatasetReader.Read(RepoFiles.Path("tests", "Pacs.Rewards.Tests", "Data", "verl_rows.jsonl"));
        var verl = JsonlMathTask.ToProblem(rows[0], "{problem} BOXED");
        Assert.Equal(rows[0].Prompt, verl.Prompt);
        var plain = JsonlMathTask.ToProblem(new DatasetRow("a", "1+1?", "2", null, null, Formatted: false), "{problem} BOXED");
        Assert.Equal("1+1? BOXED", plain.Prompt);
    }

    [Fact]
    public void Custom_keys_read_a_users_own_jsonl_including_nested_fields()
    {
        string path = Write("mine.jsonl",
            """{"question": "What is 2+3?", "meta": {"gold": 5}, "uid": "q-1"}""",
            "",
            """{"question": "What is 4*4?", "meta": {"gold": "16"}, "uid": "q-2"}""");
        var rows = DatasetReader.Read(path, new DatasetKeys("question", "meta.gold", "uid"));
        Assert.Equal(["q-1", "q-2"], rows.Select(r => r.Id));
        Assert.Equal(["5", "16"], rows.Select(r => r.Answer));
        Assert.All(rows, r => Assert.False(r.Formatted));
    }

    [Theory]
    [InlineData("""{"question": "x"}""", "mine.jsonl:2: missing field 'meta.gold'")]
    [InlineData("""{"question": ["x"], "meta": {"gold": 1}}""", "mine.jsonl:2: field 'question' must be a string")]
    [InlineData("""not json""", "mine.jsonl:2: not valid JSON")]
    public void A_bad_row_is_reported_with_file_and_line(string badRow, string expected)
    {
        string path = Write("mine.jsonl", """{"question": "ok", "meta": {"gold": 1}}""", badRow);
        var e = Assert.Throws<InvalidDataException>(() => DatasetReader.Read(path, new DatasetKeys("question", "meta.gold")));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_verl_row_must_hold_one_user_message()
    {
        string path = Write("verl.jsonl", """{"prompt": [{"role": "assistant", "content": "hi"}], "reward_model": {"ground_truth": "1"}}""");
        var e = Assert.Throws<InvalidDataException>(() => DatasetReader.Read(path));
        Assert.Contains("verl.jsonl:1: field 'prompt' must be one user message, optionally after one system message (got roles: assistant)", e.Message);
    }

    [Fact]
    public void A_file_that_is_not_parquet_is_named_in_the_error()
    {
        string path = Write("broken.parquet", "this is not parquet");
        var e = Assert.Throws<InvalidDataException>(() => DatasetReader.Read(path));
        Assert.Contains("broken.parquet: not a readable Parquet file", e.Message);
    }

    [Fact]
    public void Gsm8k_train_ships_as_a_train_split()
    {
        var task = MathDatasets.Open("gsm8k_train");
        Assert.Equal(7473, task.Count(Split.Train));
        Assert.Equal(0, task.Count(Split.Test));
        Assert.Equal("gsm8k-train-0", task.Get(Split.Train, 0).Id);
    }
}
