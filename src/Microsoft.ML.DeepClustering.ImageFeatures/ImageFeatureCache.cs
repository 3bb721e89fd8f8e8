using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Microsoft.ML.DeepClustering;

/// <summary>
/// Image features kept on disk so that each image is featurized once: one file per entry, found by the image file's
/// content (SHA-256 of its bytes) under a folder named by the featurizer's fingerprint (everything that shapes the
/// features: the network's checksum, its output, the input size and normalisation, and whatever the caller adds).
/// An entry is written to a temporary file and renamed into place, so that two processes sharing the folder never
/// see half an entry; each entry carries a checksum of its key and values, and one that does not check is ignored and
/// recomputed, never used.
/// </summary>
internal sealed class ImageFeatureCache
{
    private const uint Magic = 0x31464344;   // "DCF1", little-endian
    private const int HeaderBytes = 8;       // magic, value count
    private const int ChecksumBytes = 32;

    /// <summary>Uses (and creates when writing) the entries of <paramref name="fingerprint"/> under <paramref name="folder"/>.</summary>
    public ImageFeatureCache(string folder, string fingerprint)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        ArgumentException.ThrowIfNullOrWhiteSpace(fingerprint);
        Fingerprint = fingerprint;
        Folder = Path.Combine(Path.GetFullPath(folder), "features-v1", Hex(SHA256.HashData(Encoding.UTF8.GetBytes(fingerprint)))[..32]);
    }

    /// <summary>The user's cache folder for deep clustering: <c>$XDG_CACHE_HOME/deepcluster</c>, else <c>~/.cache/deepcluster</c>.</summary>
    public static string DefaultFolder
    {
        get
        {
            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            string root = !string.IsNullOrWhiteSpace(xdg) && Path.IsPathRooted(xdg)
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(root, "deepcluster");
        }
    }

    /// <summary>What the entries depend on, as given.</summary>
    public string Fingerprint { get; }

    /// <summary>The folder of this fingerprint's entries (a file <c>fingerprint.txt</c> in it says what it is).</summary>
    public string Folder { get; }

    /// <summary>SHA-256 of a file's bytes, lower-case hex: an entry's key.</summary>
    public static string ContentHash(string file)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return Hex(SHA256.HashData(stream));
    }

    /// <summary>The features stored for <paramref name="contentHash"/>; null when there are none or the entry does not check.</summary>
    public float[]? TryGet(string contentHash)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(EntryPath(contentHash));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
        if (bytes.Length < HeaderBytes + ChecksumBytes || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic)
            return null;
        int count = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4));
        if (count < 0 || bytes.Length != HeaderBytes + 4L * count + ChecksumBytes)
            return null;
        var body = bytes.AsSpan(0, HeaderBytes + 4 * count);
        if (!Checksum(contentHash, body).AsSpan().SequenceEqual(bytes.AsSpan(body.Length)))
            return null;
        var values = MemoryMarshal.Cast<byte, float>(body[HeaderBytes..]).ToArray();
        return values.All(float.IsFinite) ? values : null;
    }

    /// <summary>Stores <paramref name="features"/> for <paramref name="contentHash"/>: a temporary file, then an atomic rename over any older entry.</summary>
    public void Put(string contentHash, ReadOnlySpan<float> features)
    {
        var bytes = new byte[HeaderBytes + 4 * features.Length + ChecksumBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), features.Length);
        MemoryMarshal.AsBytes(features).CopyTo(bytes.AsSpan(HeaderBytes));
        Checksum(contentHash, bytes.AsSpan(0, bytes.Length - ChecksumBytes)).CopyTo(bytes.AsSpan(bytes.Length - ChecksumBytes));

        string path = EntryPath(contentHash);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string description = Path.Combine(Folder, "fingerprint.txt");
        if (!File.Exists(description))
            WriteAtomically(description, Encoding.UTF8.GetBytes(Fingerprint + "\n"));
        WriteAtomically(path, bytes);
    }

    private string EntryPath(string contentHash)
    {
        if (contentHash.Length < 16 || !contentHash.All(char.IsAsciiHexDigitLower))
            throw new ArgumentException($"A content hash is lower-case hex (ContentHash); found '{contentHash}'.", nameof(contentHash));
        return Path.Combine(Folder, contentHash[..2], contentHash + ".f32");
    }

    private byte[] Checksum(string contentHash, ReadOnlySpan<byte> body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(Fingerprint + "\n" + contentHash + "\n"));
        hash.AppendData(body);
        return hash.GetHashAndReset();
    }

    private static void WriteAtomically(string path, byte[] bytes)
    {
        string partial = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            File.WriteAllBytes(partial, bytes);
            File.Move(partial, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(partial))
                File.Delete(partial);
        }
    }

    private static string Hex(byte[] bytes) => Convert.ToHexString(bytes).ToLowerInvariant();
}
