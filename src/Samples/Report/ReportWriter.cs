using System.Diagnostics;
using Microsoft.ML.Data;
using Microsoft.ML.DeepClustering.Samples.Input;
using Microsoft.ML.DeepClustering.Samples.Report.Pictures;

namespace Microsoft.ML.DeepClustering.Samples.Report;

/// <summary>
/// Writes the report folder: models, assignments.csv, the pictures, metrics.json and, last, report.html.
/// Each file is written under a temporary name and renamed into place, so nothing half-written ever carries a
/// final name; report.html comes last and names only the files of this run.
/// </summary>
public static class ReportWriter
{
    public const string HtmlFile = "report.html";
    public const string MetricsFile = "metrics.json";
    public const string AssignmentsFile = "assignments.csv";
    public const string ModelFile = "model.zip";
    public const string OnnxFile = "model.onnx";
    public const string MontageFile = "clusters.png";
    public const string CentroidsFile = "centroids.png";
    public const string ConfusionFile = "confusion-matrix.png";
    public const string EmbeddingFile = "embedding.png";
    public const string CurvesFile = "training-curves.png";
    public const string ClusterCountFile = "choose-k.png";
    public const string RunnerUpMontageFile = "clusters-runner-up.png";

    /// <summary>
    /// Files an earlier run may have left that this run would not rewrite: removed so that the folder never mixes
    /// two runs. Models are never removed (--score may be reading out/model.zip).
    /// </summary>
    private static readonly string[] Replaceable = { AssignmentsFile, MontageFile, CentroidsFile, ConfusionFile, EmbeddingFile, CurvesFile, ClusterCountFile, RunnerUpMontageFile };

    public static ReportResult Write(ReportRequest request, CancellationToken cancellation = default)
    {
        var clock = Stopwatch.StartNew();
        string directory = Path.GetFullPath(request.OutputDirectory);
        Directory.CreateDirectory(directory);
        string PathOf(string name) => Path.Combine(directory, name);
        var files = new List<ReportFile>();
        var input = request.Input;
        bool withLabels = input.Labels is not null;

        // The model first: after a long training it is the most valuable thing to keep.
        if (request.ModelToSave is not null && request.ModelInputSchema is not null)
        {
            AtomicFile.Write(PathOf(ModelFile), s => request.MLContext.Model.Save(request.ModelToSave, request.ModelInputSchema, s));
            files.Add(new ReportFile(ModelFile, "ML.NET model", "mlContext.Model.Load(\"model.zip\", out _) assigns new data; --score model.zip does it here.", false));
            if (request.ExtraModelPath is not null && Path.GetFullPath(request.ExtraModelPath) != PathOf(ModelFile))
                AtomicFile.Copy(PathOf(ModelFile), request.ExtraModelPath);
        }
        if (request.Model is not null)
        {
            AtomicFile.Write(PathOf(OnnxFile), request.Model.ExportOnnx);
            files.Add(new ReportFile(OnnxFile, "ONNX model", "The network and the cluster assignment as a standalone ONNX graph (Features → Embedding, SoftAssignment, Score, PredictedClusterId).", false));
        }

        ScoredRows? rows = null;
        ClusteringQualityMetrics? quality = null;
        ClusteringMetrics? mlnet = null;
        if (request.Scored is not null)
        {
            rows = request.Rows ?? ScoredRows.Read(request.Scored, withLabels, cancellation);
            AssignmentsCsv.Write(PathOf(AssignmentsFile), rows, input);
            files.Add(new ReportFile(AssignmentsFile, "Assignments", "One line per image: cluster id, top soft-assignment probability" + (withLabels ? ", true label." : "."), false));

            if (rows.Labels is not null)
                quality = ClusteringQuality.Evaluate(rows.Labels, rows.ClusterIds);
            mlnet = EvaluateWithMlNet(request.MLContext, rows);
            cancellation.ThrowIfCancellationRequested();

            WriteMontage(request, rows, quality, PathOf(MontageFile));
            files.Add(new ReportFile(MontageFile, "Samples of each cluster",
                $"Up to {ClusterMontage.SamplesPerCluster} members of each cluster, drawn at random" + (input.HasPhotoFeatures ? ": the image files themselves, shrunk." : "."), true));

            // ResNet18's features decode to features, not to a picture.
            if (request.Model is not null && !input.HasPhotoFeatures)
            {
                var decoded = request.Model.DecodeCentroids();
                var sizes = rows.ClusterSizes();
                using var picture = CentroidGallery.Draw(decoded, input.Shape, sizes, id => MajorityCaption(quality, input.Labels, id));
                Drawing.SavePng(picture, PathOf(CentroidsFile));
                files.Add(new ReportFile(CentroidsFile, "Decoded centroids", "Each cluster centre mapped back to pixels through the trained decoder: the model's typical member of each cluster.", true));
            }

            if (quality is not null)
            {
                using var picture = ConfusionMatrixPicture.Draw(quality.ConfusionMatrix, input.Labels!);
                Drawing.SavePng(picture, PathOf(ConfusionFile));
                files.Add(new ReportFile(ConfusionFile, "Clusters × true classes", "How each cluster splits over the true classes. Rows are ordered by matched class, so a good clustering shows a diagonal; outlined cells are the one-to-one matching behind ACC.", true));
            }

            cancellation.ThrowIfCancellationRequested();
            using (var picture = EmbeddingMap.Draw(rows.Embeddings, rows.ClusterIds, request.Model?.Centroids, rows.ClusterSizes(), request.Run.Seed))
                Drawing.SavePng(picture, PathOf(EmbeddingFile));
            files.Add(new ReportFile(EmbeddingFile, "Embedding map", $"The learned embedding projected to 2-D by PCA (at most {EmbeddingMap.MaxPoints:N0} points), coloured by cluster. Numbered discs: " +
                (request.Model is not null ? "the centroids." : "each cluster's mean (a saved model does not expose its centroids)."), true));
        }

        if (request.Curves is { } curves)
        {
            using var picture = TrainingCurvesPicture.Draw(curves, request.Run.Cancelled);
            Drawing.SavePng(picture, PathOf(CurvesFile));
            files.Add(new ReportFile(CurvesFile, "Training curves", "Left: reconstruction MSE per pretraining epoch. Right: share of rows changing cluster at each self-training update (log scale) against the stopping tolerance.", true));
        }
        if (request.Model?.History is { ClusterCountCandidates.Count: > 0, ClusterCountCriterion: ClusterCountCriterion criterion } chose)
        {
            using var picture = ClusterCountPicture.Draw(chose.ClusterCountCandidates, criterion);
            Drawing.SavePng(picture, PathOf(ClusterCountFile));
            int k = chose.ClusterCountCandidates.Single(c => c.Chosen).NumberOfClusters;
            files.Add(new ReportFile(ClusterCountFile, "Choosing K",
                $"K = {k} is what the {ClusterCountPicture.Name(criterion)} of the pretrained embedding suggests among {chose.ClusterCountCandidates.Count} candidates: a suggestion from the data, not a fact about it. Check the samples of each cluster, and fix K with --k if another number suits your purpose.", true));
        }

        if (rows is not null && request.Model?.History is { ClusterCountCandidates.Count: > 1, ClusterCountCriterion: ClusterCountCriterion runnerUpCriterion } history
            && RunnerUp(history.ClusterCountCandidates, runnerUpCriterion) is { } runnerUp && runnerUp.NumberOfClusters <= rows.Count)
        {
            // The evidence for the user's own choice: what the second-best K's clusters look like beside the pick's.
            var alternative = ClustersAt(rows, runnerUp.NumberOfClusters, request.Run.Seed);
            var alternativeQuality = alternative.Labels is null ? null : ClusteringQuality.Evaluate(alternative.Labels, alternative.ClusterIds);
            WriteMontage(request, alternative, alternativeQuality, PathOf(RunnerUpMontageFile));
            int chosenK = history.ClusterCountCandidates.Single(c => c.Chosen).NumberOfClusters;
            files.Add(new ReportFile(RunnerUpMontageFile, $"Samples at the runner-up, K = {runnerUp.NumberOfClusters}",
                $"The candidate the {ClusterCountPicture.Name(runnerUpCriterion)} ranks second ({Drawing.Format(runnerUp.Score, "0.###")}), its {runnerUp.NumberOfClusters} clusters found by k-means in the final embedding" +
                (alternativeQuality is null ? "" : $" (ACC {Drawing.Format(alternativeQuality.Accuracy, "0.000")})") +
                $". Compare with the samples at K = {chosenK} above, and fix K with --k {runnerUp.NumberOfClusters} if these suit your purpose better.", true));
        }

        foreach (string stale in Replaceable.Where(name => files.All(f => f.Name != name)))
            TryDelete(PathOf(stale));

        var timings = request.Run.Timings.ToList();
        timings.Add(("report", clock.Elapsed));
        if (request.Run.Clock is { } total)
            timings.Add(("total", total.Elapsed));
        var content = new ReportContent(request, rows, quality, mlnet, files, timings);

        AtomicFile.WriteText(PathOf(MetricsFile), MetricsJson.Build(content));
        files.Add(new ReportFile(MetricsFile, "Metrics", "Every number of this page, machine-readable.", false));
        AtomicFile.WriteText(PathOf(HtmlFile), HtmlReport.Build(content));

        return new ReportResult
        {
            Directory = directory,
            HtmlPath = PathOf(HtmlFile),
            Files = files,
            Quality = quality,
            DaviesBouldinIndex = mlnet?.DaviesBouldinIndex,
            ClusterSizes = rows?.ClusterSizes(),
            Rows = rows?.Count ?? 0,
        };
    }

    /// <summary>"mostly 7 (94%)": the majority class of a cluster and its share, when labels are known.</summary>
    internal static string? MajorityCaption(ClusteringQualityMetrics? quality, LabelSet? labels, int clusterId)
    {
        if (quality is null || labels is null)
            return null;
        var matrix = quality.ConfusionMatrix;
        int i = matrix.ClusterIds.ToList().IndexOf(clusterId);
        if (i < 0 || matrix.ClusterSizes[i] == 0)
            return null;
        int best = Enumerable.Range(0, matrix.ClassLabels.Count).MaxBy(j => matrix[i, j]);
        double share = (double)matrix[i, best] / matrix.ClusterSizes[i];
        return $"mostly {labels.NameOf(matrix.ClassLabels[best])} ({Drawing.Percent(share)})";
    }

    /// <summary>The best candidate but the chosen one, by the criterion's direction (Davies–Bouldin: lowest); null if none has a finite score.</summary>
    internal static ClusterCountCandidate? RunnerUp(IReadOnlyList<ClusterCountCandidate> candidates, ClusterCountCriterion criterion)
    {
        var others = candidates.Where(c => !c.Chosen && double.IsFinite(c.Score));
        return criterion == ClusterCountCriterion.DaviesBouldin ? others.MinBy(c => c.Score) : others.MaxBy(c => c.Score);
    }

    /// <summary>
    /// <paramref name="k"/> clusters of the rows' embedding by ML.NET's k-means (k-means++, one thread, seeded), as
    /// rows for the montage: the final model has centroids for its own K only.
    /// </summary>
    private static ScoredRows ClustersAt(ScoredRows rows, int k, int seed)
    {
        var ml = new MLContext(seed);
        var definition = SchemaDefinition.Create(typeof(EvaluationRow));
        definition[nameof(EvaluationRow.Score)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, rows.NumberOfClusters);
        definition[nameof(EvaluationRow.Embedding)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, rows.Embeddings[0].Length);
        var data = ml.Data.LoadFromEnumerable(
            Enumerable.Range(0, rows.Count).Select(i => new EvaluationRow { Score = rows.Scores[i], Embedding = rows.Embeddings[i] }), definition);
        var kmeans = ml.Clustering.Trainers.KMeans(new Microsoft.ML.Trainers.KMeansTrainer.Options
        {
            FeatureColumnName = nameof(EvaluationRow.Embedding),
            NumberOfClusters = k,
            NumberOfThreads = 1,
            InitializationAlgorithm = Microsoft.ML.Trainers.KMeansTrainer.InitializationAlgorithm.KMeansPlusPlus,
        });
        var assigned = kmeans.Fit(data).Transform(data);
        var ids = assigned.GetColumn<uint>("PredictedLabel").Select(id => (int)id).ToArray();
        return new ScoredRows
        {
            NumberOfClusters = k,
            ClusterIds = ids,
            TopProbabilities = rows.TopProbabilities,
            Embeddings = rows.Embeddings,
            Scores = rows.Scores,
            Labels = rows.Labels,
        };
    }

    /// <summary>
    /// ML.NET's own clustering evaluator: Davies–Bouldin index and average distance in the embedding, and its NMI
    /// when labels are known (without labels it is given no label column and reports no NMI). It runs on the rows
    /// already read rather than on the scored view, which would run the model (and decode every image) once more.
    /// </summary>
    private static ClusteringMetrics? EvaluateWithMlNet(MLContext mlContext, ScoredRows rows)
    {
        if (rows.Count < 2)
            return null;
        var definition = SchemaDefinition.Create(typeof(EvaluationRow));
        definition[nameof(EvaluationRow.Score)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, rows.NumberOfClusters);
        definition[nameof(EvaluationRow.Embedding)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, rows.Embeddings[0].Length);
        var data = mlContext.Data.LoadFromEnumerable(
            Enumerable.Range(0, rows.Count).Select(i => new EvaluationRow
            {
                Label = rows.Labels?[i] ?? 0,
                Score = rows.Scores[i],
                Embedding = rows.Embeddings[i],
            }),
            definition);
        return mlContext.Clustering.Evaluate(data, rows.Labels is null ? null : nameof(EvaluationRow.Label),
            nameof(EvaluationRow.Score), featureColumnName: nameof(EvaluationRow.Embedding));
    }

    private sealed class EvaluationRow
    {
        public float Label { get; set; }
        public float[] Score { get; set; } = [];
        public float[] Embedding { get; set; } = [];
    }

    private static void WriteMontage(ReportRequest request, ScoredRows rows, ClusteringQualityMetrics? quality, string path)
    {
        // A seeded random pick per cluster: the montage is the same for the same run.
        var random = new Random(request.Run.Seed);
        var members = Enumerable.Range(1, rows.NumberOfClusters).ToDictionary(id => id, _ => new List<int>());
        for (int i = 0; i < rows.Count; i++)
            members[rows.ClusterIds[i]].Add(i);
        var picked = members.ToDictionary(m => m.Key,
            m => m.Value.OrderBy(_ => random.Next()).Take(ClusterMontage.SamplesPerCluster).Order().ToList());
        var input = request.Input;
        var rowsToDraw = picked.Values.SelectMany(p => p).ToHashSet();
        // Photo features are not pixels: draw the files. Pixel features are what the model saw: draw those.
        var pictures = input.HasPhotoFeatures && input.FilePaths is { } paths
            ? rowsToDraw.ToDictionary(i => i, i => Thumbnail.Load(paths[i]))
            : ScoredRows.ReadFeatures(request.Scored!, rowsToDraw).ToDictionary(p => p.Key, p => Drawing.ToBitmap(p.Value, input.Shape));
        try
        {
            var sizes = rows.ClusterSizes();
            var samples = picked.OrderBy(p => p.Key)
                .Select(p => new ClusterSamples(p.Key, sizes[p.Key - 1], p.Value.Select(i => pictures[i]).ToList(),
                    MajorityCaption(quality, input.Labels, p.Key)))
                .ToList();
            using var picture = ClusterMontage.Draw(samples, input.HasPhotoFeatures ? Thumbnail.Side : Drawing.DisplaySize(input.Shape));
            Drawing.SavePng(picture, path);
        }
        finally
        {
            foreach (var bitmap in pictures.Values)
                bitmap.Dispose();
        }
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>What metrics.json and report.html are both built from.</summary>
internal sealed record ReportContent(
    ReportRequest Request,
    ScoredRows? Rows,
    ClusteringQualityMetrics? Quality,
    ClusteringMetrics? MlNet,
    IReadOnlyList<ReportFile> Files,
    IReadOnlyList<(string Stage, TimeSpan Time)> Timings);
