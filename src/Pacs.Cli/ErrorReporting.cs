using System.CommandLine;
using System.CommandLine.Parsing;

namespace Pacs.Cli;

/// <summary>
/// Every failure reaches the user as one line on stderr, `error: ...`, with exit code 2: bad input (a missing
/// file, a malformed config, an unknown task, a bad option value), a failed write, and bugs alike. Library layers
/// signal bad input with the standard exception types below and a message that names the file, line, key or
/// tensor; anything else is also named by its type. `--debug` adds the stack trace.
/// </summary>
public static class ErrorReporting
{
    public const int UserErrorExitCode = 2;

    /// <summary>Set by `--debug`: print the whole exception after the one-line error.</summary>
    public static bool Debug { get; set; }

    public static bool IsUserError(Exception e) => Unwrap(e) is InvalidDataException or FormatException
        or ArgumentException or FileNotFoundException or DirectoryNotFoundException or NotSupportedException
        or KeyNotFoundException or EndOfStreamException;

    /// <summary>Failures of the environment rather than of the input (a full disk, a read-only folder): their message names the path.</summary>
    private static bool IsEnvironmentError(Exception e) => Unwrap(e) is IOException or UnauthorizedAccessException;

    public static int ReportUserError(Exception e) => Report(e);

    /// <summary>Writes the one-line error (and with --debug the stack trace) and returns exit code 2.</summary>
    public static int Report(Exception e)
    {
        var inner = Unwrap(e);
        string message = OneLine(inner);
        if (!IsUserError(inner) && !IsEnvironmentError(inner))
            message += $" ({inner.GetType().Name}; this is a bug in pacs: rerun with --debug for the stack trace)";
        Console.Error.WriteLine($"error: {message}");
        if (Debug) Console.Error.WriteLine(e);
        return UserErrorExitCode;
    }

    /// <summary>Runs a command body: every exception becomes one `error:` line and exit code 2.</summary>
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e)
        {
            return Report(e);
        }
    }

    /// <summary>The first parse error as one line: the option, the value given and what it accepts.</summary>
    public static int ReportParseError(ParseResult parse)
    {
        var error = parse.Errors[0];
        string command = parse.CommandResult.Command is RootCommand ? "pacs --help" : $"pacs {parse.CommandResult.Command.Name} --help";
        Console.Error.WriteLine($"error: {Describe(error)} (see `{command}`)");
        return UserErrorExitCode;
    }

    private static string Describe(ParseError error)
    {
        SymbolResult? result = error.SymbolResult;
        while (result is not null and not OptionResult) result = result.Parent;
        if (result is OptionResult option && option.Tokens.Count > 0 && Accepts(option.Option.ValueType) is { } accepted
            && error.Message.Contains("Cannot parse", StringComparison.Ordinal))
            return $"{option.Option.Name}: '{option.Tokens[^1].Value}' is not {accepted}";
        return error.Message.ReplaceLineEndings(" ");
    }

    /// <summary>What values of a type the parser accepts, in words (never a .NET type name).</summary>
    public static string? Accepts(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(int)) return $"an integer from {int.MinValue} to {int.MaxValue}";
        if (type == typeof(long)) return $"an integer from {long.MinValue} to {long.MaxValue}";
        if (type == typeof(ulong)) return $"a whole number from 0 to {ulong.MaxValue}";
        if (type == typeof(uint)) return $"a whole number from 0 to {uint.MaxValue}";
        if (type == typeof(float) || type == typeof(double)) return "a number (e.g. 0.5 or 3e-5)";
        if (type == typeof(bool)) return "true or false";
        return null;
    }

    /// <summary>The message on one line, without .NET's " (Parameter 'x')" suffix.</summary>
    private static string OneLine(Exception e)
    {
        string message = e.Message;
        if (e is ArgumentException { ParamName: { } name }) message = message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal);
        return message.ReplaceLineEndings(" ");
    }

    private static Exception Unwrap(Exception e)
    {
        while (e is AggregateException { InnerException: { } inner }) e = inner;
        while (e is System.Reflection.TargetInvocationException { InnerException: { } inner2 }) e = inner2;
        return e;
    }
}
