using Microsoft.ML.Data;

namespace Microsoft.ML.DeepClustering.Scoring;

/// <summary>
/// The values one input column had on each row of the current batch. The batched cursor reads a whole batch from its
/// input before serving the first row of it, so by the time a row is served the input cursor stands on a later row;
/// the input columns asked for are therefore copied row by row into slots that are reused from batch to batch.
/// </summary>
internal abstract class BufferedInputColumn
{
    /// <summary>A buffer of <paramref name="capacity"/> slots for <paramref name="column"/> of <paramref name="input"/>.</summary>
    public static BufferedInputColumn Create(DataViewRow input, DataViewSchema.Column column, int capacity)
    {
        var raw = column.Type.RawType;
        var method = raw.IsGenericType && raw.GetGenericTypeDefinition() == typeof(VBuffer<>)
            ? typeof(BufferedInputColumn).GetMethod(nameof(CreateVectors), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
                .MakeGenericMethod(raw.GetGenericArguments()[0])
            : typeof(BufferedInputColumn).GetMethod(nameof(CreateValues), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
                .MakeGenericMethod(raw);
        return (BufferedInputColumn)method.Invoke(null, new object[] { input, column, capacity })!;
    }

    /// <summary>Copies the input's current value into slot <paramref name="slot"/>.</summary>
    public abstract void Read(int slot);

    /// <summary>A getter of the value in the slot <paramref name="currentSlot"/> names when it is called.</summary>
    public abstract ValueGetter<TValue> GetGetter<TValue>(Func<int> currentSlot);

    private static BufferedInputColumn CreateVectors<TItem>(DataViewRow input, DataViewSchema.Column column, int capacity) =>
        new Vectors<TItem>(input.GetGetter<VBuffer<TItem>>(column), capacity);

    private static BufferedInputColumn CreateValues<T>(DataViewRow input, DataViewSchema.Column column, int capacity) =>
        new Values<T>(input.GetGetter<T>(column), capacity);

    /// <summary>
    /// Vectors are copied: a getter may hand out its own buffers, which the input overwrites on its next row. Each
    /// slot keeps its arrays from batch to batch, and the consumer gets a copy, never our arrays.
    /// </summary>
    private sealed class Vectors<TItem>(ValueGetter<VBuffer<TItem>> source, int capacity) : BufferedInputColumn
    {
        private readonly VBuffer<TItem>[] _slots = new VBuffer<TItem>[capacity];
        private VBuffer<TItem> _scratch;

        public override void Read(int slot)
        {
            source(ref _scratch);
            _scratch.CopyTo(ref _slots[slot]);
        }

        public override ValueGetter<TValue> GetGetter<TValue>(Func<int> currentSlot)
        {
            CheckType<TValue, VBuffer<TItem>>();
            ValueGetter<VBuffer<TItem>> getter = (ref VBuffer<TItem> value) => _slots[currentSlot()].CopyTo(ref value);
            return (ValueGetter<TValue>)(Delegate)getter;
        }
    }

    /// <summary>
    /// Scalars (numbers, keys, booleans, dates, and text, whose memory ML.NET never rewrites) are kept as read. Other
    /// reference types (images) are read into the slot's previous object, as a getter is given the caller's last one.
    /// </summary>
    private sealed class Values<T>(ValueGetter<T> source, int capacity) : BufferedInputColumn
    {
        private readonly T[] _slots = new T[capacity];

        public override void Read(int slot) => source(ref _slots[slot]);

        public override ValueGetter<TValue> GetGetter<TValue>(Func<int> currentSlot)
        {
            CheckType<TValue, T>();
            ValueGetter<T> getter = (ref T value) => value = _slots[currentSlot()];
            return (ValueGetter<TValue>)(Delegate)getter;
        }
    }

    private static void CheckType<TRequested, TColumn>()
    {
        if (typeof(TRequested) != typeof(TColumn))
            throw new InvalidOperationException($"Invalid TValue in GetGetter: '{typeof(TRequested)}', expected type: '{typeof(TColumn)}'.");
    }
}
