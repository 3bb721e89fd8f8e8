using System.Text.Json;
using System.Text.Json.Nodes;

namespace Microsoft.ML.DeepClustering.Samples.Report;

/// <summary>
/// metrics.json: the run's numbers for scripts and comparisons. Property names are the library's (Accuracy,
/// NormalizedMutualInformation, ...); a number that cannot be computed (no labels, NaN) is left out or null,
/// never a made-up value.
/// </summary>
internal static class MetricsJson
{
    public static string Build(ReportContent content)
    {
        var request = content.Request;
        var run = request.Run;
        var input = request.Input;
        var json = new JsonObject
        {
            ["Status"] = run.Cancelled ? "cancelled" : "completed",
        };
        if (run.CancelledDuring is not null)
            json["CancelledDuring"] = run.CancelledDuring;
        json["Mode"] = run.Mode;
        json["Input"] = input.Description;
        if (input.FeatureChoice is { } features)
            json["Features"] = Input.FeatureChoice.NameOf(features.Route);
        if (input.Backbone is { } backbone)
        {
            json["Backbone"] = new JsonObject
            {
                ["File"] = backbone.Inspection.ModelPath,
                ["Sha256"] = backbone.Inspection.Sha256,
                ["Input"] = backbone.Inspection.InputName,
                ["ImageWidth"] = backbone.Inspection.ImageWidth,
                ["ImageHeight"] = backbone.Inspection.ImageHeight,
                ["ChannelsLast"] = backbone.Inspection.ChannelsLast,
                ["Output"] = backbone.Inspection.Output.Name,
                ["OutputKind"] = backbone.Inspection.OutputKind,
                ["FeatureCount"] = backbone.FeatureCount,
                ["Normalization"] = backbone.Normalization,
            };
        }
        json["Rows"] = content.Rows?.Count ?? input.Count;
        if (input.Skipped.Count > 0)
            json["SkippedUnreadable"] = new JsonArray(input.Skipped.Select(p => (JsonNode?)p).ToArray());
        if (input.Shard is var (shardIndex, shardCount))
            json["Shard"] = $"{shardIndex}/{shardCount}";

        int? k = content.Rows?.NumberOfClusters ?? run.Options?.NumberOfClusters;
        if (k is not null)
            json["NumberOfClusters"] = k;
        if (input.Labels is not null)
            json["NumberOfClasses"] = content.Quality?.NumberOfClasses ?? input.Labels.Count;

        if (content.Quality is { } q)
        {
            json["Accuracy"] = Number(q.Accuracy);
            json["NormalizedMutualInformation"] = Number(q.NormalizedMutualInformation);
            json["AdjustedRandIndex"] = Number(q.AdjustedRandIndex);
            json["Purity"] = Number(q.Purity);
        }
        else if (content.Rows is not null)
        {
            json["LabelMetrics"] = "not computed: the input has no labels";
        }
        if (content.MlNet is { } m)
        {
            json["DaviesBouldinIndex"] = Number(m.DaviesBouldinIndex);
            json["AverageDistance"] = Number(m.AverageDistance);
            if (input.Labels is not null)
                json["MlNetNormalizedMutualInformation"] = Number(m.NormalizedMutualInformation);
        }

        if (content.Rows is { } rows)
        {
            json["ClusterSizes"] = new JsonArray(rows.ClusterSizes().Select(s => (JsonNode?)s).ToArray());
            if (content.Quality is { } quality && input.Labels is { } labels)
            {
                var mapping = new JsonObject();
                foreach (var (cluster, label) in quality.Mapping.OrderBy(p => p.Key))
                    mapping[cluster.ToString(System.Globalization.CultureInfo.InvariantCulture)] = labels.NameOf(label);
                json["ClusterToClass"] = mapping;
            }
        }

        if (run.Preset is not null)
            json["Preset"] = run.Preset;
        json["Seed"] = run.Seed;
        if (run.ScoredWith is not null)
            json["ScoredWith"] = run.ScoredWith;
        if (run.Options is { } o)
        {
            json["Options"] = OptionsJson(o);
        }
        if (request.Model?.History is { } history)
        {
            json["Training"] = new JsonObject
            {
                ["StopReason"] = history.StopReason.ToString(),
                ["SelfTrainingSteps"] = history.SelfTrainingSteps,
                ["PretrainingResumedAfterEpoch"] = history.PretrainingResumedAfterEpoch,
                ["BestKMeansRestart"] = history.BestKMeansRestart,
                ["Device"] = history.Device,
                ["NumberOfThreads"] = history.NumberOfThreads,
                ["Seed"] = history.Seed,
            };
        }

        if (run.FeatureCache is { } cache)
        {
            json["FeatureCache"] = new JsonObject
            {
                ["Folder"] = cache.Folder,
                ["Reused"] = cache.Reused,
                ["Computed"] = cache.Computed,
            };
        }

        var timings = new JsonObject();
        foreach (var (stage, time) in content.Timings)
            timings[stage] = Math.Round(time.TotalSeconds, 3);
        json["TimingsSeconds"] = timings;

        if (request.Curves is { } curves)
        {
            json["History"] = new JsonObject
            {
                ["PretrainLosses"] = new JsonArray(curves.PretrainLosses.Select(Number).ToArray()),
                ["KMeansInertias"] = new JsonArray(curves.KMeansInertias.Select(Number).ToArray()),
                ["SelfTrainingUpdates"] = new JsonArray(curves.SelfTrainingUpdates.Select(u => (JsonNode?)new JsonObject
                {
                    ["Step"] = u.Step,
                    ["Loss"] = Number(u.Loss),
                    ["LabelChangeFraction"] = Number(u.LabelChangeFraction),
                }).ToArray()),
            };
        }

        json["Files"] = new JsonArray(content.Files.Select(f => (JsonNode?)f.Name).ToArray());
        return json.ToJsonString(new JsonSerializerOptions
        {
            WriteIndented = true,
            // Keep "×", "→" and non-ASCII class names readable; the file is not embedded in HTML.
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }) + "\n";
    }

    /// <summary>
    /// Every public option field with a plain value (numbers, flags, enums, layer widths), read by reflection so
    /// that options the library adds later are recorded too.
    /// </summary>
    internal static JsonObject OptionsJson(DeepClusterOptions options)
    {
        var json = new JsonObject();
        foreach (var (name, value) in OptionValues(options))
        {
            json[name] = value switch
            {
                null => null,
                int[] array => new JsonArray(array.Select(v => (JsonNode?)v).ToArray()),
                bool b => b,
                int i => i,
                // Through the float's shortest text, so that 0.001f is written 0.001, not 0.0010000000474974513.
                float f => Number(double.Parse(f.ToString(System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture)),
                double d => Number(d),
                _ => value.ToString(),
            };
        }
        return json;
    }

    internal static IEnumerable<(string Name, object? Value)> OptionValues(DeepClusterOptions options)
    {
        foreach (var field in typeof(DeepClusterOptions).GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance))
        {
            var type = Nullable.GetUnderlyingType(field.FieldType) ?? field.FieldType;
            if (type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(int[]))
                yield return (field.Name, field.GetValue(options));
        }
        foreach (var property in typeof(DeepClusterOptions).GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance))
        {
            var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (property.CanRead && property.GetIndexParameters().Length == 0 && (type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(int[])))
                yield return (property.Name, property.GetValue(options));
        }
    }

    /// <summary>JSON has no NaN or infinity: such values become null.</summary>
    private static JsonNode? Number(double value) => double.IsFinite(value) ? JsonValue.Create(value) : null;
}
