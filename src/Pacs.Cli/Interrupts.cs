using System.Runtime.InteropServices;

namespace Pacs.Cli;

/// <summary>
/// SIGINT (Ctrl-C) and SIGTERM (what batch schedulers and containers send before killing a job) both ask a
/// long command to stop cleanly: the first one cancels <see cref="Token"/> (the trainer finishes its step and
/// saves a checkpoint), a second one is left to its default action and ends the process at once. The command
/// then exits with <see cref="ExitCode"/>: 130 after SIGINT, 143 after SIGTERM, as a shell reports a process
/// killed by those signals, so `pacs train ... &amp;&amp; pacs eval ...` stops after an interrupted run.
/// </summary>
public sealed class Interrupts : IDisposable
{
    public const int SigIntExitCode = 130;
    public const int SigTermExitCode = 143;

    private readonly CancellationTokenSource _cancel = new();
    private readonly PosixSignalRegistration[] _registrations;
    private readonly string _whatHappens;

    private Interrupts(string whatHappens)
    {
        _whatHappens = whatHappens;
        _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal), PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal)];
    }

    /// <summary>Starts listening; <paramref name="whatHappens"/> is printed when a signal arrives ("finishing the step, then saving").</summary>
    public static Interrupts Listen(string whatHappens) => new(whatHappens);

    public CancellationToken Token => _cancel.Token;

    /// <summary>The first signal received, if any.</summary>
    public PosixSignal? Received { get; private set; }

    public int ExitCode => Received == PosixSignal.SIGTERM ? SigTermExitCode : SigIntExitCode;

    private void OnSignal(PosixSignalContext context)
    {
        if (Received is not null) return; // the second signal: default action, the process ends now
        Received = context.Signal;
        context.Cancel = true;
        Console.Error.WriteLine($"{(context.Signal == PosixSignal.SIGTERM ? "SIGTERM" : "interrupt")}: {_whatHappens} (send it again to stop at once)");
        _cancel.Cancel();
    }

    public void Dispose()
    {
        foreach (var registration in _registrations) registration.Dispose();
        _cancel.Dispose();
    }
}
