using System.Reflection;

namespace Pacs.Rl.Algorithms;

/// <summary>The spelling of an enum member in configs (default: the member's snake_case), and accepted aliases.</summary>
[AttributeUsage(AttributeTargets.Field)]
public sealed class ConfigNameAttribute(string name, params string[] aliases) : Attribute
{
    public string Name { get; } = name;

    public IReadOnlyList<string> Aliases { get; } = aliases;
}

/// <summary>
/// Enum options as configs spell them: parsed once when a config is read (never as strings inside a loss), written
/// back by their canonical name.
/// </summary>
public static class ConfigEnum
{
    /// <summary>The canonical config name of <paramref name="value"/>.</summary>
    public static string Name(Enum value)
    {
        var field = value.GetType().GetField(value.ToString(), BindingFlags.Public | BindingFlags.Static)
            ?? throw new ArgumentException($"{value.GetType().Name}: {value} is not a named member");
        return field.GetCustomAttribute<ConfigNameAttribute>()?.Name ?? SnakeCase(field.Name);
    }

    /// <summary>The canonical names of every member, in declaration order.</summary>
    public static IReadOnlyList<string> Names(Type enumType) =>
        [.. Enum.GetValues(enumType).Cast<Enum>().Select(Name)];

    /// <summary>The member named <paramref name="text"/> (canonical name or alias); false when none is.</summary>
    public static bool TryParse(Type enumType, string text, out Enum value)
    {
        foreach (var field in enumType.GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var attribute = field.GetCustomAttribute<ConfigNameAttribute>();
            string name = attribute?.Name ?? SnakeCase(field.Name);
            if (name == text || (attribute?.Aliases.Contains(text) ?? false))
            {
                value = (Enum)field.GetValue(null)!;
                return true;
            }
        }
        value = default!;
        return false;
    }

    /// <summary>Parses <paramref name="text"/>, or throws naming <paramref name="context"/> and the choices.</summary>
    public static T Parse<T>(string text, string context) where T : struct, Enum =>
        TryParse(typeof(T), text, out var value) ? (T)value
            : throw new ArgumentException($"{context}: '{text}' is not one of {string.Join(", ", Names(typeof(T)))}");

    private static string SnakeCase(string pascal) =>
        string.Concat(pascal.Select((c, i) => char.IsUpper(c) && i > 0 ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
}
