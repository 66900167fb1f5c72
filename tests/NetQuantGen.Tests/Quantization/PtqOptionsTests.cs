using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using NetQuantGen.Calibration;
using NetQuantGen.Compiler;
using NetQuantGen.Diagnostics;
using NetQuantGen.Import;
using NetQuantGen.IntegerIR;
using NetQuantGen.Passes;
using NetQuantGen.Quantization;
using Xunit;
using Xunit.Abstractions;
using QWeightGranularity = NetQuantGen.Quantization.WeightGranularity;
using QWeightRange = NetQuantGen.Quantization.WeightRangeMethod;

namespace NetQuantGen.Tests.Quantization
{
    /// <summary>Per-layer weight bit-widths, the size-budget allocation, MSE weight clipping and the entropy range's zero spike.</summary>
    public class PtqOptionsTests
    {
        private static readonly TargetClass Target = new("Tests.Ptq", "Model", "public", true);
        private readonly ITestOutputHelper _output;

        public PtqOptionsTests(ITestOutputHelper output) => _output = output;

        private static Lowering LowerTiny(CompilationOptions options)
        {
            var model = TinyModels.Snapshot();
            var statistics = TinyModels.Calibrate(model, "tiny.onnx", TinyModels.DyadicInputs(16, 16).ToList());
            return ModelCompiler.Lower(new ModelInput("tiny.onnx", model, "tiny.calib", statistics, options, Target));
        }

        [Fact]
        public void LayerWeightBitsNarrowsOnlyTheNamedLayer()
        {
            var lowering = LowerTiny(new CompilationOptions { LayerWeightBits = "conv=3" });
            Assert.True(lowering.IntegerGraph != null, string.Join("\n", lowering.Diagnostics));
            var layers = lowering.IntegerGraph!.Operations.OfType<QConvolution>().ToDictionary(c => c.Source);
            Assert.Equal(3, layers["conv"].Weights.Max(w => Math.Abs((int)w)));
            Assert.Equal(127, layers["fc"].Weights.Max(w => Math.Abs((int)w)));
        }

        [Fact]
        public void LayerWeightBitsNamingNoLayerIsNqg0031()
        {
            var lowering = LowerTiny(new CompilationOptions { LayerWeightBits = "conv=4,classifier=4" });
            Assert.Null(lowering.IntegerGraph);
            var error = Assert.Single(lowering.Diagnostics);
            Assert.Equal(DiagnosticCatalog.UnknownLayer, error.Kind);
            Assert.Contains("'classifier'", error.Message);
            Assert.Contains("layers: conv, fc", error.Message);
        }

        private static NetQuantGen.IR.Graph SampleGraph(string model)
        {
            var graph = OnnxImporter.Import(File.ReadAllBytes(SampleData.OnnxPath(model)), model, SampleData.ImportOptions(model)).Graph!;
            PassPipeline.FromNames(PassPipeline.DefaultOrder).Run(graph);
            return graph;
        }

        private static long PackedBytes(NetQuantGen.IR.Graph graph, IReadOnlyDictionary<string, int> bits, int defaultBits) =>
            graph.Nodes.Where(n => n.Op is NetQuantGen.IR.Conv || n.Op is NetQuantGen.IR.Gemm).Sum(n =>
            {
                var w = n.Input(1).Constant!;
                int outputs = n.Op is NetQuantGen.IR.Gemm { TransB: false } ? w.Shape[1] : w.Shape[0];
                return (w.Length * (long)(bits.TryGetValue(n.Name, out int b) ? b : defaultBits) + 7) / 8 + 4L * outputs;
            });

        [Fact]
        public void SizeBudgetChoosesWidthsThatFitAndKeepsSensitiveSmallLayersWide()
        {
            var graph = SampleGraph("small_cnn");
            var settings = new QuantizationSettings(_ => null);
            var diagnostics = new List<ModelDiagnostic>();
            var full = PackedBytes(graph, new Dictionary<string, int>(), 8);
            var bits = LayerBitAllocation.Choose(graph, new CompilationOptions { SizeBudgetKiB = 256 }, settings, "small_cnn", diagnostics);
            long size = PackedBytes(graph, bits, 8);
            _output.WriteLine($"small_cnn: {full / 1024.0:F1} KiB at 8 bits → {size / 1024.0:F1} KiB: {string.Join(", ", bits.Select(p => $"{p.Key}={p.Value}"))}");
            Assert.Empty(diagnostics);
            Assert.True(size <= 256 * 1024, $"{size} bytes");
            Assert.True(size > 200 * 1024, "the allocation should not give away much more than the budget asks");
            // The first convolution holds 0.1% of the weights: narrowing it saves almost nothing, so it stays at 8 bits.
            var first = graph.Nodes.First(n => n.Op is NetQuantGen.IR.Conv).Name;
            Assert.Equal(8, bits[first]);
        }

        [Fact]
        public void UnreachableSizeBudgetWarnsNqg0032()
        {
            var graph = SampleGraph("small_cnn");
            var diagnostics = new List<ModelDiagnostic>();
            var bits = LayerBitAllocation.Choose(graph, new CompilationOptions { SizeBudgetKiB = 1 }, new QuantizationSettings(_ => null), "small_cnn", diagnostics);
            Assert.Equal(DiagnosticCatalog.SizeBudgetUnreachable, Assert.Single(diagnostics).Kind);
            Assert.All(bits.Values, b => Assert.Equal(2, b));
        }

        [Theory]
        [InlineData(8, 1.0)]
        [InlineData(4, 0.9)]
        public void MseWeightClippingNeverLosesToMinMaxAndWinsClearlyAtFourBits(int bits, double atMost)
        {
            var random = new Random(2);
            int outputs = 16, per = 288;
            var w = new float[outputs * per];
            for (int i = 0; i < w.Length; i++)
            {
                double z = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                w[i] = (float)(0.05 * z * (i % 97 == 0 ? 8 : 1)); // a few outliers per channel
            }
            double Error(QWeightRange range, QWeightGranularity granularity)
            {
                var (q, s) = WeightQuantizer.Quantize(w, outputs, bits, granularity, range);
                return w.Select((v, i) => Math.Pow(v - q[i] * (double)s[i / per], 2)).Sum();
            }
            foreach (var granularity in new[] { QWeightGranularity.PerChannel, QWeightGranularity.PerTensor })
            {
                double minMax = Error(QWeightRange.MinMax, granularity), mse = Error(QWeightRange.Mse, granularity);
                _output.WriteLine($"{bits} bits {granularity}: squared error min-max {minMax:G4}, MSE clipping {mse:G4}");
                Assert.True(mse <= atMost * minMax, $"{mse} vs {minMax}");
            }
        }

        [Fact]
        public void EntropyRangeIgnoresTheSpikeOfExactZeros()
        {
            // A ReLU output: a half-normal body plus exact zeros. More zeros must not move the entropy range (zero is exact).
            var random = new Random(4);
            var body = new ulong[Histogram.DefaultBinCount];
            for (int i = 0; i < 200_000; i++)
            {
                double z = Math.Abs(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
                body[Math.Min(body.Length - 1, (int)(z / 6.0 * body.Length))]++;
            }
            ActivationRange RangeWithZeros(ulong zeros)
            {
                var counts = (ulong[])body.Clone();
                counts[0] += zeros;
                ulong total = (ulong)counts.Sum(c => (decimal)c);
                var h = new Histogram(0, 6, counts);
                return RangeSetting.Choose(new TensorStatistics("relu", new[] { 1 }, 0, 6, total, 1, 1, 0, h), RangeMethodOption.Entropy, 99.99);
            }
            var few = RangeWithZeros(1_000);
            var many = RangeWithZeros(2_000_000);
            _output.WriteLine($"entropy range with few zeros [0, {few.Max:F3}], with ten times the body in zeros [0, {many.Max:F3}]");
            Assert.Equal(few.Max, many.Max, 3);
            Assert.InRange(few.Max, 2.5f, 6f);
        }
    }
}
