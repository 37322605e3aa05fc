using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Pacs.Text.Jinja;

/// <summary>Runtime values: null (none), <see cref="Undefined"/>, bool, long, double, string, <see cref="JinjaList"/>,
/// <see cref="JinjaDict"/>, <see cref="JinjaNamespace"/>, <see cref="JinjaFunction"/>.</summary>
internal sealed class Undefined
{
    public static readonly Undefined Instance = new();
}

internal sealed class JinjaList(List<object?> items, bool isTuple = false)
{
    public List<object?> Items { get; } = items;
    public bool IsTuple { get; } = isTuple;
}

internal class JinjaDict
{
    public OrderedDictionary<string, object?> Items { get; } = new(StringComparer.Ordinal);
}

/// <summary>Keyword arguments passed to a function, carried as its last argument (as @huggingface/jinja does).</summary>
internal sealed class JinjaKwargs : JinjaDict;

internal sealed class JinjaNamespace
{
    public OrderedDictionary<string, object?> Items { get; } = new(StringComparer.Ordinal);
}

internal sealed class JinjaFunction(Func<List<object?>, Scope, object?> body)
{
    public Func<List<object?>, Scope, object?> Body { get; } = body;
}

internal static class JinjaValues
{
    public static string TypeName(object? v) => v switch
    {
        null => "none",
        Undefined => "undefined",
        bool => "boolean",
        long => "integer",
        double => "float",
        string => "string",
        JinjaList l => l.IsTuple ? "tuple" : "list",
        JinjaKwargs => "kwargs",
        JinjaDict => "dict",
        JinjaNamespace => "namespace",
        JinjaFunction => "function",
        _ => v.GetType().Name,
    };

    public static bool Truthy(object? v) => v switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0 && !double.IsNaN(d),
        string s => s.Length > 0,
        JinjaList l => l.Items.Count > 0,
        JinjaDict d => d.Items.Count > 0,
        _ => true,
    };

    /// <summary>How a value prints inside {{ }}: JavaScript's String() for scalars, JSON for containers.</summary>
    public static string ToOutput(object? v) => v switch
    {
        null => "null",
        Undefined => "undefined",
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FloatToString(d),
        string s => s,
        JinjaList or JinjaDict or JinjaNamespace => ToJson(v, null, null, false, false, 0, convertUndefinedToNull: false),
        JinjaFunction => "[function]",
        _ => v.ToString() ?? "",
    };

    /// <summary>The `.value.toString()` JavaScript applies for `~` and string `+`: floats lose their ".0".</summary>
    public static string ToJsString(object? v) => v switch
    {
        double d => JsNumber(d),
        JinjaList l => string.Join(",", l.Items.Select(_ => "[object Object]")),
        JinjaDict or JinjaNamespace => "[object Map]",
        _ => ToOutput(v),
    };

    public static string FloatToString(double d)
    {
        if (d == 0 && double.IsNegative(d)) return "-0.0";
        return d % 1 == 0 && !double.IsInfinity(d) ? d.ToString("F1", CultureInfo.InvariantCulture) : JsNumber(d);
    }

    /// <summary>JavaScript's Number.prototype.toString for finite numbers: shortest round-trip digits, plain notation
    /// for 1e-7 &lt;= |x| &lt; 1e21, otherwise "1.5e+21" style.</summary>
    public static string JsNumber(double d)
    {
        if (double.IsNaN(d)) return "NaN";
        if (double.IsInfinity(d)) return d > 0 ? "Infinity" : "-Infinity";
        if (d == 0) return "0";
        string r = d.ToString("R", CultureInfo.InvariantCulture);
        int e = r.IndexOfAny(['E', 'e']);
        string mantissa = e < 0 ? r : r[..e];
        int exponent = e < 0 ? 0 : int.Parse(r[(e + 1)..], CultureInfo.InvariantCulture);
        bool negative = mantissa.StartsWith('-');
        if (negative) mantissa = mantissa[1..];
        int dot = mantissa.IndexOf('.');
        string digits = dot < 0 ? mantissa : mantissa.Remove(dot, 1);
        int pointPos = (dot < 0 ? mantissa.Length : dot) + exponent; // position of the decimal point within digits
        int lead = 0;
        while (lead < digits.Length - 1 && digits[lead] == '0') { lead++; pointPos--; }
        digits = digits[lead..].TrimEnd('0');
        if (digits.Length == 0) return "0";
        int n = pointPos; // value = 0.digits * 10^n
        string body;
        if (n >= digits.Length && n <= 21) body = digits + new string('0', n - digits.Length);
        else if (n > 0 && n <= 21) body = digits[..n] + "." + digits[n..];
        else if (n <= 0 && n > -6) body = "0." + new string('0', -n) + digits;
        else
        {
            int exp = n - 1;
            body = (digits.Length == 1 ? digits : digits[0] + "." + digits[1..]) + "e" + (exp >= 0 ? "+" : "-") + Math.Abs(exp);
        }
        return negative ? "-" + body : body;
    }

    public static string ToJson(object? v, int? indent, (string Item, string Key)? separators, bool ensureAscii, bool sortKeys,
        int depth, bool convertUndefinedToNull = true)
    {
        string itemSep, keySep;
        if (separators is { } s) (itemSep, keySep) = s;
        else if (indent is > 0) (itemSep, keySep) = (",", ": ");
        else (itemSep, keySep) = (", ", ": ");
        switch (v)
        {
            case null: return "null";
            case Undefined: return convertUndefinedToNull ? "null" : "undefined";
            case bool b: return b ? "true" : "false";
            case long l: return l.ToString(CultureInfo.InvariantCulture);
            case double d: return double.IsFinite(d) ? JsNumber(d) : "null";
            case string str: return JsonString(str, ensureAscii);
            case JinjaList list:
                {
                    var core = list.Items.Select(x => ToJson(x, indent, separators, ensureAscii, sortKeys, depth + 1, convertUndefinedToNull)).ToList();
                    if (indent is > 0 && core.Count > 0)
                    {
                        string pad = new(' ', indent.Value);
                        string basePad = "\n" + string.Concat(Enumerable.Repeat(pad, depth));
                        string childPad = basePad + pad;
                        return "[" + childPad + string.Join(itemSep + childPad, core) + basePad + "]";
                    }
                    return "[" + string.Join(itemSep, core) + "]";
                }
            case JinjaDict or JinjaNamespace:
                {
                    var items = v is JinjaDict dict ? dict.Items : ((JinjaNamespace)v).Items;
                    IEnumerable<KeyValuePair<string, object?>> entries = items;
                    if (sortKeys) entries = entries.OrderBy(e => e.Key, StringComparer.Ordinal);
                    string pad = indent is > 0 ? new string(' ', indent.Value) : "";
                    string basePad = "\n" + string.Concat(Enumerable.Repeat(pad, depth));
                    string childPad = basePad + pad;
                    var core = entries.Select(e =>
                    {
                        string item = JsonString(e.Key, ensureAscii) + keySep + ToJson(e.Value, indent, separators, ensureAscii, sortKeys, depth + 1, convertUndefinedToNull);
                        return indent is > 0 ? childPad + item : item;
                    }).ToList();
                    return indent is > 0 && core.Count > 0 ? "{" + string.Join(itemSep, core) + basePad + "}" : "{" + string.Join(itemSep, core) + "}";
                }
            default:
                throw new InvalidDataException($"chat template: cannot convert a {TypeName(v)} to JSON");
        }
    }

    /// <summary>JSON.stringify of a string (non-ASCII kept unless ensureAscii).</summary>
    public static string JsonString(string s, bool ensureAscii)
    {
        var sb = new StringBuilder(s.Length + 2);
        sb.Append('"');
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    bool loneSurrogate = char.IsHighSurrogate(c) ? !(i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
                        : char.IsLowSurrogate(c) && !(i > 0 && char.IsHighSurrogate(s[i - 1]));
                    if (c < 0x20 || loneSurrogate || (ensureAscii && c >= 0x7f)) sb.Append("\\u").Append(((int)c).ToString("x4"));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>Converts caller data (strings, numbers, bools, dictionaries, lists, JsonElement/JsonNode, ChatMessage)
    /// into runtime values, keeping key order.</summary>
    public static object? FromClr(object? value) => value switch
    {
        null => null,
        Undefined or string or bool or long or double or JinjaList or JinjaDict or JinjaNamespace or JinjaFunction => value,
        int i => (long)i,
        float f => (double)f,
        decimal m => (double)m,
        short or byte or sbyte or ushort or uint => Convert.ToInt64(value, CultureInfo.InvariantCulture),
        ChatMessage message => message.ToJinja(),
        JsonElement json => FromJson(json),
        JsonNode node => FromJson(JsonSerializer.SerializeToElement(node)),
        System.Collections.IDictionary dict => FromDictionary(dict),
        System.Collections.IEnumerable list => new JinjaList(list.Cast<object?>().Select(FromClr).ToList()),
        _ => throw new ArgumentException($"chat template: cannot pass a {value.GetType().Name} to a template"),
    };

    private static JinjaDict FromDictionary(System.Collections.IDictionary dict)
    {
        var result = new JinjaDict();
        foreach (System.Collections.DictionaryEntry entry in dict)
            result.Items[entry.Key.ToString() ?? ""] = FromClr(entry.Value);
        return result;
    }

    public static object? FromJson(JsonElement json)
    {
        switch (json.ValueKind)
        {
            case JsonValueKind.String: return json.GetString();
            case JsonValueKind.True: return true;
            case JsonValueKind.False: return false;
            case JsonValueKind.Null: return null;
            case JsonValueKind.Undefined: return Undefined.Instance;
            case JsonValueKind.Number:
                {
                    // JavaScript keeps one number type; integral values become Jinja integers.
                    double d = json.GetDouble();
                    return d % 1 == 0 && Math.Abs(d) < 9e15 ? (object)(long)d : d;
                }
            case JsonValueKind.Array: return new JinjaList(json.EnumerateArray().Select(FromJson).ToList());
            default:
                {
                    var dict = new JinjaDict();
                    foreach (var p in json.EnumerateObject()) dict.Items[p.Name] = FromJson(p.Value);
                    return dict;
                }
        }
    }
}
