using Pacs.Rewards.Tasks;

namespace Pacs.Rewards.Tests;

public class TasksGeneratorTests
{
    public static TheoryData<string> TaskNames => new() { "arith", "countdown" };

    [Theory]
    [MemberData(nameof(TaskNames))]
    public void Generators_are_deterministic_in_seed_split_and_index(string name)
    {
        var a = TaskRegistry.Create(name, seed: 7);
        var b = TaskRegistry.Create(name, seed: 7);
        for (int i = 0; i < 50; i++)
        {
            Assert.Equal(a.Get(Split.Train, i), b.Get(Split.Train, i));
            Assert.Equal(a.Get(Split.Test, i), b.Get(Split.Test, i));
        }
        var other = TaskRegistry.Create(name, seed: 8);
        int same = Enumerable.Range(0, 50).Count(i => other.Get(Split.Train, i).Prompt == a.Get(Split.Train, i).Prompt);
        Assert.True(same < 10, $"seeds 7 and 8 share {same} of 50 prompts");
    }

    [Theory]
    [MemberData(nameof(TaskNames))]
    public void Train_rl_and_test_splits_are_disjoint_across_seeds(string name)
    {
        var seen = new Dictionary<string, Split>();
        foreach (var seed in new[] { 0L, 1L, 2L })
        {
            var task = TaskRegistry.Create(name, seed);
            foreach (var split in new[] { Split.Train, Split.Rl, Split.Test })
                for (int i = 0; i < 1000; i++)
                {
                    string prompt = task.Get(split, i).Prompt;
                    Assert.True(seen.TryAdd(prompt, split) || seen[prompt] == split, $"{prompt} drawn in {split} and in {seen[prompt]}");
                }
        }
        Assert.Equal(3, seen.Values.Distinct().Count());
    }

    [Fact]
    public void Rl_split_takes_its_share_of_the_problem_space_and_can_be_turned_off()
    {
        // The share is by hash bucket: 10% test, 20% RL, the rest train, whatever the strings.
        var counts = new Dictionary<Split, int>();
        for (int i = 0; i < 20000; i++)
        {
            var split = SplitAssigner.Of("arith", $"{i}+{i % 7}", testPercent: 10, rlPercent: 20);
            counts[split] = counts.GetValueOrDefault(split) + 1;
        }
        Assert.InRange(counts[Split.Test], 1700, 2300);
        Assert.InRange(counts[Split.Rl], 3600, 4400);
        var generator = new ArithTask(seed: 5);
        var none = new ArithTask(seed: 5, new ArithOptions(RlPercent: 0));
        Assert.Equal(0, none.Count(Split.Rl));
        Assert.Equal(long.MaxValue, generator.Count(Split.Rl));
        var e = Assert.Throws<ArgumentException>(() => none.Get(Split.Rl, 0));
        Assert.Contains("RlPercent", e.Message);
        Assert.Throws<ArgumentException>(() => new ArithTask(0, new ArithOptions(TestPercent: 50, RlPercent: 50)));
    }

    [Fact]
    public void Arith_split_ignores_operand_order_of_commutative_operations()
    {
        var ab = new BinaryNode('+', new Leaf(37), new BinaryNode('*', new Leaf(3), new Leaf(4)));
        var ba = new BinaryNode('+', new BinaryNode('*', new Leaf(4), new Leaf(3)), new Leaf(37));
        Assert.Equal(ExprFormat.Canonical(ab), ExprFormat.Canonical(ba));
        Assert.NotEqual(ExprFormat.Render(ab), ExprFormat.Render(ba));
    }

    [Theory]
    [MemberData(nameof(TaskNames))]
    public void Reference_solutions_verify_as_correct(string name)
    {
        var task = TaskRegistry.Create(name, seed: 3);
        for (int i = 0; i < 300; i++)
        {
            var p = task.Get(i % 2 == 0 ? Split.Train : Split.Test, i);
            var verdict = task.Verify(p, p.Solution!);
            Assert.True(verdict.Correct, $"{p.Id}: {p.Prompt} -> {p.Solution}: {verdict.Reason}");
        }
    }

    [Fact]
    public void Arith_respects_its_difficulty_knobs()
    {
        var options = new ArithOptions(MinOps: 3, MaxOps: 3, MaxOperand: 9, MaxMultiplier: 3, MaxValue: 100);
        var task = new ArithTask(1, options);
        for (int i = 0; i < 300; i++)
        {
            var p = task.Get(Split.Train, i);
            string expr = p.Prompt.TrimEnd('=');
            Assert.Equal(3, expr.Count(c => c is '+' or '-' or '*'));
            var value = ExactExpression.TryEvaluate(expr, out _)!;
            Assert.True(value.Literals.All(n => n is >= 1 and <= 9), p.Prompt);
            Assert.Equal(p.Answer, value.Value.ToString());
            Assert.InRange(long.Parse(p.Answer), 0, 100);
        }
    }

    [Fact]
    public void Arith_worked_solution_rewrites_one_operation_per_step()
    {
        var tree = new BinaryNode('-', new BinaryNode('*', new BinaryNode('+', new Leaf(37), new Leaf(85)), new Leaf(2)), new Leaf(19));
        var p = ArithTask.ToProblem(tree, "x");
        Assert.Equal("(37+85)*2-19=", p.Prompt);
        Assert.Equal("122*2-19=244-19=225\n\\boxed{225}", p.Solution);
        Assert.Equal("225", p.Answer);
    }

    [Fact]
    public void Countdown_uses_exactly_the_given_count_of_numbers()
    {
        var task = new CountdownTask(5, new CountdownOptions(Numbers: 4, MaxNumber: 30, MaxTarget: 400));
        for (int i = 0; i < 200; i++)
        {
            var p = task.Get(Split.Test, i);
            var (numbers, target) = CountdownTask.ParsePrompt(p.Prompt);
            Assert.Equal(4, numbers.Length);
            Assert.All(numbers, n => Assert.InRange(n, 1, 30));
            Assert.InRange(target, 1, 400);
            Assert.Equal(target.ToString(), p.Answer);
        }
    }

    [Fact]
    public void Registry_rejects_unknown_names_listing_the_known_ones()
    {
        var e = Assert.Throws<ArgumentException>(() => TaskRegistry.Create("nope"));
        Assert.Contains("arith", e.Message);
        Assert.Contains("countdown", e.Message);
        Assert.Throws<ArgumentException>(() => TaskRegistry.Create("arith", level: 9));
    }
}

public class TasksVerifierTests
{
    private static readonly Problem ArithProblem = new("a", "(37+85)*2-19=", "225");

    [Theory]
    [InlineData("122*2-19=244-19=225\n\\boxed{225}")]
    [InlineData("\\boxed{ 225 }")]
    [InlineData("\\boxed{7} wait \\boxed{225}")]
    [InlineData("\\boxed{+225}")]
    public void Arith_accepts_the_right_boxed_integer(string response) =>
        Assert.True(new ArithTask().Verify(ArithProblem, response).Correct);

    [Theory]
    [InlineData("122*2-19=244-19=225")]
    [InlineData("\\boxed{226}")]
    [InlineData("\\boxed{225} then \\boxed{224}")]
    [InlineData("\\boxed{200+25}")]
    [InlineData("\\boxed{-225}")]
    [InlineData("\\boxed{225")]
    [InlineData("")]
    public void Arith_rejects_wrong_or_missing_answers(string response) =>
        Assert.False(new ArithTask().Verify(ArithProblem, response).Correct);

    [Fact]
    public void Arith_extracts_a_normalised_integer()
    {
        var verdict = new ArithTask().Verify(ArithProblem, "\\boxed{0225}");
        Assert.True(verdict.Correct);
        Assert.Equal("225", verdict.Extracted);
    }

    private static readonly Problem CountdownProblem = new("c", CountdownTask.FormatPrompt([3, 5, 8], 9), "9");

    [Theory]
    [InlineData("8-5=3\n3*3=9\n\\boxed{(8-5)*3}")]
    [InlineData("\\boxed{3*(8-5)}")]
    [InlineData("\\boxed{(8 - 5) * 3 = 9}")]
    [InlineData("(8-5)*3=9")]
    [InlineData("\\boxed{8+5} no: \\boxed{(8-5)*3}")]
    public void Countdown_accepts_expressions_that_use_each_number_once_and_hit_the_target(string response)
    {
        var verdict = new CountdownTask().Verify(CountdownProblem, response);
        Assert.True(verdict.Correct, verdict.Reason);
    }

    [Theory]
    [InlineData("\\boxed{8-5}", "not every number")]
    [InlineData("\\boxed{3*3}", "more times")]
    [InlineData("\\boxed{(8-5)*3*1}", "not one of the given")]
    [InlineData("\\boxed{3+3+8-5}", "more times")]
    [InlineData("\\boxed{8+5-3}", "not 9")]
    [InlineData("\\boxed{8/(5-5)+3}", "division by zero")]
    [InlineData("\\boxed{(8-5)*}", "does not evaluate")]
    [InlineData("\\boxed{-3+8+5}", "does not evaluate")]
    [InlineData("", "empty")]
    public void Countdown_rejects_reuse_foreign_numbers_and_wrong_values(string response, string reason)
    {
        var verdict = new CountdownTask().Verify(CountdownProblem, response);
        Assert.False(verdict.Correct);
        Assert.Contains(reason, verdict.Reason);
    }

    [Fact]
    public void Countdown_division_is_exact_not_integer()
    {
        // 8/3*3 = 8 exactly; integer division would give 6.
        var problem = new Problem("d", CountdownTask.FormatPrompt([8, 3, 3], 8), "8");
        Assert.True(new CountdownTask().Verify(problem, "\\boxed{8/3*3}").Correct);
        var wrong = new Problem("e", CountdownTask.FormatPrompt([8, 3, 3], 6), "6");
        Assert.False(new CountdownTask().Verify(wrong, "\\boxed{8/3*3}").Correct);
    }

    [Fact]
    public void Countdown_at_most_once_mode_allows_unused_numbers()
    {
        var lenient = new CountdownTask(0, new CountdownOptions(UseAllNumbers: false));
        Assert.False(lenient.Verify(CountdownProblem, "\\boxed{3*3}").Correct);
        Assert.True(lenient.Verify(new Problem("f", CountdownTask.FormatPrompt([3, 5, 8], 13), "13"), "\\boxed{8+5}").Correct);
        Assert.False(lenient.Verify(new Problem("g", CountdownTask.FormatPrompt([3, 5, 8], 16), "16"), "\\boxed{8+8}").Correct);
    }

    [Fact]
    public void Exact_expression_reports_division_by_zero_and_literals()
    {
        Assert.Null(ExactExpression.TryEvaluate("4/(2-2)", out var error));
        Assert.Equal("division by zero", error);
        var result = ExactExpression.TryEvaluate(" (1+2)*3 - 4/8 ", out _)!;
        Assert.Equal(new Fraction(17, 2), result.Value);
        Assert.Equal([1L, 2, 3, 4, 8], result.Literals);
    }
}

public class TasksRegistryDatasetTests
{
    [Fact]
    public void Registry_lists_math_datasets_and_delegates_jsonl_paths()
    {
        var e = Assert.Throws<ArgumentException>(() => TaskRegistry.Create("nope"));
        Assert.Contains("math500", e.Message);
        string file = Path.Combine(Path.GetTempPath(), "pacs-registry-" + Guid.NewGuid().ToString("N") + ".jsonl");
        File.WriteAllText(file, "{\"id\": \"q1\", \"problem\": \"What is 2+3?\", \"answer\": \"5\"}\n");
        try
        {
            var task = TaskRegistry.Create(file);
            var problem = task.Get(Split.Test, 0);
            Assert.Contains("What is 2+3?", problem.Prompt);
            Assert.True(task.Verify(problem, "so \\boxed{5}").Correct);
            Assert.False(task.Verify(problem, "so \\boxed{6}").Correct);
            Assert.Throws<ArgumentException>(() => TaskRegistry.Create(file, level: 2));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
