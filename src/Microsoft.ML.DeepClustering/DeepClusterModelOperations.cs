namespace Microsoft.ML.DeepClustering;

/// <summary>Saving without leaving a truncated file behind.</summary>
public static class DeepClusterModelOperations
{
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
            catalog.Save(model, inputSchema, temporary);
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
                File.Delete(temporary);
        }
    }
}
