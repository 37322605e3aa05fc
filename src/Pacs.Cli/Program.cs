using System.CommandLine;

namespace Pacs.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        if (Console.IsOutputRedirected)
            Spectre.Console.AnsiConsole.Profile.Capabilities.Ansi = false; // plain text in logs, no colour escapes
        ErrorReporting.Debug = args.Contains("--debug");
        TestHooks.InstallStallInSave();
        var root = BuildRoot();
        try
        {
            var parse = root.Parse(args.Length == 0 ? ["--help"] : args);
            if (parse.Errors.Count > 0) return ErrorReporting.ReportParseError(parse);
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null });
        }
        catch (Exception e)
        {
            return ErrorReporting.Report(e);
        }
    }

    /// <summary>Every <see cref="ICliCommand"/> in this assembly becomes a sub-command, in name order.</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("pacs: reinforcement learning with verifiable rewards (PACS, GRPO, RLOO, PPO, ...) in C#");
        root.Options.Add(new Option<bool>("--debug") { Description = "Print the stack trace after an error", Recursive = true });
        var commands = typeof(Program).Assembly.GetTypes()
            .Where(t => typeof(ICliCommand).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
            .Select(t => ((ICliCommand)Activator.CreateInstance(t)!).Build())
            .OrderBy(c => c.Name, StringComparer.Ordinal);
        foreach (var command in commands)
            root.Subcommands.Add(command);
        return root;
    }
}
