namespace Pacs.Cli;

/// <summary>
/// Bad input (a missing file, a malformed config, an unknown task) is reported as one line on stderr with exit
/// code 2; anything else is a bug and keeps its stack trace. Library layers signal bad input with the standard
/// exception types below and a message that names the file, line, key or tensor.
/// </summary>
public static class ErrorReporting
{
    public const int UserErrorExitCode = 2;

    public static bool IsUserError(Exception e) => Unwrap(e) is InvalidDataException or FormatException
        or ArgumentException or FileNotFoundException or DirectoryNotFoundException or NotSupportedException
        or KeyNotFoundException or EndOfStreamException;

    public static int ReportUserError(Exception e)
    {
        var inner = Unwrap(e);
        Console.Error.WriteLine($"error: {inner.Message.ReplaceLineEndings(" ")}");
        return UserErrorExitCode;
    }

    /// <summary>Runs a command body, turning bad-input exceptions into exit code 2.</summary>
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (IsUserError(e))
        {
            return ReportUserError(e);
        }
    }

    private static Exception Unwrap(Exception e)
    {
        while (e is AggregateException { InnerException: { } inner }) e = inner;
        while (e is System.Reflection.TargetInvocationException { InnerException: { } inner2 }) e = inner2;
        return e;
    }
}
