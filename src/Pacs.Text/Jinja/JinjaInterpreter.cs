using System.Globalization;
using System.Text;

namespace Pacs.Text.Jinja;

internal sealed class Scope(Scope? parent)
{
    private readonly Dictionary<string, object?> _variables = new(StringComparer.Ordinal);
    private readonly Scope? _parent = parent;

    public void Set(string name, object? value) => _variables[name] = value;

    public object? Lookup(string name)
    {
        for (var s = this; s is not null; s = s._parent)
            if (s._variables.TryGetValue(name, out var v)) return v;
        return name == "namespace" ? Builtins.Namespace : Undefined.Instance;
    }
}

internal sealed class BreakSignal : Exception;
internal sealed class ContinueSignal : Exception;

/// <summary>Evaluates a parsed template with @huggingface/jinja's semantics (JavaScript value printing, loose `==`,
/// per-loop scopes, string methods).</summary>
internal sealed class JinjaInterpreter
{
    public string Render(List<Node> program, Scope scope) => EvaluateBlock(program, scope);

    private string EvaluateBlock(List<Node> nodes, Scope scope)
    {
        var sb = new StringBuilder();
        foreach (var node in nodes) Execute(node, scope, sb);
        return sb.ToString();
    }

    private static NotSupportedException Unsupported(int line, string what) => new($"chat template line {line}: {what} is not supported");

    private static InvalidDataException Fail(int line, string what) => new($"chat template line {line}: {what}");

    private void Execute(Node node, Scope scope, StringBuilder output)
    {
        switch (node)
        {
            case TextNode text:
                output.Append(text.Text);
                break;
            case CommentNode:
                break;
            case OutputNode o:
                {
                    var value = Evaluate(o.Value, scope);
                    if (value is not (null or Undefined)) output.Append(JinjaValues.ToOutput(value));
                    break;
                }
            case IfNode n:
                output.Append(EvaluateBlock(JinjaValues.Truthy(Evaluate(n.Test, scope)) ? n.Body : n.Alternate, scope));
                break;
            case ForNode n:
                output.Append(EvaluateFor(n, scope));
                break;
            case SetNode n:
                EvaluateSet(n, scope);
                break;
            case MacroNode n:
                scope.Set(n.Name, new JinjaFunction((args, callScope) =>
                {
                    var macroScope = new Scope(callScope);
                    BindMacroArguments(n, args, macroScope);
                    return EvaluateBlock(n.Body, macroScope);
                }));
                break;
            case FilterBlockNode n:
                {
                    string body = EvaluateBlock(n.Body, scope);
                    var value = n.Filter switch
                    {
                        IdentifierExpr id => ApplyFilter(body, id.Name, null, scope, n.Line),
                        CallExpr { Callee: IdentifierExpr id } call => ApplyFilter(body, id.Name, call.Args, scope, n.Line),
                        _ => throw Fail(n.Line, "bad filter block"),
                    };
                    if (value is not (null or Undefined)) output.Append(JinjaValues.ToOutput(value));
                    break;
                }
            case BreakNode:
                throw new BreakSignal();
            case ContinueNode:
                throw new ContinueSignal();
            default:
                throw Unsupported(node.Line, node.GetType().Name);
        }
    }

    private void BindMacroArguments(MacroNode macro, List<object?> args, Scope scope)
    {
        var positional = new List<object?>(args);
        JinjaKwargs? kwargs = null;
        if (positional.Count > 0 && positional[^1] is JinjaKwargs k)
        {
            kwargs = k;
            positional.RemoveAt(positional.Count - 1);
        }
        for (int i = 0; i < macro.Parameters.Count; i++)
        {
            var (name, fallback) = macro.Parameters[i] switch
            {
                IdentifierExpr id => (id.Name, (Expr?)null),
                KeywordArgExpr kw => (kw.Name, kw.Value),
                _ => throw Fail(macro.Line, "bad macro parameter"),
            };
            if (i < positional.Count) scope.Set(name, positional[i]);
            else if (kwargs is not null && kwargs.Items.TryGetValue(name, out var v)) scope.Set(name, v);
            else scope.Set(name, fallback is null ? Undefined.Instance : Evaluate(fallback, scope));
        }
    }

    private string EvaluateFor(ForNode n, Scope outer)
    {
        var scope = new Scope(outer);
        var iterable = Evaluate(n.Iterable, scope);
        List<object?> source = iterable switch
        {
            JinjaList l => l.Items,
            JinjaDict d => d.Items.Keys.Cast<object?>().ToList(),
            _ => throw Fail(n.Line, $"cannot loop over a {JinjaValues.TypeName(iterable)}"),
        };
        void Bind(Scope target, object? current)
        {
            if (n.Target is IdentifierExpr id) target.Set(id.Name, current);
            else if (n.Target is ListExpr tuple)
            {
                if (current is not JinjaList values) throw Fail(n.Line, $"cannot unpack a {JinjaValues.TypeName(current)}");
                if (values.Items.Count != tuple.Items.Count) throw Fail(n.Line, "wrong number of items to unpack");
                for (int j = 0; j < tuple.Items.Count; j++)
                    target.Set(((IdentifierExpr)tuple.Items[j]).Name, values.Items[j]);
            }
        }
        var items = new List<object?>();
        foreach (var current in source)
        {
            if (n.Filter is not null)
            {
                var loopScope = new Scope(scope);
                Bind(loopScope, current);
                if (!JinjaValues.Truthy(Evaluate(n.Filter, loopScope))) continue;
            }
            items.Add(current);
        }
        var sb = new StringBuilder();
        bool iterated = false;
        for (int i = 0; i < items.Count; i++)
        {
            var loop = new JinjaDict();
            loop.Items["index"] = (long)(i + 1);
            loop.Items["index0"] = (long)i;
            loop.Items["revindex"] = (long)(items.Count - i);
            loop.Items["revindex0"] = (long)(items.Count - i - 1);
            loop.Items["first"] = i == 0;
            loop.Items["last"] = i == items.Count - 1;
            loop.Items["length"] = (long)items.Count;
            loop.Items["previtem"] = i > 0 ? items[i - 1] : Undefined.Instance;
            loop.Items["nextitem"] = i < items.Count - 1 ? items[i + 1] : Undefined.Instance;
            scope.Set("loop", loop);
            Bind(scope, items[i]);
            try
            {
                sb.Append(EvaluateBlock(n.Body, scope));
            }
            catch (ContinueSignal) { continue; }
            catch (BreakSignal) { break; }
            iterated = true;
        }
        if (!iterated) sb.Append(EvaluateBlock(n.Else, scope));
        return sb.ToString();
    }

    private void EvaluateSet(SetNode n, Scope scope)
    {
        object? value = n.Value is not null ? Evaluate(n.Value, scope) : EvaluateBlock(n.Body, scope);
        switch (n.Target)
        {
            case IdentifierExpr id:
                scope.Set(id.Name, value);
                break;
            case ListExpr { IsTuple: true } tuple:
                {
                    if (value is not JinjaList list) throw Fail(n.Line, $"cannot unpack a {JinjaValues.TypeName(value)}");
                    if (list.Items.Count != tuple.Items.Count) throw Fail(n.Line, "wrong number of items to unpack");
                    for (int i = 0; i < tuple.Items.Count; i++)
                    {
                        if (tuple.Items[i] is not IdentifierExpr name) throw Fail(n.Line, "can only unpack into names");
                        scope.Set(name.Name, list.Items[i]);
                    }
                    break;
                }
            case MemberExpr { Computed: false, Property: IdentifierExpr property } member:
                {
                    if (Evaluate(member.Target, scope) is not JinjaNamespace ns) throw Fail(n.Line, "can only assign attributes of a namespace()");
                    ns.Items[property.Name] = value;
                    break;
                }
            default:
                throw Fail(n.Line, "invalid assignment target");
        }
    }

    public object? Evaluate(Expr expr, Scope scope)
    {
        switch (expr)
        {
            case LiteralExpr l: return l.Value;
            case IdentifierExpr id: return scope.Lookup(id.Name);
            case ListExpr list: return new JinjaList(list.Items.Select(x => Evaluate(x, scope)).ToList(), list.IsTuple);
            case DictExpr dict:
                {
                    var result = new JinjaDict();
                    foreach (var (k, v) in dict.Items)
                    {
                        if (Evaluate(k, scope) is not string key) throw Fail(dict.Line, "dict keys must be strings");
                        result.Items[key] = Evaluate(v, scope);
                    }
                    return result;
                }
            case MemberExpr m: return EvaluateMember(m, scope);
            case CallExpr call:
                {
                    var args = EvaluateArguments(call.Args, scope);
                    var callee = Evaluate(call.Callee, scope);
                    if (callee is not JinjaFunction fn)
                        throw call.Callee is IdentifierExpr name && callee is Undefined
                            ? Unsupported(call.Line, $"function '{name.Name}()'")
                            : Fail(call.Line, $"cannot call a {JinjaValues.TypeName(callee)}");
                    return fn.Body(args, scope);
                }
            case UnaryExpr u:
                {
                    var operand = Evaluate(u.Operand, scope);
                    if (u.Op == "not") return !JinjaValues.Truthy(operand);
                    long sign = u.Op == "-" ? -1 : 1;
                    return operand switch
                    {
                        double d => (object)(sign * d),
                        long l => (object)(sign * l),
                        bool b => (object)(sign * (b ? 1L : 0L)),
                        _ => throw Fail(u.Line, $"unary {u.Op} on a {JinjaValues.TypeName(operand)}"),
                    };
                }
            case BinaryExpr b: return EvaluateBinary(b, scope);
            case FilterExpr f: return ApplyFilter(Evaluate(f.Operand, scope), f.Name, f.Args, scope, f.Line);
            case TestExpr t:
                {
                    bool result = ApplyTest(Evaluate(t.Operand, scope), t.Name, t.Line);
                    return t.Negate ? !result : result;
                }
            case TernaryExpr t: return JinjaValues.Truthy(Evaluate(t.Condition, scope)) ? Evaluate(t.WhenTrue, scope) : Evaluate(t.WhenFalse, scope);
            case SelectExpr s: return JinjaValues.Truthy(Evaluate(s.Condition, scope)) ? Evaluate(s.Value, scope) : Undefined.Instance;
            case KeywordArgExpr k: throw Fail(k.Line, "keyword argument outside a call");
            case SliceExpr s: throw Fail(s.Line, "slice outside a subscript");
            default: throw Unsupported(expr.Line, expr.GetType().Name);
        }
    }

    private List<object?> EvaluateArguments(List<Expr> args, Scope scope)
    {
        var positional = new List<object?>();
        JinjaKwargs? kwargs = null;
        foreach (var a in args)
        {
            if (a is KeywordArgExpr kw)
            {
                kwargs ??= new JinjaKwargs();
                if (!kwargs.Items.TryAdd(kw.Name, Evaluate(kw.Value, scope))) throw Fail(kw.Line, $"keyword argument '{kw.Name}' given twice");
            }
            else positional.Add(Evaluate(a, scope));
        }
        if (kwargs is not null) positional.Add(kwargs);
        return positional;
    }

    private object? EvaluateMember(MemberExpr m, Scope scope)
    {
        var target = Evaluate(m.Target, scope);
        if (m.Computed && m.Property is SliceExpr slice)
        {
            long? Part(Expr? e) => e is null ? null : Evaluate(e, scope) switch
            {
                long l => l,
                Undefined => null,
                var other => throw Fail(m.Line, $"slice index must be an integer, got a {JinjaValues.TypeName(other)}"),
            };
            long? start = Part(slice.Start), stop = Part(slice.Stop), step = Part(slice.Step);
            return target switch
            {
                JinjaList list => new JinjaList(Slice(list.Items, start, stop, step ?? 1)),
                string s => string.Concat(Slice(CodePoints(s).Cast<object?>().ToList(), start, stop, step ?? 1)),
                _ => throw Fail(m.Line, $"cannot slice a {JinjaValues.TypeName(target)}"),
            };
        }
        object? property = m.Computed ? Evaluate(m.Property, scope) : m.Property switch
        {
            IdentifierExpr id => id.Name,
            LiteralExpr lit => lit.Value,
            _ => throw Fail(m.Line, "bad member access"),
        };
        return GetMember(target, property, m.Line);
    }

    private static List<string> CodePoints(string s)
    {
        var result = new List<string>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { result.Add(s.Substring(i, 2)); i++; }
            else result.Add(s[i].ToString());
        }
        return result;
    }

    private static List<object?> Slice(List<object?> items, long? start, long? stop, long step)
    {
        if (step == 0) throw new InvalidDataException("chat template: slice step cannot be zero");
        long n = items.Count;
        long s, e;
        if (step > 0)
        {
            s = start is null ? 0 : start < 0 ? Math.Max(n + start.Value, 0) : Math.Min(start.Value, n);
            e = stop is null ? n : stop < 0 ? Math.Max(n + stop.Value, 0) : Math.Min(stop.Value, n);
        }
        else
        {
            s = start is null ? n - 1 : start < 0 ? Math.Max(n + start.Value, -1) : Math.Min(start.Value, n - 1);
            e = stop is null ? -1 : stop < -1 ? Math.Max(n + stop.Value, -1) : Math.Min(stop.Value, n - 1);
        }
        var result = new List<object?>();
        long direction = Math.Sign(step);
        for (long i = s; direction * i < direction * e; i += step) result.Add(items[(int)i]);
        return result;
    }

    private object? GetMember(object? target, object? property, int line)
    {
        switch (target)
        {
            case JinjaDict dict:
                if (property is not string key) throw Fail(line, $"dict keys are strings, got a {JinjaValues.TypeName(property)}");
                return dict.Items.TryGetValue(key, out var v) ? v : Builtins.DictMethod(dict, key) ?? (object)Undefined.Instance;
            case JinjaNamespace ns:
                if (property is not string nsKey) throw Fail(line, $"namespace keys are strings, got a {JinjaValues.TypeName(property)}");
                return ns.Items.TryGetValue(nsKey, out var nv) ? nv : Undefined.Instance;
            case JinjaList list:
                if (property is long index)
                {
                    long at = index < 0 ? list.Items.Count + index : index;
                    return at >= 0 && at < list.Items.Count ? list.Items[(int)at] : Undefined.Instance;
                }
                if (property is string name) return name == "length" ? (long)list.Items.Count : Undefined.Instance;
                throw Fail(line, $"list index must be an integer, got a {JinjaValues.TypeName(property)}");
            case string s:
                if (property is long charIndex)
                {
                    long at = charIndex < 0 ? s.Length + charIndex : charIndex;
                    return at >= 0 && at < s.Length ? s[(int)at].ToString() : Undefined.Instance;
                }
                if (property is string method) return Builtins.StringMethod(s, method, line) ?? (object)Undefined.Instance;
                throw Fail(line, $"string index must be an integer, got a {JinjaValues.TypeName(property)}");
            default:
                if (property is not string) throw Fail(line, $"cannot index a {JinjaValues.TypeName(target)}");
                return Undefined.Instance;
        }
    }

    private object? EvaluateBinary(BinaryExpr b, Scope scope)
    {
        var left = Evaluate(b.Left, scope);
        if (b.Op == "and") return JinjaValues.Truthy(left) ? Evaluate(b.Right, scope) : left;
        if (b.Op == "or") return JinjaValues.Truthy(left) ? left : Evaluate(b.Right, scope);
        var right = Evaluate(b.Right, scope);
        if (b.Op == "==") return LooseEquals(left, right);
        if (b.Op == "!=") return !LooseEquals(left, right);
        if (left is Undefined || right is Undefined)
        {
            if (right is Undefined && b.Op is "in" or "not in") return b.Op == "not in";
            throw Fail(b.Line, $"cannot apply '{b.Op}' to an undefined value");
        }
        if (left is null || right is null) throw Fail(b.Line, $"cannot apply '{b.Op}' to none");
        if (b.Op == "~") return JinjaValues.ToJsString(left) + JinjaValues.ToJsString(right);
        bool leftNumeric = left is long or double, rightNumeric = right is long or double;
        if (b.Op == "**" && (leftNumeric || left is bool) && (rightNumeric || right is bool))
        {
            double x = ToDouble(left), y = ToDouble(right);
            double r = Math.Pow(x, y);
            bool isFloat = left is double || right is double || y < 0;
            return isFloat ? (object)r : (long)r;
        }
        if (leftNumeric && rightNumeric)
        {
            bool isFloat = left is double || right is double;
            if (!isFloat)
            {
                long x = (long)left, y = (long)right;
                switch (b.Op)
                {
                    case "+": return x + y;
                    case "-": return x - y;
                    case "*": return x * y;
                    case "/": return (double)x / y;
                    case "//": return (long)Math.Floor((double)x / y);
                    case "%": return y == 0 ? (object)double.NaN : x % y;
                    case "<": return x < y;
                    case ">": return x > y;
                    case "<=": return x <= y;
                    case ">=": return x >= y;
                }
            }
            else
            {
                double x = ToDouble(left), y = ToDouble(right);
                switch (b.Op)
                {
                    case "+": return x + y;
                    case "-": return x - y;
                    case "*": return x * y;
                    case "/": return x / y;
                    case "//": return Math.Floor(x / y);
                    case "%": return x % y;
                    case "<": return x < y;
                    case ">": return x > y;
                    case "<=": return x <= y;
                    case ">=": return x >= y;
                }
            }
        }
        else if (left is JinjaList la && right is JinjaList ra && b.Op == "+")
            return new JinjaList([.. la.Items, .. ra.Items]);
        else if (right is JinjaList rl && b.Op is "in" or "not in")
        {
            bool member = rl.Items.Any(x => StrictEquals(x, left));
            return b.Op == "in" ? member : !member;
        }
        if ((left is string || right is string) && b.Op == "+") return JinjaValues.ToJsString(left) + JinjaValues.ToJsString(right);
        if (left is string ls && right is string rs && b.Op is "in" or "not in")
            return b.Op == "in" ? rs.Contains(ls, StringComparison.Ordinal) : !rs.Contains(ls, StringComparison.Ordinal);
        if (left is string key && right is JinjaDict rd && b.Op is "in" or "not in")
            return b.Op == "in" ? rd.Items.ContainsKey(key) : !rd.Items.ContainsKey(key);
        throw Fail(b.Line, $"operator '{b.Op}' between a {JinjaValues.TypeName(left)} and a {JinjaValues.TypeName(right)}");
    }

    private static double ToDouble(object? v) => v switch { long l => l, double d => d, bool b => b ? 1 : 0, _ => double.NaN };

    /// <summary>JavaScript's `===` on the underlying values: primitives by value, containers by reference.</summary>
    private static bool StrictEquals(object? a, object? b) => (a, b) switch
    {
        (null, null) or (Undefined, Undefined) => true,
        (string x, string y) => x == y,
        (long or double, long or double) => ToDouble(a) == ToDouble(b),
        (bool x, bool y) => x == y,
        _ => ReferenceEquals(a, b),
    };

    /// <summary>JavaScript's `==` on the underlying values (none equals undefined; numbers, booleans and numeric
    /// strings compare as numbers).</summary>
    private static bool LooseEquals(object? a, object? b)
    {
        if (a is null or Undefined || b is null or Undefined) return a is null or Undefined && b is null or Undefined;
        if (a is string sa && b is string sb) return sa == sb;
        bool aPrim = a is long or double or bool or string, bPrim = b is long or double or bool or string;
        if (aPrim && bPrim) return ToNumber(a) == ToNumber(b);
        return ReferenceEquals(a, b);
    }

    private static double ToNumber(object? v) => v switch
    {
        string s => s.Trim().Length == 0 ? 0 : double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : double.NaN,
        _ => ToDouble(v),
    };

    private static bool ApplyTest(object? v, string name, int line) => name switch
    {
        "boolean" => v is bool,
        "callable" => v is JinjaFunction,
        "odd" => v is long l ? l % 2 != 0 : throw Fail(line, $"cannot test odd on a {JinjaValues.TypeName(v)}"),
        "even" => v is long e ? e % 2 == 0 : throw Fail(line, $"cannot test even on a {JinjaValues.TypeName(v)}"),
        "false" => v is false,
        "true" => v is true,
        "none" => v is null,
        "string" => v is string,
        "number" => v is long or double,
        "integer" => v is long,
        "iterable" => v is JinjaList or string,
        "mapping" => v is JinjaDict,
        "sequence" => v is JinjaList or JinjaDict or string,
        "lower" => v is string s && s == s.ToLowerInvariant(),
        "upper" => v is string u && u == u.ToUpperInvariant(),
        "defined" => v is not Undefined,
        "undefined" => v is Undefined,
        _ => throw Unsupported(line, $"test 'is {name}'"),
    };

    private object? ApplyFilter(object? operand, string name, List<Expr>? argExprs, Scope scope, int line)
    {
        var args = argExprs is null ? [] : EvaluateArguments(argExprs, scope);
        var kwargs = args.Count > 0 && args[^1] is JinjaKwargs k ? k : null;
        if (kwargs is not null) args.RemoveAt(args.Count - 1);
        object? Kw(string key) => kwargs is not null && kwargs.Items.TryGetValue(key, out var v) ? v : Undefined.Instance;
        object? Arg(int i, string key) => i < args.Count ? args[i] : Kw(key);

        if (name == "safe") return operand;
        if (name == "tojson")
        {
            var indent = Kw("indent");
            var separators = Kw("separators");
            (string, string)? seps = separators is JinjaList { Items.Count: 2 } sl && sl.Items[0] is string a && sl.Items[1] is string b2 ? (a, b2) : null;
            return JinjaValues.ToJson(operand, indent is long i ? (int)i : null, seps, Kw("ensure_ascii") is true, Kw("sort_keys") is true, 0);
        }
        if (name == "default" && argExprs is not null)
        {
            var fallback = args.Count > 0 ? args[0] : "";
            bool boolean = Arg(1, "boolean") is true;
            return operand is Undefined || (boolean && !JinjaValues.Truthy(operand)) ? fallback : operand;
        }
        if (name == "join" && argExprs is not null)
        {
            var separator = Arg(0, "separator") is string sep ? sep : "";
            return operand switch
            {
                string s => string.Join(separator, CodePoints(s)),
                JinjaList list => string.Join(separator, list.Items.Select(JinjaValues.ToJsString)),
                _ => throw Fail(line, $"cannot join a {JinjaValues.TypeName(operand)}"),
            };
        }
        switch (operand)
        {
            case JinjaList list:
                switch (name)
                {
                    case "list": return list;
                    case "first": return list.Items.Count > 0 ? list.Items[0] : Undefined.Instance;
                    case "last": return list.Items.Count > 0 ? list.Items[^1] : Undefined.Instance;
                    case "length": return (long)list.Items.Count;
                    case "reverse": return new JinjaList(Enumerable.Reverse(list.Items).ToList());
                    case "join": return string.Concat(list.Items.Select(JinjaValues.ToJsString));
                    case "string": return JinjaValues.ToJson(list, null, null, false, false, 0, convertUndefinedToNull: false);
                    case "map" when Kw("attribute") is string attribute:
                        return new JinjaList(list.Items.Select(item => item is JinjaDict d
                            ? (d.Items.TryGetValue(attribute, out var v) ? v : Kw("default") is var dv && dv is not Undefined ? dv : Undefined.Instance)
                            : throw Fail(line, "map(attribute=...) needs a list of dicts")).ToList());
                    case "selectattr" or "rejectattr":
                        {
                            bool select = name == "selectattr";
                            if (args.Count == 0 || args[0] is not string attr) throw Fail(line, $"{name} needs an attribute name");
                            string? test = args.Count > 1 ? args[1] as string : null;
                            return new JinjaList(list.Items.Where(item =>
                            {
                                if (item is not JinjaDict d) throw Fail(line, $"{name} needs a list of dicts");
                                var a = d.Items.TryGetValue(attr, out var v) ? v : Undefined.Instance;
                                bool r = JinjaValues.Truthy(a) && (test is null ? JinjaValues.Truthy(a) : ApplyTest(a, test, line));
                                return select ? r : !r;
                            }).ToList());
                        }
                }
                break;
            case string s:
                switch (name)
                {
                    case "length": return (long)s.Length;
                    case "upper": return s.ToUpperInvariant();
                    case "lower": return s.ToLowerInvariant();
                    case "trim": return s.Trim(JinjaLexer.JsWhitespaceChars);
                    case "string" or "join": return s;
                    case "capitalize": return s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];
                    case "title": return Builtins.TitleCase(s);
                    case "int": return long.TryParse(LeadingInteger(s), out long iv) ? iv : Arg(0, "default") is var d1 && d1 is not Undefined ? d1 : 0L;
                    case "float": return double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double dv) ? dv : Arg(0, "default") is var d2 && d2 is not Undefined ? d2 : 0.0;
                    case "replace": return Builtins.StringMethod(s, "replace", line) is JinjaFunction f ? f.Body([.. args, .. kwargs is null ? Array.Empty<object?>() : [kwargs]], scope) : null;
                    case "indent":
                        {
                            int width = Arg(0, "width") is long w ? (int)w : 4;
                            bool first = Arg(1, "first") is true, blank = Arg(2, "blank") is true;
                            string pad = new(' ', width);
                            return string.Join("\n", s.Split('\n').Select((x, i) => (!first && i == 0) || (!blank && x.Length == 0) ? x : pad + x));
                        }
                }
                break;
            case long or double:
                switch (name)
                {
                    case "abs": return operand is long l ? (object)Math.Abs(l) : Math.Abs((double)operand);
                    case "int": return operand is long ? operand : (long)Math.Floor((double)operand);
                    case "float": return ToDouble(operand);
                    case "string": return JinjaValues.ToOutput(operand);
                }
                break;
            case bool b:
                switch (name)
                {
                    case "bool": return b;
                    case "int": return b ? 1L : 0L;
                    case "float": return b ? 1.0 : 0.0;
                    case "string": return b ? "true" : "false";
                }
                break;
            case JinjaDict dict:
                switch (name)
                {
                    case "items": return Builtins.Items(dict);
                    case "length": return (long)dict.Items.Count;
                    case "keys": return new JinjaList(dict.Items.Keys.Cast<object?>().ToList());
                    case "values": return new JinjaList(dict.Items.Values.ToList());
                }
                break;
        }
        throw Unsupported(line, $"filter '{name}' on a {JinjaValues.TypeName(operand)}");
    }

    private static string LeadingInteger(string s)
    {
        s = s.TrimStart(JinjaLexer.JsWhitespaceChars);
        int end = s.Length > 0 && s[0] is '+' or '-' ? 1 : 0;
        while (end < s.Length && char.IsAsciiDigit(s[end])) end++;
        return s[..end];
    }
}
