using Pacs.Rewards.Math;

namespace Pacs.Rewards.Tests;

public class ExtractionTests
{
    private static ExtractedAnswer? First(string text, ExtractionPolicy policy) =>
        AnswerExtractor.Candidates(text, policy).Select(c => (ExtractedAnswer?)c).FirstOrDefault();

    [Fact]
    public void BoxedTakesTheLastWithNestedBraces()
    {
        Assert.Equal("\\frac{1}{\\sqrt{2}}", AnswerExtractor.LastBoxed("first \\boxed{3} then \\boxed{\\frac{1}{\\sqrt{2}}} done"));
        Assert.Equal("5", AnswerExtractor.LastBoxed("\\boxed 5 end"));
        Assert.Equal("7", AnswerExtractor.LastBoxed("\\fbox{7}"));
        Assert.Null(AnswerExtractor.LastBoxed("no box"));
    }

    [Fact]
    public void BoxesJoinedByAndFormAList() =>
        Assert.Equal("1, 2", AnswerExtractor.LastBoxed("\\boxed{1} and \\boxed{2}"));

    [Fact]
    public void BoxesSeparatedByProseDoNotJoin() =>
        Assert.Equal("2", AnswerExtractor.LastBoxed("\\boxed{1} no no no no no \\boxed{2}"));

    [Fact]
    public void OtherFormats()
    {
        Assert.Equal("1,200", AnswerExtractor.AfterHashes("so she has 1,200.\n#### 1,200"));
        Assert.Equal("(0, 1)", AnswerExtractor.AfterAnswerIs("Final Answer: The final answer is $(0, 1)$. I hope it is correct."));
        Assert.Equal("12", AnswerExtractor.AfterAnswerIs("Answer: 12"));
        Assert.Equal("9", AnswerExtractor.LastMath("we get $3$ and then \\[ 9 \\] done"));
        Assert.Null(AnswerExtractor.LastMath("$ \n 9 \n $"));
        Assert.Equal("1000.99", AnswerExtractor.LastNumber("the number is not 10 which is 1,000.99€"));
        Assert.Equal("2.74", AnswerExtractor.LastNumber("Soucis : 2,74 $ a.."));
        Assert.Equal("2/3", AnswerExtractor.LastNumber("P(A) = 2/3. <|im_start|>"));
        Assert.Null(AnswerExtractor.LastNumber("AZYUK2A"));
    }

    [Fact]
    public void PolicyOrderDecides()
    {
        const string text = "The answer is 5.\n\\boxed{6}";
        Assert.Equal("6", First(text, ExtractionPolicy.Default)!.Value.Text);
        Assert.Equal("5", First(text, new ExtractionPolicy([AnswerFormat.AnswerIs, AnswerFormat.Boxed]))!.Value.Text);
        Assert.Null(First("the result is 5", ExtractionPolicy.BoxedOnly));
        // a sentence is not an answer; the last number is only taken when the policy opts in
        Assert.Null(MathVerifier.Verify("we tried 3 and then 5 apples", "5").Extracted);
        var lenient = MathVerifier.Verify("we tried 3 and then 5 apples", "5", new MathVerifierOptions { Policy = ExtractionPolicy.Lenient });
        Assert.True(lenient.Correct);
        Assert.Equal("5", lenient.Extracted);
    }

    [Fact]
    public void LaterAnswerStatementBeatsAnEarlierBox() =>
        Assert.Equal("10,455", First("so $\\boxed{255}$ and so on. The final answer is $10,455$. I hope it is correct.", ExtractionPolicy.Default)!.Value.Text);

    [Fact]
    public void PolicyParses()
    {
        Assert.Same(ExtractionPolicy.Default, ExtractionPolicy.Parse("default"));
        Assert.Same(ExtractionPolicy.Lenient, ExtractionPolicy.Parse("lenient"));
        Assert.Equal([AnswerFormat.Boxed, AnswerFormat.LastNumber], ExtractionPolicy.Parse("boxed, number").Order);
        Assert.Throws<ArgumentException>(() => ExtractionPolicy.Parse("boxed,bogus"));
    }

    [Fact]
    public void VerdictCarriesExtractedAnswerAndReason()
    {
        var verdict = MathVerifier.Verify("thus \\boxed{\\frac{2}{4}}", "0.5");
        Assert.True(verdict.Correct);
        Assert.Equal("\\frac{2}{4}", verdict.Extracted);
        Assert.Contains("Boxed", verdict.Reason);
        Assert.Equal(1.0, verdict.Reward);
        var none = MathVerifier.Verify("I don't know", "0.5", new MathVerifierOptions { Policy = ExtractionPolicy.BoxedOnly });
        Assert.False(none.Correct);
        Assert.Null(none.Extracted);
    }

    [Fact]
    public void PercentAsFractionIsConfigurable()
    {
        var strict = new MathVerifierOptions { Equivalence = new EquivalenceOptions { PercentAsFraction = false } };
        Assert.True(MathVerifier.Verify("\\boxed{0.5}", "50\\%").Correct);
        Assert.False(MathVerifier.Verify("\\boxed{0.5}", "50\\%", strict).Correct);
        Assert.True(MathVerifier.Verify("\\boxed{50}", "50\\%", strict).Correct);
    }

    [Fact]
    public void RoundedDecimalsOnlyUnderTheLenientPolicy()
    {
        var lenient = new MathVerifierOptions { Equivalence = EquivalenceOptions.Lenient };
        Assert.False(MathVerifier.Verify("\\boxed{0.33}", "\\frac{1}{3}").Correct);
        Assert.True(MathVerifier.Verify("\\boxed{0.33}", "\\frac{1}{3}", lenient).Correct);
        Assert.False(MathVerifier.Verify("\\boxed{0.3}", "\\frac{1}{3}", lenient).Correct);
    }
}
