using Microsoft.ML.DeepClustering.Optimizers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.ML.DeepClustering.Data;
using Microsoft.ML.DeepClustering.Model;
using Microsoft.ML.DeepClustering.Networks;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Training;

/// <summary>
/// Pretraining's complete state at the end of an epoch, in a file (<see cref="DeepClusterOptions.CheckpointPath"/>):
/// the autoencoder's weights, the optimizer's moments and step count, the random generator (batch order and
/// augmentation draws), and the losses so far. Resuming from it continues the very run that wrote it: the same
/// batches, the same distortions, the same weights as a run that never stopped.
/// <para>
/// It also records what the state depends on (<see cref="Settings"/>: the data's fingerprint, the network, the
/// optimizer, the batch size, augmentation, precision and seed) and refuses to resume a run that differs in any of
/// them, naming the first difference. <see cref="DeepClusterOptions.PretrainEpochs"/> is not among them: a run of
/// 100 epochs can be extended to 250. Nor is anything after pretraining (K, seeding, self-training), so one
/// pretrained autoencoder can seed several fits.
/// </para>
/// </summary>
internal sealed class PretrainingCheckpoint
{
    private const string Magic = "Microsoft.ML.DeepClustering pretraining checkpoint";
    private const int FormatVersion = 1;

    /// <summary>What the state depends on, as (option or property, value) in a fixed order.</summary>
    public required IReadOnlyList<KeyValuePair<string, string>> Settings { get; init; }
    /// <summary>Mean reconstruction loss of each completed epoch.</summary>
    public required IReadOnlyList<double> Losses { get; init; }
    /// <summary>Epochs completed: one loss each. (The file also stores the count, as a check on the losses read back.)</summary>
    public int Epochs => Losses.Count;
    public required IReadOnlyList<NamedValues> Network { get; init; }
    public required long OptimizerSteps { get; init; }
    public required IReadOnlyList<NamedValues> OptimizerState { get; init; }
    public required byte[] GeneratorState { get; init; }

    /// <summary>A tensor's name, shape and float32 values, row-major.</summary>
    public sealed record NamedValues(string Name, long[] Shape, float[] Values);

    /// <summary>The settings a checkpoint must share with the run that resumes it.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> SettingsOf(
        FeatureMatrix data, DeepClusterOptions options, int seed, TrainingPrecision precision, ImageShape? imageShape)
    {
        var settings = new List<KeyValuePair<string, string>>();
        void Add(string name, object? value) =>
            settings.Add(new(name, Convert.ToString(value, CultureInfo.InvariantCulture) ?? "null"));
        Add("training rows", data.Rows);
        Add("features per row", data.Columns);
        // Same size is not same data: a different folder of images must not continue someone else's pretraining.
        Add("SHA-256 of the training features", Convert.ToHexString(data.Sha256()));
        Add(nameof(DeepClusterOptions.Architecture), options.Architecture);
        if (options.Architecture == AutoencoderArchitecture.Dense)
            Add(nameof(DeepClusterOptions.HiddenLayers), string.Join(",", options.HiddenLayers));
        Add(nameof(DeepClusterOptions.EmbeddingDimension), options.EmbeddingDimension);
        Add("image shape", imageShape);
        Add(nameof(DeepClusterOptions.PretrainOptimizer), options.PretrainOptimizer);
        Add(nameof(DeepClusterOptions.PretrainLearningRate), options.PretrainLearningRate);
        if (options.PretrainOptimizer == PretrainingOptimizer.Sgd)
            Add(nameof(DeepClusterOptions.PretrainMomentum), options.PretrainMomentum);
        Add(nameof(DeepClusterOptions.BatchSize), options.BatchSize);
        Add(nameof(DeepClusterOptions.Augment), options.Augment);
        if (options.Augment)
        {
            Add(nameof(DeepClusterOptions.AugmentationRotationDegrees), options.AugmentationRotationDegrees);
            Add(nameof(DeepClusterOptions.AugmentationShift), options.AugmentationShift);
            // Recorded only when on, so that checkpoints written before the option existed still resume without it.
            if (options.AugmentationHorizontalFlips)
                Add(nameof(DeepClusterOptions.AugmentationHorizontalFlips), true);
        }
        Add("training precision", precision);
        Add(nameof(DeepClusterOptions.Seed), seed);
        return settings;
    }

    /// <summary>Copies the state after the epochs whose <paramref name="losses"/> are given.</summary>
    public static PretrainingCheckpoint Capture(IReadOnlyList<KeyValuePair<string, string>> settings, IReadOnlyList<double> losses,
        Autoencoder autoencoder, IParameterOptimizer optimizer, Generator generator)
    {
        using var state = generator.get_state();
        using var bytes = state.to(CPU).contiguous();
        return new PretrainingCheckpoint
        {
            Settings = settings,
            Losses = losses.ToArray(),
            Network = autoencoder.state_dict().Select(p => Copy(p.Key, p.Value)).ToArray(),
            OptimizerSteps = optimizer.Steps,
            OptimizerState = optimizer.State.Select((t, i) => Copy($"state[{i}]", t)).ToArray(),
            GeneratorState = bytes.data<byte>().ToArray(),
        };
    }

    private static NamedValues Copy(string name, Tensor tensor)
    {
        if (tensor.dtype != ScalarType.Float32)
            throw new InvalidOperationException($"Checkpoints hold float32 tensors; '{name}' is {tensor.dtype}.");
        return new NamedValues(name, tensor.shape, Autoencoder.Values(tensor));
    }

    /// <summary>
    /// Throws an <see cref="ArgumentException"/> on CheckpointPath unless this checkpoint was written by a run with the same <paramref name="settings"/> and at most
    /// <paramref name="requestedEpochs"/> epochs, with a message that names the difference and the way out.
    /// </summary>
    public void CheckResumable(IReadOnlyList<KeyValuePair<string, string>> settings, int requestedEpochs, string path)
    {
        const string wayOut = "Train with the same data and options to resume it, or set another CheckpointPath (or delete the file) to start afresh.";
        var saved = Settings.ToDictionary(s => s.Key, s => s.Value);
        foreach (var (name, value) in settings)
        {
            if (!saved.TryGetValue(name, out var savedValue))
                throw new ArgumentException($"The pretraining checkpoint '{path}' does not record {name}. {wayOut}", nameof(DeepClusterOptions.CheckpointPath));
            if (savedValue != value)
                throw new ArgumentException(
                    $"The pretraining checkpoint '{path}' was written with {name} = {savedValue}; this training has {value}. {wayOut}", nameof(DeepClusterOptions.CheckpointPath));
        }
        if (Epochs > requestedEpochs)
            throw new ArgumentException(
                $"The pretraining checkpoint '{path}' holds {Epochs} epochs of pretraining; PretrainEpochs is {requestedEpochs}, and training cannot go back. Set PretrainEpochs to {Epochs} or more to use it, or set another CheckpointPath to start afresh.", nameof(DeepClusterOptions.CheckpointPath));
    }

    /// <summary>Puts the saved state into a freshly built network, optimizer and generator of the same shape.</summary>
    public void Restore(Autoencoder autoencoder, IParameterOptimizer optimizer, Generator generator)
    {
        using var noGrad = no_grad();
        var network = autoencoder.state_dict();
        if (network.Count != Network.Count)
            throw new InvalidDataException($"The checkpoint holds {Network.Count} network tensors; the network has {network.Count}.");
        foreach (var saved in Network)
        {
            if (!network.TryGetValue(saved.Name, out var target))
                throw new InvalidDataException($"The checkpoint holds a network tensor '{saved.Name}' that the network does not have.");
            Load(target, saved);
        }
        var state = optimizer.State;
        if (state.Count != OptimizerState.Count)
            throw new InvalidDataException($"The checkpoint holds {OptimizerState.Count} optimizer tensors; the optimizer has {state.Count}.");
        for (int i = 0; i < state.Count; i++)
            Load(state[i], OptimizerState[i]);
        optimizer.Steps = OptimizerSteps;
        using var generatorState = tensor(GeneratorState);
        generator.set_state(generatorState);
    }

    private static void Load(Tensor target, NamedValues saved)
    {
        if (!target.shape.SequenceEqual(saved.Shape))
            throw new InvalidDataException(
                $"The checkpoint's tensor '{saved.Name}' has shape [{string.Join(", ", saved.Shape)}]; the training expects [{string.Join(", ", target.shape)}].");
        using var values = tensor(saved.Values, saved.Shape);
        target.copy_(values);
    }

    /// <summary>
    /// Writes the checkpoint next to <paramref name="path"/> and then moves it over the old one, so that a crash or
    /// Ctrl+C during the write leaves the previous checkpoint whole and no partial file behind.
    /// </summary>
    public void Write(string path)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temporary = $"{full}.{Environment.ProcessId}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
            using (var writer = new BinaryWriter(stream))
            {
                writer.Write(Magic);
                writer.Write(FormatVersion);
                writer.Write(Settings.Count);
                foreach (var (name, value) in Settings)
                {
                    writer.Write(name);
                    writer.Write(value);
                }
                writer.Write(Epochs);
                writer.Write(Losses.Count);
                foreach (double loss in Losses)
                    writer.Write(loss);
                WriteTensors(writer, Network);
                writer.Write(OptimizerSteps);
                WriteTensors(writer, OptimizerState);
                writer.Write(GeneratorState.Length);
                writer.Write(GeneratorState);
                writer.Write(Magic);   // a trailer: a file cut short cannot pass for a whole one
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, full, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    private static void WriteTensors(BinaryWriter writer, IReadOnlyList<NamedValues> tensors)
    {
        writer.Write(tensors.Count);
        foreach (var t in tensors)
        {
            writer.Write(t.Name);
            writer.Write(t.Shape.Length);
            foreach (long d in t.Shape)
                writer.Write(d);
            writer.Write(t.Values.Length);
            writer.Write(MemoryMarshal.AsBytes(t.Values.AsSpan()));
        }
    }

    /// <summary>The checkpoint at <paramref name="path"/>, or null when there is no file.</summary>
    /// <exception cref="InvalidDataException">The file is not a whole checkpoint of this format.</exception>
    public static PretrainingCheckpoint? ReadIfExists(string path)
    {
        if (!File.Exists(path))
            return null;
        try
        {
            using var stream = File.OpenRead(path);
            using var reader = new BinaryReader(stream);
            if (reader.ReadString() != Magic)
                throw new InvalidDataException("it is not a pretraining checkpoint");
            int version = reader.ReadInt32();
            if (version != FormatVersion)
                throw new InvalidDataException($"its format version is {version}; this library reads version {FormatVersion}");
            var settings = new List<KeyValuePair<string, string>>();
            for (int i = reader.ReadInt32(); i > 0; i--)
                settings.Add(new(reader.ReadString(), reader.ReadString()));
            int epochs = reader.ReadInt32();
            var losses = new double[Count(reader, sizeof(double))];
            for (int i = 0; i < losses.Length; i++)
                losses[i] = reader.ReadDouble();
            var network = ReadTensors(reader);
            long steps = reader.ReadInt64();
            var optimizerState = ReadTensors(reader);
            var generatorState = reader.ReadBytes(Count(reader, 1));
            if (reader.ReadString() != Magic || stream.Position != stream.Length || losses.Length != epochs)
                throw new InvalidDataException("it is not a whole pretraining checkpoint");
            return new PretrainingCheckpoint
            {
                Settings = settings, Losses = losses, Network = network,
                OptimizerSteps = steps, OptimizerState = optimizerState, GeneratorState = generatorState,
            };
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or InvalidDataException or OverflowException or ArgumentOutOfRangeException)
        {
            throw new InvalidDataException(
                $"Cannot resume pretraining from '{path}': {(e is InvalidDataException ? e.Message : "the file is cut short or damaged")}. Delete it, or set another CheckpointPath, to start afresh.", e);
        }
    }

    /// <summary>A count read from the file, checked against what is left of it: damage must not allocate gigabytes.</summary>
    private static int Count(BinaryReader reader, int elementSize)
    {
        int count = reader.ReadInt32();
        if (count < 0 || count > (reader.BaseStream.Length - reader.BaseStream.Position) / elementSize)
            throw new InvalidDataException("it is not a whole pretraining checkpoint");
        return count;
    }

    private static NamedValues[] ReadTensors(BinaryReader reader)
    {
        var tensors = new NamedValues[Count(reader, 1)];
        for (int i = 0; i < tensors.Length; i++)
        {
            string name = reader.ReadString();
            var shape = new long[Count(reader, sizeof(long))];
            for (int d = 0; d < shape.Length; d++)
                shape[d] = reader.ReadInt64();
            var values = new float[Count(reader, sizeof(float))];
            if (values.Length != shape.Aggregate(1L, (a, b) => a * b))
                throw new InvalidDataException($"its tensor '{name}' has {values.Length} values for shape [{string.Join(", ", shape)}]");
            reader.BaseStream.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()));
            tensors[i] = new NamedValues(name, shape, values);
        }
        return tensors;
    }
}
