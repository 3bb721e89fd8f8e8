using SkiaSharp;

namespace Microsoft.ML.DeepClustering.Samples.Input;

/// <summary>
/// The ResNet18 route's input files, with every photo much larger than the network's 224×224 replaced by a copy
/// whose shorter side is <see cref="ShorterSide"/>. ML.NET's LoadImages decodes each file whole and ResizeImages
/// shrinks that in one step: a 3000×2500 JPEG took about 300 ms where a small one takes 50, the network included.
/// A JPEG decoder shrinks by up to 8 while it decodes, for a fraction of that. The copies keep ResizeImages' centre
/// crop where it was (same aspect), and are what training and --score both featurize, so that they agree; a program
/// of your own that loads the saved model with the original files gets features of the same pictures, resized in one
/// step instead of two.
/// </summary>
public sealed class ShrunkPhotos : IDisposable
{
    /// <summary>The copies' shorter side: twice the network's input, so that ResizeImages still shrinks them.</summary>
    public const int ShorterSide = 448;

    /// <summary>Files whose shorter side is above this are copied; below, the copy would cost more than it saves.</summary>
    public const int CopyAbove = 2 * ShorterSide;

    private readonly string? _folder;

    private ShrunkPhotos(IReadOnlyList<string> paths, int copies, string? folder)
    {
        Paths = paths;
        Copies = copies;
        _folder = folder;
    }

    /// <summary>Per input file, the file to featurize: the original, or its shrunk copy.</summary>
    public IReadOnlyList<string> Paths { get; }

    /// <summary>How many files were copied.</summary>
    public int Copies { get; }

    /// <summary>
    /// Copies the large photos among <paramref name="files"/> into a new folder under <paramref name="tempFolder"/>,
    /// telling <paramref name="filesDone"/> how many files have been looked at. A file that does not decode stays as it
    /// is: the featurizer names it.
    /// </summary>
    public static ShrunkPhotos Make(IReadOnlyList<string> files, string tempFolder, IProgress<int> filesDone, CancellationToken cancellation)
    {
        string folder = Path.Combine(tempFolder, "deepcluster-photos-" + Guid.NewGuid().ToString("N"));
        var paths = new string[files.Count];
        int copies = 0;
        try
        {
            for (int i = 0; i < files.Count; i++)
            {
                cancellation.ThrowIfCancellationRequested();
                string copy = Path.Combine(folder, i.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".png");
                if (TryShrink(files[i], copy, folder))
                {
                    paths[i] = copy;
                    copies++;
                }
                else
                {
                    paths[i] = files[i];
                }
                filesDone.Report(i + 1);
            }
        }
        catch
        {
            Delete(folder);
            throw;
        }
        return new ShrunkPhotos(paths, copies, copies > 0 ? folder : null);
    }

    public void Dispose()
    {
        if (_folder is not null)
            Delete(_folder);
    }

    private static bool TryShrink(string file, string copy, string folder)
    {
        using var codec = SKCodec.Create(file);
        if (codec is null)
            return false;
        var info = codec.Info;
        int shorter = Math.Min(info.Width, info.Height);
        if (shorter <= CopyAbove)
            return false;
        float scale = (float)ShorterSide / shorter;
        var decodedSize = codec.GetScaledDimensions(scale);
        using var decoded = SKBitmap.Decode(codec, new SKImageInfo(decodedSize.Width, decodedSize.Height, SKColorType.Rgba8888, SKAlphaType.Premul));
        if (decoded is null)
            return false;
        var target = new SKImageInfo(Math.Max(1, (int)Math.Round(info.Width * scale)), Math.Max(1, (int)Math.Round(info.Height * scale)), SKColorType.Rgba8888, SKAlphaType.Premul);
        using var shrunk = decoded.Width == target.Width && decoded.Height == target.Height ? null : decoded.Resize(target, SKFilterQuality.High);
        using var pixels = (shrunk ?? decoded).PeekPixels();
        Directory.CreateDirectory(folder);
        using var stream = new SKFileWStream(copy);
        // Lossless and quick: zlib level 1 is a third of the default's time on photos, at a larger file that is soon deleted.
        return pixels.Encode(stream, new SKPngEncoderOptions(SKPngEncoderFilterFlags.AllFilters, 1));
    }

    private static void Delete(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A copy still open elsewhere: the temp folder is the system's to clean.
        }
    }
}
