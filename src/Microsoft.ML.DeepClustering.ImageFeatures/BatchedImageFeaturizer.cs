using System.Collections.Concurrent;
using Microsoft.ML.Data;
using Microsoft.ML.DeepClustering.Onnx.Proto;
using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.DeepClustering;

/// <summary>
/// The features <see cref="ImageFeaturesCatalog.FeaturizeImages"/> computes, for many files at once: the images are
/// decoded and resized by the same ML.NET transforms on a thread of their own while ONNX Runtime runs the network on
/// batches of <see cref="BatchSize"/> images (the featurizing transformer runs one image per call, and ResNet18's
/// graphs as ML.NET ships them are fixed at batch 1: here their batch dimension is made symbolic). The values agree
/// with the transformer's up to float rounding (a batched convolution may sum in another order). It computes features
/// only; the fitted FeaturizeImages transformer is what a saved model keeps.
/// </summary>
internal sealed class BatchedImageFeaturizer : IDisposable
{
    private const string PathColumn = "Path";
    private readonly MLContext _ml;
    private readonly ImageFeaturizerOptions _options;
    private readonly List<InferenceSession> _sessions = new();
    private readonly int _width, _height;

    /// <summary>Opens the network of <paramref name="options"/> (ResNet18, or its <see cref="ImageFeaturizerOptions.Backbone"/>).</summary>
    public BatchedImageFeaturizer(MLContext mlContext, ImageFeaturizerOptions options, int batchSize = 16)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        options.Validate();
        _ml = mlContext;
        _options = options;
        var backbone = options.Backbone;
        (_width, _height) = (backbone?.ImageWidth ?? 224, backbone?.ImageHeight ?? 224);
        try
        {
            if (backbone is null)
            {
                string models = Path.Combine(AppDomain.CurrentDomain.BaseDirectory, "DnnImageModels");
                foreach (string graph in new[] { Path.Combine(models, "ResNetPrepOnnx", "ResNetPreprocess.onnx"), Path.Combine(models, "ResNet18Onnx", "ResNet18.onnx") })
                {
                    if (!File.Exists(graph))
                        throw new FileNotFoundException($"ResNet18's graph '{graph}' is missing: the Microsoft.ML.DnnImageFeaturizer.ResNet18 package copies it beside the application.", graph);
                    using var sessionOptions = NewSessionOptions();
                    _sessions.Add(new InferenceSession(WithSymbolicBatch(File.ReadAllBytes(graph)), sessionOptions));
                }
                BatchSize = batchSize;
            }
            else
            {
                using var sessionOptions = NewSessionOptions();
                _sessions.Add(new InferenceSession(backbone.ModelPath, sessionOptions));
                int fixedBatch = _sessions[0].InputMetadata[backbone.InputName].Dimensions[0];
                // A graph exported with a fixed batch takes exactly that many images per call.
                BatchSize = fixedBatch > 0 ? fixedBatch : batchSize;
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Images per ONNX Runtime call.</summary>
    public int BatchSize { get; }

    /// <summary>
    /// Features of each file in <paramref name="paths"/> (relative to <see cref="ImageFeaturizerOptions.ImageFolder"/>),
    /// in order, L2-normalised when <see cref="ImageFeaturizerOptions.NormalizeFeatures"/> is; <paramref name="progress"/>
    /// hears the count done after each batch.
    /// </summary>
    public float[][] Featurize(IReadOnlyList<string> paths, IProgress<int>? progress = null, CancellationToken cancellation = default) =>
        Featurize(paths, progress, null, cancellation);

    /// <summary>
    /// As <see cref="Featurize(IReadOnlyList{string}, IProgress{int}?, CancellationToken)"/>, and
    /// <paramref name="onFeatures"/> hears each image's index and features as its batch finishes (to keep them as they
    /// come, e.g. in an <see cref="ImageFeatureCache"/>); everything is called on the calling thread.
    /// </summary>
    public float[][] Featurize(IReadOnlyList<string> paths, IProgress<int>? progress, Action<int, float[]>? onFeatures, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var result = new float[paths.Count][];
        if (paths.Count == 0)
            return result;
        var backbone = _options.Backbone;
        var data = _ml.Data.LoadFromEnumerable(paths.Select(p => new PathRow { Path = p }).ToList());
        const string image = "Image", pixels = "Pixels";
        var chain = _ml.Transforms.LoadImages(image, _options.ImageFolder, PathColumn)
            .Append(_ml.Transforms.ResizeImages(image, _width, _height, image))
            .Append(backbone is null
                ? _ml.Transforms.ExtractPixels(pixels, image)
                : _ml.Transforms.ExtractPixels(pixels, image, interleavePixelColors: backbone.ChannelsLast, scaleImage: 1f / 255));
        var decoded = chain.Fit(data).Transform(data);

        // Decoding on one thread, the network on this one: at most two batches wait decoded.
        using var queue = new BlockingCollection<float[]>(2 * BatchSize);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var producer = Task.Run(() =>
        {
            try
            {
                using var cursor = decoded.GetRowCursor(new[] { decoded.Schema[pixels] });
                var getter = cursor.GetGetter<VBuffer<float>>(decoded.Schema[pixels]);
                VBuffer<float> buffer = default;
                while (cursor.MoveNext())
                {
                    getter(ref buffer);
                    queue.Add(buffer.DenseValues().ToArray(), stop.Token);
                }
            }
            finally
            {
                queue.CompleteAdding();
            }
        }, stop.Token);

        int perImage = 3 * _width * _height, done = 0;
        var batch = new float[BatchSize * perImage];
        try
        {
            while (done < paths.Count)
            {
                int count = 0;
                while (count < BatchSize && done + count < paths.Count && queue.TryTake(out var one, Timeout.Infinite, stop.Token))
                {
                    one.CopyTo(batch, count * perImage);
                    count++;
                }
                if (count == 0)
                    break;
                var features = Run(batch, count);
                int size = features.Length / count;
                for (int i = 0; i < count; i++)
                {
                    result[done + i] = Finish(features.AsSpan(i * size, size));
                    onFeatures?.Invoke(done + i, result[done + i]);
                }
                done += count;
                progress?.Report(done);
            }
        }
        catch
        {
            stop.Cancel();
            throw;
        }
        finally
        {
            // Surfaces a decoding failure (the producer's exception) rather than a short result.
            try
            {
                producer.GetAwaiter().GetResult();
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested && !cancellation.IsCancellationRequested)
            {
            }
        }
        cancellation.ThrowIfCancellationRequested();
        if (done != paths.Count)
            throw new InvalidOperationException($"Featurized {done} of {paths.Count} images.");
        return result;
    }

    /// <summary>
    /// ONNX Runtime's options for the featurizer's sessions: one intra-op thread per processor, set explicitly, and
    /// no spinning. Left at 0, ONNX Runtime pins one thread per core it counts, and its pinned, spinning threads
    /// starve the decoding thread that runs beside them: on a 2-core Zen 5 that ran ResNet18 at 37 images a second
    /// against 62 with these options (docs/benchmarks.md, "Featurizing photos").
    /// </summary>
    private static SessionOptions NewSessionOptions()
    {
        var options = new SessionOptions { IntraOpNumThreads = Environment.ProcessorCount };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return options;
    }

    /// <summary>The network on the first <paramref name="count"/> images of <paramref name="batch"/>: their features, one row after another.</summary>
    private float[] Run(float[] batch, int count)
    {
        var backbone = _options.Backbone;
        int perImage = 3 * _width * _height;
        // A fixed-batch graph gets the whole (padded) batch; the rows past count are ignored.
        int rows = backbone is not null && _sessions[0].InputMetadata[backbone.InputName].Dimensions[0] > 0 ? BatchSize : count;
        var input = new float[rows * perImage];
        Array.Copy(batch, input, count * perImage);
        if (backbone is not null)
            Normalise(input, count, backbone);
        long[] shape = backbone is { ChannelsLast: true } ? [rows, _height, _width, 3] : [rows, 3, _height, _width];
        float[] current = input;
        using var runOptions = new RunOptions();
        foreach (var session in _sessions)
        {
            string inputName = session.InputMetadata.Keys.Single(k => backbone is null || k == backbone.InputName);
            string outputName = backbone?.OutputName ?? session.OutputMetadata.Keys.Single();
            using var value = OrtValue.CreateTensorValueFromMemory(current, shape);
            using var outputs = session.Run(runOptions, new[] { inputName }, new[] { value }, new[] { outputName });
            var tensor = outputs[0];
            shape = tensor.GetTensorTypeAndShape().Shape;
            current = tensor.GetTensorDataAsSpan<float>().ToArray();
        }
        long perRow = current.Length / rows;
        return current.AsSpan(0, (int)(perRow * count)).ToArray();
    }

    /// <summary>(x − mean) / std per channel, as FeaturizeImages' normalisation graph computes it.</summary>
    private void Normalise(float[] input, int count, OnnxImageBackbone backbone)
    {
        int plane = _width * _height;
        for (int image = 0; image < count; image++)
        {
            var pixels = input.AsSpan(image * 3 * plane, 3 * plane);
            for (int i = 0; i < pixels.Length; i++)
            {
                int channel = backbone.ChannelsLast ? i % 3 : i / plane;
                pixels[i] = (pixels[i] - backbone.Mean[channel]) / backbone.StandardDeviation[channel];
            }
        }
    }

    /// <summary>L2 normalising as ML.NET's NormalizeLpNorm does (a zero vector stays zero).</summary>
    private float[] Finish(ReadOnlySpan<float> raw)
    {
        var values = raw.ToArray();
        if (!_options.NormalizeFeatures)
            return values;
        double sum = 0;
        foreach (float v in values)
            sum += (double)v * v;
        if (sum > 0)
        {
            float norm = (float)Math.Sqrt(sum);
            for (int i = 0; i < values.Length; i++)
                values[i] /= norm;
        }
        return values;
    }

    /// <summary>The graph with the first dimension of its inputs and outputs made symbolic, so that it takes any batch.</summary>
    private static byte[] WithSymbolicBatch(byte[] model)
    {
        var proto = ModelProto.Parser.ParseFrom(model);
        var initializers = proto.Graph.Initializer.Select(t => t.Name).ToHashSet();
        foreach (var value in proto.Graph.Input.Where(i => !initializers.Contains(i.Name)).Concat(proto.Graph.Output))
        {
            var dims = value.Type?.TensorType?.Shape?.Dim;
            if (dims is { Count: > 0 })
                dims[0] = new TensorShapeProto.Types.Dimension { DimParam = "batch" };
        }
        // Shapes inferred for intermediate values would pin the batch at 1 again.
        proto.Graph.ValueInfo.Clear();
        using var stream = new MemoryStream();
        using (var output = new Google.Protobuf.CodedOutputStream(stream, leaveOpen: true))
            proto.WriteTo(output);
        return stream.ToArray();
    }

    public void Dispose()
    {
        foreach (var session in _sessions)
            session.Dispose();
        _sessions.Clear();
    }

    private sealed class PathRow
    {
        public string Path { get; set; } = "";
    }
}
