using System.IO;
using System.Linq;
using NetQuantGen.Calibration;
using NetQuantGen.Compiler;
using NetQuantGen.Tests.Calibration;
using Xunit;

namespace NetQuantGen.Tests.Cli
{
    /// <summary>`netquant optimize` end to end on the tiny calibration model: the file it writes builds with the saved weights.</summary>
    public class OptimizeCommandTests
    {
        private static (string Model, string Data, string Statistics) Calibrated(TempFolder folder)
        {
            string model = Path.Combine(folder.Path, "tiny.onnx");
            File.WriteAllBytes(model, CalibrationTestModels.ConvNet(3));
            var values = CalibrationTestModels.Samples(24, 36).SelectMany(s => s).ToArray();
            string data = Path.Combine(folder.Path, "samples.npy");
            File.WriteAllBytes(data, DataReaderTests.Npy("<f4", new[] { 24, 1, 6, 6 }, DataReaderTests.Floats(values)));
            string statistics = Path.Combine(folder.Path, "tiny.calib");
            var calibrate = CliTests.Netquant("calibrate", model, "--data", data, "--out", statistics);
            Assert.True(calibrate.ExitCode == 0, calibrate.Error);
            return (model, data, statistics);
        }

        [Theory]
        [InlineData("--gpfq", "gpfq")]
        [InlineData("--adaround", "adaround")]
        public void OptimizeSavesWeightsThatTheBuildBakesAtTheSameBits(string method, string saved)
        {
            using var folder = new TempFolder();
            var (model, data, statistics) = Calibrated(folder);
            string output = Path.Combine(folder.Path, "tiny.w4.calib");
            var r = CliTests.Netquant("optimize", model, "--stats", statistics, "--data", data, method, "--weight-bits", "4",
                "--bias-correction", "empirical", "--iterations", "20", "--out", output);
            Assert.True(r.ExitCode == 0, r.Error);
            Assert.Contains("Wrote " + output, r.Out);
            var written = StatisticsFile.Read(File.ReadAllBytes(output)).Statistics!;
            Assert.NotEmpty(written.RoundedWeights);
            Assert.All(written.RoundedWeights, w => Assert.Equal((4, saved), (w.Bits, w.Method)));
            Assert.Equal(written.RoundedWeights.Count, written.BiasCorrections.Count);
            // The tensors are those of the input file: optimize adds results, it does not recalibrate.
            Assert.Equal(StatisticsFile.Read(File.ReadAllBytes(statistics)).Statistics!.Tensors.Select(t => (t.Name, t.Min, t.Max)), written.Tensors.Select(t => (t.Name, t.Min, t.Max)));

            var build = ModelCompiler.Compile(new ModelInput("tiny.onnx", File.ReadAllBytes(model), "tiny.w4.calib", File.ReadAllBytes(output),
                new CompilationOptions { WeightBits = 4 }, new TargetClass(null, "Tiny", "public", true)));
            Assert.True(build.Source != null, string.Join("\n", build.Diagnostics));
        }

        [Theory]
        [InlineData(new[] { "optimize", "m.onnx", "--stats", "s", "--data", "d" }, "nothing to do")]
        [InlineData(new[] { "optimize", "m.onnx", "--stats", "s", "--data", "d", "--adaround", "--gpfq" }, "choose one of --adaround and --gpfq")]
        [InlineData(new[] { "optimize", "m.onnx", "--stats", "s", "--data", "d", "--adaround", "--gpfq-sparsity", "1" }, "--gpfq-sparsity needs --gpfq")]
        [InlineData(new[] { "optimize", "m.onnx", "--stats", "s", "--data", "d", "--bias-correction", "analytic" }, "--bias-correction 'analytic'")]
        [InlineData(new[] { "optimize", "m.onnx", "--stats", "s", "--data", "d", "--gpfq", "--patches", "lots" }, "--patches 'lots'")]
        public void OptimizeUsageErrorsExitWithTwo(string[] args, string expected)
        {
            var r = CliTests.Netquant(args);
            Assert.Equal(2, r.ExitCode);
            Assert.Contains(expected, r.Error);
        }
    }
}
