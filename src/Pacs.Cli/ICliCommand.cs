using System.CommandLine;

namespace Pacs.Cli;

/// <summary>One `pacs` sub-command. Implementations are discovered by reflection: add a file, not a registration.</summary>
public interface ICliCommand
{
    Command Build();
}
