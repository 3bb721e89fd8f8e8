using System.Buffers.Binary;
using System.IO.Compression;
using Microsoft.ML.Data;

namespace Microsoft.ML.DeepClustering.Samples.Input;

/// <summary>
/// Images read from an IDX image file (the MNIST / Fashion-MNIST / EMNIST format): <see cref="Count"/> greyscale
/// images of <see cref="Height"/> × <see cref="Width"/> bytes, stored one after the other, row-major.
/// </summary>
public sealed class MnistImages
{
    internal MnistImages(int count, int height, int width, byte[] pixels)
    {
        Count = count;
        Height = height;
        Width = width;
        Pixels = pixels;
    }

    /// <summary>The number of images read (at most the count in the file's header).</summary>
    public int Count { get; }

    /// <summary>The height of every image, in pixels (rows).</summary>
    public int Height { get; }

    /// <summary>The width of every image, in pixels (columns).</summary>
    public int Width { get; }

    /// <summary>The number of pixels of one image, <see cref="Height"/> × <see cref="Width"/>.</summary>
    public int PixelsPerImage => Height * Width;

    /// <summary>
    /// All pixels, <see cref="Count"/> × <see cref="Height"/> × <see cref="Width"/> bytes, 0 (background) to 255:
    /// image <c>i</c> starts at <c>i * PixelsPerImage</c>, and pixel (r, c) of it is at offset <c>r * Width + c</c>.
    /// </summary>
    public byte[] Pixels { get; }

    /// <summary>The pixels of one image, row-major.</summary>
    /// <param name="index">The image's 0-based position in the file.</param>
    public ReadOnlySpan<byte> GetImage(int index)
    {
        if ((uint)index >= (uint)Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"Image index must be in [0, {Count}).");
        return Pixels.AsSpan(index * PixelsPerImage, PixelsPerImage);
    }

    /// <summary>Deconstructs into <c>(rows, height, width, pixels)</c>, where <c>rows</c> is the image count.</summary>
    public void Deconstruct(out int rows, out int height, out int width, out byte[] pixels)
    {
        rows = Count;
        height = Height;
        width = Width;
        pixels = Pixels;
    }
}

/// <summary>
/// Reads MNIST-format IDX files — <c>*-images-idx3-ubyte</c> and <c>*-labels-idx1-ubyte</c>, gzip-compressed or
/// raw — into arrays or into an ML.NET <see cref="IDataView"/>.
/// </summary>
/// <remarks>
/// Compression is detected from the gzip magic bytes (<c>1f 8b</c>) at the start of the file, not from the file
/// name, and the data is streamed (decompressed once, never held twice). The IDX header is big-endian: a magic
/// number (<c>0x00000803</c> for unsigned-byte 3-D image files, <c>0x00000801</c> for 1-D label files) followed by
/// one 32-bit size per dimension. Any image size works, not only 28 × 28.
/// </remarks>
public static class MnistIdx
{
    /// <summary>The magic number of an IDX file of unsigned bytes with 3 dimensions (images × rows × columns).</summary>
    public const int ImagesMagicNumber = 0x00000803;

    /// <summary>The magic number of an IDX file of unsigned bytes with 1 dimension (labels).</summary>
    public const int LabelsMagicNumber = 0x00000801;

    /// <summary>The name of the pixel vector column of <see cref="Load"/>.</summary>
    public const string FeaturesColumnName = "Features";

    /// <summary>The name of the label column of <see cref="Load"/>.</summary>
    public const string LabelColumnName = "Label";

    /// <summary>Reads every image of an IDX image file (gzip-compressed or raw).</summary>
    /// <param name="path">The path of the file, e.g. <c>t10k-images-idx3-ubyte.gz</c>.</param>
    /// <returns>The images, with their count, height, width and raw 0..255 pixels.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">
    /// The file is not an IDX image file (wrong magic number, bad dimensions) or is truncated.
    /// </exception>
    public static MnistImages ReadImages(string path) => ReadImages(path, maxImages: null);

    /// <summary>Reads every label of an IDX label file (gzip-compressed or raw).</summary>
    /// <param name="path">The path of the file, e.g. <c>t10k-labels-idx1-ubyte.gz</c>.</param>
    /// <returns>One byte per sample; for MNIST, the digit 0..9.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not an IDX label file or is truncated.</exception>
    public static byte[] ReadLabels(string path) => ReadLabels(path, maxLabels: null).Labels;

    /// <summary>
    /// Loads an IDX image file, and optionally its label file, as an <see cref="IDataView"/> with the columns
    /// <c>Features</c> and <c>Label</c>.
    /// </summary>
    /// <remarks>
    /// <para>
    /// <c>Features</c> is a vector of <see cref="float"/> of known size <c>height × width</c> (784 for MNIST),
    /// the row-major pixels scaled to [0, 1] (<c>pixel / 255f</c>), ready for ML.NET trainers and for the
    /// deep-clustering estimators of this library.
    /// </para>
    /// <para>
    /// <c>Label</c>, present only when <paramref name="labelsPath"/> is given, is a <see cref="float"/> (Single)
    /// holding the label value itself (the digit 0..9 for MNIST), not a key: ML.NET's clustering evaluator and
    /// <see cref="ClusteringQuality.Evaluate(IDataView, string, string)"/> accept it as is, and
    /// <c>MapValueToKey</c> turns it into a key when a key is needed.
    /// </para>
    /// <para>The files are read eagerly; the view keeps the rows in memory (4 bytes per pixel).</para>
    /// </remarks>
    /// <param name="mlContext">The ML.NET context whose data catalog builds the view.</param>
    /// <param name="imagesPath">The IDX image file (idx3-ubyte, gzip-compressed or raw).</param>
    /// <param name="labelsPath">The matching IDX label file (idx1-ubyte), or null for a view without labels.</param>
    /// <param name="maxRows">Read only the first <paramref name="maxRows"/> images (and labels); null for all.</param>
    /// <returns>A view with one row per image.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="mlContext"/> is null.</exception>
    /// <exception cref="ArgumentException">A path is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxRows"/> is zero or negative.</exception>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="InvalidDataException">
    /// A file is malformed or truncated, or the two files hold different numbers of samples.
    /// </exception>
    public static IDataView Load(MLContext mlContext, string imagesPath, string? labelsPath = null, int? maxRows = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentException.ThrowIfNullOrEmpty(imagesPath);
        if (labelsPath is not null)
            ArgumentException.ThrowIfNullOrEmpty(labelsPath);
        if (maxRows is <= 0)
            throw new ArgumentOutOfRangeException(nameof(maxRows), maxRows, "maxRows must be positive (or null to read every row).");

        var images = ReadImages(imagesPath, maxRows, out int imagesInFile);
        var featureType = new VectorDataViewType(NumberDataViewType.Single, images.PixelsPerImage);

        if (labelsPath is null)
        {
            var rows = new List<ImageRow>(images.Count);
            for (int i = 0; i < images.Count; i++)
                rows.Add(new ImageRow { Features = Scale(images, i) });
            var schema = SchemaDefinition.Create(typeof(ImageRow));
            schema[FeaturesColumnName].ColumnType = featureType;
            return mlContext.Data.LoadFromEnumerable(rows, schema);
        }

        var (labels, labelsInFile) = ReadLabels(labelsPath, maxRows);
        if (labelsInFile != imagesInFile)
        {
            throw new InvalidDataException(
                $"The image file '{imagesPath}' holds {imagesInFile} images but the label file '{labelsPath}' holds " +
                $"{labelsInFile} labels; they must describe the same samples.");
        }

        var labelled = new List<LabelledImageRow>(images.Count);
        for (int i = 0; i < images.Count; i++)
            labelled.Add(new LabelledImageRow { Features = Scale(images, i), Label = labels[i] });
        var labelledSchema = SchemaDefinition.Create(typeof(LabelledImageRow));
        labelledSchema[FeaturesColumnName].ColumnType = featureType;
        return mlContext.Data.LoadFromEnumerable(labelled, labelledSchema);
    }

    private static float[] Scale(MnistImages images, int index)
    {
        var source = images.GetImage(index);
        var features = new float[source.Length];
        for (int p = 0; p < source.Length; p++)
            features[p] = source[p] / 255f;
        return features;
    }

    private static MnistImages ReadImages(string path, int? maxImages) => ReadImages(path, maxImages, out _);

    /// <summary>The height and width of an IDX image file's images, from its header (checked as <see cref="ReadImages(string)"/> checks it).</summary>
    internal static (int Height, int Width) ReadImageSize(string path)
    {
        var header = ReadImages(path, maxImages: 0);
        return (header.Height, header.Width);
    }

    private static MnistImages ReadImages(string path, int? maxImages, out int countInFile)
    {
        using var stream = OpenIdx(path);
        Span<byte> header = stackalloc byte[16];
        ReadHeader(stream, header, 0, 4, path, "image");
        CheckMagic(header, ImagesMagicNumber, path, "image", "idx3-ubyte");
        ReadHeader(stream, header, 4, header.Length, path, "image");

        int count = BinaryPrimitives.ReadInt32BigEndian(header[4..]);
        int height = BinaryPrimitives.ReadInt32BigEndian(header[8..]);
        int width = BinaryPrimitives.ReadInt32BigEndian(header[12..]);
        if (count < 0 || height <= 0 || width <= 0)
        {
            throw new InvalidDataException(
                $"The IDX image file '{path}' has invalid dimensions in its header: {count} images of {height}x{width}.");
        }
        countInFile = count;

        int toRead = maxImages is int max ? Math.Min(max, count) : count;
        long pixelsPerImage = (long)height * width;
        long expected = toRead * pixelsPerImage;
        if (expected > Array.MaxLength)
        {
            throw new InvalidDataException(
                $"The IDX image file '{path}' holds {toRead} images of {height}x{width} ({expected} bytes), more than " +
                $"one array can hold ({Array.MaxLength} bytes); read fewer rows.");
        }

        var pixels = new byte[expected];
        int read = ReadBody(stream, pixels, path, "image");
        if (read < expected)
        {
            throw new InvalidDataException(
                $"The IDX image file '{path}' is truncated: expected {expected} bytes of pixel data for {toRead} images " +
                $"of {height}x{width}, found {read}.");
        }
        return new MnistImages(toRead, height, width, pixels);
    }

    private static (byte[] Labels, int CountInFile) ReadLabels(string path, int? maxLabels)
    {
        using var stream = OpenIdx(path);
        Span<byte> header = stackalloc byte[8];
        ReadHeader(stream, header, 0, 4, path, "label");
        CheckMagic(header, LabelsMagicNumber, path, "label", "idx1-ubyte");
        ReadHeader(stream, header, 4, header.Length, path, "label");

        int count = BinaryPrimitives.ReadInt32BigEndian(header[4..]);
        if (count < 0)
            throw new InvalidDataException($"The IDX label file '{path}' has an invalid label count in its header: {count}.");

        int toRead = maxLabels is int max ? Math.Min(max, count) : count;
        var labels = new byte[toRead];
        int read = ReadBody(stream, labels, path, "label");
        if (read < toRead)
        {
            throw new InvalidDataException(
                $"The IDX label file '{path}' is truncated: expected {toRead} bytes of label data, found {read}.");
        }
        return (labels, count);
    }

    /// <summary>Opens the file, transparently decompressing it when it starts with the gzip magic bytes.</summary>
    private static Stream OpenIdx(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"The IDX file '{Path.GetFullPath(path)}' does not exist.", path);

        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        try
        {
            Span<byte> magic = stackalloc byte[2];
            int n = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
            file.Position = 0;
            if (n == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
                return new GZipStream(file, CompressionMode.Decompress, leaveOpen: false);
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Fills <c>header[from..to]</c> from the stream (the magic number is read and checked before the sizes, so
    /// that a file of the other kind is reported by its magic number rather than as truncated).
    /// </summary>
    private static void ReadHeader(Stream stream, Span<byte> header, int from, int to, string path, string kind)
    {
        int read = ReadBody(stream, header[from..to], path, kind);
        if (read < to - from)
        {
            throw new InvalidDataException(
                $"The IDX {kind} file '{path}' is truncated: expected a {header.Length}-byte header, found {from + read} bytes.");
        }
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or the data ends; returns the bytes read.</summary>
    private static int ReadBody(Stream stream, Span<byte> buffer, string path, string kind)
    {
        try
        {
            return stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }
        catch (InvalidDataException e)
        {
            // Raised by GZipStream on corrupt compressed data.
            throw new InvalidDataException(
                $"The IDX {kind} file '{path}' is gzip-compressed but cannot be decompressed (corrupt or truncated): {e.Message}", e);
        }
    }

    private static void CheckMagic(ReadOnlySpan<byte> header, int expected, string path, string kind, string format)
    {
        int magic = BinaryPrimitives.ReadInt32BigEndian(header);
        if (magic != expected)
        {
            throw new InvalidDataException(
                $"The file '{path}' is not an IDX {kind} file ({format}): expected magic number 0x{expected:X8}, " +
                $"found 0x{magic:X8}.");
        }
    }

    private sealed class ImageRow
    {
        public float[] Features { get; set; } = [];
    }

    private sealed class LabelledImageRow
    {
        public float[] Features { get; set; } = [];

        public float Label { get; set; }
    }
}
