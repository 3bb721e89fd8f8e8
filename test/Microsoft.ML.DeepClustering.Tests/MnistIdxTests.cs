using System.Buffers.Binary;
using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using Microsoft.ML.DeepClustering.Samples.Input;

namespace Microsoft.ML.DeepClustering.Tests;

public sealed class MnistIdxTests : IDisposable
{
    // 4 images of 3 rows x 2 columns (not square, so height and width cannot be swapped unnoticed).
    private const int Count = 4, Height = 3, Width = 2;

    private readonly string _dir;

    public MnistIdxTests()
    {
        _dir = Path.Combine(Path.GetTempPath(), "mnistidx-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder left behind is harmless.
        }
    }

    private static byte[] Pixels()
    {
        // Image i, pixel p: distinct values, including 0 and 255 for the scaling check.
        var pixels = new byte[Count * Height * Width];
        for (int k = 0; k < pixels.Length; k++)
            pixels[k] = (byte)(k * 11 % 256);
        pixels[0] = 0;
        pixels[^1] = 255;
        return pixels;
    }

    private static readonly byte[] Labels = [7, 2, 1, 0];

    // ---------------------------------------------------------------- reading arrays

    [Theory]
    [InlineData(false, "images-idx3-ubyte")]
    [InlineData(true, "images-idx3-ubyte.gz")]
    // Compression is detected from the content, not the name.
    [InlineData(true, "gzipped-without-extension-idx3-ubyte")]
    [InlineData(false, "raw-despite-extension-idx3-ubyte.gz")]
    public void ReadImagesReturnsShapeAndPixels(bool gzip, string name)
    {
        var path = Write(name, ImageFile(Count, Height, Width, Pixels()), gzip);

        var images = MnistIdx.ReadImages(path);

        Assert.Equal(Count, images.Count);
        Assert.Equal(Height, images.Height);
        Assert.Equal(Width, images.Width);
        Assert.Equal(Height * Width, images.PixelsPerImage);
        Assert.Equal(Pixels(), images.Pixels);
        Assert.Equal(Pixels().AsSpan(2 * 6, 6).ToArray(), images.GetImage(2).ToArray());

        var (rows, height, width, pixels) = images;
        Assert.Equal((Count, Height, Width), (rows, height, width));
        Assert.Same(images.Pixels, pixels);
    }

    [Theory]
    [InlineData(false, "labels-idx1-ubyte")]
    [InlineData(true, "labels-idx1-ubyte.gz")]
    [InlineData(true, "labels.bin")]
    public void ReadLabelsReturnsLabels(bool gzip, string name)
    {
        var path = Write(name, LabelFile(Labels.Length, Labels), gzip);

        Assert.Equal(Labels, MnistIdx.ReadLabels(path));
    }

    // ---------------------------------------------------------------- IDataView

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LoadBuildsKnownSizeFeaturesScaledToUnitRangeAndFloatLabels(bool gzip)
    {
        var images = Write("img" + (gzip ? ".gz" : ""), ImageFile(Count, Height, Width, Pixels()), gzip);
        var labels = Write("lbl" + (gzip ? ".gz" : ""), LabelFile(Labels.Length, Labels), gzip);
        var ml = new MLContext(seed: 1);

        var data = MnistIdx.Load(ml, images, labels);

        var featuresType = Assert.IsType<VectorDataViewType>(data.Schema["Features"].Type);
        Assert.True(featuresType.IsKnownSize);
        Assert.Equal(Height * Width, featuresType.Size);
        Assert.Equal(NumberDataViewType.Single, featuresType.ItemType);
        Assert.Equal(NumberDataViewType.Single, data.Schema["Label"].Type);

        var features = data.GetColumn<float[]>("Features").ToArray();
        var labelValues = data.GetColumn<float>("Label").ToArray();
        Assert.Equal(Count, features.Length);
        Assert.Equal(Labels.Select(l => (float)l), labelValues);
        var pixels = Pixels();
        for (int i = 0; i < Count; i++)
        {
            Assert.Equal(Height * Width, features[i].Length);
            for (int p = 0; p < Height * Width; p++)
                Assert.Equal(pixels[i * Height * Width + p] / 255f, features[i][p]);
        }
        Assert.Equal(0f, features[0][0]);
        Assert.Equal(1f, features[^1][^1]);
        Assert.All(features.SelectMany(f => f), v => Assert.InRange(v, 0f, 1f));
    }

    [Fact]
    public void LoadWithoutLabelsHasOnlyFeatures()
    {
        var images = Write("img", ImageFile(Count, Height, Width, Pixels()), gzip: false);

        var data = MnistIdx.Load(new MLContext(), images);

        Assert.Null(data.Schema.GetColumnOrNull("Label"));
        Assert.Equal(Height * Width, ((VectorDataViewType)data.Schema["Features"].Type).Size);
        Assert.Equal(Count, data.GetColumn<float[]>("Features").Count());
    }

    [Fact]
    public void LoadWithMaxRowsReadsOnlyTheFirstRows()
    {
        var images = Write("img.gz", ImageFile(Count, Height, Width, Pixels()), gzip: true);
        var labels = Write("lbl.gz", LabelFile(Labels.Length, Labels), gzip: true);

        var data = MnistIdx.Load(new MLContext(), images, labels, maxRows: 2);

        Assert.Equal(new float[] { 7, 2 }, data.GetColumn<float>("Label").ToArray());
        Assert.Equal(2, data.GetColumn<float[]>("Features").Count());
        // More than the file holds is fine: everything is read.
        Assert.Equal(Count, MnistIdx.Load(new MLContext(), images, labels, maxRows: 1000).GetColumn<float>("Label").Count());
    }

    [Fact]
    public void LoadedLabelsWorkWithClusteringQuality()
    {
        var images = Write("img", ImageFile(Count, Height, Width, Pixels()), gzip: false);
        var labels = Write("lbl", LabelFile(Labels.Length, Labels), gzip: false);
        var data = MnistIdx.Load(new MLContext(), images, labels);

        var metrics = ClusteringQuality.Evaluate(data, "Label", "Label");

        Assert.Equal(1.0, metrics.Accuracy, 12);
        Assert.Equal(new[] { 0, 1, 2, 7 }, metrics.ConfusionMatrix.ClassLabels);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void LoadRejectsNonPositiveMaxRows(int maxRows)
    {
        var images = Write("img", ImageFile(Count, Height, Width, Pixels()), gzip: false);

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => MnistIdx.Load(new MLContext(), images, maxRows: maxRows));
        Assert.Equal("maxRows", e.ParamName);
    }

    // ---------------------------------------------------------------- malformed files

    [Fact]
    public void MissingFileThrowsFileNotFoundWithThePath()
    {
        var path = Path.Combine(_dir, "nope-idx3-ubyte.gz");

        var e = Assert.Throws<FileNotFoundException>(() => MnistIdx.ReadImages(path));

        Assert.Equal(path, e.FileName);
        Assert.Contains("nope-idx3-ubyte.gz", e.Message);
        Assert.Throws<FileNotFoundException>(() => MnistIdx.Load(new MLContext(), path));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WrongMagicNumberNamesFileExpectedAndFound(bool gzip)
    {
        var labelsFile = Write("labels-as-images", LabelFile(Labels.Length, Labels), gzip);
        var imagesFile = Write("images-as-labels", ImageFile(Count, Height, Width, Pixels()), gzip);

        var e1 = Assert.Throws<InvalidDataException>(() => MnistIdx.ReadImages(labelsFile));
        var e2 = Assert.Throws<InvalidDataException>(() => MnistIdx.ReadLabels(imagesFile));

        Assert.Contains(labelsFile, e1.Message);
        Assert.Contains("expected magic number 0x00000803", e1.Message);
        Assert.Contains("found 0x00000801", e1.Message);
        Assert.Contains(imagesFile, e2.Message);
        Assert.Contains("expected magic number 0x00000801", e2.Message);
        Assert.Contains("found 0x00000803", e2.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TruncatedPixelDataReportsExpectedAndFoundBytes(bool gzip)
    {
        // Header says 4 images of 3x2 (24 bytes), only 3 images (18 bytes) follow.
        var pixels = Pixels()[..18];
        var path = Write("short-images", ImageFile(Count, Height, Width, pixels), gzip);

        var e = Assert.Throws<InvalidDataException>(() => MnistIdx.ReadImages(path));

        Assert.Contains(path, e.Message);
        Assert.Contains("expected 24 bytes of pixel data for 4 images of 3x2, found 18", e.Message);
        // Reading only what is there works.
        Assert.Equal(3, MnistIdx.Load(new MLContext(), path, maxRows: 3).GetColumn<float[]>("Features").Count());
    }

    [Fact]
    public void TruncatedHeaderAndLabelsAreReported()
    {
        var header = Write("header-only", ImageFile(Count, Height, Width, [])[..10], gzip: false);
        var labels = Write("short-labels", LabelFile(10, Labels), gzip: true);

        var e1 = Assert.Throws<InvalidDataException>(() => MnistIdx.ReadImages(header));
        var e2 = Assert.Throws<InvalidDataException>(() => MnistIdx.ReadLabels(labels));

        Assert.Contains("expected a 16-byte header, found 10 bytes", e1.Message);
        Assert.Contains("expected 10 bytes of label data, found 4", e2.Message);
    }

    [Fact]
    public void CutGzipStreamIsReportedWithThePath()
    {
        // A .gz download that stopped half way: the compressed bytes end early.
        var whole = Write("whole.gz", ImageFile(Count, Height, Width, Pixels()), gzip: true);
        var bytes = File.ReadAllBytes(whole);
        var cut = Path.Combine(_dir, "cut-images-idx3-ubyte.gz");
        File.WriteAllBytes(cut, bytes[..(bytes.Length / 2)]);

        var e = Assert.Throws<InvalidDataException>(() => MnistIdx.ReadImages(cut));

        Assert.Contains(cut, e.Message);
    }

    [Fact]
    public void ImageAndLabelCountMismatchNamesBothFilesAndCounts()
    {
        var images = Write("img.gz", ImageFile(Count, Height, Width, Pixels()), gzip: true);
        var labels = Write("lbl.gz", LabelFile(3, Labels[..3]), gzip: true);

        var e = Assert.Throws<InvalidDataException>(() => MnistIdx.Load(new MLContext(), images, labels));

        Assert.Contains(images, e.Message);
        Assert.Contains(labels, e.Message);
        Assert.Contains("4 images", e.Message);
        Assert.Contains("3 labels", e.Message);
        // Also when only a prefix is read: the files still disagree.
        Assert.Throws<InvalidDataException>(() => MnistIdx.Load(new MLContext(), images, labels, maxRows: 2));
    }

    // ---------------------------------------------------------------- the real MNIST test set

    private static string MnistFile(string name) => Path.Combine(AppContext.BaseDirectory, "data", "mnist", name);

    [Fact]
    public void ReadsTheRealMnistTestSet()
    {
        var images = MnistIdx.ReadImages(MnistFile("t10k-images-idx3-ubyte.gz"));
        var labels = MnistIdx.ReadLabels(MnistFile("t10k-labels-idx1-ubyte.gz"));

        Assert.Equal(10000, images.Count);
        Assert.Equal(28, images.Height);
        Assert.Equal(28, images.Width);
        Assert.Equal(10000 * 28 * 28, images.Pixels.Length);
        Assert.Equal(10000, labels.Length);
        Assert.Equal(7, labels[0]);
        Assert.Equal(2, labels[1]);

        var histogram = new int[10];
        foreach (byte l in labels)
            histogram[l]++; // Throws if a label is outside 0..9.
        Assert.Equal(10000, histogram.Sum());
        // The well-known class sizes of the MNIST test set.
        Assert.Equal(new[] { 980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009 }, histogram);

        // Images are greyscale digits: black borders, some ink in the middle.
        Assert.Equal(0, images.GetImage(0)[0]);
        Assert.Contains(images.GetImage(0).ToArray(), p => p > 200);
    }

    [Fact]
    public void LoadsTheRealMnistTestSetAsDataView()
    {
        var data = MnistIdx.Load(new MLContext(seed: 1),
            MnistFile("t10k-images-idx3-ubyte.gz"), MnistFile("t10k-labels-idx1-ubyte.gz"), maxRows: 500);

        Assert.Equal(784, ((VectorDataViewType)data.Schema["Features"].Type).Size);
        var labels = data.GetColumn<float>("Label").ToArray();
        Assert.Equal(500, labels.Length);
        Assert.Equal(7f, labels[0]);
        Assert.All(labels, l => Assert.InRange(l, 0f, 9f));
        Assert.All(data.GetColumn<float[]>("Features").Take(20).SelectMany(f => f), v => Assert.InRange(v, 0f, 1f));
    }

    // ---------------------------------------------------------------- helpers

    private static byte[] ImageFile(int count, int height, int width, byte[] pixels)
    {
        var bytes = new byte[16 + pixels.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, MnistIdx.ImagesMagicNumber);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), height);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(12), width);
        pixels.CopyTo(bytes, 16);
        return bytes;
    }

    private static byte[] LabelFile(int count, byte[] labels)
    {
        var bytes = new byte[8 + labels.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, MnistIdx.LabelsMagicNumber);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count);
        labels.CopyTo(bytes, 8);
        return bytes;
    }

    private string Write(string name, byte[] content, bool gzip)
    {
        var path = Path.Combine(_dir, name);
        using var file = File.Create(path);
        if (gzip)
        {
            using var gz = new GZipStream(file, CompressionLevel.Optimal);
            gz.Write(content);
        }
        else
        {
            file.Write(content);
        }
        return path;
    }
}
