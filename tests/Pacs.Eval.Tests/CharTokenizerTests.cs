using Pacs.Text;

namespace Pacs.Eval.Tests;

public class CharTokenizerTests
{
    [Fact]
    public void Round_trips_task_text_and_specials()
    {
        var tok = new CharTokenizer();
        const string text = "(37+85)*2-19=122*2-19=244-19=225\n\\boxed{225} Use 3 5 8 to make 9";
        var ids = tok.Encode(text, addSpecialTokens: true);
        Assert.Equal(tok.BosId, ids[0]);
        Assert.Equal(text.Length + 1, ids.Length);
        Assert.Equal(text, tok.Decode(ids, skipSpecialTokens: true));
        Assert.Equal("<bos>" + text + "<eos>", tok.Decode([.. ids, tok.EosId]));
        Assert.All(ids, id => Assert.InRange(id, 0, tok.VocabSize - 1));
        Assert.Equal(99, tok.VocabSize);
    }

    [Fact]
    public void Saves_and_loads_the_same_vocabulary()
    {
        string dir = Path.Combine(Path.GetTempPath(), "pacs-char-tok-" + Guid.NewGuid().ToString("N"));
        try
        {
            var tok = new CharTokenizer();
            tok.Save(dir);
            Assert.True(CharTokenizer.ExistsIn(dir));
            Assert.Contains("\"type\": \"char\"", File.ReadAllText(Path.Combine(dir, CharTokenizer.FileName)));
            var loaded = CharTokenizer.Load(dir);
            Assert.Equal(tok.VocabSize, loaded.VocabSize);
            const string text = "12*(3+4)=\n\\boxed{84}";
            Assert.Equal(tok.Encode(text), loaded.Encode(text));
            Assert.Equal(tok.EosIds, loaded.EosIds);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Rejects_unknown_characters_and_malformed_files()
    {
        var tok = new CharTokenizer();
        var e = Assert.Throws<ArgumentException>(() => tok.Encode("1+é"));
        Assert.Contains("position 2", e.Message);
        string dir = Path.Combine(Path.GetTempPath(), "pacs-char-tok-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string file = Path.Combine(dir, CharTokenizer.FileName);
            File.WriteAllText(file, "{\"type\": \"bpe\", \"vocab\": []}");
            Assert.Contains("\"type\"", Assert.Throws<InvalidDataException>(() => CharTokenizer.Load(dir)).Message);
            File.WriteAllText(file, "{\"type\": \"char\", \"vocab\": [\"<pad>\", \"<bos>\", \"<eos>\", \"a\", \"a\"]}");
            Assert.Contains("twice", Assert.Throws<InvalidDataException>(() => CharTokenizer.Load(dir)).Message);
            Assert.Throws<FileNotFoundException>(() => CharTokenizer.Load(Path.Combine(dir, "missing")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
