using System.CommandLine;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Pacs.Engine.Tinker;
using Pacs.Serve;

namespace Pacs.Cli.Commands;

/// <summary>
/// `pacs serve`: an OpenAI-compatible (and SGLang-compatible) server over a model folder, with continuous
/// batching, until SIGTERM or Ctrl-C (which let the running requests finish). See docs/serve.md. With `--tinker` it
/// serves the Tinker training API over the managed engine instead (docs/tinker.md).
/// </summary>
public sealed class ServeCommand : ICliCommand
{
    public Command Build()
    {
        var model = new Option<string>("--model") { Description = "Model folder: config.json, model.safetensors, tokenizer files", Required = true };
        var host = new Option<string>("--host") { Description = "Address to listen on (an IP address or localhost)", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port (0: a free one; the address is printed)", DefaultValueFactory = _ => 8000 };
        var apiKeyEnv = new Option<string?>("--api-key-env") { Description = "Name of an environment variable holding the API key clients must send (Bearer)" };
        var maxBatch = new Option<int>("--max-batch") { Description = "Most sequences decoded together", DefaultValueFactory = _ => 64 };
        var maxQueue = new Option<int>("--max-queue") { Description = "Most sequences waiting for a place; past it requests get 503", DefaultValueFactory = _ => 1024 };
        var tinker = new Option<bool>("--tinker") { Description = "Serve the Tinker training API instead (create_model, forward, forward_backward, optim_step, asample, ...; docs/tinker.md)" };
        var name = new Option<string?>("--name") { Description = "--tinker: base_model name clients ask for (default: the folder's name)" };
        var state = new Option<string>("--state") { Description = "--tinker: folder for save_weights states", DefaultValueFactory = _ => "tinker-state" };
        var command = new Command("serve", "Serve a model over HTTP: OpenAI /v1/completions and /v1/chat/completions, SGLang /generate and /update_weights_from_disk; --tinker: the Tinker training API");
        foreach (var option in new Option[] { model, host, port, apiKeyEnv, maxBatch, maxQueue, tinker, name, state }) command.Options.Add(option);
        command.SetAction(parse => ErrorReporting.Run(() =>
        {
            int portValue = parse.GetValue(port);
            if (portValue is < 0 or > 65535) throw new ArgumentException($"--port must be in [0, 65535], got {portValue}");
            if (parse.GetValue(tinker))
            {
                // The Tinker server checks no key: refusing beats serving openly a user who asked for one.
                if (parse.GetValue(apiKeyEnv) is not null) throw new ArgumentException("--api-key-env: not supported with --tinker (the Tinker API server checks no key)");
                return ServeTinker(new TinkerServerOptions(parse.GetValue(model)!, parse.GetValue(name), parse.GetValue(state)!), parse.GetValue(host)!, portValue);
            }
            var options = new ServeOptions
            {
                Host = parse.GetValue(host)!,
                Port = portValue,
                ApiKey = ApiKey(parse.GetValue(apiKeyEnv)),
                MaxBatch = parse.GetValue(maxBatch),
                MaxQueue = parse.GetValue(maxQueue),
            };
            string dir = parse.GetValue(model)!;
            var served = ServedModel.Load(dir);
            return Run(ServeApp.Build(served, options), addresses =>
                $"pacs serve: {served.Id} on {addresses} (max batch {options.MaxBatch}{(options.ApiKey is null ? "" : ", API key required")})");
        }));
        return command;
    }

    private static int ServeTinker(TinkerServerOptions options, string host, int port)
    {
        string url = $"http://{host}:{port.ToString(CultureInfo.InvariantCulture)}";
        return Run(new TinkerServer(ManagedBackend.Instance, options).Build(builder => builder.WebHost.UseUrls(url)), addresses =>
            $"pacs serve --tinker: base_model '{options.Name}' from {options.ModelDir} on {addresses}/api/v1; states in {options.StateDir}");
    }

    /// <summary>Starts <paramref name="app"/>, prints the line <paramref name="describe"/> makes of its listening addresses, and serves until shutdown.</summary>
    private static int Run(WebApplication app, Func<string, string> describe)
    {
        app.Start();
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        Console.WriteLine(describe(string.Join(", ", addresses)));
        app.WaitForShutdown();
        Console.WriteLine("pacs serve: stopped");
        return 0;
    }

    /// <summary>The key from the named variable; naming an unset or empty variable is an error, not an open server.</summary>
    private static string? ApiKey(string? variable)
    {
        if (variable is null) return null;
        string? key = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrEmpty(key)) throw new ArgumentException($"--api-key-env: the environment variable {variable} is not set");
        return key;
    }
}
