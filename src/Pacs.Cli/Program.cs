using System.CommandLine;
using System.Reflection;

namespace Pacs.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        if (Console.IsOutputRedirected)
            Spectre.Console.AnsiConsole.Profile.Capabilities.Ansi = false; // plain text in logs, no colour escapes
        var root = BuildRoot();
        try
        {
            return root.Parse(args).Invoke();
        }
        catch (Exception e) when (ErrorReporting.IsUserError(e))
        {
            return ErrorReporting.ReportUserError(e);
        }
    }

    /// <summary>Every <see cref="ICliCommand"/> in this assembly becomes a sub-command, in name order.</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("pacs: reinforcement learning with verifiable rewards (PACS, GRPO, RLOO, PPO, ...) in C#");
        var commands = typeof(Program).Assembly.GetTypes()
            .Where(t => typeof(ICliCommand).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
            .Select(t => ((ICliCommand)Activator.CreateInstance(t)!).Build())
            .OrderBy(c => c.Name, StringComparer.Ordinal);
        foreach (var command in commands)
            root.Subcommands.Add(command);
        return root;
    }
}
