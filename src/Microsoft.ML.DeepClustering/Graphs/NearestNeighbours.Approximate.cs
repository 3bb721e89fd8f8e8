using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Microsoft.ML.DeepClustering.Graphs;

/// <summary>
/// Approximate k nearest neighbours by NN-descent (Dong, Moses and Li 2011, as pynndescent runs it): start every row
/// from random neighbours, then repeatedly compare the neighbours of each row's neighbours with one another, on the
/// idea that a neighbour of a neighbour is likely a neighbour. Each round costs about N·k² distances, so the whole
/// search is near-linear in the rows where an exact search is quadratic.
/// <para>
/// The result depends on the seed only, never on the number of threads: random choices come from a hash of
/// (seed, round, row, neighbour) rather than from a shared generator; each round's candidate lists are built in row
/// order; the distances of a block of rows are computed in parallel against the lists as they stood before the
/// block, and the improvements they find are applied one after another in row order.
/// </para>
/// </summary>
internal static partial class NearestNeighbours
{
    /// <summary>
    /// Rows from which the graph is approximate. Below it the exact search runs, so results on smaller data sets do
    /// not move.
    /// </summary>
    public const int ApproximateFromRows = 100_000;

    /// <summary>Rows whose comparisons are computed together before their improvements are applied.</summary>
    private const int BlockRows = 16_384;

    /// <summary>Rows per parallel work item: fixed, so that the order of the updates does not depend on the threads.</summary>
    private const int ChunkRows = 256;

    /// <summary>A round that improves fewer than this share of the N·k list entries ends the search (pynndescent's δ).</summary>
    private const double Delta = 0.001;

    private const int MaximumRounds = 30;

    /// <summary>
    /// Rows are dealt to this many owners by their index; an owner alone writes its rows' lists, so the lists of
    /// different owners are updated in parallel, and each list sees its updates in the same order on any threads.
    /// </summary>
    private const int Owners = 16;

    /// <summary>Random projection trees for the start: pynndescent's 5 + N^(1/4), at most 32.</summary>
    private static int Trees(int n) => Math.Min(32, 5 + (int)Math.Round(Math.Pow(n, 0.25)));

    /// <summary>Emits the comparisons of work item <paramref name="item"/> into the lists of their owners.</summary>
    private delegate void Compare(int item, Span<List<Update>> updates);

    /// <summary>
    /// Runs comparisons in blocks: a block's items are compared in parallel against the lists as they stood before the
    /// block, in fixed chunks of items, each chunk sorting what it finds by owner; then each owner applies its updates
    /// in chunk order. Every list sees its updates in item order, whatever the threads.
    /// </summary>
    private sealed class Updates
    {
        private readonly List<Update>[] _lists = Enumerable.Range(0, BlockRows / ChunkRows * Owners).Select(_ => new List<Update>()).ToArray();
        private readonly long[] _improvedBy = new long[Owners];

        /// <summary>Compares items 0 … <paramref name="items"/> − 1 and applies the improvements; returns how many list entries changed.</summary>
        public long Run(int items, NeighbourHeaps heap, ParallelOptions parallel, Compare compare)
        {
            Array.Clear(_improvedBy);
            for (int blockStart = 0; blockStart < items; blockStart += BlockRows)
            {
                int blockEnd = Math.Min(items, blockStart + BlockRows);
                int chunks = (blockEnd - blockStart + ChunkRows - 1) / ChunkRows;
                Parallel.For(0, chunks, parallel, c =>
                {
                    var lists = _lists.AsSpan(c * Owners, Owners);
                    foreach (var list in lists)
                        list.Clear();
                    int end = Math.Min(blockEnd, blockStart + (c + 1) * ChunkRows);
                    for (int u = blockStart + c * ChunkRows; u < end; u++)
                        compare(u, lists);
                });
                Parallel.For(0, Owners, parallel, owner =>
                {
                    long count = 0;
                    for (int c = 0; c < chunks; c++)
                        foreach (var update in CollectionsMarshal.AsSpan(_lists[c * Owners + owner]))
                            if (heap.Push(update.Target, update.Other, update.Distance, isNew: true))
                                count++;
                    _improvedBy[owner] += count;
                });
            }
            return _improvedBy.Sum();
        }
    }

    /// <summary>
    /// A random projection tree: the rows are split recursively by the hyperplane halfway between two random rows of
    /// the node until a node has at most <paramref name="leafSize"/> rows. Returns the rows in leaf order and each
    /// leaf's [start, end) in that order, as pairs. Random choices hash the seed with the node's place.
    /// </summary>
    private static (int[] Order, int[] Leaves) ProjectionTree(float[] rows, int n, int d, int leafSize, ulong seed)
    {
        var order = Enumerable.Range(0, n).ToArray();
        var leaves = new List<int>();
        var normal = new float[d];
        var stack = new Stack<(int Start, int End)>();
        stack.Push((0, n));
        while (stack.Count > 0)
        {
            var (start, end) = stack.Pop();
            int size = end - start;
            if (size <= leafSize)
            {
                leaves.Add(start); leaves.Add(end);
                continue;
            }
            ulong state = Mix(seed ^ Mix(((ulong)start << 32) | (uint)end));
            int a = order[start + (int)(state % (ulong)size)];
            state = Mix(state);
            int b = order[start + (int)(state % (ulong)(size - 1))];
            if (b == a) b = order[end - 1];
            float offset = 0;
            for (int t = 0; t < d; t++)
            {
                float ra = rows[(long)a * d + t], rb = rows[(long)b * d + t];
                normal[t] = ra - rb;
                offset -= normal[t] * (ra + rb) / 2;
            }
            // Partition in place: rows on the positive side first; a row on the plane goes by a hashed coin.
            int left = start, right = end - 1;
            while (left <= right)
            {
                int row = order[left];
                float margin = offset;
                for (int t = 0; t < d; t++)
                    margin += normal[t] * rows[(long)row * d + t];
                bool positive = margin > 0 || (margin == 0 && (Mix(state ^ (ulong)row) & 1) == 0);
                if (positive)
                    left++;
                else
                {
                    (order[left], order[right]) = (order[right], order[left]);
                    right--;
                }
            }
            int split = left;
            // All rows on one side (duplicates): halve the node instead.
            if (split == start || split == end)
                split = start + size / 2;
            stack.Push((split, end));
            stack.Push((start, split));
        }
        return (order, leaves.ToArray());
    }

    /// <summary>One improvement a comparison found: <c>Other</c> is closer to <c>Target</c> than the worst of its list.</summary>
    private readonly record struct Update(int Target, int Other, float Distance);

    /// <inheritdoc cref="Approximate(float[], int, int, int, ulong, CancellationToken, int, out int)"/>
    public static (float[] SquaredDistances, int[] Indices) Approximate(
        float[] rows, int n, int d, int k, ulong seed, CancellationToken cancellation, int threads = 0) =>
        Approximate(rows, n, d, k, seed, cancellation, threads, out _);

    /// <summary>
    /// Each row's <paramref name="k"/> approximate nearest neighbours, itself excluded, as [n, k] row-major lists
    /// sorted by ascending squared Euclidean distance.
    /// </summary>
    /// <param name="rows">The points, [n, d] row-major.</param>
    /// <param name="n">Rows, at least 2.</param>
    /// <param name="d">Values per row.</param>
    /// <param name="k">Neighbours per row, 1 to n − 1.</param>
    /// <param name="seed">Seeds every random choice: the same seed gives the same lists on any number of threads.</param>
    /// <param name="cancellation">Checked between rounds and between work items.</param>
    /// <param name="threads">Threads for the parallel parts (0: all processors); the result does not depend on it.</param>
    /// <param name="rounds">Set to the rounds run, for benchmarks.</param>
    public static (float[] SquaredDistances, int[] Indices) Approximate(
        float[] rows, int n, int d, int k, ulong seed, CancellationToken cancellation, int threads, out int rounds)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (n < 2 || d < 1 || (long)n * d != rows.Length)
            throw new ArgumentException($"Nearest neighbours: expected {n} rows of {d} values (n ≥ 2), found {rows.Length} values.", nameof(rows));
        if (k < 1 || k >= n)
            throw new ArgumentOutOfRangeException(nameof(k), k, $"Nearest neighbours: the neighbour count must be between 1 and the rows − 1 ({n - 1}).");
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = threads > 0 ? threads : Environment.ProcessorCount, CancellationToken = cancellation };
        // Random projection trees: rows that share a leaf are compared with each other, a start far better than random.
        int leafSize = Math.Max(2 * k, 30);
        var forest = new (int[] Order, int[] Leaves)[Trees(n)];
        Parallel.For(0, forest.Length, parallel, tree =>
            forest[tree] = ProjectionTree(rows, n, d, leafSize, Mix(seed ^ (0xD1B54A32D192ED03UL * (ulong)(tree + 1)))));

        // The search runs on a copy of the rows in the first tree's leaf order: rows near in space then sit near in
        // memory, so the comparisons read from cache far more often than in the input's order. Results go back to the
        // input's numbering at the end.
        var original = (int[])forest[0].Order.Clone();
        var position = new int[n];
        for (int p = 0; p < n; p++)
            position[original[p]] = p;
        var local = new float[rows.Length];
        for (int p = 0; p < n; p++)
            Array.Copy(rows, (long)original[p] * d, local, (long)p * d, d);
        foreach (var (order, _) in forest)
            for (int p = 0; p < n; p++)
                order[p] = position[order[p]];
        rows = local;

        var heap = new NeighbourHeaps(n, k);
        // Random start: k distinct random rows per row, each row from its own hashed stream.
        Parallel.For(0, (n + ChunkRows - 1) / ChunkRows, parallel, chunk =>
        {
            int end = Math.Min(n, (chunk + 1) * ChunkRows);
            for (int i = chunk * ChunkRows; i < end; i++)
            {
                ulong state = Mix(seed ^ Mix((ulong)i + 0x5851F42D4C957F2DUL));
                for (int filled = 0, attempts = 0; filled < k && attempts < 64 * k; attempts++)
                {
                    state = Mix(state);
                    int j = (int)(state % (ulong)n);
                    if (j != i && heap.Push(i, j, SquaredDistance(rows, d, i, j), isNew: true))
                        filled++;
                }
            }
        });

        var updates = new Updates();
        foreach (var (order, leaves) in forest)
        {
            cancellation.ThrowIfCancellationRequested();
            updates.Run(leaves.Length / 2, heap, parallel, (leaf, lists) =>
            {
                int start = leaves[2 * leaf], end = leaves[2 * leaf + 1];
                for (int a = start; a < end; a++)
                    for (int b = a + 1; b < end; b++)
                    {
                        int p = order[a], q = order[b];
                        Propose(lists, heap, p, q, SquaredDistance(rows, d, p, q), heap.Worst(p));
                    }
            });
        }
        forest = null;

        // pynndescent's max_candidates: at most min(60, k) new and as many old candidates per row.
        int maxCandidates = Math.Min(60, k);
        var newCandidates = new CandidateLists(n, maxCandidates);
        var oldCandidates = new CandidateLists(n, maxCandidates);
        double stop = Delta * n * k;
        rounds = 0;
        for (int round = 0; round < MaximumRounds; round++)
        {
            cancellation.ThrowIfCancellationRequested();
            rounds++;
            BuildCandidates(heap, newCandidates, oldCandidates, seed, round, parallel);
            long improved = updates.Run(n, heap, parallel, (u, lists) => LocalJoin(u, rows, d, heap, newCandidates, oldCandidates, lists));
            if (improved <= stop)
                break;
        }

        heap.SortRows(parallel);
        // Back to the input's numbering.
        var distances = new float[(long)n * k];
        var indices = new int[(long)n * k];
        Parallel.For(0, (n + ChunkRows - 1) / ChunkRows, parallel, chunk =>
        {
            int end = Math.Min(n, (chunk + 1) * ChunkRows);
            for (int p = chunk * ChunkRows; p < end; p++)
            {
                long to = (long)original[p] * k;
                Array.Copy(heap.Distances, (long)p * k, distances, to, k);
                for (int t = 0; t < k; t++)
                    indices[to + t] = original[heap.Indices[(long)p * k + t]];
            }
        });
        return (distances, indices);
    }

    /// <summary>
    /// Each row's candidates for this round: its neighbours and the rows that list it (reverse neighbours), split into
    /// new (not yet compared) and old, each capped at the candidates with the smallest hashed priority (a seeded random
    /// sample). New neighbours that made it into the sample are marked old, so they are compared once as new.
    /// A row's list takes its own neighbours first, then its reverse neighbours in row order; each owner fills its
    /// rows' lists, so the order, and with it the result, is the same on any threads.
    /// </summary>
    private static void BuildCandidates(NeighbourHeaps heap, CandidateLists fresh, CandidateLists old, ulong seed, int round, ParallelOptions parallel)
    {
        fresh.Clear();
        old.Clear();
        int n = heap.Rows, k = heap.K;
        ulong roundSeed = Mix(seed + 0x9E3779B97F4A7C15UL * (ulong)(round + 1));
        Parallel.For(0, Owners, parallel, owner =>
        {
            for (int i = owner; i < n; i += Owners)
            {
                for (int t = 0; t < k; t++)
                {
                    int j = heap.Indices[i * k + t];
                    if (j >= 0)
                        (heap.IsNew[i * k + t] ? fresh : old).Push(i, j, Priority(roundSeed, i, j));
                }
            }
            for (int i = 0; i < n; i++)
            {
                for (int t = 0; t < k; t++)
                {
                    int j = heap.Indices[i * k + t];
                    if (j >= 0 && j % Owners == owner)
                        (heap.IsNew[i * k + t] ? fresh : old).Push(j, i, Priority(roundSeed, i, j));
                }
            }
        });
        // Only once every owner has read the flags.
        Parallel.For(0, Owners, parallel, owner =>
        {
            for (int i = owner; i < n; i += Owners)
            {
                for (int t = 0; t < k; t++)
                {
                    if (heap.IsNew[i * k + t] && fresh.Contains(i, heap.Indices[i * k + t]))
                        heap.IsNew[i * k + t] = false;
                }
            }
        });
    }

    /// <summary>Compares row u's new candidates with each other and with its old ones, keeping the pairs that would improve a list.</summary>
    private static void LocalJoin(int u, float[] rows, int d, NeighbourHeaps heap, CandidateLists fresh, CandidateLists old, Span<List<Update>> updates)
    {
        var newList = fresh.Of(u);
        var oldList = old.Of(u);
        for (int a = 0; a < newList.Length; a++)
        {
            int p = newList[a];
            float worstP = heap.Worst(p);
            for (int b = a + 1; b < newList.Length; b++)
            {
                int q = newList[b];
                if (p == q) continue;
                float distance = SquaredDistance(rows, d, p, q);
                Propose(updates, heap, p, q, distance, worstP);
            }
            foreach (int q in oldList)
            {
                if (p == q) continue;
                float distance = SquaredDistance(rows, d, p, q);
                Propose(updates, heap, p, q, distance, worstP);
            }
        }
    }

    /// <summary>Queues q for p's list and p for q's, each only if it beats that list's worst as the lists stood before the block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Propose(Span<List<Update>> updates, NeighbourHeaps heap, int p, int q, float distance, float worstP)
    {
        if (distance < worstP)
            updates[p % Owners].Add(new Update(p, q, distance));
        if (distance < heap.Worst(q))
            updates[q % Owners].Add(new Update(q, p, distance));
    }

    /// <summary>The squared Euclidean distance between rows i and j of the [n, d] row-major <paramref name="rows"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float SquaredDistance(float[] rows, int d, int i, int j)
    {
        ref float a = ref rows[(long)i * d];
        ref float b = ref rows[(long)j * d];
        int t = 0;
        float sum = 0;
        if (Vector256.IsHardwareAccelerated && d >= 8)
        {
            var acc = Vector256<float>.Zero;
            for (; t <= d - 8; t += 8)
            {
                var diff = Vector256.LoadUnsafe(ref a, (nuint)t) - Vector256.LoadUnsafe(ref b, (nuint)t);
                acc += diff * diff;
            }
            sum = Vector256.Sum(acc);
        }
        for (; t < d; t++)
        {
            float diff = Unsafe.Add(ref a, t) - Unsafe.Add(ref b, t);
            sum += diff * diff;
        }
        return sum;
    }

    /// <summary>SplitMix64's finaliser: a well-mixed 64-bit hash of <paramref name="x"/>.</summary>
    internal static ulong Mix(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    /// <summary>A random priority for the pair (i, j) in one round, the same from both ends.</summary>
    private static float Priority(ulong roundSeed, int i, int j)
    {
        ulong low = (ulong)Math.Min(i, j), high = (ulong)Math.Max(i, j);
        return (Mix(roundSeed ^ Mix((high << 32) | low)) >> 40) / (float)(1 << 24);
    }

    /// <summary>
    /// Every row's current neighbours as a bounded max-heap on the squared distance (the worst at the root), with a
    /// flag per entry that says whether it has been compared as a new candidate yet. Empty slots hold index −1 at +∞.
    /// </summary>
    private sealed class NeighbourHeaps
    {
        public readonly int Rows, K;
        public readonly float[] Distances;
        public readonly int[] Indices;
        public readonly bool[] IsNew;

        public NeighbourHeaps(int rows, int k)
        {
            Rows = rows;
            K = k;
            Distances = new float[(long)rows * k];
            Indices = new int[(long)rows * k];
            IsNew = new bool[(long)rows * k];
            Array.Fill(Distances, float.PositiveInfinity);
            Array.Fill(Indices, -1);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float Worst(int row) => Distances[row * K];

        /// <summary>Puts j in row i's list if it is closer than the worst there and not listed yet.</summary>
        public bool Push(int i, int j, float distance, bool isNew)
        {
            int start = i * K;
            if (distance >= Distances[start])
                return false;
            var indices = Indices.AsSpan(start, K);
            if (indices.Contains(j))
                return false;
            var distances = Distances.AsSpan(start, K);
            var flags = IsNew.AsSpan(start, K);
            // Replace the root and sift it down.
            int at = 0;
            while (true)
            {
                int left = 2 * at + 1, right = left + 1, swap;
                if (left >= K)
                    break;
                swap = right >= K || distances[left] >= distances[right] ? left : right;
                if (distances[swap] <= distance)
                    break;
                distances[at] = distances[swap];
                indices[at] = indices[swap];
                flags[at] = flags[swap];
                at = swap;
            }
            distances[at] = distance;
            indices[at] = j;
            flags[at] = isNew;
            return true;
        }

        /// <summary>Sorts each row's list by ascending distance (then index, so ties have one order).</summary>
        public void SortRows(ParallelOptions parallel)
        {
            Parallel.For(0, (Rows + ChunkRows - 1) / ChunkRows, parallel, chunk =>
            {
                int end = Math.Min(Rows, (chunk + 1) * ChunkRows);
                var order = new (float, int)[K];
                for (int i = chunk * ChunkRows; i < end; i++)
                {
                    for (int t = 0; t < K; t++)
                        order[t] = (Distances[i * K + t], Indices[i * K + t]);
                    Array.Sort(order);
                    for (int t = 0; t < K; t++)
                        (Distances[i * K + t], Indices[i * K + t]) = order[t];
                }
            });
        }
    }

    /// <summary>Per row, up to <c>capacity</c> candidate rows with the smallest priorities (a max-heap on the priority).</summary>
    private sealed class CandidateLists(int rows, int capacity)
    {
        private readonly int[] _indices = new int[(long)rows * capacity];
        private readonly float[] _priorities = new float[(long)rows * capacity];
        private readonly int[] _counts = new int[rows];

        public void Clear() => Array.Clear(_counts);

        public ReadOnlySpan<int> Of(int row) => _indices.AsSpan(row * capacity, _counts[row]);

        public bool Contains(int row, int j) => Of(row).Contains(j);

        public void Push(int row, int j, float priority)
        {
            int start = row * capacity, count = _counts[row];
            var indices = _indices.AsSpan(start, capacity);
            var priorities = _priorities.AsSpan(start, capacity);
            if (indices[..count].Contains(j))
                return;
            if (count < capacity)
            {
                // Sift up from the end.
                int at = count;
                while (at > 0)
                {
                    int parent = (at - 1) / 2;
                    if (priorities[parent] >= priority)
                        break;
                    priorities[at] = priorities[parent];
                    indices[at] = indices[parent];
                    at = parent;
                }
                priorities[at] = priority;
                indices[at] = j;
                _counts[row] = count + 1;
                return;
            }
            if (priority >= priorities[0])
                return;
            int node = 0;
            while (true)
            {
                int left = 2 * node + 1, right = left + 1;
                if (left >= capacity)
                    break;
                int swap = right >= capacity || priorities[left] >= priorities[right] ? left : right;
                if (priorities[swap] <= priority)
                    break;
                priorities[node] = priorities[swap];
                indices[node] = indices[swap];
                node = swap;
            }
            priorities[node] = priority;
            indices[node] = j;
        }
    }
}
