namespace Microsoft.ML.DeepClustering.Samples.Report;

/// <summary>
/// Writes a file under a temporary name in the same folder, then renames it over the final name: a reader (or a
/// run stopped half-way) sees the old file or the new one, never half of one.
/// </summary>
public static class AtomicFile
{
    /// <summary>A test seam: wraps every stream a write goes to, as a full disk would fail it half-way.</summary>
    internal static readonly AsyncLocal<Func<Stream, Stream>?> WrapStreamForTests = new();

    public static void Write(string path, Action<Stream> write)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        string temp = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                var stream = WrapStreamForTests.Value?.Invoke(file) ?? file;
                write(stream);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    public static void WriteText(string path, string text) =>
        Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            writer.Write(text);
        });

    /// <summary>Copies a finished file to another place, through a temporary name there too.</summary>
    public static void Copy(string source, string destination) =>
        Write(destination, stream =>
        {
            using var input = File.OpenRead(source);
            input.CopyTo(stream);
        });

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
