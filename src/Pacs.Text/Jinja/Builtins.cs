using System.Text;
using System.Text.RegularExpressions;

namespace Pacs.Text.Jinja;

/// <summary>Global functions and the methods of strings and dicts, as @huggingface/jinja defines them. Note that
/// `strip`/`lstrip`/`rstrip` there ignore their argument and remove all whitespace (Python would remove only the
/// given characters); we follow the JavaScript port.</summary>
internal static partial class Builtins
{
    public static readonly JinjaFunction Namespace = new((args, _) =>
    {
        var ns = new JinjaNamespace();
        foreach (var arg in args)
        {
            if (arg is JinjaDict dict)
                foreach (var (k, v) in dict.Items) ns.Items[k] = v;
            else throw new InvalidDataException($"chat template: namespace() takes keyword arguments or a dict, got a {JinjaValues.TypeName(arg)}");
        }
        return ns;
    });

    public static void AddGlobals(Scope scope)
    {
        scope.Set("false", false);
        scope.Set("true", true);
        scope.Set("none", null);
        scope.Set("False", false);
        scope.Set("True", true);
        scope.Set("None", null);
        scope.Set("raise_exception", new JinjaFunction((args, _) =>
            throw new InvalidDataException($"chat template raised an exception: {(args.Count > 0 ? JinjaValues.ToJsString(args[0]) : "")}")));
        scope.Set("range", new JinjaFunction((args, _) =>
        {
            var n = args.Select(a => a is long l ? l : throw new InvalidDataException("chat template: range() takes integers")).ToList();
            long start = n.Count >= 2 ? n[0] : 0, stop = n.Count >= 2 ? n[1] : n.Count == 1 ? n[0] : 0, step = n.Count >= 3 ? n[2] : 1;
            if (step == 0) throw new InvalidDataException("chat template: range() step must not be zero");
            var result = new List<object?>();
            for (long i = start; step > 0 ? i < stop : i > stop; i += step) result.Add(i);
            return new JinjaList(result);
        }));
        scope.Set("strftime_now", new JinjaFunction((args, _) =>
            throw new NotSupportedException("chat template: strftime_now() is not supported (rendering would not be reproducible)")));
    }

    public static JinjaList Items(JinjaDict dict)
        => new(dict.Items.Select(kv => (object?)new JinjaList([kv.Key, kv.Value])).ToList());

    public static JinjaFunction? DictMethod(JinjaDict dict, string name) => name switch
    {
        "get" => new JinjaFunction((args, _) =>
        {
            if (args.Count == 0 || args[0] is not string key) throw new InvalidDataException("chat template: dict.get() needs a string key");
            return dict.Items.TryGetValue(key, out var v) ? v : args.Count > 1 ? args[1] : null;
        }),
        "items" => new JinjaFunction((_, _) => Items(dict)),
        "keys" => new JinjaFunction((_, _) => new JinjaList(dict.Items.Keys.Cast<object?>().ToList())),
        "values" => new JinjaFunction((_, _) => new JinjaList(dict.Items.Values.ToList())),
        _ => null,
    };

    [GeneratedRegex(@"\b\w")]
    private static partial Regex WordStart();

    [GeneratedRegex(@"\S+")]
    private static partial Regex NonSpaceRun();

    public static string TitleCase(string s) => WordStart().Replace(s, m => m.Value.ToUpperInvariant());

    /// <summary>A string's method or property by name, or null.</summary>
    public static object? StringMethod(string s, string name, int line) => name switch
    {
        "upper" => new JinjaFunction((_, _) => s.ToUpperInvariant()),
        "lower" => new JinjaFunction((_, _) => s.ToLowerInvariant()),
        "strip" => new JinjaFunction((_, _) => s.Trim(JinjaLexer.JsWhitespaceChars)),
        "lstrip" => new JinjaFunction((_, _) => s.TrimStart(JinjaLexer.JsWhitespaceChars)),
        "rstrip" => new JinjaFunction((_, _) => s.TrimEnd(JinjaLexer.JsWhitespaceChars)),
        "title" => new JinjaFunction((_, _) => TitleCase(s)),
        "capitalize" => new JinjaFunction((_, _) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..]),
        "length" => (long)s.Length,
        "startswith" => new JinjaFunction((args, _) => Affix(s, args, "startswith", (x, p) => x.StartsWith(p, StringComparison.Ordinal))),
        "endswith" => new JinjaFunction((args, _) => Affix(s, args, "endswith", (x, p) => x.EndsWith(p, StringComparison.Ordinal))),
        "split" => new JinjaFunction((args, _) => Split(s, args)),
        "replace" => new JinjaFunction((args, _) => Replace(s, args)),
        _ => null,
    };

    private static bool Affix(string s, List<object?> args, string name, Func<string, string, bool> test)
    {
        if (args.Count == 0) throw new InvalidDataException($"chat template: {name}() needs an argument");
        return args[0] switch
        {
            string p => test(s, p),
            JinjaList list => list.Items.Any(item => item is string p ? test(s, p) : throw new InvalidDataException($"chat template: {name}() tuple items must be strings")),
            _ => throw new InvalidDataException($"chat template: {name}() takes a string or a tuple of strings"),
        };
    }

    private static JinjaList Split(string s, List<object?> args)
    {
        var sep = args.Count > 0 ? args[0] : null;
        long maxSplit = args.Count > 1 && args[1] is long m ? m : -1;
        var result = new List<object?>();
        if (sep is null)
        {
            string text = s.TrimStart(JinjaLexer.JsWhitespaceChars);
            foreach (Match match in NonSpaceRun().Matches(text))
            {
                if (maxSplit != -1 && result.Count >= maxSplit)
                {
                    result.Add(text[match.Index..]);
                    break;
                }
                result.Add(match.Value);
            }
        }
        else if (sep is string separator)
        {
            if (separator.Length == 0) throw new InvalidDataException("chat template: split() with an empty separator");
            var parts = s.Split(separator);
            if (maxSplit != -1 && parts.Length > maxSplit)
            {
                result.AddRange(parts.Take((int)maxSplit));
                result.Add(string.Join(separator, parts.Skip((int)maxSplit)));
            }
            else result.AddRange(parts);
        }
        else throw new InvalidDataException("chat template: split() separator must be a string or none");
        return new JinjaList(result);
    }

    private static string Replace(string s, List<object?> args)
    {
        var kwargs = args.Count > 0 && args[^1] is JinjaKwargs k ? k : null;
        var positional = kwargs is null ? args : args[..^1];
        if (positional.Count < 2 || positional[0] is not string oldValue || positional[1] is not string newValue)
            throw new InvalidDataException("chat template: replace() needs two strings");
        object? countArg = positional.Count > 2 ? positional[2] : kwargs is not null && kwargs.Items.TryGetValue("count", out var c) ? c : null;
        long count = countArg is long n ? n : -1;
        if (count == 0) return s;
        if (oldValue.Length == 0)
        {
            // JavaScript's replaceAll(/(?=)/gu) inserts at every code point boundary, including both ends.
            var sb = new StringBuilder();
            long remaining = count < 0 ? long.MaxValue : count;
            for (int i = 0; i <= s.Length; i++)
            {
                bool boundary = i == 0 || i == s.Length || !(char.IsHighSurrogate(s[i - 1]) && char.IsLowSurrogate(s[i]));
                if (boundary && remaining > 0) { sb.Append(newValue); remaining--; }
                if (i < s.Length) sb.Append(s[i]);
            }
            return sb.ToString();
        }
        if (count < 0) return s.Replace(oldValue, newValue, StringComparison.Ordinal);
        var result = new StringBuilder();
        int at = 0;
        for (long done = 0; done < count; done++)
        {
            int found = s.IndexOf(oldValue, at, StringComparison.Ordinal);
            if (found < 0) break;
            result.Append(s, at, found - at).Append(newValue);
            at = found + oldValue.Length;
        }
        return result.Append(s, at, s.Length - at).ToString();
    }
}
