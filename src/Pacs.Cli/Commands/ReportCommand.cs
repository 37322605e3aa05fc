using System.CommandLine;
using Pacs.Rl.Reporting;

namespace Pacs.Cli.Commands;

/// <summary>`pacs report RUN_DIR`: a self-contained HTML page with the run's curves.</summary>
public sealed class ReportCommand : ICliCommand
{
    public Command Build()
    {
        var run = new Argument<string>("RUN_DIR") { Description = "A `pacs train` run directory (holding metrics.jsonl)" };
        var output = new Option<string?>("--out") { Description = "Output HTML file (default RUN_DIR/report.html, which is the run's own and rewritten each time)" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace the --out file if it exists" };
        var command = new Command("report", "Write a self-contained HTML report (inline SVG plots) of a training run");
        command.Arguments.Add(run);
        command.Options.Add(output);
        command.Options.Add(overwrite);
        command.SetAction(parse => ErrorReporting.Run(() =>
        {
            if (parse.GetValue(output) is { } file)
            {
                if (Directory.Exists(file)) throw new ArgumentException($"--out {file} is a folder; name the HTML file to write");
                if (File.Exists(file) && !parse.GetValue(overwrite)) throw new ArgumentException($"--out {file} already exists; pass --overwrite to replace it, or choose another --out");
            }
            Console.WriteLine(HtmlReport.Write(parse.GetValue(run)!, parse.GetValue(output)));
            return 0;
        }));
        return command;
    }
}
