using System.IO.Compression;
using Microsoft.ML.DeepClustering.Scoring;

namespace Microsoft.ML.DeepClustering;

/// <summary>Saving without leaving a truncated file behind, and loading a saved model that scores in batches.</summary>
public static class DeepClusterModelOperations
{
    /// <summary>
    /// Loads a model saved from a DeepCluster pipeline, like <see cref="ModelOperationsCatalog.Load(string, out DataViewSchema)"/>,
    /// and restores the batched scorer the fitted transformer has: bulk <see cref="ITransformer.Transform"/> runs the
    /// ONNX graph on batches of rows instead of once per row. Columns, types and values are the saved chain's (the same
    /// cluster ids; embeddings and scores up to float rounding), PredictionEngine and Save behave as on the model
    /// <c>mlContext.Model.Load</c> returns, and that method keeps working on the same file without this library.
    /// The returned model is <see cref="IDisposable"/>: dispose it to free its ONNX Runtime sessions.
    /// </summary>
    /// <param name="catalog"><c>mlContext.Model</c>; its context's GPU settings choose where the batches run, as ApplyOnnxModel's do.</param>
    /// <param name="filePath">The <c>.zip</c> written by <c>mlContext.Model.Save</c> or <see cref="SaveAtomically"/>.</param>
    /// <param name="inputSchema">The schema the model was saved with.</param>
    /// <exception cref="FileNotFoundException">No file at <paramref name="filePath"/>.</exception>
    /// <exception cref="InvalidDataException">The file is not a complete <c>.zip</c>, not an ML.NET model, or not a
    /// deep clustering one; the message names the file and what was found.</exception>
    public static ITransformer LoadDeepClusterModel(this ModelOperationsCatalog catalog, string filePath, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrWhiteSpace(filePath);
        string full = Path.GetFullPath(filePath);
        if (!File.Exists(full))
            throw new FileNotFoundException($"The model file '{full}' does not exist.", full);
        // ML.NET's own errors for a damaged file name neither the file nor the damage; check the archive first.
        try
        {
            using var zip = ZipFile.OpenRead(full);
            _ = zip.Entries.Count;
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException(
                $"'{full}' is not a complete .zip archive ({new FileInfo(full).Length:N0} bytes): it was cut short (an interrupted copy or save) or is another kind of file. {e.Message}", e);
        }
        ITransformer loaded;
        try
        {
            loaded = catalog.Load(full, out inputSchema);
        }
        catch (Exception e) when (e is not OutOfMemoryException and not OperationCanceledException)
        {
            throw new InvalidDataException($"'{full}' is a .zip archive but ML.NET cannot load it as a model: {e.Message}", e);
        }
        try
        {
            var settings = CatalogEnvironment.Settings(CatalogEnvironment.From(catalog));
            bool cuda = settings.GpuDeviceId is not null && ScoringChain.OnnxRuntimeHasCuda();
            return LoadedScoringModel.Restore(loaded, full, cuda ? settings.GpuDeviceId : null, settings.FallbackToCpu);
        }
        catch
        {
            (loaded as IDisposable)?.Dispose();
            throw;
        }
    }

    /// <summary>A test seam: wraps the stream <see cref="SaveAtomically"/> writes to, as a full disk would fail it half-way.</summary>
    internal static readonly AsyncLocal<Func<Stream, Stream>?> WrapSaveStream = new();

    /// <summary>
    /// Like <see cref="ModelOperationsCatalog.Save(ITransformer, DataViewSchema, string)"/>, but writes to a temporary
    /// file beside <paramref name="filePath"/> and renames it into place only once complete: a crash or an exception
    /// while saving leaves the previous file (or none) under that name, never a truncated one.
    /// </summary>
    public static void SaveAtomically(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema, string filePath)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrWhiteSpace(filePath);
        string full = Path.GetFullPath(filePath);
        string temporary = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.partial");
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                var stream = WrapSaveStream.Value?.Invoke(file) ?? file;
                catalog.Save(model, inputSchema, stream);
            }
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
                File.Delete(temporary);
        }
    }
}
