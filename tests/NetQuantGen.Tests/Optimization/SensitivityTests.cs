using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using NetQuantGen.Calibration;
using NetQuantGen.Cli.Optimization;
using NetQuantGen.Compiler;
using NetQuantGen.Diagnostics;
using NetQuantGen.Import;
using NetQuantGen.Passes;
using NetQuantGen.Quantization;
using Xunit;
using Xunit.Abstractions;

namespace NetQuantGen.Tests.Optimization
{
    /// <summary>Measured layer sensitivity (`netquant optimize --sensitivity`) and the size-budget allocation that uses it.</summary>
    public class SensitivityTests
    {
        private readonly ITestOutputHelper _output;

        public SensitivityTests(ITestOutputHelper output) => _output = output;

        private static IR.Graph SampleGraph(string model)
        {
            var graph = OnnxImporter.Import(File.ReadAllBytes(SampleData.OnnxPath(model)), model, SampleData.ImportOptions(model)).Graph!;
            PassPipeline.FromNames(PassPipeline.DefaultOrder).Run(graph);
            return graph;
        }

        [Fact]
        public void OutputNoiseFallsWithEveryWeightBitAndLeavesTheGraphAsItWas()
        {
            var graph = SampleGraph("small_cnn");
            var weightsBefore = graph.Nodes.Where(n => n.Op is IR.Conv || n.Op is IR.Gemm).Select(n => n.Input(1).Constant).ToList();
            var samples = SampleData.TestInputs("small_cnn", 4);
            var measured = SensitivityMeasurement.Run(graph, new QuantizationSettings(_ => null), samples, threads: 2);
            Assert.Equal(weightsBefore.Count, measured.Count);
            Assert.Equal(weightsBefore, graph.Nodes.Where(n => n.Op is IR.Conv || n.Op is IR.Gemm).Select(n => n.Input(1).Constant).ToList());
            foreach (var layer in measured)
            {
                _output.WriteLine($"{layer.Node}: {string.Join(" ", layer.OutputNoise.Skip(2).Select(v => v.ToString("E2")))}");
                Assert.True(layer.OutputNoise[2] > layer.OutputNoise[4] && layer.OutputNoise[4] > layer.OutputNoise[8], layer.Node);
                Assert.True(layer.OutputNoise[8] < 1e-3, $"{layer.Node}: 8-bit weights alone should barely move the output ({layer.OutputNoise[8]})");
            }
        }

        [Fact]
        public void SensitivitiesSurviveTheStatisticsFileRoundTrip()
        {
            var statistics = StatisticsFile.Read(File.ReadAllBytes(SampleData.StatisticsPath("small_cnn"))).Statistics!;
            var sensitivities = new[] { new LayerSensitivity("conv", NetQuantGen.Quantization.WeightGranularity.PerTensor, new[] { 0, 0, 0.5, 0.1, 0.01, 1e-3, 1e-4, 1e-5, 1e-6 }) };
            var back = StatisticsFile.Read(StatisticsFile.Write(statistics.WithSensitivities(sensitivities))).Statistics!;
            var layer = Assert.Single(back.LayerSensitivities);
            Assert.Equal(("conv", NetQuantGen.Quantization.WeightGranularity.PerTensor), (layer.Node, layer.Granularity));
            Assert.Equal(sensitivities[0].OutputNoise, layer.OutputNoise);
            // Replacing the optimization results keeps the measured sensitivities.
            Assert.Single(back.WithOptimization(Array.Empty<RoundedWeights>(), Array.Empty<SavedBiasCorrection>(), "").LayerSensitivities);
        }

        /// <summary>
        /// The allocation follows the measurement, not the weights: with the largest convolution measured as fragile and every
        /// other layer as robust, that convolution keeps 8 bits and the others give their bits up.
        /// </summary>
        [Fact]
        public void TheSizeBudgetAllocationFollowsMeasuredSensitivity()
        {
            var graph = SampleGraph("small_cnn");
            var layers = graph.Nodes.Where(n => n.Op is IR.Conv || n.Op is IR.Gemm).ToList();
            var largest = layers.Where(n => n.Op is IR.Conv).OrderByDescending(n => n.Input(1).Constant!.Length).First().Name;
            double[] Noise(double scale) => Enumerable.Range(0, LayerBitWidths.MaxBits + 1).Select(b => b < 2 ? 0 : scale * Math.Pow(4, -b)).ToArray();
            var settings = new QuantizationSettings(_ => null) { MeasuredSensitivity = name => Noise(name == largest ? 1e6 : 1) };
            var budget = (int)(LayerBitAllocation.UniformBytes(graph, 6) / 1024);
            var diagnostics = new List<ModelDiagnostic>();
            var bits = LayerBitAllocation.Choose(graph, new CompilationOptions { SizeBudgetKiB = budget }, settings, "small_cnn", diagnostics);
            _output.WriteLine(string.Join(", ", bits.Select(p => $"{p.Key}={p.Value}")));
            Assert.Empty(diagnostics);
            Assert.Equal(8, bits[largest]);
            Assert.Contains(bits, p => p.Key != largest && p.Value < 6);

            var proxy = LayerBitAllocation.Choose(graph, new CompilationOptions { SizeBudgetKiB = budget }, new QuantizationSettings(_ => null), "small_cnn", diagnostics);
            Assert.True(proxy[largest] < 8, "without measurements the weight-error proxy narrows the largest layer");
        }
    }
}
