using System;
using System.Linq;
using NetQuantGen.Cli;
using NetQuantGen.Compiler;
using NetQuantGen.Diagnostics;
using Xunit;
using static NetQuantGen.Tests.OnnxBuilder;

namespace NetQuantGen.Tests.EndToEnd
{
    /// <summary>Problems only the whole compiler sees (statistics against the model, integer overflow) and the run-time contract of generated code.</summary>
    public class CompilerDiagnosticsTests
    {
        private static ModelInput Input(byte[] model, byte[]? statistics, string name = "model.onnx") =>
            new(name, model, statistics == null ? null : "model.calib", statistics, new CompilationOptions(), new TargetClass("Tests", "Model", "public", true));

        /// <summary>A 1×1 convolution over 70,000 channels of weight 1: Σ|w|·255 = 70,000·127·255 exceeds int32.</summary>
        private static byte[] WideConvolution(int channels) => new OnnxBuilder()
            .Input("x", 1, channels, 1, 1)
            .Initializer("w", new long[] { 2, channels, 1, 1 }, Enumerable.Repeat(1f, 2 * channels).ToArray())
            .Node("Conv", new[] { "x", "w" }, new[] { "y" }, "wide_conv")
            .Output("y")
            .Bytes();

        [Fact]
        public void AccumulatorThatCouldOverflowInt32IsAnErrorNamingTheNode()
        {
            var model = WideConvolution(70_000);
            var statistics = TinyModels.Calibrate(model, "model.onnx", TinyModels.RandomInputs(2, 70_000, seed: 5).ToList());
            var result = ModelCompiler.Compile(Input(model, statistics));
            Assert.Null(result.Source);
            var d = Assert.Single(result.Diagnostics);
            Assert.Equal(DiagnosticCatalog.AccumulatorOverflow.Id, d.Id);
            Assert.Contains("wide_conv", d.Message);
        }

        [Fact]
        public void AccumulatorBelowTheBoundCompiles()
        {
            var model = WideConvolution(60_000); // 60,000·127·255 < 2^31
            var statistics = TinyModels.Calibrate(model, "model.onnx", TinyModels.RandomInputs(2, 60_000, seed: 5).ToList());
            Assert.NotNull(ModelCompiler.Compile(Input(model, statistics)).Source);
        }

        [Fact]
        public void StatisticsOfAnEditedModelAreStale()
        {
            var model = TinyModels.ResidualCnn(seed: 7);
            var statistics = TinyModels.Calibrate(model, "model.onnx", TinyModels.RandomInputs(8, 432, seed: 1).ToList());
            var retrained = TinyModels.ResidualCnn(seed: 8); // same graph, other weights
            var result = ModelCompiler.Compile(Input(retrained, statistics));
            Assert.Null(result.Source);
            Assert.Contains(result.Diagnostics, d => d.Id == DiagnosticCatalog.StaleStatistics.Id && d.Message.Contains("netquant calibrate"));
        }

        [Fact]
        public void StatisticsOfAnotherModelDoNotMatchItsTensors()
        {
            var other = TinyModels.Snapshot();
            var statistics = TinyModels.Calibrate(other, "model.onnx", TinyModels.DyadicInputs(4, 16).ToList());
            var result = ModelCompiler.Compile(Input(TinyModels.ResidualCnn(), statistics));
            Assert.Null(result.Source);
            Assert.Contains(result.Diagnostics, d => d.Id == DiagnosticCatalog.TensorNameMismatch.Id);
        }

        [Fact]
        public void GeneratedRunAllocatesNothingAfterTheFirstCallOnAThread()
        {
            var (generated, sample) = Residual();
            var output = new float[generated.Constant<int>("OutputLength")];
            var run = generated.FloatEntryPoint;
            run(sample, output);
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10; i++) run(sample, output);
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        [Fact]
        public void GeneratedRunGivesTheSameResultsFromManyThreadsAtOnce()
        {
            var (generated, _) = Residual();
            var inputs = TinyModels.RandomInputs(64, 432, seed: 9).ToArray();
            var expected = inputs.Select(generated.Run).ToArray();
            var actual = new float[inputs.Length][];
            System.Threading.Tasks.Parallel.For(0, inputs.Length, new System.Threading.Tasks.ParallelOptions { MaxDegreeOfParallelism = 8 },
                i => actual[i] = generated.Run(inputs[i]));
            for (int i = 0; i < inputs.Length; i++) Assert.Equal(expected[i], actual[i]);
        }

        private static (GeneratedModel Generated, float[] Sample) Residual()
        {
            var model = TinyModels.ResidualCnn();
            var statistics = TinyModels.Calibrate(model, "model.onnx", TinyModels.RandomInputs(16, 432, seed: 1).ToList());
            var result = ModelCompiler.Compile(Input(model, statistics));
            return (new GeneratedModel(result.Source!, "Tests.Model"), TinyModels.RandomInputs(1, 432, seed: 2).First());
        }
    }
}
