using System;
using System.IO;
using System.Linq;
using NetQuantGen.Cli;
using NetQuantGen.Compiler;
using NetQuantGen.Diagnostics;
using NetQuantGen.Import;
using NetQuantGen.IntegerIR;
using NetQuantGen.IR;
using NetQuantGen.Passes;
using NetQuantGen.Quantization;
using NetQuantGen.Reference;
using Xunit;
using Xunit.Abstractions;

namespace NetQuantGen.Tests.Quantization
{
    /// <summary>
    /// A build without statistics quantizes data-free (Nagel et al. 2019) when BatchNormalization statistics reach
    /// every activation, and says calibration would do better; otherwise it builds FLOAT32 and says why.
    /// </summary>
    public class DataFreeQuantizationTests
    {
        private static readonly TargetClass Target = new("Tests.DataFree", "Model", "public", true);
        private readonly ITestOutputHelper _output;

        public DataFreeQuantizationTests(ITestOutputHelper output) => _output = output;

        private static ModelInput Uncalibrated(string model, CompilationOptions? options = null) =>
            new(model + ".onnx", File.ReadAllBytes(SampleData.OnnxPath(model)), null, null,
                (options ?? new CompilationOptions()) with { InputShape = SampleData.InputShapeOption(model) }, Target);

        [Theory]
        [InlineData("small_cnn")]
        [InlineData("mobilenet_v2_small")]
        public void SampleModelWithoutStatisticsBuildsBitExactInt8DataFreeWithinOnePointOfFloat(string model)
        {
            var input = Uncalibrated(model);
            var lowering = ModelCompiler.Lower(input);
            var note = Assert.Single(lowering.Diagnostics);
            Assert.Equal(DiagnosticCatalog.DataFreeQuantization, note.Kind);
            Assert.Equal(DiagnosticLevel.Info, note.Kind.Level);
            Assert.Contains("Calibration would do better", note.Message);
            Assert.Contains("netquant calibrate", note.Message);
            Assert.NotNull(lowering.IntegerGraph);
            var source = ModelCompiler.Compile(input).Source;
            Assert.NotNull(source);
            Assert.Contains("data-free", source);

            using var generated = new GeneratedModel(source!, "Tests.DataFree.Model");
            const int count = 2000, exactnessCount = 40;
            var inputs = SampleData.TestInputs(model, count);
            var labels = SampleData.TestLabels;
            var reference = new IntegerExecutor(lowering.IntegerGraph!);
            var quantizedInput = lowering.IntegerGraph!.Inputs[0].Output;
            for (int i = 0; i < exactnessCount; i++)
            {
                var q = IntegerExecutor.Quantize(inputs[i], quantizedInput);
                Assert.Equal(reference.RunQuantized(q), generated.Run(q));
            }
            var floatRun = new FloatExecutor(lowering.FloatGraph!);
            int floatCorrect = 0, integerCorrect = 0;
            for (int i = 0; i < count; i++)
            {
                if (SampleData.ArgMax(floatRun.Run(inputs[i])) == labels[i]) floatCorrect++;
                if (SampleData.ArgMax(generated.Run(inputs[i])) == labels[i]) integerCorrect++;
            }
            _output.WriteLine($"{model}: FP32 {floatCorrect / (double)count:P2}, data-free INT8 {integerCorrect / (double)count:P2} on {count} test images");
            Assert.True(integerCorrect >= floatCorrect - 0.01 * count, $"data-free INT8 {integerCorrect} vs FP32 {floatCorrect} of {count}");
        }

        [Fact]
        public void ModelWithoutBatchNormalizationBuildsFloatAndSaysWhyNotDataFree()
        {
            var input = new ModelInput("tiny.onnx", TinyModels.Snapshot(), null, null, new CompilationOptions(), Target);
            var result = ModelCompiler.Compile(input);
            var warning = Assert.Single(result.Diagnostics);
            Assert.Equal(DiagnosticCatalog.MissingStatistics, warning.Kind);
            Assert.Contains("FLOAT32", warning.Message);
            Assert.Contains("data-free INT8 was not possible: the range of input 'image' cannot be estimated", warning.Message);
            Assert.Contains("// Build: FLOAT32", result.Source);
        }

        [Fact]
        public void DataFreeOffBuildsFloat()
        {
            var lowering = ModelCompiler.Lower(Uncalibrated("small_cnn", new CompilationOptions { DataFree = false }));
            Assert.Null(lowering.IntegerGraph);
            Assert.Equal(DiagnosticCatalog.MissingStatistics, Assert.Single(lowering.Diagnostics).Kind);
        }

        [Theory]
        [InlineData("small_cnn")]
        [InlineData("mobilenet_v2_small")]
        [InlineData("resnet18")]
        public void InputRangeEstimatedFromTheFirstBatchNormCoversMostPixels(string model)
        {
            // The samples feed pixel / 255 (mean 0.29, σ 0.35 on Fashion-MNIST): the estimate must cover most of [0, 1].
            var import = OnnxImporter.Import(File.ReadAllBytes(SampleData.OnnxPath(model)), model, SampleData.ImportOptions(model));
            var graph = import.Graph!;
            PassPipeline.FromNames(PassPipeline.DefaultOrder).Run(graph);
            var estimate = PriorPropagation.EstimateInput(graph, graph.Inputs[0]);
            Assert.NotNull(estimate);
            _output.WriteLine($"{model}: input mean {string.Join(", ", estimate!.Mean.Select(m => m.ToString("F3")))}, σ {estimate.Std[0]:F3}, range [{estimate.Range.Min:F3}, {estimate.Range.Max:F3}]");
            Assert.InRange(estimate.Range.Min, -2f, 0.05f);
            Assert.InRange(estimate.Range.Max, 0.8f, 3f);
        }

        [Theory]
        [InlineData(0.5, 1.0, 0, double.PositiveInfinity)]
        [InlineData(-1.0, 2.0, 0, 6)]
        [InlineData(3.0, 2.0, 0, 6)]
        [InlineData(0.2, 0.5, double.NegativeInfinity, double.PositiveInfinity)]
        public void ClippedNormalMomentsMatchSampling(double mu, double sigma, double a, double b)
        {
            var random = new Random(5);
            const int n = 400_000;
            double sum = 0, sumSquares = 0;
            for (int i = 0; i < n; i++)
            {
                double z = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                double x = Math.Min(b, Math.Max(a, mu + sigma * z));
                sum += x;
                sumSquares += x * x;
            }
            double mean = sum / n, variance = sumSquares / n - mean * mean;
            var (m, v) = ClippedNormal.Moments(mu, sigma, a, b);
            Assert.True(Math.Abs(mean - m) < 0.01 * Math.Max(1, Math.Abs(mean)) && Math.Abs(variance - v) < 0.02 * Math.Max(1, variance), $"sampled ({mean}, {variance}) vs analytic ({m}, {v})");
        }

        [Fact]
        public void AnalyticBiasCorrectionBringsTheQuantizedLayersExpectedOutputToTheFloatOne()
        {
            // Inputs ReLU(N(β, γ²)) per channel, as a BN + ReLU before the layer produces; 4-bit per-tensor weights
            // give a visible systematic error ε·E[x], which the correction removes.
            var random = new Random(3);
            int m = 8, c = 16;
            var beta = Enumerable.Range(0, c).Select(_ => random.NextDouble() * 2 - 0.5).ToArray();
            var gamma = Enumerable.Range(0, c).Select(_ => 0.3 + random.NextDouble()).ToArray();
            var w = Enumerable.Range(0, m * c * 9).Select(i => (float)((random.NextDouble() - 0.5) * (i % 17 == 0 ? 3 : 0.4))).ToArray();
            var weights = TensorData.FromFloats(new[] { m, c, 3, 3 }, w);
            var (q, scales) = WeightQuantizer.Quantize(w, m, 4, NetQuantGen.Quantization.WeightGranularity.PerTensor);
            var expected = Enumerable.Range(0, c).Select(i => ClippedNormal.Moments(beta[i], gamma[i], 0, double.PositiveInfinity).Mean).ToArray();
            var bias = new float[m];
            var corrected = AnalyticBiasCorrection.Corrected(bias, weights, q, scales, 1, expected);

            // Expected outputs by sampling the inputs (independent of the analytic moments).
            var floatMean = new double[m];
            var plainMean = new double[m];
            var correctedMean = new double[m];
            const int samples = 4000;
            for (int s = 0; s < samples; s++)
            {
                var x = new double[c * 9];
                for (int i = 0; i < x.Length; i++)
                {
                    double z = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                    x[i] = Math.Max(0, beta[i / 9] + gamma[i / 9] * z);
                }
                for (int o = 0; o < m; o++)
                {
                    double yf = 0, yq = 0;
                    for (int i = 0; i < c * 9; i++)
                    {
                        yf += w[o * c * 9 + i] * x[i];
                        yq += q[o * c * 9 + i] * (double)scales[o] * x[i];
                    }
                    floatMean[o] += yf / samples;
                    plainMean[o] += yq / samples;
                    correctedMean[o] += (yq + corrected[o]) / samples;
                }
            }
            double plainError = floatMean.Zip(plainMean, (a, b) => Math.Abs(a - b)).Sum();
            double correctedError = floatMean.Zip(correctedMean, (a, b) => Math.Abs(a - b)).Sum();
            _output.WriteLine($"Σ|E[y_q] − E[y]| over channels: {plainError:G3} without, {correctedError:G3} with analytic bias correction");
            Assert.True(correctedError < 0.25 * plainError, $"{correctedError} vs {plainError}");
        }
    }
}
