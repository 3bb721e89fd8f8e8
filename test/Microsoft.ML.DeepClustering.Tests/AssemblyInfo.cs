// Trainings use every core through libtorch's OpenMP threads; two at once would spin-wait on each other.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]
