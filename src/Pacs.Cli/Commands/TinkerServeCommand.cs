using System.CommandLine;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Pacs.Engine.Tinker;

namespace Pacs.Cli.Commands;

/// <summary>
/// `pacs serve --tinker`: the Tinker training API over the managed engine, so Tinker clients (pacs's `engine: tinker`,
/// the Python SDK) can train on this machine. The OpenAI-compatible `pacs serve` is another command's; this one only
/// answers with --tinker.
/// </summary>
public sealed class TinkerServeCommand : ICliCommand
{
    public Command Build()
    {
        var tinker = new Option<bool>("--tinker") { Description = "Serve the Tinker training API (create_model, forward, forward_backward, optim_step, asample, ...; docs/tinker.md)" };
        var model = new Option<string>("--model") { Description = "Hugging Face folder every trained model starts from", Required = true };
        var name = new Option<string?>("--name") { Description = "base_model name clients ask for (default: the folder's name)" };
        var host = new Option<string>("--host") { Description = "Address to listen on", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port to listen on", DefaultValueFactory = _ => 8000 };
        var state = new Option<string?>("--state") { Description = "Folder for save_weights states (default: tinker-state beside the current folder)" };
        var command = new Command("serve", "Serve a model over HTTP: --tinker serves the Tinker training API on the managed engine");
        foreach (var option in new Option[] { tinker, model, name, host, port, state }) command.Options.Add(option);
        command.SetAction(parse => ErrorReporting.Run(() =>
        {
            if (!parse.GetValue(tinker)) throw new ArgumentException("pacs serve: pass --tinker to serve the Tinker training API");
            var options = new TinkerServerOptions(parse.GetValue(model)!, parse.GetValue(name), parse.GetValue(state) ?? "tinker-state");
            var server = new TinkerServer(ManagedBackend.Instance, options);
            string url = $"http://{parse.GetValue(host)}:{parse.GetValue(port).ToString(CultureInfo.InvariantCulture)}";
            var app = server.Build(builder => builder.WebHost.UseUrls(url));
            Console.WriteLine($"tinker API: {url}/api/v1 serving base_model '{options.Name}' from {options.ModelDir}; states in {options.StateDir}");
            app.Run();
            return 0;
        }));
        return command;
    }
}
