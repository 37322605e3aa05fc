// Tests here call Program.Main in process and swap Console.Out/Error, which are process-wide: classes run one at a time.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]
