using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Reflection;
using NetQuantGen.Generator;
using Xunit;
using Xunit.Abstractions;
using static NetQuantGen.Tests.Generator.GeneratorTestInputs;

namespace NetQuantGen.Tests.Generator
{
    /// <summary>
    /// The generator reads a binary model byte for byte: the SHA-256 of the file on disk is the SHA-256 the
    /// generator saw, in the in-memory driver and in a real <c>dotnet build</c> (where the compiler, not the
    /// test, hands over the AdditionalFiles and loads the generator with Google.Protobuf beside it).
    /// </summary>
    public class ByteExactnessTests
    {
        private readonly ITestOutputHelper _output;

        public ByteExactnessTests(ITestOutputHelper output) => _output = output;

        [Fact]
        public void TheModelHoldsEveryByteValue()
        {
            var bytes = AllBytesModel();
            Assert.Equal(256, bytes.Distinct().Count());
        }

        [Fact]
        public void InMemoryDriverReadsTheFileByteForByte()
        {
            using var harness = new GeneratorDriverHarness();
            var bytes = AllBytesModel();
            var path = harness.AddFile(ModelPath, bytes);
            harness.AddFile(CalibrationPath, Statistics(bytes));
            harness.SetSource("Tiny.cs", Source(CalibratedArguments));
            var result = harness.Run();

            string onDisk = Sha256(File.ReadAllBytes(path));
            Assert.Equal(Sha256(bytes), onDisk);
            var read = Assert.Single(FilesRead(result), f => f.Path == path);
            Assert.Null(read.Error);
            Assert.Equal(onDisk, read.Sha256);
            Assert.Equal(bytes, read.ToArray());
            // The importer parsed those bytes (a corrupted file would be NQG0002), and the header names the hash.
            Assert.DoesNotContain(result.Diagnostics, d => d.Id == "NQG0002");
            AssertCompiled(result, ModelPath, onDisk);
        }

        /// <summary>
        /// A real build of a throwaway project outside the repository that uses the generator the way a user
        /// does (ProjectReference with OutputItemType="Analyzer"). The referenced projects are not rebuilt: the
        /// test project's build has just built them in the same configuration.
        /// </summary>
        [Fact]
        public void RealBuildReadsTheFileByteForByte()
        {
            using var folder = new TempFolder();
            var bytes = AllBytesModel();
            Directory.CreateDirectory(Path.Combine(folder.Path, "models"));
            string modelPath = Path.Combine(folder.Path, "models", "tiny.onnx");
            File.WriteAllBytes(modelPath, bytes);
            File.WriteAllBytes(Path.Combine(folder.Path, "models", "tiny.calib"), Statistics(bytes));
            File.WriteAllText(Path.Combine(folder.Path, "Tiny.cs"), Source(CalibratedArguments));
            // Stop MSBuild from importing anything from the folders above the temp folder.
            foreach (var name in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
                File.WriteAllText(Path.Combine(folder.Path, name), "<Project />\n");
            string src = Repository.PathOf("src");
            File.WriteAllText(Path.Combine(folder.Path, "Tiny.csproj"), $@"<Project Sdk=""Microsoft.NET.Sdk"">
  <PropertyGroup>
    <TargetFramework>net{Environment.Version.Major}.{Environment.Version.Minor}</TargetFramework>
    <Nullable>enable</Nullable>
    <AllowUnsafeBlocks>true</AllowUnsafeBlocks>
    <EmitCompilerGeneratedFiles>true</EmitCompilerGeneratedFiles>
  </PropertyGroup>
  <ItemGroup>
    <AdditionalFiles Include=""models/tiny.onnx"" />
    <AdditionalFiles Include=""models/tiny.calib"" />
    <ProjectReference Include=""{Path.Combine(src, "Generator", "NetQuantGen.Generator.csproj")}"" OutputItemType=""Analyzer"" ReferenceOutputAssembly=""false"" />
    <ProjectReference Include=""{Path.Combine(src, "Attributes", "NetQuantGen.Attributes.csproj")}"" />
    <ProjectReference Include=""{Path.Combine(src, "Runtime", "NetQuantGen.Runtime.csproj")}"" />
  </ItemGroup>
</Project>
");
            string configuration = typeof(QuantizedModelGenerator).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
            var watch = Stopwatch.StartNew();
            var (exitCode, log) = DotnetCli.Run(folder.Path, "build", "Tiny.csproj", "-c", configuration, "-p:BuildProjectReferences=false",
                "-p:UseSharedCompilation=false", "--disable-build-servers", "-nodeReuse:false", "-nologo");
            _output.WriteLine($"dotnet build took {watch.Elapsed.TotalSeconds:F1} s, exit code {exitCode}");
            _output.WriteLine(log);

            // The generator loaded (Google.Protobuf beside it), ran without an exception, and no binary file was read as text.
            foreach (var id in new[] { "CS8784", "CS8785", "CS8032", "CS8034", "CS2015", "AD0001" })
                Assert.DoesNotContain(id, log);
            Assert.True(exitCode == 0, "the temp project did not build:\n" + log);
            Assert.DoesNotContain(": error ", log);

            // The generated model's header carries the SHA-256 of the file on disk: the compiler read it byte for byte.
            var generated = FindGenerated(folder.Path, HintName);
            Assert.True(generated != null, $"{HintName} was not written under obj/; build log:\n" + log);
            AssertHeader(File.ReadAllText(generated!), ModelPath, Sha256(File.ReadAllBytes(modelPath)));
            Assert.Equal(Sha256(bytes), Sha256(File.ReadAllBytes(modelPath)));
        }

        private static string? FindGenerated(string projectFolder, string hintName)
        {
            var obj = Path.Combine(projectFolder, "obj");
            return Directory.Exists(obj) ? Directory.EnumerateFiles(obj, hintName, SearchOption.AllDirectories).FirstOrDefault() : null;
        }
    }
}
