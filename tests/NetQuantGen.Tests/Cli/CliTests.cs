using System;
using System.IO;
using System.Linq;
using NetQuantGen.Calibration;
using NetQuantGen.Cli;
using NetQuantGen.Import;
using NetQuantGen.Passes;
using NetQuantGen.Runtime.Data;
using NetQuantGen.Tests.Calibration;
using Xunit;

namespace NetQuantGen.Tests.Cli
{
    /// <summary>The netquant tool, run in-process through <see cref="CliApp.Run(string[], TextWriter, TextWriter)"/>.</summary>
    public class CliTests
    {
        internal sealed record Result(int ExitCode, string Out, string Error);

        internal static Result Netquant(params string[] args)
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            int code = CliApp.Run(args, stdout, stderr);
            return new Result(code, stdout.ToString(), stderr.ToString());
        }

        private static string CalibImages => Repository.PathOf("samples", "data", "calib-images-idx3-ubyte.gz");

        private static void AssertNoStackTrace(Result r) => Assert.DoesNotContain("   at ", r.Error);

        /// <summary>The tiny test model in a temp folder, with a float32 .npy of samples shaped like its input.</summary>
        private static (string Model, string Data) TinyModelAndData(TempFolder folder, int samples = 12, int seed = 3)
        {
            string model = Path.Combine(folder.Path, "tiny.onnx");
            File.WriteAllBytes(model, CalibrationTestModels.ConvNet(seed));
            var values = CalibrationTestModels.Samples(samples, 36).SelectMany(s => s).ToArray();
            string data = Path.Combine(folder.Path, "samples.npy");
            File.WriteAllBytes(data, DataReaderTests.Npy("<f4", new[] { samples, 1, 6, 6 }, DataReaderTests.Floats(values)));
            return (model, data);
        }

        [Fact]
        public void HelpGoesToStdoutWithExitCodeZero()
        {
            var r = Netquant("--help");
            Assert.Equal(0, r.ExitCode);
            Assert.Contains("calibrate", r.Out);
            Assert.Contains("inspect", r.Out);
            Assert.Equal("", r.Error);
            foreach (var args in new[] { new[] { "calibrate", "--help" }, new[] { "help", "inspect" }, new[] { "inspect", "-h" } })
            {
                r = Netquant(args);
                Assert.Equal(0, r.ExitCode);
                Assert.StartsWith("Usage: netquant ", r.Out);
            }
            Assert.Contains("--data <path>", Netquant("calibrate", "--help").Out);
            Assert.Contains("--stats <file.calib>", Netquant("inspect", "--help").Out);
            Assert.StartsWith("netquant ", Netquant("--version").Out);
        }

        [Theory]
        [InlineData(new string[0], "Usage: netquant <command>")]
        [InlineData(new[] { "frobnicate" }, "unknown command 'frobnicate'")]
        [InlineData(new[] { "--frobnicate" }, "unknown option '--frobnicate'")]
        [InlineData(new[] { "calibrate", "m.onnx", "--data", "d", "--bogus" }, "unknown option '--bogus' for 'calibrate'")]
        [InlineData(new[] { "calibrate", "m.onnx", "--dat", "d" }, "did you mean --data")]
        [InlineData(new[] { "calibrate", "m.onnx" }, "'calibrate' needs --data <path>")]
        [InlineData(new[] { "calibrate", "--data", "d" }, "'calibrate' needs <model.onnx>")]
        [InlineData(new[] { "calibrate", "m.onnx", "extra.onnx", "--data", "d" }, "unexpected argument 'extra.onnx'")]
        [InlineData(new[] { "calibrate", "m.onnx", "--data" }, "'--data' needs a value")]
        [InlineData(new[] { "calibrate", "m.onnx", "--data", "d", "--count", "many" }, "--count 'many'")]
        [InlineData(new[] { "calibrate", "m.onnx", "--data", "d", "--passes", "fold-batchnorm,magic" }, "unknown pass 'magic'")]
        [InlineData(new[] { "inspect", "m.onnx", "--input-shape", "1,a,3" }, "--input-shape '1,a,3'")]
        [InlineData(new[] { "help", "nothing" }, "unknown command 'nothing'")]
        public void UsageErrorsPrintUsageOnStderrWithExitCodeTwo(string[] args, string expected)
        {
            var r = Netquant(args);
            Assert.Equal(2, r.ExitCode);
            Assert.Contains(expected, r.Error);
            Assert.Contains("Usage: netquant", r.Error);
            Assert.Equal("", r.Out);
        }

        [Fact]
        public void AMalformedModelGivesTheDiagnosticAndExitCodeOne()
        {
            using var folder = new TempFolder();
            string model = Path.Combine(folder.Path, "bad.onnx");
            File.WriteAllBytes(model, new byte[] { 0x08, 0x07, 0x12, 0xFF, 0xFF, 0x01, 0x02 });
            string output = Path.Combine(folder.Path, "bad.calib");
            var r = Netquant("calibrate", model, "--data", CalibImages, "--out", output);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains($"{model}: error NQG0002: ", r.Error);
            AssertNoStackTrace(r);
            Assert.Equal(new[] { "bad.onnx" }, Directory.GetFiles(folder.Path).Select(Path.GetFileName));

            r = Netquant("inspect", model);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("error NQG0002: ", r.Error);
        }

        /// <summary>A QDQ model (the committed QAT sample): inspect prints each tensor's scale and zero-point and each quantized constant's.</summary>
        [Fact]
        public void InspectShowsTheQuantizationOfAQdqModel()
        {
            var r = Netquant("inspect", Repository.PathOf("samples", "models", "small_cnn_qat.onnx"));
            Assert.Equal(0, r.ExitCode);
            Assert.Contains("Quantization: given by the model (uint8 activations); it needs no statistics.", r.Out);
            Assert.Contains("Input:  input [1x1x28x28] float32 scale 0.003921569 zero-point -128", r.Out); // 1/255 and uint8 0 − 128
            var conv = r.Out.Split('\n').Single(l => l.Contains("Conv+Relu") && l.Contains(" features.0 "));
            Assert.Matches(@"scale [0-9.]+ zero-point -128$", conv.TrimEnd());
            Assert.Matches(@"features\.0\.weight \[32x1x3x3\] int8 per axis 0: 32 scales in \[[0-9.E-]+, [0-9.E-]+\], zero-points 0", r.Out);
            Assert.Matches(@"features\.0\.bias \[32\] int32 per axis 0", r.Out);
        }

        /// <summary>calibrate on a QDQ model says it needs no statistics and writes none.</summary>
        [Fact]
        public void CalibrateSaysAQdqModelNeedsNoStatistics()
        {
            using var folder = new TempFolder();
            string statistics = Path.Combine(folder.Path, "qat.calib");
            var r = Netquant("calibrate", Repository.PathOf("samples", "models", "small_cnn_qat.onnx"), "--data", CalibImages, "--out", statistics);
            Assert.Equal(0, r.ExitCode);
            Assert.Contains("small_cnn_qat.onnx is already quantized", r.Out);
            Assert.Contains("needs no statistics", r.Out);
            Assert.False(File.Exists(statistics));
        }

        [Fact]
        public void AMissingModelIsNqg0001()
        {
            var r = Netquant("inspect", "/nonexistent/model.onnx");
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("/nonexistent/model.onnx: error NQG0001: ", r.Error);
        }

        [Fact]
        public void AnUnpinnedDynamicInputIsNqg0005AndInputShapePinsIt()
        {
            using var folder = new TempFolder();
            string model = Path.Combine(folder.Path, "dynamic.onnx");
            File.WriteAllBytes(model, new OnnxBuilder()
                .Input("x", new long?[] { 1, 1, null, null })
                .Node("Relu", new[] { "x" }, new[] { "y" }, "relu")
                .Output("y").Bytes());
            var r = Netquant("inspect", model);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("error NQG0005: ", r.Error);
            Assert.Contains("--input-shape", r.Error);
            r = Netquant("inspect", model, "--input-shape", "1,1,28,28");
            Assert.Equal(0, r.ExitCode);
            Assert.Contains("Input:  x [1x1x28x28] float32", r.Out);
            Assert.Contains("y[1x1x28x28]", r.Out);
        }

        [Fact]
        public void InspectPrintsNodesShapesMacsAndParameters()
        {
            using var folder = new TempFolder();
            var (model, _) = TinyModelAndData(folder);
            var r = Netquant("inspect", model);
            Assert.Equal(0, r.ExitCode);
            Assert.Contains("Passes: remove-identity, fold-batchnorm, fuse-activation (changed the graph: fold-batchnorm, fuse-activation)", r.Out);
            var conv = r.Out.Split('\n').Single(l => l.Contains("conv1"));
            Assert.Contains("Conv+Relu", conv);
            Assert.Contains("input[1x1x6x6]", conv);
            Assert.Contains("[1x2x6x6]", conv);
            Assert.Contains(" 648 ", conv);  // 72 outputs × 9 taps
            Assert.EndsWith(" 20", conv.TrimEnd()); // 18 weights + 2 biases
            var fc = r.Out.Split('\n').Single(l => l.Contains("Gemm"));
            Assert.Contains(" 54 ", fc);
            Assert.Contains("Total: 4 nodes, 702 MACs", r.Out);
            Assert.Contains("77 parameters", r.Out);

            r = Netquant("inspect", model, "--passes", "none");
            Assert.Equal(0, r.ExitCode);
            Assert.Contains("BatchNormalization", r.Out);
            Assert.Contains("Total: 6 nodes", r.Out);
        }

        [Fact]
        public void CalibrateThenInspectTheTinyModelFromNpyData()
        {
            using var folder = new TempFolder();
            var (model, data) = TinyModelAndData(folder);
            string output = Path.Combine(folder.Path, "tiny.calib");
            var r = Netquant("calibrate", model, "--data", data, "--out", output);
            Assert.True(r.ExitCode == 0, r.Error);
            Assert.Matches(@"^Wrote .*tiny\.calib: 5 tensors, 12 samples, [0-9.]+ s", r.Out);
            Assert.Contains("calibrate: pass 1/2 (ranges): 12/12 samples", r.Error);
            Assert.Contains("calibrate: pass 2/2 (histograms): 12/12 samples", r.Error);
            Assert.Equal(new[] { "samples.npy", "tiny.calib", "tiny.onnx" }, Directory.GetFiles(folder.Path).Select(Path.GetFileName).OrderBy(n => n));

            var stats = StatisticsFile.Read(File.ReadAllBytes(output), "tiny.calib").Statistics!;
            Assert.Equal(12UL, stats.SampleCount);
            Assert.Equal("tiny.onnx", stats.ModelFileName);
            Assert.Equal(ModelHash.Sha256Hex(File.ReadAllBytes(model)), stats.ModelSha256);
            Assert.StartsWith("netquant ", stats.Producer);
            Assert.Contains("samples.npy: 12 items of 1x6x6 float32 (npy); first 12 of 12 samples", stats.DataDescription);
            Assert.DoesNotContain(folder.Path, stats.DataDescription);

            r = Netquant("inspect", model, "--stats", output);
            Assert.Equal(0, r.ExitCode);
            Assert.Contains("model hash: matches", r.Out);
            Assert.Contains("5 of 5 model tensors", r.Out);
            Assert.Contains("=> the statistics match the model.", r.Out);
            Assert.Matches(@"conv1 .*\[0, [0-9.]+\] mean", r.Out);

            // Other passes: stale (NQG0007) and different tensors (NQG0008); exit code 1.
            r = Netquant("inspect", model, "--stats", output, "--passes", "none");
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("passes:     DIFFER", r.Out);
            Assert.Contains("error NQG0007: ", r.Error);
            Assert.Contains("error NQG0008: ", r.Error);

            // Another model (other weights): stale hash.
            string other = Path.Combine(folder.Path, "other.onnx");
            File.WriteAllBytes(other, CalibrationTestModels.ConvNet(seed: 9));
            r = Netquant("inspect", other, "--stats", output);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("model hash: DIFFERS", r.Out);
            Assert.Contains("error NQG0007: ", r.Error);
            Assert.DoesNotContain("NQG0008", r.Error);

            // Not a statistics file.
            r = Netquant("inspect", model, "--stats", model);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("error NQG0017: ", r.Error);
        }

        [Fact]
        public void CalibrateFromAnImageFolderPadsImagesToTheInput()
        {
            using var folder = new TempFolder();
            var (model, _) = TinyModelAndData(folder);
            string images = Path.Combine(folder.Path, "images");
            Directory.CreateDirectory(images);
            var random = new Random(1);
            for (int i = 0; i < 7; i++)
            {
                var pixels = new byte[16];
                random.NextBytes(pixels);
                File.WriteAllBytes(Path.Combine(images, $"img{i}.pgm"), Netpbm.EncodePgm(pixels, 4, 4));
            }
            string output = Path.Combine(folder.Path, "tiny.calib");
            var r = Netquant("calibrate", model, "--data", images, "--out", output, "--count", "5");
            Assert.True(r.ExitCode == 0, r.Error);
            var stats = StatisticsFile.Read(File.ReadAllBytes(output), "tiny.calib").Statistics!;
            Assert.Equal(5UL, stats.SampleCount);
            var input = stats["input"];
            Assert.Equal(0.0, input.Min); // the zero border
            Assert.Equal((ulong)(5 * 36), input.Count);
            Assert.True(input.Histogram[0] >= 5 * 20, "each 6x6 input has a 20-pixel zero border around the 4x4 image");
        }

        [Fact]
        public void CalibrateDecodesPngFoldersThroughSkiaSharp()
        {
            using var folder = new TempFolder();
            var (model, _) = TinyModelAndData(folder);
            string images = Path.Combine(folder.Path, "png");
            Directory.CreateDirectory(images);
            for (int i = 0; i < 3; i++)
            {
                using var bitmap = new SkiaSharp.SKBitmap(new SkiaSharp.SKImageInfo(5, 5, SkiaSharp.SKColorType.Gray8));
                for (int y = 0; y < 5; y++)
                    for (int x = 0; x < 5; x++)
                        bitmap.SetPixel(x, y, new SkiaSharp.SKColor((byte)(50 * i + 10 * x), (byte)(50 * i + 10 * x), (byte)(50 * i + 10 * x)));
                using var data = bitmap.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
                File.WriteAllBytes(Path.Combine(images, $"{i}.png"), data.ToArray());
            }
            string output = Path.Combine(folder.Path, "png.calib");
            var r = Netquant("calibrate", model, "--data", images, "--out", output);
            Assert.True(r.ExitCode == 0, r.Error);
            var stats = StatisticsFile.Read(File.ReadAllBytes(output), "png.calib").Statistics!;
            Assert.Equal(3UL, stats.SampleCount);
            Assert.Contains("png/: 3 images (.png)", stats.DataDescription);
            var input = stats["input"];
            Assert.Equal(0.0, input.Min);
            Assert.Equal((double)(140 / 255f), input.Max); // 50·2 + 10·4: the brightest pixel of the last image
        }

        [Fact]
        public void DataProblemsAreErrorsAndWriteNothing()
        {
            using var folder = new TempFolder();
            var (model, data) = TinyModelAndData(folder, samples: 4);
            string output = Path.Combine(folder.Path, "tiny.calib");

            var r = Netquant("calibrate", model, "--data", data, "--out", output, "--count", "5");
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("--count 5 asks for more samples than the data holds (4)", r.Error);

            r = Netquant("calibrate", model, "--data", CalibImages, "--out", output);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("cannot feed input 'input' [1x1x6x6]", r.Error);
            Assert.Contains("28x28", r.Error);

            r = Netquant("calibrate", model, "--data", Repository.PathOf("samples", "data", "calib-labels-idx1-ubyte.gz"), "--out", output);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("labels file", r.Error);

            r = Netquant("calibrate", model, "--data", Path.Combine(folder.Path, "missing.npy"), "--out", output);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("does not exist", r.Error);

            r = Netquant("calibrate", model, "--data", data, "--out", Path.Combine(folder.Path, "no-such-folder", "x.calib"));
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("cannot write the statistics", r.Error);

            AssertNoStackTrace(r);
            Assert.Equal(new[] { "samples.npy", "tiny.onnx" }, Directory.GetFiles(folder.Path).Select(Path.GetFileName).OrderBy(n => n));
        }

        [Fact]
        public void CalibrateReplacesAnExistingFileAtomically()
        {
            using var folder = new TempFolder();
            var (model, data) = TinyModelAndData(folder);
            string output = Path.Combine(folder.Path, "tiny.calib");
            File.WriteAllText(output, "old");
            Assert.Equal(0, Netquant("calibrate", model, "--data", data, "--out", output, "--count", "3").ExitCode);
            var first = File.ReadAllBytes(output);
            Assert.Equal(0, Netquant("calibrate", model, "--data", data, "--out", output, "--count", "3").ExitCode);
            Assert.Equal(first, File.ReadAllBytes(output)); // deterministic
            Assert.Equal(3, Directory.GetFiles(folder.Path).Length); // no temp files left
        }

        /// <summary>The end-to-end check of the issue: small_cnn over 100 committed calibration images.</summary>
        [Fact]
        public void CalibratesSmallCnnOnTheCommittedSlice()
        {
            string model = Repository.SampleModel("small_cnn.onnx");
            Assert.True(File.Exists(model), $"{model} is missing: it is written by samples/models/train.py and committed.");
            using var folder = new TempFolder();
            string output = Path.Combine(folder.Path, "small_cnn.calib");
            var r = Netquant("calibrate", model, "--data", CalibImages, "--count", "100", "--out", output);
            Assert.True(r.ExitCode == 0, r.Error);
            Assert.Contains("100 samples", r.Out);

            var read = StatisticsFile.Read(File.ReadAllBytes(output), "small_cnn.calib");
            Assert.Empty(read.Diagnostics);
            var stats = read.Statistics!;
            var bytes = File.ReadAllBytes(model);
            var graph = OnnxImporter.Import(bytes, "small_cnn.onnx").Graph!;
            var report = PassPipeline.FromNames(PassPipeline.DefaultOrder).Run(graph);
            Assert.Empty(stats.CheckAgainst(graph, ModelHash.Sha256Hex(bytes), report.Ran, "small_cnn.calib"));
            Assert.Equal(100UL, stats.SampleCount);
            Assert.Equal(new[] { 1, 1, 28, 28 }, stats.InputShapes.Single().Dims.ToArray());
            foreach (var value in Calibrator.TensorsOf(graph))
            {
                Assert.True(stats.TryGet(value.Name, out var t), $"no statistics for '{value.Name}'");
                Assert.Equal((ulong)(value.ElementCount * 100), t.Count + t.NonFiniteCount);
                Assert.Equal(t.Count, t.Histogram.Total);
                Assert.True(t.Max >= t.Min);
            }
            var input = stats[graph.Inputs[0].Name];
            Assert.Equal(0.0, input.Min);
            Assert.Equal(1.0, input.Max);

            r = Netquant("inspect", model, "--stats", output);
            Assert.Equal(0, r.ExitCode);
            Assert.Contains("=> the statistics match the model.", r.Out);
        }
    }
}
