using Microsoft.ML.DeepClustering.Data;
using Microsoft.ML.DeepClustering.Networks;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Training;

/// <summary>
/// The training rows as the stages read them: a batch by row index (<see cref="Select"/>), or a range of rows for the
/// passes over every row (<see cref="Narrow"/>, <see cref="Embed"/>), as float32 on the training device.
/// Float32 rows kept in memory in one array are one tensor over it (shared on the CPU, copied once to another device),
/// as before; rows in chunks (read without a known count), in half precision, as bytes or in a memory-mapped file are
/// decoded a batch at a time, so that training never holds a float32 copy of all of them. Either way a row reads as
/// the same floats, so the model is the same.
/// </summary>
internal sealed class TrainingRows : IDisposable
{
    private readonly Tensor? _all;
    private readonly bool _ownsAll;
    private readonly FeatureMatrix? _store;

    /// <summary>N.</summary>
    public long Count { get; }
    /// <summary>Where the batches are handed out.</summary>
    public Device Device { get; }
    /// <summary>True when every row sits in one float32 tensor on <see cref="Device"/>; false when they are decoded a batch at a time.</summary>
    public bool IsResident => _all is not null;

    private TrainingRows(Tensor? all, bool ownsAll, FeatureMatrix? store, long count, Device device)
    {
        _all = all;
        _ownsAll = ownsAll;
        _store = store;
        Count = count;
        Device = device;
    }

    /// <summary>
    /// The rows of <paramref name="data"/> for training on <paramref name="device"/>. <paramref name="data"/> must
    /// outlive the result when the rows are not resident.
    /// </summary>
    public static TrainingRows Of(FeatureMatrix data, Device device)
    {
        // Only float32 rows already in one array are shared. Rows read without a known count sit in chunks: joining
        // them would hold the rows twice until the garbage collector happens to free the chunks (3 GB twice for a
        // million 28×28 images, measured), so they are read a batch at a time like the other stores.
        if (data.Store.ContiguousFloats(join: false) is not null)
        {
            var shared = data.ToTensor();
            var all = shared.to(device);
            if (!ReferenceEquals(all, shared))
                shared.Dispose();
            return new TrainingRows(all, ownsAll: true, null, data.Rows, device);
        }
        return new TrainingRows(null, ownsAll: false, data, data.Rows, device);
    }

    /// <summary>Rows already in one tensor [N, D] (not disposed with the result): tests, and callers that hold their rows.</summary>
    public static TrainingRows Resident(Tensor all) =>
        new(all, ownsAll: false, null, all.shape[0], all.device);

    /// <summary>The rows at <paramref name="index"/> (int64, on <see cref="Device"/>), in that order: [index.Length, D].</summary>
    public Tensor Select(Tensor index)
    {
        if (_all is not null)
            return _all.index_select(0, index);
        using var cpuIndex = index.cpu();
        var rows = cpuIndex.data<long>().Select(i => checked((int)i)).ToArray();
        return OnDevice(_store!.GatherTensor(rows));
    }

    /// <summary>Rows start..start+count-1: [count, D].</summary>
    public Tensor Narrow(long start, long count)
    {
        if (_all is not null)
            return _all.narrow(0, start, count);
        return OnDevice(_store!.RowsTensor(checked((int)start), checked((int)count)));
    }

    /// <summary>The embedding [N, E] of every row, a chunk of rows at a time (<see cref="Autoencoder.Embed(long, Func{long, long, Tensor})"/>).</summary>
    public Tensor Embed(Autoencoder autoencoder) => autoencoder.Embed(Count, Narrow);

    private Tensor OnDevice(Tensor cpu)
    {
        if (Device.type == TorchSharp.DeviceType.CPU)
            return cpu;
        using (cpu)
            return cpu.to(Device);
    }

    public void Dispose()
    {
        if (_ownsAll)
            _all?.Dispose();
    }
}
