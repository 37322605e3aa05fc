using System.CommandLine;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Pacs.Text;

namespace Pacs.Cli.Commands;

/// <summary>`pacs tokenize`: token ids of text with a Hugging Face tokenizer.json, or an encoding-speed benchmark.</summary>
public sealed class TokenizeCommand : ICliCommand
{
    public Command Build()
    {
        var command = new Command("tokenize", "Print {\"ids\": [...]} for text with a tokenizer.json tokenizer, or benchmark encoding speed");
        var tokenizerOption = new Option<string>("--tokenizer") { Description = "Directory with tokenizer.json (and tokenizer_config.json), or the file", Required = true };
        var textOption = new Option<string?>("--text") { Description = "Text to encode" };
        var jsonlOption = new Option<string?>("--jsonl") { Description = "JSON Lines file; each line's \"text\" field is encoded (with --bench, lines without \"text\" use \"problem\" and \"solution\")" };
        var specialOption = new Option<bool>("--special") { Description = "Add the special tokens the post-processor defines (e.g. BOS)" };
        var benchOption = new Option<bool>("--bench") { Description = "Benchmark: encode every text of --jsonl several times and report bytes/s" };
        var passesOption = new Option<int>("--passes") { Description = "Benchmark passes over the corpus", DefaultValueFactory = _ => 3 };
        foreach (var option in new Option[] { tokenizerOption, textOption, jsonlOption, specialOption, benchOption, passesOption })
            command.Options.Add(option);
        command.SetAction(parse => ErrorReporting.Run(() =>
        {
            string dir = parse.GetValue(tokenizerOption)!;
            string? text = parse.GetValue(textOption), jsonl = parse.GetValue(jsonlOption);
            bool special = parse.GetValue(specialOption), bench = parse.GetValue(benchOption);
            if ((text is null) == (jsonl is null)) throw new ArgumentException("give exactly one of --text or --jsonl");
            var loadClock = Stopwatch.StartNew();
            var tokenizer = HfTokenizer.Load(dir);
            double loadSeconds = loadClock.Elapsed.TotalSeconds;
            if (bench)
            {
                if (jsonl is null) throw new ArgumentException("--bench needs --jsonl");
                Bench(tokenizer, ReadTexts(jsonl, benchFallback: true), parse.GetValue(passesOption), special, loadSeconds);
                return 0;
            }
            var output = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = false };
            foreach (var input in text is not null ? [text] : ReadTexts(jsonl!, benchFallback: false))
                output.WriteLine("{\"ids\": [" + string.Join(", ", tokenizer.Encode(input, special)) + "]}");
            output.Flush();
            return 0;
        }));
        return command;
    }

    private static List<string> ReadTexts(string file, bool benchFallback)
    {
        if (!File.Exists(file)) throw new FileNotFoundException($"JSON Lines file not found: {file}", file);
        var texts = new List<string>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(file))
        {
            lineNumber++;
            if (line.Length == 0) continue;
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(line);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{file}:{lineNumber}: not valid JSON ({e.Message})");
            }
            using (doc)
            {
                var root = doc.RootElement;
                if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
                {
                    texts.Add(t.GetString()!);
                    continue;
                }
                bool found = false;
                if (benchFallback && root.ValueKind == JsonValueKind.Object)
                    foreach (var key in new[] { "problem", "solution" })
                        if (root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String)
                        {
                            texts.Add(v.GetString()!);
                            found = true;
                        }
                if (!found) throw new InvalidDataException($"{file}:{lineNumber}: missing string field 'text'");
            }
        }
        return texts;
    }

    private static void Bench(HfTokenizer tokenizer, List<string> texts, int passes, bool special, double loadSeconds)
    {
        long bytes = texts.Sum(t => (long)Encoding.UTF8.GetByteCount(t));
        Console.WriteLine($"corpus: {texts.Count} texts, {bytes} UTF-8 bytes; tokenizer loaded in {loadSeconds:F2} s");
        double best = double.MaxValue;
        for (int pass = 1; pass <= Math.Max(1, passes); pass++)
        {
            long tokens = 0;
            var clock = Stopwatch.StartNew();
            foreach (var t in texts) tokens += tokenizer.Encode(t, special).Length;
            double seconds = clock.Elapsed.TotalSeconds;
            best = Math.Min(best, seconds);
            Console.WriteLine($"pass {pass}: {seconds:F3} s, {bytes / seconds / 1e6:F2} MB/s, {tokens / seconds / 1e6:F3} M tokens/s ({tokens} tokens)");
        }
        Console.WriteLine($"best: {bytes / best / 1e6:F2} MB/s");
    }
}
