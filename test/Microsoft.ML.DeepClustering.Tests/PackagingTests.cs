using System.Diagnostics;
using System.IO.Compression;
using Microsoft.ML.DeepClustering.Samples.Input;
using System.Text.RegularExpressions;
using SkiaSharp;
using Xunit.Abstractions;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>
/// The packages as a user gets them: all three are packed from a copy of the sources with a version unique to this run
/// (so a package NuGet cached earlier is never used), into one local feed that every step below uses. Console projects
/// are made in a temporary folder that none of this repository's Directory.Build.* files reach:
/// <list type="bullet">
/// <item>on ML.NET 5 (what the library is built against): Program.cs is the README's "Use it" example, as written.
///   It builds, clusters a few hundred MNIST digits written as PNG files, and prints cluster ids; then the same after
///   <c>dotnet publish</c>. Then, with MLNet.DeepClustering.ImageFeatures added, a program that featurizes the
///   images with ResNet18, clusters them, saves, loads and scores again. Then ImageFeatures of another version than
///   the library (a mismatched pair, which NuGet only warns about): the first FeaturizeImages fails with the message
///   that names both versions.</item>
/// <item>on ML.NET 6 (Microsoft.ML, ImageAnalytics and OnnxTransformer 6.0.0 referenced by the application): the same
///   ImageFeatures program.</item>
/// <item>the tool installs into a temporary tool path and clusters the same folder.</item>
/// </list>
/// On a host whose libstdc++ is older than TorchSharp's (Debian 12) the runs fail with TypeInitializationException
/// unless the package carries the libstdc++ step (build/README.md); elsewhere the package's content is checked.
/// </summary>
public class PackagingTests(ITestOutputHelper output)
{
    private const int Digits = 300;
    private const int Classes = 10;

    /// <summary>Images the ImageFeatures program featurizes (ResNet18 on each, at 224×224): enough to cluster, few enough to be quick.</summary>
    private const int FeaturizedDigits = 40;

    /// <summary>The ML.NET line a consumer of ML.NET 6 references (docs/install.md says which lines are supported).</summary>
    private const string MLNet6 = "6.0.0";

    [Fact]
    public void PackagesInstallAndRunInAProjectOutsideTheRepository()
    {
        string repo = RepositoryRoot();
        string work = TestData.NewTempDirectory();
        string stamp = $"{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        string version = $"0.1.0-test.{stamp}";
        // An older ImageFeatures, pinned to an older library: with the library at `version` beside it, a mismatched pair.
        string olderVersion = $"0.0.1-test.{stamp}";
        try
        {
            string feed = Path.Combine(work, "feed");
            string sources = CopySources(repo, Path.Combine(work, "src"));
            Dotnet(work, "pack", Path.Combine(sources, "src/Microsoft.ML.DeepClustering"), "-c", "Release", "-o", feed, $"-p:Version={version}");
            Dotnet(work, "pack", Path.Combine(sources, "src/Samples"), "-c", "Release", "-o", feed, $"-p:Version={version}");
            Dotnet(work, "pack", Path.Combine(sources, "src/Microsoft.ML.DeepClustering.ImageFeatures"), "-c", "Release", "-o", feed, $"-p:Version={version}");
            // Only ImageFeatures is rebuilt (--no-dependencies): the library's version it pins and embeds is olderVersion.
            Dotnet(work, "pack", Path.Combine(sources, "src/Microsoft.ML.DeepClustering.ImageFeatures"), "-c", "Release", "-o", feed, $"-p:Version={olderVersion}", "--no-dependencies");
            AssertImageFeaturesPackage(Path.Combine(feed, $"MLNet.DeepClustering.ImageFeatures.{version}.nupkg"), version);
            AssertImageFeaturesPackage(Path.Combine(feed, $"MLNet.DeepClustering.ImageFeatures.{olderVersion}.nupkg"), olderVersion);
            AssertLibraryPackage(Path.Combine(feed, $"MLNet.DeepClustering.{version}.nupkg"));
            AssertToolPackage(Path.Combine(feed, $"MLNet.DeepClustering.Tool.linux-x64.{version}.nupkg"));
            Assert.True(File.Exists(Path.Combine(feed, $"MLNet.DeepClustering.{version}.snupkg")), "the symbols package");

            string app = Path.Combine(work, "app");
            Directory.CreateDirectory(app);
            File.WriteAllText(Path.Combine(app, "nuget.config"),
                $"<configuration><packageSources><add key=\"local\" value=\"{feed}\" /></packageSources></configuration>");
            Dotnet(app, "new", "console", "--name", "app", "--output", ".");
            Dotnet(app, "add", "package", "MLNet.DeepClustering", "--version", version);
            Dotnet(app, "add", "package", "Microsoft.ML.ImageAnalytics", "--version", "5.0.1");   // as the README's Install says
            File.WriteAllText(Path.Combine(app, "Program.cs"), ReadmeExample(repo));
            var labels = WriteDigitPngs(Path.Combine(app, "photos"));

            Dotnet(app, "build", "-c", "Release");
            // MKL's dispatch library lands where NativeEnvironment looks for it in a portable application.
            Assert.True(File.Exists(Path.Combine(app, "bin/Release/net10.0/runtimes/linux-x64/native/libDeepClusteringMklDispatch.so")), "the built app carries MKL's dispatch library");
            string built = Run(app, Path.Combine(app, "bin/Release/net10.0/app"), "photos", Classes.ToString());
            AssertClustersDigits(built, labels);
            Assert.True(File.Exists(Path.Combine(app, "clusters.zip")), "the example saves its model");

            Dotnet(app, "publish", "-c", "Release", "-o", "published");
            string published = Run(app, Path.Combine(app, "published/app"), "photos", Classes.ToString());
            Assert.Equal(built, published);   // same binaries, same seed: the same clusters

            // ML.NET 5 with ImageFeatures: ResNet18 features, clustered, saved, loaded, scored again.
            Dotnet(app, "add", "package", "MLNet.DeepClustering.ImageFeatures", "--version", version);
            File.WriteAllText(Path.Combine(app, "Program.cs"), ImageFeaturesProgram);
            Dotnet(app, "build", "-c", "Release");
            AssertImageFeaturesRun(Run(app, Path.Combine(app, "bin/Release/net10.0/app"), "photos", Classes.ToString(), FeaturizedDigits.ToString()));

            // A mismatched pair: ImageFeatures pins the library at olderVersion, the project references `version`
            // directly. NuGet only warns (NU1608); the first FeaturizeImages says what is wrong and how to fix it.
            Dotnet(app, "add", "package", "MLNet.DeepClustering.ImageFeatures", "--version", olderVersion);
            Assert.Contains("NU1608", Dotnet(app, "build", "-c", "Release"));
            string failure = RunExpectingFailure(app, Path.Combine(app, "bin/Release/net10.0/app"), "photos", Classes.ToString(), FeaturizedDigits.ToString());
            Assert.Contains($"MLNet.DeepClustering.ImageFeatures {olderVersion} works with MLNet.DeepClustering {olderVersion} only, but MLNet.DeepClustering {version} is loaded", failure);
            Assert.Contains("reference the same version of both", failure);
            Assert.DoesNotContain("MissingMethodException", failure);
            output.WriteLine(failure.Split('\n').First(line => line.Contains("InvalidOperationException")));

            // ML.NET 6: the application references ML.NET's 6.0.0 packages; ours are built against 5.0.1.
            string app6 = Path.Combine(work, "app6");
            Directory.CreateDirectory(app6);
            File.Copy(Path.Combine(app, "nuget.config"), Path.Combine(app6, "nuget.config"));
            File.WriteAllText(Path.Combine(app6, "app6.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><ImplicitUsings>enable</ImplicitUsings><Nullable>enable</Nullable></PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="MLNet.DeepClustering" Version="{version}" />
                    <PackageReference Include="MLNet.DeepClustering.ImageFeatures" Version="{version}" />
                    <PackageReference Include="Microsoft.ML" Version="{MLNet6}" />
                    <PackageReference Include="Microsoft.ML.ImageAnalytics" Version="{MLNet6}" />
                    <PackageReference Include="Microsoft.ML.OnnxTransformer" Version="{MLNet6}" />
                  </ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(app6, "Program.cs"), ImageFeaturesProgram);
            Dotnet(app6, "build", "-c", "Release");
            string assets = File.ReadAllText(Path.Combine(app6, "obj/project.assets.json"));
            Assert.Contains($"\"Microsoft.ML/{MLNet6}\"", assets);
            Assert.Contains($"\"Microsoft.ML.OnnxTransformer/{MLNet6}\"", assets);
            Assert.DoesNotContain("\"Microsoft.ML/5.0.1\"", assets);
            AssertImageFeaturesRun(Run(app6, Path.Combine(app6, "bin/Release/net10.0/app6"), Path.Combine(app, "photos"), Classes.ToString(), FeaturizedDigits.ToString()));

            string tools = Path.Combine(work, "tools");
            Dotnet(work, "tool", "install", "MLNet.DeepClustering.Tool", "--version", version, "--tool-path", tools, "--add-source", feed);
            Run(work, Path.Combine(tools, "deepcluster"), "--images", Path.Combine(app, "photos"), "--k", Classes.ToString(),
                "--preset", "quick", "--epochs", "5", "--max-iterations", "100", "--out", Path.Combine(work, "report"));
            string assignments = File.ReadAllText(Path.Combine(work, "report", "assignments.csv"));
            Assert.Equal(Digits + 1, assignments.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);   // a header and a line per image
            Assert.True(File.Exists(Path.Combine(work, "report", "report.html")), "the tool writes its report");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
            // The version is unique to this run: leave no copy of it in the NuGet cache.
            string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            foreach (string id in new[] { "mlnet.deepclustering", "mlnet.deepclustering.imagefeatures", "mlnet.deepclustering.tool", "mlnet.deepclustering.tool.linux-x64" })
                foreach (string v in new[] { version, olderVersion })
                {
                    string cached = Path.Combine(cache, id, v);
                    if (Directory.Exists(cached))
                        Directory.Delete(cached, recursive: true);
                }
        }
    }

    /// <summary>The package carries the libstdc++ step for the projects that reference it, and for theirs.</summary>
    private static void AssertLibraryPackage(string path)
    {
        using var package = ZipFile.OpenRead(path);
        var entries = package.Entries.Select(e => e.FullName).ToHashSet();
        foreach (string expected in new[]
        {
            "lib/net10.0/Microsoft.ML.DeepClustering.dll", "lib/net10.0/Microsoft.ML.DeepClustering.xml",
            "build/MLNet.DeepClustering.targets", "buildTransitive/MLNet.DeepClustering.targets", "README.md", "LICENSE",
            "runtimes/linux-x64/native/libDeepClusteringMklDispatch.so",
        })
            Assert.True(entries.Contains(expected), $"{Path.GetFileName(path)} holds {expected}; it has {string.Join(", ", entries)}");
        using var nuspec = new StreamReader(package.GetEntry("MLNet.DeepClustering.nuspec")!.Open());
        string text = nuspec.ReadToEnd();
        foreach (string expected in new[] { "<license type=\"expression\">MIT</license>", "<readme>README.md</readme>", "id=\"TorchSharp\"", "id=\"libtorch-cpu-linux-x64\"" })
            Assert.Contains(expected, text);
    }

    /// <summary>
    /// The tool carries ResNet18's weights where FeaturizeImages looks for them (DnnImageModels/ beside the app), and
    /// nowhere else: not as content for projects, which the ResNet18 package's props would add.
    /// </summary>
    private static void AssertToolPackage(string path)
    {
        using var package = ZipFile.OpenRead(path);
        var entries = package.Entries.Select(e => e.FullName).ToList();
        Assert.Contains("tools/net10.0/linux-x64/DnnImageModels/ResNet18Onnx/ResNet18.onnx", entries);
        Assert.Contains("tools/net10.0/linux-x64/Microsoft.ML.DeepClustering.ImageFeatures.dll", entries);
        Assert.Single(entries, e => e.EndsWith("/ResNet18.onnx"));
    }

    /// <summary>
    /// The image-features package depends on the library at exactly the same version, and on the ResNet18 package without
    /// excluding its build assets: those copy the network's weights next to the user's application.
    /// </summary>
    private static void AssertImageFeaturesPackage(string path, string version)
    {
        using var package = ZipFile.OpenRead(path);
        Assert.NotNull(package.GetEntry("lib/net10.0/Microsoft.ML.DeepClustering.ImageFeatures.dll"));
        using var nuspec = new StreamReader(package.GetEntry("MLNet.DeepClustering.ImageFeatures.nuspec")!.Open());
        string text = nuspec.ReadToEnd();
        // Exactly this version: ImageFeatures uses the library's internals (LibraryVersion.cs).
        Assert.Contains($"<dependency id=\"MLNet.DeepClustering\" version=\"[{version}]\"", text);
        var resnet = Regex.Match(text, "<dependency id=\"Microsoft.ML.DnnImageFeaturizer.ResNet18\"[^>]*>");
        Assert.True(resnet.Success, text);
        Assert.DoesNotContain("exclude", resnet.Value);
    }

    /// <summary>
    /// Every image printed once, with a cluster id in 1..K, and clusters that follow the digits: purity (each cluster
    /// counted as its most frequent digit) well above the largest class's share. The 50-epoch run measured 0.48 here.
    /// </summary>
    private static void AssertClustersDigits(string printed, IReadOnlyDictionary<string, int> labels)
    {
        var rows = printed.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split('\t')).ToArray();
        Assert.Equal(labels.Count, rows.Length);
        var ids = rows.Select(r => uint.Parse(r[0])).ToArray();
        Assert.All(ids, id => Assert.InRange(id, 1u, (uint)Classes));
        Assert.Equal(labels.Keys.Order(), rows.Select(r => Path.GetFileName(r[1])).Order());
        int majority = rows.GroupBy(r => r[0]).Sum(cluster => cluster.GroupBy(r => labels[Path.GetFileName(r[1])]).Max(g => g.Count()));
        double purity = (double)majority / rows.Length;
        double largestClass = labels.Values.GroupBy(l => l).Max(g => g.Count()) / (double)labels.Count;
        Assert.True(purity >= 2 * largestClass, $"purity {purity:F3} against the largest class's share {largestClass:F3}");
    }

    /// <summary>
    /// The ImageFeatures consumer's Program.cs: FeaturizeImages (ResNet18) then DeepCluster on the first N images, saved
    /// and loaded again; prints each image's cluster id from the fitted and from the loaded model, and its path.
    /// </summary>
    private const string ImageFeaturesProgram = """
        using Microsoft.ML;
        using Microsoft.ML.DeepClustering;

        var mlContext = new MLContext(seed: 1);
        var files = Directory.GetFiles(args[0], "*.png", SearchOption.AllDirectories).Order().Take(int.Parse(args[2]))
            .Select(path => new ImageFile { Path = path }).ToList();
        IDataView images = mlContext.Data.LoadFromEnumerable(files);
        var options = DeepClusterPresets.ImageFeatures();
        options.NumberOfClusters = int.Parse(args[1]);
        options.PretrainEpochs = 20;
        options.MaxIterations = 200;
        var pipeline = mlContext.Transforms.FeaturizeImages(new ImageFeaturizerOptions { ImagePathColumnName = "Path" })
            .Append(mlContext.Transforms.DeepCluster(options));
        using var model = pipeline.Fit(images);
        mlContext.Model.Save(model, images.Schema, "features.zip");
        var loaded = mlContext.Model.Load("features.zip", out _);
        var fitted = mlContext.Data.CreateEnumerable<ImageCluster>(model.Transform(images), reuseRowObject: false).ToList();
        var reloaded = mlContext.Data.CreateEnumerable<ImageCluster>(loaded.Transform(images), reuseRowObject: false).ToList();
        for (int i = 0; i < fitted.Count; i++)
            Console.WriteLine($"{fitted[i].PredictedClusterId}\t{reloaded[i].PredictedClusterId}\t{fitted[i].Path}");

        class ImageFile { public string Path { get; set; } = ""; }
        class ImageCluster { public string Path { get; set; } = ""; public uint PredictedClusterId { get; set; } }
        """;

    /// <summary>Every featurized image printed once, with a cluster id in 1..K that the loaded model gives too, and more than one cluster used.</summary>
    private static void AssertImageFeaturesRun(string printed)
    {
        var rows = printed.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split('\t')).ToArray();
        Assert.Equal(FeaturizedDigits, rows.Length);
        Assert.All(rows, r => Assert.InRange(uint.Parse(r[0]), 1u, (uint)Classes));
        Assert.All(rows, r => Assert.Equal(r[0], r[1]));
        Assert.True(rows.Select(r => r[0]).Distinct().Count() > 1, "the images fall in more than one cluster");
    }

    /// <summary>The first <see cref="Digits"/> MNIST test digits as PNG files, one subfolder per digit; file name → digit.</summary>
    private static Dictionary<string, int> WriteDigitPngs(string folder)
    {
        var images = MnistIdx.ReadImages(TestData.ImagesPath);
        var digits = MnistIdx.ReadLabels(TestData.LabelsPath);
        var labels = new Dictionary<string, int>();
        for (int i = 0; i < Digits; i++)
        {
            byte[] pixels = images.GetImage(i).ToArray();
            int digit = digits[i];
            using var bitmap = new SKBitmap(new SKImageInfo(28, 28, SKColorType.Gray8, SKAlphaType.Opaque));
            System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
            string name = $"{i:D4}.png";
            Directory.CreateDirectory(Path.Combine(folder, digit.ToString()));
            using var png = File.Create(Path.Combine(folder, digit.ToString(), name));
            bitmap.Encode(png, SKEncodedImageFormat.Png, 100);
            labels[name] = digit;
        }
        return labels;
    }

    /// <summary>The C# block the README marks as the example that this test compiles and runs.</summary>
    private static string ReadmeExample(string repo)
    {
        string readme = File.ReadAllText(Path.Combine(repo, "README.md"));
        var match = Regex.Match(readme, @"<!-- This block is Program\.cs[^>]*-->\s*```csharp\n(?<code>.*?)```", RegexOptions.Singleline);
        Assert.True(match.Success, "README.md marks its Program.cs example with '<!-- This block is Program.cs ... -->'");
        return match.Groups["code"].Value;
    }

    /// <summary>What packing needs, without bin/ and obj/: packing the repository itself would write into the obj/ folders of the projects this test run was built from.</summary>
    private static string CopySources(string repo, string destination)
    {
        foreach (string file in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "global.json", "README.md", "LICENSE" })
            CopyFile(Path.Combine(repo, file), Path.Combine(destination, file));
        foreach (string folder in new[] { "build", "data/mnist", "src/Microsoft.ML.DeepClustering", "src/Microsoft.ML.DeepClustering.ImageFeatures", "src/Samples" })
            foreach (string file in Directory.EnumerateFiles(Path.Combine(repo, folder), "*", SearchOption.AllDirectories))
            {
                string relative = Path.GetRelativePath(repo, file);
                if (relative.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
                    continue;
                CopyFile(file, Path.Combine(destination, relative));
            }
        return destination;
    }

    private static void CopyFile(string from, string to)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(to)!);
        File.Copy(from, to);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "DeepClustering.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"No DeepClustering.sln above {AppContext.BaseDirectory}.");
    }

    private string Dotnet(string directory, params string[] args) =>
        Run(directory, Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet", args);

    /// <summary>Runs a process to completion and returns its standard output; fails the test, with both outputs, on a non-zero exit.</summary>
    private string Run(string directory, string program, params string[] args)
    {
        var (exitCode, stdout, stderr) = Execute(directory, program, args);
        Assert.True(exitCode == 0,
            $"{Path.GetFileName(program)} {string.Join(' ', args)} exited with {exitCode}.\n--- stdout\n{Tail(stdout)}\n--- stderr\n{Tail(stderr)}");
        return stdout;
    }

    /// <summary>Runs a process that must fail; returns its standard output and error together.</summary>
    private string RunExpectingFailure(string directory, string program, params string[] args)
    {
        var (exitCode, stdout, stderr) = Execute(directory, program, args);
        Assert.True(exitCode != 0, $"{Path.GetFileName(program)} {string.Join(' ', args)} was expected to fail.\n--- stdout\n{Tail(stdout)}");
        return stdout + "\n" + stderr;
    }

    private (int ExitCode, string Stdout, string Stderr) Execute(string directory, string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        // `dotnet test` leaves MSBuild's variables in the test host's environment; a nested build must find its own.
        foreach (string name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToArray())
            start.Environment.Remove(name);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(600_000), $"{Path.GetFileName(program)} {string.Join(' ', args)} finished within 10 minutes");
        output.WriteLine($"{Path.GetFileName(program)} {string.Join(' ', args)}: exit {process.ExitCode} in {clock.Elapsed.TotalSeconds:F1} s");
        return (process.ExitCode, stdout, error.Result);
    }

    private static string Tail(string text) => text.Length <= 4000 ? text : "..." + text[^4000..];
}
