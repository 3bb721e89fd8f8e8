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

    /// <summary>
    /// Runs <paramref name="work"/>, which reports how many of <paramref name="total"/> items it has done, showing
    /// "Featurizing 300/1,000 images, 25/s" (<paramref name="verb"/>, <paramref name="unit"/>) as it goes.
    /// </summary>
    public abstract T RunCounted<T>(string verb, int total, string unit, Func<IProgress<int>, T> work);

    /// <summary>
    /// "Featurizing 300/1,000 images, 25/s, 28.0 s left": the rate counts from the first item done, since the first one also pays
    /// for loading the network (seconds, against tens of milliseconds for each next one).
    /// </summary>
    internal sealed class CountLine(string verb, int total, string unit)
    {
        private readonly System.Diagnostics.Stopwatch _sinceFirst = new();
        private int _firstDone;

        public string For(int done)
        {
            if (done >= 1 && !_sinceFirst.IsRunning)
            {
                _sinceFirst.Start();
                _firstDone = done;   // a batch: several items at the first report
            }
            double seconds = _sinceFirst.Elapsed.TotalSeconds;
            double perSecond = done > _firstDone && seconds > 0 ? (done - _firstDone) / seconds : 0;
            string rate = perSecond > 0 ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $", {perSecond:0.#}/s") : "";
            if (perSecond > 0 && done < total)
                rate += ", " + ClusteringRun.FormatTime(TimeSpan.FromSeconds((total - done) / perSecond)) + " left";
            return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{verb} {done:N0}/{total:N0} {unit}{rate}");
        }
    }
}

/// <summary>Spectre.Console progress bars, one per stage, with the loss or label-change fraction in the description.</summary>
internal sealed class LiveTrainingDisplay(IAnsiConsole console) : TrainingDisplay
{
    /// <summary>Bars that stay on screen when done: description, bar, percentage, elapsed time, spinner.</summary>
    private Spectre.Console.Progress ProgressBars() =>
        console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new SpinnerColumn());

    public override T Run<T>(DeepClusterOptions options, string readingWhat, Func<IProgress<DeepClusterProgress>, T> train) =>
        ProgressBars()
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

    public override T RunCounted<T>(string verb, int total, string unit, Func<IProgress<int>, T> work) =>
        ProgressBars()
            .Start(context =>
            {
                var line = new CountLine(verb, total, unit);
                var task = context.AddTask(Markup.Escape(line.For(0)), maxValue: Math.Max(1, total));
                try
                {
                    var result = work(new SynchronousProgress<int>(done =>
                    {
                        task.Description = Markup.Escape(line.For(done));
                        task.Value = done;
                    }));
                    task.Value = task.MaxValue;
                    return result;
                }
                finally
                {
                    task.StopTask();
                }
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
                    _pretraining.MaxValue = Math.Max(1, report.TotalSteps);
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

    /// <summary>A line at every tenth of the work and at its end: enough to see the rate in a log, few enough to read.</summary>
    public override T RunCounted<T>(string verb, int total, string unit, Func<IProgress<int>, T> work)
    {
        var line = new CountLine(verb, total, unit);
        int shownTenths = 0;
        return work(new SynchronousProgress<int>(done =>
        {
            string text = line.For(done);
            int tenths = total > 0 ? done * 10 / total : 10;
            if (tenths <= shownTenths)
                return;
            shownTenths = tenths;
            console.WriteLine("  " + text);
        }));
    }
}
