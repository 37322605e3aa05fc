using Pacs.Rewards;
using Pacs.Rl.Config;
using Pacs.Rl.Data;

namespace Pacs.Rl.Tests.Data;

/// <summary>Explicit splits: a user's own .jsonl as the RL prompt set, with a validation file or a held-out fraction.</summary>
public sealed class RunDataTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("pacs-rundata-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    private string Mine(int rows)
    {
        string path = Path.Combine(_temp, "mine.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, rows).Select(i => $$"""{"q": "What is {{i}}+1?", "gold": "{{i + 1}}", "uid": "m{{i}}"}"""));
        return path;
    }

    private static TrainConfig Config(params string[] sets)
    {
        var config = new TrainConfig();
        foreach (var kv in sets) ConfigBinder.Set(config, kv);
        return config;
    }

    [Fact]
    public void A_users_jsonl_with_custom_keys_is_the_rl_prompt_set_with_a_held_out_fraction()
    {
        string[] sets = [$"data.train_files={Mine(20)}", "data.prompt_key=q", "data.answer_key=gold", "data.id_key=uid", "data.eval_fraction=0.25"];
        var task = RunData.CreateTask(Config(sets));
        Assert.Equal(15, task.Count(Split.Train));
        Assert.Equal(5, task.Count(Split.Test));
        var train = Enumerable.Range(0, 15).Select(i => task.Get(Split.Train, i).Id).ToList();
        var test = Enumerable.Range(0, 5).Select(i => task.Get(Split.Test, i).Id).ToList();
        Assert.Empty(train.Intersect(test));
        Assert.Equal(train.OrderBy(id => int.Parse(id[1..])), train); // the prompt set keeps file order
        var first = task.Get(Split.Train, 0);
        Assert.StartsWith($"What is {int.Parse(first.Id[1..])}+1?", first.Prompt);
        Assert.EndsWith("within \\boxed{}.", first.Prompt);
        Assert.Equal(1.0, task.Verify(first, $"\\boxed{{{first.Answer}}}").Reward);
        // The same seed holds out the same problems.
        var again = RunData.CreateTask(Config(sets));
        Assert.Equal(test, Enumerable.Range(0, 5).Select(i => again.Get(Split.Test, i).Id));
    }

    [Fact]
    public void A_validation_set_can_be_a_shipped_dataset_and_the_template_and_system_prompt_apply()
    {
        var task = RunData.CreateTask(Config($"data.train_files={Mine(3)}", "data.prompt_key=q", "data.answer_key=gold",
            "data.eval_dataset=amc23", "data.prompt_template=Q: {problem}", "data.system_prompt=Be brief."));
        Assert.Equal(3, task.Count(Split.Train));
        Assert.Equal(40, task.Count(Split.Test));
        var problem = task.Get(Split.Train, 0);
        Assert.Equal("Q: What is 0+1?", problem.Prompt);
        Assert.Equal("Be brief.", problem.System);
    }

    [Fact]
    public void Shipped_train_splits_are_prompt_sets_without_validation_unless_asked()
    {
        var task = RunData.CreateTask(Config("task.name=gsm8k_train"));
        Assert.Equal(7473, task.Count(Split.Train));
        Assert.Equal(0, task.Count(Split.Test));
    }

    [Fact]
    public void Bad_data_keys_name_the_key()
    {
        var e = Assert.Throws<FileNotFoundException>(() => RunData.CreateTask(Config("data.train_files=nope.jsonl")));
        Assert.Contains("data.train_files: 'nope.jsonl' is neither a shipped dataset", e.Message);
        var bad = Assert.Throws<InvalidDataException>(() => RunData.CreateTask(Config($"data.train_files={Mine(2)}", "data.prompt_key=question")));
        Assert.Contains("mine.jsonl:1: missing field 'question'", bad.Message);
        var both = Assert.Throws<ArgumentException>(() => DataValidator.Validate(Config("data.eval_dataset=math500", "data.eval_fraction=0.1")));
        Assert.Contains("data.eval_dataset and data.eval_fraction", both.Message);
    }
}
