using System.Text.RegularExpressions;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>
/// The library's sub-namespaces depend on each other one way only: public surface → Training → Networks / Model →
/// Runtime; Onnx and Scoring see the trained model, not how it was trained. Read from the source files' using
/// directives and fully qualified names, so that a cycle shows up here before anyone has to untangle it.
/// </summary>
public class DependencyDirectionTests
{
    private const string Library = "Microsoft.ML.DeepClustering";

    /// <summary>Folder (= sub-namespace) → the sub-namespaces it must not use.</summary>
    public static TheoryData<string, string[]> Rules => new()
    {
        { "Runtime", new[] { "Training", "Networks", "Model", "Onnx", "Scoring", "Data", "Evaluation" } },
        { "Model", new[] { "Training", "Networks", "Runtime", "Onnx", "Scoring", "Data" } },
        { "Networks", new[] { "Training", "Onnx", "Scoring", "Data" } },
        { "Onnx", new[] { "Training", "Networks", "Runtime", "Scoring", "Data" } },
        { "Scoring", new[] { "Training", "Networks", "Runtime" } },
        { "Training", new[] { "Onnx", "Scoring" } },
        { "Graphs", new[] { "Training", "Networks", "Model", "Onnx", "Scoring", "Data", "Evaluation" } },
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void SubNamespaceUsesNothingAboveIt(string folder, string[] forbidden)
    {
        var files = Directory.GetFiles(Path.Combine(SourceDirectory(), folder), "*.cs", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        var violations = files
            .SelectMany(file => Uses(File.ReadAllText(file)).Where(forbidden.Contains).Select(used => $"{Path.GetFileName(file)} uses {Library}.{used}"))
            .Distinct()
            .ToList();
        Assert.True(violations.Count == 0, $"{folder}/ must not depend on {string.Join(", ", forbidden)}:\n{string.Join("\n", violations)}");
    }

    [Fact]
    public void UsesFindsUsingDirectivesAndQualifiedNames()
    {
        const string source = """
            using Microsoft.ML.DeepClustering.Model;
            using static Microsoft.ML.DeepClustering.Runtime.TorchRuntime;
            namespace Microsoft.ML.DeepClustering.Networks;
            class C { int X => Microsoft.ML.DeepClustering.Training.Dec.Something; }
            """;
        Assert.Equal(new[] { "Model", "Runtime", "Training" }, Uses(source).Order());
    }

    /// <summary>The sub-namespaces of the library a source file names, its own namespace declaration excepted.</summary>
    internal static IEnumerable<string> Uses(string source)
    {
        var withoutNamespace = Regex.Replace(source, @"^\s*namespace\s+[\w.]+\s*;", "", RegexOptions.Multiline);
        return Regex.Matches(withoutNamespace, $@"\b{Regex.Escape(Library)}\.(\w+)").Select(m => m.Groups[1].Value).Distinct();
    }

    /// <summary>src/Microsoft.ML.DeepClustering, found by walking up from the test assembly to the repository root.</summary>
    private static string SourceDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "DeepClustering.sln")))
                return Path.Combine(dir.FullName, "src", Library);
        }
        throw new DirectoryNotFoundException($"No DeepClustering.sln above {AppContext.BaseDirectory}: the test reads the library's source files from the repository.");
    }
}
