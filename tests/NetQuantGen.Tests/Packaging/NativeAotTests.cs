using System;
using System.Diagnostics;
using System.IO;
using System.Reflection;
using NetQuantGen.Generator;
using Xunit;
using Xunit.Abstractions;

namespace NetQuantGen.Tests.Packaging
{
    /// <summary>
    /// SLOW (about 1 to 2 minutes here): publishes samples/FashionMnist with NativeAOT once and checks it against the
    /// JIT build. The sample sets PublishAot and IlcInstructionSet=x86-64-v3; without the latter the AOT binary would run
    /// the scalar kernels on this AVX2 machine. Needs a C toolchain for the native link (.ci/run installs clang).
    /// </summary>
    public class NativeAotTests
    {
        private const int Images = 200;
        private readonly ITestOutputHelper _output;

        public NativeAotTests(ITestOutputHelper output) => _output = output;

        [Fact]
        public void FashionMnistSamplePublishesWithNativeAotWithoutWarningsAndMatchesTheJitBuild()
        {
            string configuration = typeof(QuantizedModelGenerator).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
            string project = Repository.PathOf("samples", "FashionMnist", "FashionMnist.csproj");
            using var publish = new TempFolder();

            // The referenced projects were built with the tests; only the sample itself is (re)built here.
            var (jitBuildCode, jitBuildLog) = DotnetCli.Run(Repository.Root, TimeSpan.FromMinutes(10), null, "dotnet",
                "build", project, "-c", configuration, "-p:BuildProjectReferences=false", "-nodeReuse:false", "-nologo");
            Assert.True(jitBuildCode == 0, jitBuildLog);
            var watch = Stopwatch.StartNew();
            var (publishCode, publishLog) = DotnetCli.Run(Repository.Root, TimeSpan.FromMinutes(15), null, "dotnet",
                "publish", project, "-c", configuration, "-r", "linux-x64", "-o", publish.Path, "-p:BuildProjectReferences=false", "-nodeReuse:false", "-nologo");
            _output.WriteLine($"NativeAOT publish took {watch.Elapsed.TotalSeconds:F0} s");
            _output.WriteLine(publishLog);
            Assert.True(publishCode == 0, publishLog);
            // Trim and AOT analysis warnings (IL2xxx, IL3xxx) would mean reflection or dynamic code in generated code or runtime.
            Assert.DoesNotMatch(@"warning IL[23]\d{3}", publishLog);

            string binary = Path.Combine(publish.Path, "FashionMnist");
            Assert.True(File.Exists(binary), "no native binary in the publish folder:\n" + publishLog);
            Assert.False(File.Exists(Path.Combine(publish.Path, "FashionMnist.dll")), "the publish produced IL, not a native binary");
            _output.WriteLine($"native binary: {new FileInfo(binary).Length / 1e6:F1} MB");

            var (aotCode, aot) = DotnetCli.Run(publish.Path, TimeSpan.FromMinutes(2), null, binary, "--check", Images.ToString());
            string jitDll = Path.Combine(Path.GetDirectoryName(project)!, "bin", configuration, "net10.0", "FashionMnist.dll");
            var (jitCode, jit) = DotnetCli.Run(publish.Path, TimeSpan.FromMinutes(2), null, "dotnet", jitDll, "--check", Images.ToString());
            _output.WriteLine("AOT:\n" + aot + "JIT:\n" + jit);
            Assert.True(aotCode == 0, aot);
            Assert.True(jitCode == 0, jit);
            // The binary targets x86-64-v3, so it runs the AVX2 path; the JIT takes the best path of this machine (Vector512
            // where AVX-512 is there). Every path is bit-identical, so top-1 counts and logits must agree bit for bit.
            Assert.StartsWith("kernel path: Vector256; AVX2: True; Vector256 accelerated: True", aot);
            Assert.Equal(WithoutKernelPath(jit), WithoutKernelPath(aot));
        }

        private static string WithoutKernelPath(string checkOutput)
        {
            Assert.StartsWith("kernel path: ", checkOutput);
            return checkOutput.Substring(checkOutput.IndexOf('\n') + 1);
        }
    }
}
