namespace Microsoft.ML.DeepClustering.Optimizers;

/// <summary>The step size of a step under a <see cref="LearningRateSchedule"/>.</summary>
internal static class LearningRateSchedules
{
    /// <param name="schedule">The schedule.</param>
    /// <param name="initialRate">The rate of step 0.</param>
    /// <param name="step">0-based step about to be taken.</param>
    /// <param name="totalSteps">Steps the schedule spans (the cap); the cosine reaches 0 there.</param>
    public static double Rate(LearningRateSchedule schedule, double initialRate, long step, long totalSteps) => schedule switch
    {
        LearningRateSchedule.Constant => initialRate,
        // Half a cosine period over the cap: large steps while the clusters still move, ever smaller ones as they settle.
        LearningRateSchedule.Cosine => initialRate * 0.5 * (1 + Math.Cos(Math.PI * Math.Min(step, totalSteps) / Math.Max(totalSteps, 1))),
        _ => throw new ArgumentOutOfRangeException(nameof(schedule), schedule, null),
    };
}
