using System.CommandLine;

namespace Pacs.Cli.Commands;

public sealed class VersionCommand : ICliCommand
{
    public Command Build()
    {
        var command = new Command("version", "Print the Pacs version, the .NET runtime and the SIMD width in use");
        command.SetAction(_ =>
        {
            Console.WriteLine($"pacs {typeof(VersionCommand).Assembly.GetName().Version} on .NET {Environment.Version}, "
                + $"{Environment.ProcessorCount} cores, Vector512 {(System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "on" : "off")}");
            return 0;
        });
        return command;
    }
}
