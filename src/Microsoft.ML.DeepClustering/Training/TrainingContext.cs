using System.Diagnostics;
using Microsoft.ML.DeepClustering.Seeding;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Training;

/// <summary>What every stage needs: options, device, random generator, cancellation, progress and log.</summary>
internal sealed class TrainingContext : IDisposable
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Action<string> _log;

    /// <summary>
    /// The user's options, read for settings; never for K, which the stages take from the centroids once seeding (or
    /// choosing K) has fixed it.
    /// </summary>
    public DeepClusterOptions Options { get; }
    public Device Device { get; }
    public int Seed { get; }
    /// <summary>The only source of randomness for batch orders and k-means++ draws, so that a seed fixes the run.</summary>
    public Generator Generator { get; }
    public CancellationToken Cancellation { get; }
    /// <summary>DEC-DA's random rotations and shifts, or null when <see cref="DeepClusterOptions.Augment"/> is off.</summary>
    public Augmentation? Augmentation { get; init; }

    /// <summary>The batch as the network should see it this step: augmented when augmentation is on.</summary>
    public Tensor Distort(Tensor batch) => Augmentation?.Apply(batch, Generator) ?? batch;

    public TrainingContext(DeepClusterOptions options, Device device, int seed, CancellationToken cancellation, Action<string> log)
    {
        Options = options;
        Device = device;
        Seed = seed;
        Cancellation = cancellation;
        _log = log;
        // The generator lives on the CPU: randperm/multinomial on CPU are reproducible everywhere; indices move to the device.
        Generator = new Generator((ulong)seed);
    }

    public TimeSpan Elapsed => _clock.Elapsed;

    public void Report(DeepClusterStage stage, int step, int total, double loss, double? labelChange, IReadOnlyList<int>? assignments = null)
    {
        var progress = new DeepClusterProgress(stage, step, total, loss, labelChange, _clock.Elapsed) { Assignments = assignments };
        _log(progress.ToString());
        Options.Progress?.Report(progress);
    }

    public void Log(string message) => _log(message);

    /// <summary>What seeding needs of this context: the same generator, cancellation and log, and progress per k-means restart.</summary>
    public SeedingContext ForSeeding => new(Generator, Cancellation, _log, (restart, restarts, inertia) => Report(DeepClusterStage.Seeding, restart, restarts, inertia, null), Seed);

    public void Dispose() => Generator.Dispose();
}
