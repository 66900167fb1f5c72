using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Reflection;
using NetQuantGen.Cli;
using NetQuantGen.Compiler;
using NetQuantGen.Generator;
using Xunit;
using Xunit.Abstractions;

namespace NetQuantGen.Tests.Packaging
{
    /// <summary>
    /// The NuGet packages as a user gets them: `dotnet pack` into a folder feed, then a fresh console project outside
    /// the repository that references only the package, builds (the generator runs inside the real compiler) and runs.
    /// Each test restores into its own empty NUGET_PACKAGES folder, so a stale cached package cannot be used.
    /// The packs use --no-build: the test project references the packed projects, so their Release build is current.
    /// </summary>
    public class PackageTests
    {
        /// <summary>A version no real release uses, so the feed's package is the only candidate.</summary>
        private const string TestVersion = "0.0.0-ci";
        private const int ImageCount = 6;

        private readonly ITestOutputHelper _output;

        public PackageTests(ITestOutputHelper output) => _output = output;

        private static string Configuration =>
            typeof(QuantizedModelGenerator).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

        [Fact]
        public void PackageHoldsTheGeneratorWithProtobufTheLibrariesAndTheBuildFiles()
        {
            using var feed = new TempFolder();
            string package = Pack("src/Package/NetQuantGen.Package.csproj", feed.Path, "NetQuantGen");
            using var zip = ZipFile.OpenRead(package);
            var entries = zip.Entries.Select(e => e.FullName).ToList();
            foreach (var expected in new[]
            {
                "analyzers/dotnet/cs/NetQuantGen.Generator.dll", "analyzers/dotnet/cs/Google.Protobuf.dll",
                "lib/net10.0/NetQuantGen.Runtime.dll", "lib/net10.0/NetQuantGen.Attributes.dll",
                "build/NetQuantGen.targets", "buildTransitive/NetQuantGen.targets",
            })
                Assert.Contains(expected, entries);
            // The generator is an analyzer only: it must not land in lib/ (the app would load the compiler core at run time).
            Assert.DoesNotContain(entries, e => e.StartsWith("lib/", StringComparison.Ordinal) && e.Contains("Generator"));
            string nuspec = new StreamReader(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open()).ReadToEnd();
            Assert.DoesNotContain("<dependency ", nuspec);
        }

        /// <summary>
        /// The fresh project builds under de-DE (the compiler process formats with a comma as decimal separator) and must
        /// emit byte for byte the source this process emits under the invariant culture; the program it builds must print
        /// exactly the logits of the same source compiled in memory.
        /// </summary>
        [Fact]
        public void FreshConsoleProjectBuildsAndRunsWithThePackage()
        {
            using var feed = new TempFolder();
            using var app = new TempFolder();
            using var packages = new TempFolder();
            Pack("src/Package/NetQuantGen.Package.csproj", feed.Path, "NetQuantGen");
            WriteNuGetConfig(app.Path, feed.Path);
            foreach (var name in new[] { "small_cnn.onnx", "small_cnn.calib" })
                File.Copy(Repository.SampleModel(name), Path.Combine(app.Path, name));
            File.WriteAllText(Path.Combine(app.Path, "App.csproj"), $@"<Project Sdk=""Microsoft.NET.Sdk"">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <EmitCompilerGeneratedFiles>true</EmitCompilerGeneratedFiles>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include=""NetQuantGen"" Version=""{TestVersion}"" />
  </ItemGroup>
</Project>
");
            File.WriteAllText(Path.Combine(app.Path, "Program.cs"), AppSource);

            var environment = new Dictionary<string, string?> { ["NUGET_PACKAGES"] = packages.Path, ["LANG"] = "de_DE.UTF-8", ["LC_ALL"] = "de_DE.UTF-8" };
            var (exitCode, log) = DotnetCli.Run(app.Path, TimeSpan.FromMinutes(5), environment, "dotnet",
                "build", "-c", "Release", "-p:UseSharedCompilation=false", "--disable-build-servers", "-nodeReuse:false", "-nologo");
            _output.WriteLine(log);
            foreach (var id in new[] { "CS8784", "CS8785", "CS8032", "CS2015", "AD0001", "NQG" })
                Assert.DoesNotContain(id, log);
            Assert.True(exitCode == 0, "the fresh project did not build:\n" + log);

            // Same bytes as this process's compiler (invariant culture): no culture, process or path leaks into the source.
            var expected = ModelCompiler.Compile(new ModelInput("small_cnn.onnx", File.ReadAllBytes(Repository.SampleModel("small_cnn.onnx")),
                "small_cnn.calib", File.ReadAllBytes(Repository.SampleModel("small_cnn.calib")), new CompilationOptions(), new TargetClass(null, "Small", "public", true)));
            Assert.NotNull(expected.Source);
            string generated = Directory.EnumerateFiles(Path.Combine(app.Path, "obj"), "Small.QuantizedModel.g.cs", SearchOption.AllDirectories).Single();
            Assert.Equal(expected.Source, File.ReadAllText(generated));

            string images = Repository.PathOf("samples", "data", "t10k-images-idx3-ubyte.gz");
            var (runCode, printed) = DotnetCli.Run(app.Path, TimeSpan.FromMinutes(2), environment, "dotnet",
                "run", "-c", "Release", "--no-build", "--", images, ImageCount.ToString(CultureInfo.InvariantCulture));
            _output.WriteLine(printed);
            Assert.True(runCode == 0, printed);

            using var model = new GeneratedModel(expected.Source!, "Small");
            var inputs = SampleData.TestInputs("small_cnn", ImageCount);
            var lines = printed.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.Equal(ImageCount, lines.Length);
            int correct = 0;
            for (int i = 0; i < ImageCount; i++)
            {
                var logits = model.Run(inputs[i]);
                Assert.Equal(Line(i, SampleData.ArgMax(logits), logits), lines[i]);
                if (SampleData.ArgMax(logits) == SampleData.TestLabels[i]) correct++;
            }
            Assert.True(correct >= ImageCount - 1, $"only {correct} of {ImageCount} images classified correctly");
        }

        [Fact]
        public void NetquantInstallsAsADotnetToolAndRuns()
        {
            using var feed = new TempFolder();
            using var tools = new TempFolder();
            using var packages = new TempFolder();
            Pack("src/Cli/NetQuantGen.Cli.csproj", feed.Path, "netquant");
            WriteNuGetConfig(feed.Path, feed.Path);
            var environment = new Dictionary<string, string?> { ["NUGET_PACKAGES"] = packages.Path };
            var (installCode, installLog) = DotnetCli.Run(feed.Path, TimeSpan.FromMinutes(5), environment, "dotnet",
                "tool", "install", "netquant", "--tool-path", tools.Path, "--version", TestVersion, "--configfile", Path.Combine(feed.Path, "nuget.config"));
            _output.WriteLine(installLog);
            Assert.True(installCode == 0, installLog);

            string netquant = Path.Combine(tools.Path, "netquant");
            var (helpCode, help) = DotnetCli.Run(tools.Path, TimeSpan.FromMinutes(1), environment, netquant, "--help");
            Assert.True(helpCode == 0, help);
            foreach (var command in new[] { "calibrate", "inspect", "export" })
                Assert.Contains(command, help);

            var (inspectCode, inspect) = DotnetCli.Run(tools.Path, TimeSpan.FromMinutes(1), environment, netquant, "inspect", Repository.SampleModel("small_cnn.onnx"));
            _output.WriteLine(inspect);
            Assert.True(inspectCode == 0, inspect);
            var (_, inProcess, _) = Tests.Cli.CliTests.Netquant("inspect", Repository.SampleModel("small_cnn.onnx"));
            Assert.Equal(inProcess.Trim(), inspect.Trim());
        }

        private static string Line(int image, int top1, float[] logits) =>
            $"image {image}: top-1 {top1} logits {string.Join(";", logits.Select(v => BitConverter.SingleToInt32Bits(v).ToString("x8", CultureInfo.InvariantCulture)))}";

        /// <summary>The user's program: the attribute, the package's IDX reader and preprocessing, top-1 and the exact logits.</summary>
        private const string AppSource = @"using System;
using System.Globalization;
using System.Linq;
using NetQuantGen;
using NetQuantGen.Runtime.Data;

[QuantizedModel(""small_cnn.onnx"", Calibration = ""small_cnn.calib"")]
public static partial class Small { }

public static class Program
{
    public static void Main(string[] args)
    {
        var images = IdxFile.Read(args[0]);
        var output = new float[Small.OutputLength];
        for (int i = 0; i < int.Parse(args[1], CultureInfo.InvariantCulture); i++)
        {
            Small.Run(InputPreprocessing.FitImage(images.ItemBytes(i), Small.InputShape.ToArray()), output);
            int best = 0;
            for (int c = 1; c < output.Length; c++) if (output[c] > output[best]) best = c;
            Console.WriteLine($""image {i}: top-1 {best} logits {string.Join("";"", output.Select(v => BitConverter.SingleToInt32Bits(v).ToString(""x8"", CultureInfo.InvariantCulture)))}"");
        }
    }
}
";

        /// <summary>Packs a project of the repository into the feed folder at the test version; returns the .nupkg path.</summary>
        private string Pack(string project, string feed, string packageId)
        {
            var (exitCode, log) = DotnetCli.Run(Repository.Root, TimeSpan.FromMinutes(5), null, "dotnet",
                "pack", Repository.PathOf(project.Split('/')), "-c", Configuration, "--no-build", "-o", feed,
                $"-p:PackageVersion={TestVersion}", "-nodeReuse:false", "-nologo");
            _output.WriteLine(log);
            Assert.True(exitCode == 0, $"dotnet pack {project} failed:\n" + log);
            string package = Path.Combine(feed, $"{packageId}.{TestVersion}.nupkg");
            Assert.True(File.Exists(package), $"{package} was not written:\n" + log);
            return package;
        }

        /// <summary>
        /// A nuget.config with only the folder feed and the machine's normal source (nuget.org, which this machine
        /// serves from its local mirror); the folder's isolation files keep the repository's settings out.
        /// </summary>
        private static void WriteNuGetConfig(string folder, string feed)
        {
            File.WriteAllText(Path.Combine(folder, "nuget.config"), $@"<?xml version=""1.0"" encoding=""utf-8""?>
<configuration>
  <packageSources>
    <clear />
    <add key=""local"" value=""{feed}"" />
    <add key=""nuget.org"" value=""https://api.nuget.org/v3/index.json"" protocolVersion=""3"" />
  </packageSources>
</configuration>
");
            foreach (var name in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
                File.WriteAllText(Path.Combine(folder, name), "<Project />\n");
        }
    }
}
