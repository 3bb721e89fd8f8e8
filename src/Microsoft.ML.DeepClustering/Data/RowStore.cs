using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace Microsoft.ML.DeepClustering.Data;

/// <summary>
/// The training rows [N, D], row-major, stored once and compactly: float32, half or bytes (<see cref="RowStoragePrecision"/>),
/// in managed arrays or in a memory-mapped file (<see cref="RowStorageLocation"/>). Rows are written once, in order,
/// by <see cref="Builder"/>, and read back as float32 a batch at a time (<see cref="CopyRows"/>) or by index
/// (<see cref="Gather"/>), so that nothing needs all N rows as float32 at once.
/// </summary>
internal sealed unsafe class RowStore : IDisposable
{
    /// <summary>Rows grow in chunks of about this many bytes when the row count is not known in advance.</summary>
    internal const int ChunkBytes = 8 << 20;

    private static readonly float[] ByteLevels = Enumerable.Range(0, 256).Select(k => k / 255f).ToArray();

    // In memory: chunks of rows (float[], Half[] or byte[] by precision), _starts[i] the first row of chunk i; one
    // chunk of exactly Rows rows when the count was known. Memory-mapped: the file's view from _base.
    private List<Array>? _chunks;
    private int[] _starts = Array.Empty<int>();
    private readonly FileStream? _file;
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;
    private bool _disposed;

    public int Rows { get; }
    public int Columns { get; }
    public RowStoragePrecision Precision { get; }
    public bool IsMemoryMapped => _map is not null;
    /// <summary>Bytes per stored value: 4, 2 or 1.</summary>
    public int ValueBytes => BytesPerValue(Precision);
    /// <summary>Bytes the rows take, in memory or in the file.</summary>
    public long StoredBytes => (long)Rows * Columns * ValueBytes;

    private RowStore(int rows, int columns, RowStoragePrecision precision, List<Array> chunks)
    {
        Rows = rows;
        Columns = columns;
        Precision = precision;
        SetChunks(chunks);
    }

    private void SetChunks(List<Array> chunks)
    {
        _chunks = chunks;
        _starts = new int[chunks.Count];
        for (int i = 1; i < chunks.Count; i++)
            _starts[i] = _starts[i - 1] + (int)(chunks[i - 1].LongLength / Columns);
    }

    private RowStore(int rows, int columns, RowStoragePrecision precision, FileStream file)
    {
        Rows = rows;
        Columns = columns;
        Precision = precision;
        _file = file;
        try
        {
            _map = MemoryMappedFile.CreateFromFile(file, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
            _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* pointer = null;
            _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            _base = pointer + _view.PointerOffset;
        }
        catch
        {
            _view?.Dispose();
            _map?.Dispose();
            file.Dispose();
            throw;
        }
    }

    public static int BytesPerValue(RowStoragePrecision precision) => precision switch
    {
        RowStoragePrecision.Half => 2,
        RowStoragePrecision.Byte => 1,
        _ => 4,
    };

    /// <summary>
    /// The rows as one float32 array when they are kept so (in memory, float32, one chunk), else null. Several
    /// chunks are first joined into one array when they fit in one: for a caller that needs them contiguous.
    /// </summary>
    public float[]? ContiguousFloats(bool join)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_chunks is null || Precision != RowStoragePrecision.Float32)
            return null;
        if (_chunks.Count == 1 && _chunks[0].Length == (long)Rows * Columns)
            return (float[])_chunks[0];
        if (!join || (long)Rows * Columns > Array.MaxLength)
            return null;
        // For a moment the rows exist twice (chunks and the joined array); afterwards once, the chunks let go.
        var joined = GC.AllocateUninitializedArray<float>(Rows * Columns);
        CopyRows(0, Rows, joined);
        SetChunks(new List<Array> { joined });
        return joined;
    }

    /// <summary>Rows start..start+count-1 as float32, row-major, into <paramref name="destination"/> (count × Columns values).</summary>
    public void CopyRows(int start, int count, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (start < 0 || count < 0 || start > Rows - count)
            throw new ArgumentOutOfRangeException(nameof(start), $"Rows {start}..{start + count - 1} are outside 0..{Rows - 1}.");
        if (destination.Length < (long)count * Columns)
            throw new ArgumentException($"The destination holds {destination.Length} values; {count} rows need {(long)count * Columns}.", nameof(destination));
        while (count > 0)
        {
            int run = Math.Min(count, ContiguousRun(start));
            Decode(Bytes(start, run), destination[..(run * Columns)]);
            destination = destination[(run * Columns)..];
            start += run;
            count -= run;
        }
    }

    /// <summary>The given rows, in the order given, as float32 into <paramref name="destination"/> (rows.Length × Columns values).</summary>
    public void Gather(ReadOnlySpan<int> rows, Span<float> destination)
    {
        if (destination.Length < (long)rows.Length * Columns)
            throw new ArgumentException($"The destination holds {destination.Length} values; {rows.Length} rows need {(long)rows.Length * Columns}.", nameof(destination));
        for (int i = 0; i < rows.Length; i++)
            CopyRows(rows[i], 1, destination.Slice(i * Columns, Columns));
    }

    /// <summary>How many rows from <paramref name="start"/> lie in one contiguous block of bytes (at most 1 GiB).</summary>
    private int ContiguousRun(int start)
    {
        long rowBytes = (long)Columns * ValueBytes;
        int limit = (int)Math.Max(1, (1L << 30) / rowBytes);
        if (_chunks is null)
            return Math.Min(limit, Rows - start);
        int chunk = ChunkOf(start);
        int end = chunk + 1 < _starts.Length ? _starts[chunk + 1] : Rows;
        return Math.Min(limit, end - start);
    }

    private int ChunkOf(int row)
    {
        int i = Array.BinarySearch(_starts, row);
        return i >= 0 ? i : ~i - 1;
    }

    private ReadOnlySpan<byte> Bytes(int start, int count)
    {
        long rowBytes = (long)Columns * ValueBytes;
        int length = checked((int)(count * rowBytes));
        if (_chunks is null)
            return new ReadOnlySpan<byte>(_base + start * rowBytes, length);
        int chunk = ChunkOf(start);
        return BytesOf(_chunks[chunk], (start - _starts[chunk]) * Columns, count * Columns);
    }

    /// <summary>Values start..start+count-1 of a chunk as bytes (sliced before the cast: a chunk may pass 2 GiB).</summary>
    private static Span<byte> BytesOf(Array chunk, int start, int count) => chunk switch
    {
        float[] f => MemoryMarshal.AsBytes(f.AsSpan(start, count)),
        Half[] h => MemoryMarshal.AsBytes(h.AsSpan(start, count)),
        byte[] b => b.AsSpan(start, count),
        _ => throw new InvalidOperationException($"Unexpected chunk type {chunk.GetType()}."),
    };

    private void Decode(ReadOnlySpan<byte> source, Span<float> destination)
    {
        switch (Precision)
        {
            case RowStoragePrecision.Half:
                var halves = MemoryMarshal.Cast<byte, Half>(source);
                for (int i = 0; i < halves.Length; i++)
                    destination[i] = (float)halves[i];
                break;
            case RowStoragePrecision.Byte:
                for (int i = 0; i < source.Length; i++)
                    destination[i] = ByteLevels[source[i]];
                break;
            default:
                MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
                break;
        }
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _chunks = null;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
        _file?.Dispose();
    }

    /// <summary>
    /// Writes rows in order, checking and converting each value on the way. Starts in memory, or in a file when asked
    /// (<see cref="RowStorageLocation.MemoryMappedFile"/>) or when the rows pass <c>spillBytes</c>
    /// (<see cref="RowStorageLocation.Auto"/>); the file is deleted from its folder as soon as it is open (on Windows,
    /// when its handle closes), so that it never outlives the process, however the process ends.
    /// </summary>
    public sealed class Builder : IDisposable
    {
        private readonly int _columns;
        private readonly RowStoragePrecision _precision;
        private readonly string _tempFolder;
        private readonly long _spillBytes;
        private readonly int _rowBytes;
        private readonly int _rowsPerChunk;
        private readonly List<Array> _chunks = new();
        private int _firstChunkRows;   // the known row count (one exact array), or _rowsPerChunk
        private int _chunkEnd;         // rows the chunks hold
        private FileStream? _file;
        private byte[]? _rowBuffer;
        private int _rows;
        private bool _done;

        /// <param name="columns">Values per row.</param>
        /// <param name="precision">How each value is kept.</param>
        /// <param name="knownRows">The row count when the source knows it (one exact array), else null (chunks).</param>
        /// <param name="spillBytes">Bytes after which rows move to a file; 0 writes to the file from the start, long.MaxValue never.</param>
        /// <param name="tempFolder">Where the file goes (the MLContext's TempFilePath).</param>
        public Builder(int columns, RowStoragePrecision precision, long? knownRows, long spillBytes, string tempFolder)
        {
            _columns = columns;
            _precision = precision;
            _tempFolder = tempFolder;
            _spillBytes = spillBytes;
            _rowBytes = checked(columns * BytesPerValue(precision));
            _rowsPerChunk = Math.Max(1, ChunkBytes / _rowBytes);
            long knownBytes = knownRows is long n && n > 0 ? n * _rowBytes : -1;
            _firstChunkRows = knownRows is long k && k > 0 && k * columns <= Array.MaxLength && knownBytes <= spillBytes ? (int)k : _rowsPerChunk;
            if (spillBytes == 0 || knownBytes > spillBytes)
                OpenFile();
        }

        public int Rows => _rows;

        /// <summary>Whether the rows go to a file (from the start, or since they passed the threshold).</summary>
        public bool InFile => _file is not null;

        /// <summary>Converts and appends one row; <paramref name="fail"/> makes the exception for a value that cannot be stored (slot, value, why).</summary>
        public void Add(ReadOnlySpan<float> row, Func<int, float, string, Exception> fail)
        {
            if (_rows == int.MaxValue)
                throw new InvalidOperationException($"More than {int.MaxValue} rows; train on a sample.");
            if (_file is null && (long)(_rows + 1) * _rowBytes > _spillBytes)
                Spill();
            if (_file is not null)
            {
                _rowBuffer ??= new byte[_rowBytes];
                Encode(row, _rowBuffer, fail);
                _file.Write(_rowBuffer);
            }
            else
            {
                if (_rows == _chunkEnd)
                {
                    int rows = _chunks.Count == 0 ? _firstChunkRows : _rowsPerChunk;
                    _chunks.Add(NewChunk(rows));
                    _chunkEnd += rows;
                }
                var chunk = _chunks[^1];
                int index = _rows - (_chunkEnd - (int)(chunk.LongLength / _columns));
                Encode(row, BytesOf(chunk, index * _columns, _columns), fail);
            }
            _rows++;
        }

        private Array NewChunk(int rows)
        {
            int length = rows * _columns;
            // Uninitialised: pages are touched only as rows arrive.
            return _precision switch
            {
                RowStoragePrecision.Half => GC.AllocateUninitializedArray<Half>(length),
                RowStoragePrecision.Byte => GC.AllocateUninitializedArray<byte>(length),
                _ => GC.AllocateUninitializedArray<float>(length),
            };
        }

        private void Encode(ReadOnlySpan<float> row, Span<byte> destination, Func<int, float, string, Exception> fail)
        {
            switch (_precision)
            {
                case RowStoragePrecision.Half:
                    var halves = MemoryMarshal.Cast<byte, Half>(destination);
                    for (int j = 0; j < row.Length; j++)
                    {
                        var h = (Half)row[j];
                        if (Half.IsInfinity(h))
                            throw fail(j, row[j], $"RowPrecision = Half holds values up to ±{(float)Half.MaxValue}");
                        halves[j] = h;
                    }
                    break;
                case RowStoragePrecision.Byte:
                    for (int j = 0; j < row.Length; j++)
                    {
                        float v = row[j];
                        if (!(v >= 0f && v <= 1f))
                            throw fail(j, v, "RowPrecision = Byte holds values in [0, 1] (pixels scaled by 1/255)");
                        destination[j] = (byte)MathF.Round(v * 255f);
                    }
                    break;
                default:
                    MemoryMarshal.AsBytes(row).CopyTo(destination);
                    break;
            }
        }

        private void Spill()
        {
            OpenFile();
            // The chunks written so far move to the file and are let go.
            int left = _rows;
            foreach (var chunk in _chunks)
            {
                int count = Math.Min(left, (int)(chunk.LongLength / _columns));
                for (int row = 0; row < count;)
                {
                    int run = Math.Min(count - row, Math.Max(1, (1 << 30) / _rowBytes));
                    _file!.Write(BytesOf(chunk, row * _columns, run * _columns));
                    row += run;
                }
                left -= count;
            }
            _chunks.Clear();
            _chunkEnd = 0;
        }

        private void OpenFile()
        {
            Directory.CreateDirectory(_tempFolder);
            string path = Path.Combine(_tempFolder, $"DeepClustering-rows-{Guid.NewGuid():N}.bin");
            bool windows = OperatingSystem.IsWindows();
            _file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 20,
                windows ? FileOptions.DeleteOnClose : FileOptions.None);
            // Unlinked at once: the open handle and the mapping keep the bytes, and the system frees them when the
            // process ends, whether by Dispose, an exception, Ctrl+C or a kill.
            if (!windows)
                File.Delete(path);
        }

        /// <summary>The finished store; the builder gives up its rows to it.</summary>
        public RowStore Build()
        {
            ObjectDisposedException.ThrowIf(_done, this);
            if (_rows == 0)
                throw new InvalidOperationException("No rows were added.");
            _done = true;
            if (_file is not null)
            {
                _file.Flush();
                var file = _file;
                _file = null;
                return new RowStore(_rows, _columns, _precision, file);
            }
            var chunks = new List<Array>(_chunks);
            _chunks.Clear();
            // The last chunk is trimmed to the rows it holds (a known count fills its one chunk exactly).
            int inLast = _rows - (_chunkEnd - (int)(chunks[^1].LongLength / _columns));
            if (inLast * (long)_columns != chunks[^1].LongLength)
                chunks[^1] = Trim(chunks[^1], inLast);
            return new RowStore(_rows, _columns, _precision, chunks);
        }

        private Array Trim(Array chunk, int rows)
        {
            var trimmed = NewChunk(rows);
            // Trimmed chunks are at most ChunkBytes, or the short first chunk of a source that gave fewer rows than it announced.
            Array.Copy(chunk, trimmed, (long)rows * _columns);
            return trimmed;
        }

        public void Dispose()
        {
            _chunks.Clear();
            _file?.Dispose();
            _file = null;
        }
    }
}
