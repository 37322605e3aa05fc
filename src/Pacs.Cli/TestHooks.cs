using Pacs.Rl.Training;

namespace Pacs.Cli;

/// <summary>
/// Hooks for the fault tests that drive the real `pacs` process (tests/Pacs.Cli.Tests/FaultTests.cs), set by
/// environment variables so that a test can stop the process at an exact point and then signal or kill it there.
/// Unset, they do nothing.
/// </summary>
public static class TestHooks
{
    /// <summary>PACS_TEST_STALL_AT_SAVE_OP=k: stop for good at the k-th file operation of checkpoint saves (from 1), saying so on stderr.</summary>
    public const string StallAtSaveOpVariable = "PACS_TEST_STALL_AT_SAVE_OP";

    /// <summary>PACS_TEST_PAUSE_AFTER_STEP=k: after training step k (0: the validation before step 1), wait for Ctrl-C or SIGTERM.</summary>
    public const string PauseAfterStepVariable = "PACS_TEST_PAUSE_AFTER_STEP";

    public static void InstallStallInSave()
    {
        if (Read(StallAtSaveOpVariable) is not { } stallAt || stallAt < 1) return;
        int seen = 0;
        Checkpointer.FaultPoint = label =>
        {
            if (++seen != stallAt) return;
            Console.Error.WriteLine($"stalled at save operation {seen}: {label}");
            Thread.Sleep(Timeout.Infinite);
        };
    }

    public static void PauseAfterStep(RlTrainer trainer, CancellationToken cancel)
    {
        if (Read(PauseAfterStepVariable) is not { } pauseAt) return;
        trainer.StepCompleted += (step, _) =>
        {
            if (step != pauseAt) return;
            Console.Error.WriteLine($"paused after step {step}");
            cancel.WaitHandle.WaitOne();
        };
    }

    private static int? Read(string variable) => int.TryParse(Environment.GetEnvironmentVariable(variable), out int value) ? value : null;
}
