using Microsoft.ML.DeepClustering;
using Microsoft.ML.DeepClustering.Benchmarks;

// Run as `dotnet run --project bench/Benchmarks -c Release -- COMMAND [options]`; without a command it lists them.
var usages = new Dictionary<string, string>
{
    ["quality"] = "[--methods " + string.Join(",", DeepClusterPresets.Names) + "] [--datasets " + string.Join(",", MnistSets.Names) + "] [--seeds 1,2,3] [--epochs N] [--max-iterations N] [--update-interval T] [--max-rows N] [--progress] [--checkpoint-dir DIR] [--threads N] [--schedule constant|cosine] [--seeding kmeans|spectral|umap] [--set Option=value,Option=value]",
    ["choose-k"] = "[--datasets blobs," + string.Join(",", MnistSets.Names) + "] [--seeds 1,2,3] [--preset recommended] [--epochs N] [--k-range 2-20] [--max-rows N] [--checkpoint-dir DIR] [--criteria silhouette,davies-bouldin,eigengap,...]",
    ["embedding-dump"] = "[--dataset mnist-test] [--seed 1] [--preset recommended] [--epochs N] [--max-rows N] [--checkpoint-dir DIR] [--out embedding.csv]",
    ["photos"] = "[--categories animals,food,plants,vehicles,town] [--seeds 1,2,3] [--epochs N] [--hidden 500,500,2000|none] [--embedding E] [--set Option=value,...]",
    ["photo-features"] = "[--categories animals,food,plants,vehicles,town] [--seeds 1,2,3] [--neighbours 10,20] [--pca 32] [--restarts N]",
    ["onnx-nodes"] = "MODEL.onnx",
    ["conv-profile"] = "[--reps 20]",
    ["gemm-paths"] = "[--reps 20]",
    ["speed"] = "[--dataset mnist-full|mnist-test] [--max-rows N] [--epochs N]",
    ["optimizer-step"] = "[--rounds N] [--epochs N]",
    ["scale"] = "[--data mnist-like|vectors] [--dims 384 (vectors)] [--rows 10000,100000,1000000] [--preset recommended] [--seed 1] [--kmeans [--kmeans-rows N (fit it on the first N)]] [--set Option=value,...] [--embedding-out FILE (the fitted embedding and labels, for graphs --data embedding-file:FILE)]",
    ["read-rows"] = "[--rows 1000000] [--columns 64] [--count-unknown] [--path store|list] [--storage auto|memory|memorymappedfile] [--precision float32|half|byte]",
    ["photo-rate"] = "[--count 3000] [--folder DIR] [--one-at-a-time 400] [--batch 16] [--backbone MODEL.onnx]",
    ["graphs"] = "[--data blobs|mnist-pca|embedding:DATASET:EPOCHS:CHECKPOINT_DIR|embedding-file:FILE] [--rows 100000] [--dims 16] [--k 15] [--count 24 (0: no eigenvectors)] [--seed 1] [--sample 1000] [--usearch] [--exact] [--seeding-k K [--choose-k]] [--set Option=value,... (seeding on an embedding)]",
};
string? Arg(string name) => Array.IndexOf(args, name) is int i && i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
int? IntArg(string name) => Arg(name) is string s ? int.Parse(s) : null;
string command = args.Length > 0 ? args[0] : "help";
// A misspelt or unknown option must not start an hour of training with the defaults.
if (usages.TryGetValue(command, out var commandUsage)
    && args.Skip(1).FirstOrDefault(a => a.StartsWith("--") && !commandUsage.Contains(a + " ") && !commandUsage.Contains(a + "]")) is string unknown)
{
    Console.Error.WriteLine(unknown == "--help" ? $"Benchmarks: {command} {commandUsage}" : $"Benchmarks {command}: unknown option {unknown}; expected {commandUsage}");
    return unknown == "--help" ? 0 : 2;
}
switch (command)
{
    case "quality":
        return QualityBenchmark.Run(
            (Arg("--methods") ?? "ae-kmeans,dec").Split(','),
            (Arg("--datasets") ?? "mnist-test").Split(','),
            (Arg("--seeds") ?? "1").Split(',').Select(int.Parse).ToArray(),
            IntArg("--epochs"), IntArg("--max-iterations"), IntArg("--update-interval"), IntArg("--max-rows"), args.Contains("--progress"), Arg("--checkpoint-dir"), IntArg("--threads"),
            Arg("--schedule") is string schedule ? Enum.Parse<LearningRateSchedule>(schedule, ignoreCase: true) : null,
            Arg("--seeding") is string seeding ? Enum.Parse<SeedingMethod>(seeding, ignoreCase: true) : null, Arg("--set"));
    case "choose-k":
        var range = (Arg("--k-range") ?? "2-20").Split('-').Select(int.Parse).ToArray();
        return ChooseKStudy.Run(
            (Arg("--datasets") ?? "blobs,mnist-test").Split(','),
            (Arg("--seeds") ?? "1,2,3").Split(',').Select(int.Parse).ToArray(),
            Arg("--preset") ?? "recommended", IntArg("--epochs"), range[0], range[1], IntArg("--max-rows"), Arg("--checkpoint-dir"), Arg("--criteria")?.Split(','));
    case "embedding-dump":
        return ChooseKStudy.Dump(Arg("--dataset") ?? "mnist-test", IntArg("--seed") ?? 1, Arg("--preset") ?? "recommended", IntArg("--epochs"), IntArg("--max-rows"), Arg("--checkpoint-dir"), Arg("--out") ?? "embedding.csv");
    case "photos":
        return PhotoBenchmark.Run((Arg("--categories") ?? "animals,food,plants,vehicles,town").Split(','),
            (Arg("--seeds") ?? "1,2,3").Split(',').Select(int.Parse).ToArray(), IntArg("--epochs"),
            Arg("--hidden") is string hidden ? hidden == "none" ? [] : hidden.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray() : null, IntArg("--embedding"), Arg("--set"));
    case "photo-features":
        return PhotoFeaturesStudy.Run((Arg("--categories") ?? "animals,food,plants,vehicles,town").Split(','),
            (Arg("--seeds") ?? "1,2,3").Split(',').Select(int.Parse).ToArray(),
            (Arg("--neighbours") ?? "10,20").Split(',').Select(int.Parse).ToArray(), (Arg("--pca") ?? "32").Split(',').Select(int.Parse).ToArray(), IntArg("--restarts") ?? 0);
    case "onnx-nodes":
        return OnnxNodes.Print(args[1]);
    case "conv-profile":
        return ConvProfile.Run(IntArg("--reps") ?? 20);
    case "gemm-paths":
        return GemmPaths.Run(IntArg("--reps") ?? 20);
    case "speed":
        return SpeedBenchmark.Run(Arg("--dataset") ?? "mnist-full", IntArg("--max-rows"), IntArg("--epochs") ?? 3);
    case "photo-rate":
        return PhotoRateBenchmark.Run(IntArg("--count") ?? 3000, Arg("--folder"), IntArg("--one-at-a-time") ?? 400, IntArg("--batch") ?? 16, Arg("--backbone"));
    case "graphs":
        return GraphsBenchmark.Run(Arg("--data") ?? "blobs", IntArg("--rows") ?? 100_000, IntArg("--dims") ?? 16, IntArg("--k") ?? 15,
            IntArg("--count") ?? 24, IntArg("--seed") ?? 1, args.Contains("--usearch"), args.Contains("--exact"), IntArg("--sample") ?? 1000,
            IntArg("--seeding-k"), args.Contains("--choose-k"), Arg("--set"));
    case "optimizer-step":
        return SpeedBenchmark.RunOptimizerStep(IntArg("--rounds") ?? 10, IntArg("--epochs") ?? 3);
    case "scale":
        return ScaleBenchmark.Run(Arg("--data") ?? "mnist-like", (Arg("--rows") ?? "10000").Split(',').Select(long.Parse).ToArray(),
            Arg("--preset") ?? "recommended", IntArg("--seed") ?? 1, Arg("--set"), args.Contains("--kmeans"), IntArg("--dims") ?? 384, IntArg("--kmeans-rows"), Arg("--embedding-out"));
    case "read-rows":
        return ReadBenchmark.Run(IntArg("--rows") ?? 1_000_000, IntArg("--columns") ?? 64, !args.Contains("--count-unknown"), Arg("--path") ?? "store",
            Enum.Parse<RowStorageLocation>(Arg("--storage") ?? "auto", ignoreCase: true), Enum.Parse<RowStoragePrecision>(Arg("--precision") ?? "float32", ignoreCase: true));
    default:
        foreach (var (name, text) in usages)
            Console.WriteLine($"Benchmarks: {name} {text}");
        return command == "help" ? 0 : 2;
}
