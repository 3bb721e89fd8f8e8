using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Microsoft.ML.DeepClustering.Samples.Input;

/// <summary>
/// --shard I/N: which shard a file belongs to. The hash is of the file's path relative to the folder ('/' between
/// folders, UTF-8), so that every machine, every process and every .NET version puts a file in the same shard
/// (string.GetHashCode is randomised per process), and a file keeps its shard when other files come and go.
/// </summary>
public static class Shards
{
    /// <summary>The shard (0 to <paramref name="count"/> − 1) of <paramref name="relativePath"/>: the first 8 bytes of its SHA-256, modulo the count.</summary>
    public static int Of(string relativePath, int count)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(relativePath), hash);
        return (int)(BinaryPrimitives.ReadUInt64BigEndian(hash) % (ulong)count);
    }

    /// <summary>"I/N" with 0 ≤ I &lt; N; an error message otherwise.</summary>
    public static ((int Index, int Count)? Shard, string? Error) Parse(string? text)
    {
        if (text is null)
            return (null, null);
        var parts = text.Trim().Split('/');
        if (parts.Length == 2 && int.TryParse(parts[0], out int index) && int.TryParse(parts[1], out int count) && count >= 1 && index >= 0 && index < count)
            return ((index, count), null);
        return (null, $"--shard takes I/N with 0 ≤ I < N (shard I of N, counted from 0), such as 0/4; found '{text}'.");
    }
}
