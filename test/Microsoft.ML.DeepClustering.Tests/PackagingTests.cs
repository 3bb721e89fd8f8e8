using System.Diagnostics;
using System.IO.Compression;
using System.Text.RegularExpressions;
using SkiaSharp;
using Xunit.Abstractions;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>
/// The packages as a user gets them: both are packed from a copy of the sources with a version unique to this run
/// (so a package NuGet cached earlier is never used), a console project is made in a temporary folder that none of
/// this repository's Directory.Build.* files reach, and it adds the library from that folder. Its Program.cs is the
/// README's "Use it" example, as written. It builds, clusters a few hundred MNIST digits written as PNG files, and
/// prints cluster ids; then the same after <c>dotnet publish</c>; then the tool installs into a temporary tool path
/// and clusters the same folder.
/// On a host whose libstdc++ is older than TorchSharp's (Debian 12) the runs fail with TypeInitializationException
/// unless the package carries the libstdc++ step (build/README.md); elsewhere the package's content is checked.
/// </summary>
public class PackagingTests(ITestOutputHelper output)
{
    private const int Digits = 300;
    private const int Classes = 10;

    [Fact]
    public void PackagesInstallAndRunInAProjectOutsideTheRepository()
    {
        string repo = RepositoryRoot();
        string work = TestData.NewTempDirectory();
        string version = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        try
        {
            string feed = Path.Combine(work, "feed");
            string sources = CopySources(repo, Path.Combine(work, "src"));
            Dotnet(work, "pack", Path.Combine(sources, "src/Microsoft.ML.DeepClustering"), "-c", "Release", "-o", feed, $"-p:Version={version}");
            Dotnet(work, "pack", Path.Combine(sources, "src/Samples"), "-c", "Release", "-o", feed, $"-p:Version={version}");
            Dotnet(work, "pack", Path.Combine(sources, "src/Microsoft.ML.DeepClustering.ImageFeatures"), "-c", "Release", "-o", feed, $"-p:Version={version}");
            AssertImageFeaturesPackage(Path.Combine(feed, $"MLNet.DeepClustering.ImageFeatures.{version}.nupkg"), version);
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
            {
                string cached = Path.Combine(cache, id, version);
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
    /// The image-features package depends on the library at the same version, and on the ResNet18 package without
    /// excluding its build assets: those copy the network's weights next to the user's application.
    /// </summary>
    private static void AssertImageFeaturesPackage(string path, string version)
    {
        using var package = ZipFile.OpenRead(path);
        Assert.NotNull(package.GetEntry("lib/net10.0/Microsoft.ML.DeepClustering.ImageFeatures.dll"));
        using var nuspec = new StreamReader(package.GetEntry("MLNet.DeepClustering.ImageFeatures.nuspec")!.Open());
        string text = nuspec.ReadToEnd();
        Assert.Contains($"<dependency id=\"MLNet.DeepClustering\" version=\"{version}\"", text);
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

    /// <summary>The first <see cref="Digits"/> MNIST test digits as PNG files, one subfolder per digit; file name → digit.</summary>
    private static Dictionary<string, int> WriteDigitPngs(string folder)
    {
        using var images = new BinaryReader(new GZipStream(File.OpenRead(TestData.ImagesPath), CompressionMode.Decompress));
        using var labelFile = new BinaryReader(new GZipStream(File.OpenRead(TestData.LabelsPath), CompressionMode.Decompress));
        images.ReadBytes(16);
        labelFile.ReadBytes(8);
        var labels = new Dictionary<string, int>();
        for (int i = 0; i < Digits; i++)
        {
            byte[] pixels = images.ReadBytes(28 * 28);
            int digit = labelFile.ReadByte();
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

    private void Dotnet(string directory, params string[] args) =>
        Run(directory, Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet", args);

    /// <summary>Runs a process to completion and returns its standard output; fails the test, with both outputs, on a non-zero exit.</summary>
    private string Run(string directory, string program, params string[] args)
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
        Assert.True(process.ExitCode == 0,
            $"{Path.GetFileName(program)} {string.Join(' ', args)} exited with {process.ExitCode}.\n--- stdout\n{Tail(stdout)}\n--- stderr\n{Tail(error.Result)}");
        return stdout;
    }

    private static string Tail(string text) => text.Length <= 4000 ? text : "..." + text[^4000..];
}
