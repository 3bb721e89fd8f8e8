using Spectre.Console;

namespace Microsoft.ML.DeepClustering.Samples.Progress;

/// <summary>Shows training as it goes: live bars on a terminal, plain lines otherwise (CI logs, redirects).</summary>
public abstract class TrainingDisplay
{
    /// <summary>Live bars only where they can be redrawn in place: an interactive terminal with ANSI support.</summary>
    public static TrainingDisplay For(IAnsiConsole console) =>
        console.Profile.Capabilities.Interactive && console.Profile.Capabilities.Ansi
            ? new LiveTrainingDisplay(console)
            : new PlainTrainingDisplay(console);

    /// <summary>
    /// Runs <paramref name="train"/> (which calls Fit with the given progress sink) while showing its reports.
    /// <paramref name="readingWhat"/> names the work done before the first report (reading/decoding the input).
    /// </summary>
    public abstract T Run<T>(DeepClusterOptions options, string readingWhat, Func<IProgress<DeepClusterProgress>, T> train);
}

/// <summary>Spectre.Console progress bars, one per stage, with the loss or label-change fraction in the description.</summary>
internal sealed class LiveTrainingDisplay(IAnsiConsole console) : TrainingDisplay
{
    public override T Run<T>(DeepClusterOptions options, string readingWhat, Func<IProgress<DeepClusterProgress>, T> train) =>
        console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                var bars = new Bars(context, options, readingWhat);
                T result;
                try
                {
                    result = train(new SynchronousProgress<DeepClusterProgress>(bars.Show));
                }
                catch
                {
                    // Cancelled or failed: freeze the bars where training stopped (no spinner left turning).
                    bars.StopAll();
                    throw;
                }
                // Self-training may stop (converge) long before its step cap: fill every bar once Fit has returned.
                // After a cancellation the bars stay where training stopped.
                bars.FinishAll();
                return result;
            });

    private sealed class Bars
    {
        private readonly ProgressTask _reading;
        private readonly ProgressTask _pretraining;
        private readonly ProgressTask _seeding;
        private readonly ProgressTask? _selfTraining;

        public Bars(ProgressContext context, DeepClusterOptions options, string readingWhat)
        {
            // Reading the input (decoding every image of a folder) comes before the first report: show it as
            // indeterminate work, so the screen does not look frozen.
            _reading = context.AddTask(Markup.Escape(readingWhat), maxValue: 1);
            _reading.IsIndeterminate = true;
            // Pretraining starts together with reading: its clock then shows the whole first epoch.
            _pretraining = context.AddTask("Pretraining", autoStart: true, maxValue: Math.Max(1, options.PretrainEpochs));
            _seeding = context.AddTask("k-means", autoStart: false, maxValue: options.KMeansInitializations);
            if (options.MaxIterations > 0)
                _selfTraining = context.AddTask("Self-training", autoStart: false, maxValue: options.MaxIterations);
        }

        public void Show(DeepClusterProgress report)
        {
            Finish(_reading);
            switch (report.Stage)
            {
                case DeepClusterStage.Pretraining:
                    Advance(_pretraining, report.Step, $"Pretraining   epoch {report.Step}/{report.TotalSteps}  MSE {report.Loss:G4}");
                    if (report.Step >= report.TotalSteps)
                        StartNext(_pretraining, _seeding);
                    break;
                case DeepClusterStage.Seeding:
                    StartNext(_pretraining, _seeding);
                    Advance(_seeding, report.Step, $"k-means       restart {report.Step}/{report.TotalSteps}  inertia {report.Loss:G5}");
                    if (report.Step >= report.TotalSteps && _selfTraining is not null)
                        StartNext(_seeding, _selfTraining);
                    break;
                case DeepClusterStage.SelfTraining when _selfTraining is not null:
                    StartNext(_seeding, _selfTraining);
                    Advance(_selfTraining, report.Step,
                        $"Self-training step {report.Step}/{report.TotalSteps}  labels changed {(report.LabelChangeFraction ?? 0) * 100:0.00}%");
                    break;
            }
        }

        /// <summary>
        /// A stage ends with its last report, and the next one starts right then: each bar's clock shows the
        /// whole stage, not the stage minus its first step.
        /// </summary>
        private static void StartNext(ProgressTask finished, ProgressTask next)
        {
            Finish(finished);
            if (!next.IsStarted)
                next.StartTask();
        }

        public void StopAll()
        {
            foreach (var task in new[] { _reading, _pretraining, _seeding, _selfTraining })
                if (task is { IsStarted: true, StopTime: null })
                {
                    task.IsIndeterminate = false;
                    task.StopTask();
                }
        }

        public void FinishAll()
        {
            foreach (var task in new[] { _reading, _pretraining, _seeding, _selfTraining })
                if (task is not null)
                    Finish(task);
        }

        private static void Advance(ProgressTask task, int value, string description)
        {
            if (!task.IsStarted)
                task.StartTask();
            task.Description = Markup.Escape(description);
            task.Value = value;
        }

        /// <summary>Fills a bar when its stage has ended (self-training may converge before its step cap).</summary>
        private static void Finish(ProgressTask task)
        {
            // Not IsFinished: that turns true as soon as Value reaches MaxValue, and the elapsed clock of a task
            // only stops with StopTask.
            if (task.StopTime is not null)
                return;
            if (!task.IsStarted)
                task.StartTask();
            task.IsIndeterminate = false;
            task.Value = task.MaxValue;
            task.StopTask();
        }
    }
}

/// <summary>One line per report, for logs: every epoch, k-means restart and target update.</summary>
internal sealed class PlainTrainingDisplay(IAnsiConsole console) : TrainingDisplay
{
    public override T Run<T>(DeepClusterOptions options, string readingWhat, Func<IProgress<DeepClusterProgress>, T> train)
    {
        console.WriteLine(readingWhat + "...");
        return train(new SynchronousProgress<DeepClusterProgress>(report => console.WriteLine("  " + report)));
    }
}
