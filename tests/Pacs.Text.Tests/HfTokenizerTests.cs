using System.Text.Json;

namespace Pacs.Text.Tests;

public class HfTokenizerTests
{
    [Fact]
    public void Stories260K_round_trips_and_adds_bos_from_its_template()
    {
        var tokenizer = TokenizerFixtures.Tokenizer("stories260K");
        Assert.Equal(512, tokenizer.VocabSize);
        Assert.Equal(1, tokenizer.BosId);
        Assert.Equal([2], tokenizer.EosIds);
        foreach (var text in new[] { "Once upon a time, there was a little girl named Lily.", "  two  spaces\nnew line", "café ☕ 你好" })
        {
            var ids = tokenizer.Encode(text);
            Assert.Equal(text, tokenizer.Decode(ids));
            var withBos = tokenizer.Encode(text, addSpecialTokens: true);
            Assert.Equal([1, .. ids], withBos);
            Assert.Equal(text, tokenizer.Decode(withBos, skipSpecialTokens: true));
        }
    }

    [Fact]
    public void Stories260K_falls_back_to_utf8_byte_tokens_for_characters_outside_its_vocabulary()
    {
        var tokenizer = TokenizerFixtures.Tokenizer("stories260K");
        var ids = tokenizer.Encode("☕");
        // "▁" then the three UTF-8 bytes of U+2615 (E2 98 95) as <0xXX> tokens.
        Assert.Equal(new[] { "▁", "<0xE2>", "<0x98>", "<0x95>" }, ids.Select(id => tokenizer.IdToToken(id) ?? "").ToArray());
    }

    [Fact]
    public void Qwen3_special_ids_come_from_tokenizer_config_and_special_tokens_split_the_text()
    {
        var tokenizer = TokenizerFixtures.Tokenizer("qwen3");
        Assert.Null(tokenizer.BosId);
        Assert.Equal([151645], tokenizer.EosIds);
        Assert.Equal(151643, tokenizer.PadId);
        Assert.Equal(151669, tokenizer.VocabSize);
        var ids = tokenizer.Encode("<|im_start|>user\nHi<|im_end|>");
        Assert.Equal(151644, ids[0]);
        Assert.Equal(151645, ids[^1]);
        Assert.Equal("user\nHi", tokenizer.Decode(ids, skipSpecialTokens: true));
        Assert.Equal("<|im_start|>user\nHi<|im_end|>", tokenizer.Decode(ids));
    }

    [Fact]
    public void Llama3_bos_and_eos_come_from_tokenizer_config()
    {
        var tokenizer = TokenizerFixtures.Tokenizer("llama3");
        Assert.Equal(128000, tokenizer.BosId);
        Assert.Equal([128001], tokenizer.EosIds);
        Assert.Equal(128256, tokenizer.VocabSize);
    }

    [Fact]
    public void Long_words_merge_with_the_priority_queue_exactly_as_short_words_do()
    {
        string dir = WriteTokenizer("merge", Bpe(["a", "b", "c", "ab", "abc", "bb"], ["a b", "ab c", "b b"]));
        var tokenizer = HfTokenizer.Load(dir);
        int a = tokenizer.TokenToId("a")!.Value, ab = tokenizer.TokenToId("ab")!.Value, abc = tokenizer.TokenToId("abc")!.Value;
        Assert.Equal([abc], tokenizer.Encode("abc"));
        Assert.Equal([ab, abc, a], tokenizer.Encode("ababca"));
        // 120 symbols take the heap path; the result must equal repeating the short word's encoding.
        string longWord = string.Concat(Enumerable.Repeat("abca", 30));
        Assert.Equal(Enumerable.Repeat(new[] { abc, a }, 30).SelectMany(x => x), tokenizer.Encode(longWord));
        Assert.Equal(longWord, tokenizer.Decode(tokenizer.Encode(longWord)).Replace(" ", ""));
    }

    [Fact]
    public void Metaspace_pre_tokenizer_prepends_and_splits_before_each_replacement()
    {
        var json = Bpe(["▁", "h", "i", "▁h", "▁hi"], ["▁ h", "▁h i"]);
        json["pre_tokenizer"] = new Dictionary<string, object?> { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "always", ["split"] = true };
        json["decoder"] = new Dictionary<string, object?> { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "always" };
        var tokenizer = HfTokenizer.Load(WriteTokenizer("metaspace", json));
        int hi = tokenizer.TokenToId("▁hi")!.Value;
        Assert.Equal([hi, hi], tokenizer.Encode("hi hi"));
        Assert.Equal("hi hi", tokenizer.Decode([hi, hi]));
    }

    [Fact]
    public void Unsupported_model_type_names_the_file_and_the_feature()
    {
        var json = Bpe(["a"], []);
        ((Dictionary<string, object?>)json["model"]!)["type"] = "Unigram";
        string dir = WriteTokenizer("unigram", json);
        var e = Assert.Throws<NotSupportedException>(() => HfTokenizer.Load(dir));
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Contains("Unigram", e.Message);
    }

    [Fact]
    public void Unsupported_pre_tokenizer_names_the_file_and_the_feature()
    {
        var json = Bpe(["a"], []);
        json["pre_tokenizer"] = new Dictionary<string, object?> { ["type"] = "BertPreTokenizer" };
        var e = Assert.Throws<NotSupportedException>(() => HfTokenizer.Load(WriteTokenizer("bert", json)));
        Assert.Contains("BertPreTokenizer", e.Message);
    }

    [Fact]
    public void Merge_producing_a_token_missing_from_the_vocabulary_is_invalid_data()
    {
        var e = Assert.Throws<InvalidDataException>(() => HfTokenizer.Load(WriteTokenizer("badmerge", Bpe(["a", "b"], ["a b"]))));
        Assert.Contains("merges[0]", e.Message);
    }

    [Fact]
    public void Missing_tokenizer_file_throws_file_not_found()
    {
        Assert.Throws<FileNotFoundException>(() => HfTokenizer.Load(Path.Combine(AppContext.BaseDirectory, "no-such-tokenizer")));
    }

    [Fact]
    public void Encoding_is_the_same_from_many_threads_at_once()
    {
        var tokenizer = TokenizerFixtures.Tokenizer("llama3");
        var cases = TokenizerFixtures.Load("llama3").Take(2000).ToList();
        Parallel.ForEach(cases, c => Assert.Equal(c.Ids, tokenizer.Encode(c.Text)));
    }

    private static Dictionary<string, object?> Bpe(string[] vocab, string[] merges) => new()
    {
        ["version"] = "1.0",
        ["added_tokens"] = Array.Empty<object>(),
        ["normalizer"] = null,
        ["pre_tokenizer"] = null,
        ["post_processor"] = null,
        ["decoder"] = null,
        ["model"] = new Dictionary<string, object?>
        {
            ["type"] = "BPE",
            ["vocab"] = vocab.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => (object?)p.i),
            ["merges"] = merges,
        },
    };

    private static string WriteTokenizer(string name, Dictionary<string, object?> json)
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "generated-tokenizers", name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), JsonSerializer.Serialize(json));
        return dir;
    }
}
