using System.Globalization;
using System.Reflection;
using System.Text;
using Pacs.Rl.Algorithms;
using YamlDotNet.RepresentationModel;

namespace Pacs.Rl.Config;

/// <summary>
/// Binds YAML onto a config object whose sections and knobs are properties marked <see cref="KnobAttribute"/>.
/// Keys are snake_case of the property names; nested mappings are sections. Unknown keys, wrong types and
/// malformed YAML are rejected with a message naming the file and the dotted key.
/// </summary>
public static class ConfigBinder
{
    /// <summary>Where each key of a config object was last set ("FILE: line N" or "--set"), so later checks can say where a bad value came from.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<object, Dictionary<string, string>> s_sources = new();

    /// <summary>Where <paramref name="key"/> (dotted) of <paramref name="config"/> was set: "FILE: line N", "--set", or null for a default.</summary>
    public static string? SourceOf(object config, string key) =>
        s_sources.TryGetValue(config, out var sources) && sources.TryGetValue(key, out var where) ? where : null;

    private static void Record(object config, string key, string source) => s_sources.GetOrCreateValue(config)[key] = source;

    public static T LoadFile<T>(string path) where T : new()
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"config file not found: {path}", path);
        var config = new T();
        ApplyYaml(config, File.ReadAllText(path), path);
        return config;
    }

    /// <summary>Overlays the keys present in <paramref name="yaml"/> onto <paramref name="config"/>.</summary>
    public static void ApplyYaml(object config, string yaml, string source)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new InvalidDataException($"{source}: malformed YAML at line {e.Start.Line}: {e.Message}");
        }
        if (stream.Documents.Count == 0) return;
        var root = stream.Documents[0].RootNode;
        if (root is YamlScalarNode { Value: null or "" }) return;
        if (root is not YamlMappingNode mapping) throw new InvalidDataException($"{source}: the top level must be a mapping of sections");
        ApplyMapping(config, config, mapping, "", source);
    }

    /// <summary>Applies one `dotted.key=value` override (the `--set` flag).</summary>
    public static void Set(object config, string assignment, string source = "--set")
    {
        int eq = assignment.IndexOf('=');
        if (eq <= 0) throw new ArgumentException($"{source}: expected key=value, got '{assignment}'");
        string key = assignment[..eq].Trim();
        string value = assignment[(eq + 1)..].Trim();
        object target = config;
        var parts = key.Split('.');
        for (int i = 0; i < parts.Length; i++)
        {
            string path = string.Join('.', parts[..(i + 1)]);
            if (target is AlgorithmSection algorithm)
            {
                if (i != parts.Length - 1) throw new InvalidDataException($"{source}: '{path}' is a value, not a section");
                SetAlgorithmKey(algorithm, parts[i], value, path, source);
                Record(config, path, source);
                return;
            }
            var property = FindKnob(target.GetType(), parts[i]) ?? throw new InvalidDataException($"{source}: unknown config key '{path}'");
            bool last = i == parts.Length - 1;
            if (IsSection(property.PropertyType))
            {
                if (last) throw new InvalidDataException($"{source}: '{path}' is a section, not a value; set one of its keys");
                target = property.GetValue(target)!;
                continue;
            }
            if (!last) throw new InvalidDataException($"{source}: '{path}' is a value, not a section");
            property.SetValue(target, Convert(value, property.PropertyType, path, source));
            Record(config, path, source);
        }
    }

    /// <summary>The config as YAML, each knob preceded by its documentation; loading it gives back the same values.</summary>
    public static string ToYaml(object config)
    {
        var sb = new StringBuilder();
        WriteSection(sb, config, 0);
        return sb.ToString();
    }

    /// <summary>Every knob as (dotted key, value text, doc), in declaration order.</summary>
    public static IEnumerable<(string Key, string Value, string Doc)> Knobs(object config, string prefix = "")
    {
        if (config is AlgorithmSection algorithm)
        {
            foreach (var (key, value, doc) in AlgorithmKnobs(algorithm)) yield return (prefix + key, FormatScalar(value), doc);
            yield break;
        }
        foreach (var property in KnobProperties(config.GetType()))
        {
            string key = prefix + SnakeCase(property.Name);
            var value = property.GetValue(config)!;
            if (IsSection(property.PropertyType))
                foreach (var inner in Knobs(value, key + ".")) yield return inner;
            else
                yield return (key, FormatScalar(value), property.GetCustomAttribute<KnobAttribute>()!.Doc);
        }
    }

    private static void ApplyMapping(object root, object target, YamlMappingNode mapping, string prefix, string source)
    {
        if (target is AlgorithmSection algorithm)
        {
            // `name` first: it decides which options class the other keys belong to.
            var ordered = mapping.Children.OrderBy(kv => (kv.Key as YamlScalarNode)?.Value == "name" ? 0 : 1).ToList();
            foreach (var (keyNode, valueNode) in ordered)
            {
                string key = (keyNode as YamlScalarNode)?.Value ?? throw new InvalidDataException($"{source}: line {keyNode.Start.Line}: keys must be plain scalars");
                if (valueNode is not YamlScalarNode scalar) throw new InvalidDataException($"{source}: line {valueNode.Start.Line}: '{prefix + key}' must be a single value");
                SetAlgorithmKey(algorithm, key, scalar.Value ?? "", prefix + key, source + $": line {valueNode.Start.Line}");
                Record(root, prefix + key, source + $": line {valueNode.Start.Line}");
            }
            return;
        }
        foreach (var (keyNode, valueNode) in mapping.Children)
        {
            string name = (keyNode as YamlScalarNode)?.Value ?? throw new InvalidDataException($"{source}: line {keyNode.Start.Line}: keys must be plain scalars");
            string path = prefix + name;
            var property = FindKnob(target.GetType(), name) ?? throw new InvalidDataException($"{source}: line {keyNode.Start.Line}: unknown config key '{path}'");
            if (IsSection(property.PropertyType))
            {
                if (valueNode is YamlScalarNode { Value: null or "" }) continue;
                if (valueNode is not YamlMappingNode inner) throw new InvalidDataException($"{source}: line {valueNode.Start.Line}: '{path}' must be a mapping");
                ApplyMapping(root, property.GetValue(target)!, inner, path + ".", source);
                continue;
            }
            if (property.PropertyType == typeof(string[]) && valueNode is YamlSequenceNode list)
            {
                property.SetValue(target, list.Children.Select(item => item is YamlScalarNode { Value: { } text } ? text
                    : throw new InvalidDataException($"{source}: line {item.Start.Line}: '{path}' must be a list of single values")).ToArray());
                Record(root, path, source + $": line {valueNode.Start.Line}");
                continue;
            }
            if (valueNode is not YamlScalarNode scalar) throw new InvalidDataException($"{source}: line {valueNode.Start.Line}: '{path}' must be a single value");
            property.SetValue(target, Convert(scalar.Value ?? "", property.PropertyType, path, source + $": line {valueNode.Start.Line}"));
            Record(root, path, source + $": line {valueNode.Start.Line}");
        }
    }

    private static void SetAlgorithmKey(AlgorithmSection algorithm, string key, string value, string path, string source)
    {
        if (key == "name")
        {
            if (!AlgorithmRegistry.Names.Contains(value))
                throw new InvalidDataException($"{source}: config key '{path}': algorithm '{value}' is not one of {string.Join(", ", AlgorithmRegistry.Names)}");
            algorithm.Name = value;
            return;
        }
        // Keys every algorithm has (rollout_correction) belong to the section itself.
        if (FindKnob(typeof(AlgorithmSection), key) is { } common)
        {
            common.SetValue(algorithm, Convert(value, common.PropertyType, path, source));
            return;
        }
        var property = OptionProperties(algorithm.Options.GetType()).FirstOrDefault(p => SnakeCase(p.Name) == key)
            ?? throw new InvalidDataException($"{source}: unknown config key '{path}' for algorithm {algorithm.Name} (its keys: name, {string.Join(", ", OptionProperties(algorithm.Options.GetType()).Select(p => SnakeCase(p.Name)))})");
        property.SetValue(algorithm.Options, Convert(value, property.PropertyType, path, source));
    }

    private static IEnumerable<(string Key, object Value, string Doc)> AlgorithmKnobs(AlgorithmSection algorithm)
    {
        yield return ("name", algorithm.Name, AlgorithmSection.NameDoc);
        foreach (var common in KnobProperties(typeof(AlgorithmSection)))
        {
            string doc = common.GetCustomAttribute<KnobAttribute>()!.Doc;
            if (common.PropertyType.IsEnum) doc += $" One of: {string.Join(", ", ConfigEnum.Names(common.PropertyType))}.";
            yield return (SnakeCase(common.Name), common.GetValue(algorithm)!, doc);
        }
        foreach (var property in OptionProperties(algorithm.Options.GetType()))
        {
            string key = SnakeCase(property.Name);
            string doc = property.GetCustomAttribute<System.ComponentModel.DescriptionAttribute>()?.Description
                ?? throw new InvalidOperationException($"{property.DeclaringType?.Name}.{property.Name} has no [Description]: every algorithm option documents itself");
            if (property.PropertyType.IsEnum) doc += $" One of: {string.Join(", ", ConfigEnum.Names(property.PropertyType))}.";
            yield return (key, property.GetValue(algorithm.Options)!, doc);
        }
    }

    private static IEnumerable<PropertyInfo> OptionProperties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && p.SetMethod!.IsPublic && (p.PropertyType.IsEnum || p.PropertyType == typeof(string) || p.PropertyType == typeof(double) || p.PropertyType == typeof(int) || p.PropertyType == typeof(bool) || p.PropertyType == typeof(long)))
            .OrderBy(p => p.Name == "Name" ? 0 : 1);

    private static object Convert(string text, Type type, string key, string source)
    {
        var inv = CultureInfo.InvariantCulture;
        object? value = null;
        if (type == typeof(string)) value = text;
        else if (type == typeof(string[])) value = ListItems(text);
        else if (type == typeof(int) && int.TryParse(text, NumberStyles.Integer, inv, out int i)) value = i;
        else if (type == typeof(long) && long.TryParse(text, NumberStyles.Integer, inv, out long l)) value = l;
        else if (type == typeof(double) && double.TryParse(text, NumberStyles.Float, inv, out double d) && double.IsFinite(d)) value = d;
        else if (type == typeof(bool) && text is "true" or "false" or "True" or "False") value = text is "true" or "True";
        else if (type.IsEnum && ConfigEnum.TryParse(type, text, out var member)) value = member;
        return value ?? throw new FormatException($"{source}: config key '{key}' expects {TypeWord(type)}, got '{text}'");
    }

    /// <summary>A list given as one value (`--set rollout.servers=a,b` or `[a, b]`).</summary>
    private static string[] ListItems(string text) =>
        [.. text.Trim().TrimStart('[').TrimEnd(']').Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    private static string TypeWord(Type type) =>
        type == typeof(int) || type == typeof(long) ? "an integer"
        : type == typeof(double) ? "a finite number"
        : type == typeof(bool) ? "true or false"
        : type.IsEnum ? "one of " + string.Join(", ", ConfigEnum.Names(type))
        : "a string";

    private static void WriteSection(StringBuilder sb, object section, int indent)
    {
        string pad = new(' ', indent);
        if (section is AlgorithmSection algorithm)
        {
            foreach (var (key, value, doc) in AlgorithmKnobs(algorithm))
            {
                sb.Append(pad).Append("# ").AppendLine(doc);
                sb.Append(pad).Append(key).Append(": ").AppendLine(YamlScalar(value));
            }
            return;
        }
        foreach (var property in KnobProperties(section.GetType()))
        {
            string doc = property.GetCustomAttribute<KnobAttribute>()!.Doc;
            string key = SnakeCase(property.Name);
            var value = property.GetValue(section)!;
            sb.Append(pad).Append("# ").AppendLine(doc);
            if (IsSection(property.PropertyType))
            {
                sb.Append(pad).Append(key).AppendLine(":");
                WriteSection(sb, value, indent + 2);
            }
            else
            {
                sb.Append(pad).Append(key).Append(": ").AppendLine(YamlScalar(value));
            }
        }
    }

    private static string YamlScalar(object value) => value switch
    {
        string s => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"",
        string[] list => "[" + string.Join(", ", list.Select(YamlScalar)) + "]",
        Enum e => "\"" + ConfigEnum.Name(e) + "\"",
        _ => FormatScalar(value),
    };

    private static string FormatScalar(object value) => value switch
    {
        bool b => b ? "true" : "false",
        string[] list => string.Join(",", list),
        Enum e => ConfigEnum.Name(e),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static bool IsSection(Type type) => type.IsClass && type != typeof(string) && !type.IsArray;

    private static PropertyInfo? FindKnob(Type type, string snakeName) =>
        KnobProperties(type).FirstOrDefault(p => SnakeCase(p.Name) == snakeName);

    private static IEnumerable<PropertyInfo> KnobProperties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetCustomAttribute<KnobAttribute>() is not null)
            .OrderBy(p => p.MetadataToken);

    public static string SnakeCase(string pascal)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < pascal.Length; i++)
        {
            char c = pascal[i];
            if (char.IsUpper(c) && i > 0) sb.Append('_');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }
}
