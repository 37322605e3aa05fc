using Pacs.Rewards.Datasets;
using Pacs.Rewards.Math;

namespace Pacs.Rewards.Tests;

public class MathDatasetTests
{
    private static readonly Dictionary<string, (long Rows, Split Split)> Expected = new()
    {
        ["math500"] = (500, Split.Test),
        ["aime24"] = (30, Split.Test),
        ["aime25"] = (30, Split.Test),
        ["amc23"] = (40, Split.Test),
        ["gsm8k"] = (1319, Split.Test),
        ["math_train"] = (7470, Split.Train),
        ["gsm8k_train"] = (7473, Split.Train),
    };

    [Fact]
    public void NamesListTheShippedDatasets() => Assert.Equal(Expected.Keys.Order(), MathDatasets.Names.Order());

    [Theory]
    [InlineData("math500")]
    [InlineData("aime24")]
    [InlineData("aime25")]
    [InlineData("amc23")]
    [InlineData("gsm8k")]
    [InlineData("math_train")]
    [InlineData("gsm8k_train")]
    public void OpensByNameWithOneSplit(string name)
    {
        var task = MathDatasets.Open(name);
        var (rows, split) = Expected[name];
        Assert.Equal(name, task.Name);
        Assert.Equal(rows, task.Count(split));
        Assert.Equal(0, task.Count(split == Split.Test ? Split.Train : Split.Test));
        var ids = Enumerable.Range(0, (int)rows).Select(i => task.Get(split, i).Id).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Theory]
    [InlineData("math500")]
    [InlineData("aime24")]
    [InlineData("aime25")]
    [InlineData("amc23")]
    [InlineData("gsm8k")]
    [InlineData("math_train")]
    public void EveryGoldParsesAndEqualsItselfBoxed(string name)
    {
        var task = MathDatasets.Open(name);
        var split = Expected[name].Split;
        var failures = new List<string>();
        for (long i = 0; i < task.Count(split); i++)
        {
            var problem = task.Get(split, i);
            if (Parser.Parse(Normalization.ForParsing(problem.Answer)) is null) failures.Add($"{problem.Id}: gold does not parse: {problem.Answer}");
            var verdict = task.Verify(problem, $"Let me think.\n\nThe final answer is \\boxed{{{problem.Answer}}}.");
            if (!verdict.Correct) failures.Add($"{problem.Id}: gold not equal to itself boxed: {verdict}");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
    }

    /// <summary>The reference solutions (full worked text ending in \boxed{} or ####) are judged correct against their
    /// own gold and wrong against the next problem's differing gold.</summary>
    [Theory]
    [InlineData("math500")]
    [InlineData("aime24")]
    [InlineData("gsm8k")]
    public void ReferenceSolutionsAreJudgedCorrect(string name)
    {
        var task = MathDatasets.Open(name);
        int n = (int)task.Count(Split.Test);
        var failures = new List<string>();
        for (int i = 0; i < n; i++)
        {
            var problem = task.Get(Split.Test, i);
            var solution = problem.Solution!;
            if (!task.Verify(problem, solution).Correct) failures.Add($"{problem.Id}: own solution rejected: {task.Verify(problem, solution)}");
            var other = Enumerable.Range(1, n - 1).Select(k => task.Get(Split.Test, (i + k) % n))
                .First(p => Normalization.Key(p.Answer).Replace("x=", "") != Normalization.Key(problem.Answer).Replace("x=", ""));
            if (task.Verify(other, solution).Correct) failures.Add($"{problem.Id}: solution accepted for {other.Id} (gold {other.Answer})");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
    }

    [Fact]
    public void GsmGoldIsUnequalToADifferentGold()
    {
        var task = MathDatasets.Open("gsm8k");
        int n = (int)task.Count(Split.Test);
        for (int i = 0; i < n; i++)
        {
            var gold = task.Get(Split.Test, i).Answer;
            var other = Enumerable.Range(1, n - 1).Select(k => task.Get(Split.Test, (i + k) % n).Answer).First(a => long.Parse(a) != long.Parse(gold));
            Assert.False(MathVerifier.Verify($"#### {other}", gold).Correct, $"{gold} vs {other}");
        }
    }

    [Fact]
    public void DefaultPromptIsProblemThenBoxedInstruction()
    {
        var problem = MathDatasets.Open("aime24").Get(Split.Test, 0);
        Assert.StartsWith("Every morning Aya", problem.Prompt);
        Assert.EndsWith("\nPlease reason step by step, and put your final answer within \\boxed{}.", problem.Prompt);
        Assert.Equal("204", problem.Answer);
    }

    [Fact]
    public void CustomTemplateReplacesProblem()
    {
        var problem = MathDatasets.Open("amc23", "Q: {problem}\nA:").Get(Split.Test, 0);
        Assert.StartsWith("Q: Cities $A$ and $B$", problem.Prompt);
        Assert.EndsWith("\nA:", problem.Prompt);
        Assert.Throws<ArgumentException>(() => MathDatasets.Open("amc23", "no placeholder"));
    }

    [Fact]
    public void AliasesAndPathsOpen()
    {
        Assert.Equal(30, MathDatasets.Open("AIME2024").Count(Split.Test));
        var path = RepoFiles.Path("data", "amc23.jsonl");
        var task = MathDatasets.Open(path);
        Assert.Equal("amc23", task.Name);
        Assert.Equal(40, task.Count(Split.Test));
    }

    [Fact]
    public void BadNamesAndFilesFailWithAMessage()
    {
        var unknown = Assert.Throws<ArgumentException>(() => MathDatasets.Open("mathh500"));
        Assert.Contains("math500", unknown.Message);
        Assert.Throws<FileNotFoundException>(() => MathDatasets.Open("/nonexistent/x.jsonl"));
        var file = Path.GetTempFileName() + ".jsonl";
        try
        {
            File.WriteAllText(file, "{\"problem\": \"1+1\", \"answer\": \"2\"}\n{\"problem\": \"2+2\"}\n");
            var missing = Assert.Throws<InvalidDataException>(() => MathDatasets.Open(file));
            Assert.Contains(":2:", missing.Message);
            Assert.Contains("answer", missing.Message);
            File.WriteAllText(file, "{\"problem\": \"1+1\", \"answer\": \"2\"}\nnot json\n");
            Assert.Contains(":2:", Assert.Throws<InvalidDataException>(() => MathDatasets.Open(file)).Message);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void GetOutsideTheSplitThrows()
    {
        var task = MathDatasets.Open("aime25");
        Assert.Throws<ArgumentOutOfRangeException>(() => task.Get(Split.Test, 30));
        Assert.Throws<ArgumentOutOfRangeException>(() => task.Get(Split.Train, 0));
    }
}
