namespace Pacs.Rl.Config;

/// <summary>Marks a config property as a knob: its YAML key is the snake_case of the property name and the
/// text documents it (written as a comment into saved configs).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class KnobAttribute(string doc) : Attribute
{
    public string Doc { get; } = doc;
}
