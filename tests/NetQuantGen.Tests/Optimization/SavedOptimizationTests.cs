using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.Calibration;
using NetQuantGen.Cli;
using NetQuantGen.Cli.Optimization;
using NetQuantGen.Compiler;
using NetQuantGen.IntegerIR;
using NetQuantGen.Quantization;
using Xunit;

namespace NetQuantGen.Tests.Optimization
{
    /// <summary>Optimized weights and bias corrections: saved in the statistics file, checked against the build's settings, baked.</summary>
    public class SavedOptimizationTests
    {
        private const string ModelName = "residual.onnx";
        private const int InputLength = 3 * 12 * 12;
        private static readonly CompilationOptions W4 = new() { WeightBits = 4 };

        /// <summary>The tiny residual model, calibrated, then optimized with GPFQ at W4 plus empirical bias correction.</summary>
        private static (byte[] Model, CalibrationStatistics Statistics) Optimized(RoundingMethod rounding = RoundingMethod.Gpfq)
        {
            var model = TinyModels.ResidualCnn();
            var samples = TinyModels.RandomInputs(48, InputLength, seed: 1).ToList();
            var plain = StatisticsFile.Read(TinyModels.Calibrate(model, ModelName, samples)).Statistics!;
            var lowering = ModelCompiler.Lower(Input(model, StatisticsFile.Write(plain), W4));
            Assert.True(lowering.IntegerGraph != null, string.Join("\n", lowering.Diagnostics));
            var result = LayerwiseOptimizer.Run(lowering.FloatGraph!, ModelCompiler.SettingsFor(W4, plain), samples,
                new OptimizationSettings { Rounding = rounding, EmpiricalBiasCorrection = true, Patches = 256, AdaRound = new AdaRoundSettings { Iterations = 50 } });
            return (model, plain.WithOptimization(result.RoundedWeights, result.BiasCorrections, "test"));
        }

        private static ModelInput Input(byte[] model, byte[] statistics, CompilationOptions options) =>
            new(ModelName, model, "residual.calib", statistics, options, new TargetClass("Tests.Optimized", "Residual", "public", true));

        [Fact]
        public void EmpiricalBiasCorrectionWithoutSavedCorrectionsIsAnError()
        {
            var model = TinyModels.ResidualCnn();
            var statistics = TinyModels.Calibrate(model, ModelName, TinyModels.RandomInputs(8, InputLength, seed: 2).ToList());
            var lowering = ModelCompiler.Lower(Input(model, statistics, new CompilationOptions { BiasCorrection = BiasCorrectionOption.Empirical }));
            Assert.Null(lowering.IntegerGraph);
            Assert.Contains(lowering.Diagnostics, d => d.Id == "NQG0041" && d.Message.Contains("--bias-correction empirical"));
        }

        [Fact]
        public void OptimizedResultsSurviveTheStatisticsFileRoundTrip()
        {
            var (_, statistics) = Optimized();
            var bytes = StatisticsFile.Write(statistics);
            var read = StatisticsFile.Read(bytes);
            Assert.True(read.Succeeded, string.Join("\n", read.Diagnostics));
            var back = read.Statistics!;
            Assert.NotEmpty(statistics.RoundedWeights);
            Assert.Equal(statistics.RoundedWeights.Count, back.RoundedWeights.Count);
            foreach (var (a, b) in statistics.RoundedWeights.Zip(back.RoundedWeights))
            {
                Assert.Equal((a.Node, a.Bits, a.Granularity, a.Method), (b.Node, b.Bits, b.Granularity, b.Method));
                Assert.Equal(a.Values, b.Values);
                Assert.Equal(a.Scales, b.Scales);
                Assert.Equal(a.Shape, b.Shape);
            }
            Assert.Equal(statistics.BiasCorrections.Select(c => (c.Node, c.Correction, c.Bits, c.Granularity)), back.BiasCorrections.Select(c => (c.Node, c.Correction, c.Bits, c.Granularity)));
            Assert.All(back.BiasCorrections, c => Assert.Equal(4, c.Bits));
            Assert.Equal("test", back.Optimization);
            Assert.Equal(bytes, StatisticsFile.Write(back));
        }

        [Theory]
        [InlineData(RoundingMethod.Gpfq)]
        [InlineData(RoundingMethod.AdaRound)]
        public void SavedWeightsAreBakedAndTheGeneratedCodeIsBitIdenticalToTheReferenceThatUsesThem(RoundingMethod rounding)
        {
            var (model, statistics) = Optimized(rounding);
            var input = Input(model, StatisticsFile.Write(statistics), W4);
            var lowering = ModelCompiler.Lower(input);
            Assert.True(lowering.IntegerGraph != null, string.Join("\n", lowering.Diagnostics));
            var convolutions = lowering.IntegerGraph!.Operations.OfType<QConvolution>().ToDictionary(c => c.Source);
            foreach (var saved in statistics.RoundedWeights)
            {
                Assert.Equal(saved.Values, convolutions[saved.Node].Weights);
                Assert.Equal(saved.Scales, convolutions[saved.Node].WeightScales);
            }
            // The saved weights differ from nearest rounding somewhere, and the bias corrections changed the int32 biases.
            var nearest = ModelCompiler.Lower(Input(model, StatisticsFile.Write(statistics.WithOptimization(Array.Empty<RoundedWeights>(), Array.Empty<SavedBiasCorrection>(), "")), W4)).IntegerGraph!;
            var nearestOps = nearest.Operations.OfType<QConvolution>().ToDictionary(c => c.Source);
            Assert.Contains(statistics.RoundedWeights, s => !s.Values.SequenceEqual(nearestOps[s.Node].Weights));
            Assert.Contains(statistics.BiasCorrections, b => !convolutions[b.Node].Bias.SequenceEqual(nearestOps[b.Node].Bias));

            var result = ModelCompiler.Compile(input);
            Assert.True(result.Source != null, string.Join("\n", result.Diagnostics));
            using var generated = new GeneratedModel(result.Source!, "Tests.Optimized.Residual");
            var reference = new IntegerExecutor(lowering.IntegerGraph!);
            foreach (var sample in TinyModels.RandomInputs(50, InputLength, seed: 9))
            {
                var q = IntegerExecutor.Quantize(sample, lowering.IntegerGraph!.Inputs[0].Output);
                Assert.Equal(reference.RunQuantized(q), generated.Run(q));
            }
        }

        [Fact]
        public void WeightsOptimizedForOtherBitsAreReportedNotBaked()
        {
            var (model, statistics) = Optimized();
            var result = ModelCompiler.Compile(Input(model, StatisticsFile.Write(statistics), new CompilationOptions { WeightBits = 8 }));
            Assert.Null(result.Source);
            var diagnostic = Assert.Single(result.Diagnostics, d => d.Kind.Id == "NQG0040");
            Assert.Contains("W4", diagnostic.Message);
            Assert.Contains("--weight-bits 8", diagnostic.Message);
            var perTensor = ModelCompiler.Compile(Input(model, StatisticsFile.Write(statistics), W4 with { WeightGranularity = WeightGranularityOption.PerTensor }));
            Assert.Contains(perTensor.Diagnostics, d => d.Kind.Id == "NQG0040");
        }

        /// <summary>The check is per layer: a LayerWeightBits entry that differs from the saved weights' width is caught too.</summary>
        [Fact]
        public void SavedWeightsAreCheckedAgainstTheirLayersOwnBitWidth()
        {
            var (model, statistics) = Optimized();
            string layer = statistics.RoundedWeights[1].Node;
            var result = ModelCompiler.Compile(Input(model, StatisticsFile.Write(statistics), W4 with { LayerWeightBits = layer + "=6" }));
            Assert.Null(result.Source);
            var diagnostic = Assert.Single(result.Diagnostics, d => d.Kind.Id == "NQG0040");
            Assert.Contains($"node '{layer}'", diagnostic.Message);
            Assert.Contains("--weight-bits 6", diagnostic.Message);
        }

        /// <summary>A bias correction depends on the quantized weights it corrects: one made for W4 is refused by a W8 build.</summary>
        [Fact]
        public void BiasCorrectionsComputedForOtherBitsAreReportedNotApplied()
        {
            var (model, statistics) = Optimized();
            var correctionsOnly = statistics.WithOptimization(Array.Empty<RoundedWeights>(), statistics.BiasCorrections, "test");
            var result = ModelCompiler.Compile(Input(model, StatisticsFile.Write(correctionsOnly), new CompilationOptions()));
            Assert.Null(result.Source);
            var diagnostic = Assert.Single(result.Diagnostics, d => d.Kind.Id == "NQG0040");
            Assert.Contains("bias correction computed for W4", diagnostic.Message);
            Assert.NotNull(ModelCompiler.Compile(Input(model, StatisticsFile.Write(correctionsOnly), W4)).Source);
        }

        [Fact]
        public void WeightsForANodeTheGraphDoesNotHaveAreStale()
        {
            var (model, statistics) = Optimized();
            var renamed = statistics.RoundedWeights.Select((r, i) => i > 0 ? r : new RoundedWeights("no-such-node", r.Bits, r.Granularity, r.Scales, r.Shape, r.Values, r.Method));
            var stale = statistics.WithOptimization(renamed, statistics.BiasCorrections, "test");
            var result = ModelCompiler.Compile(Input(model, StatisticsFile.Write(stale), W4));
            Assert.Null(result.Source);
            Assert.Contains(result.Diagnostics, d => d.Kind.Id == "NQG0041" && d.Message.Contains("no-such-node"));
        }

        [Fact]
        public void SavedWeightsOutsideTheirBitRangeMakeTheFileMalformed()
        {
            var (_, statistics) = Optimized();
            var first = statistics.RoundedWeights[0];
            var values = (sbyte[])first.Values.Clone();
            values[0] = 100; // beyond the 4-bit range [-7, 7]
            var broken = statistics.WithOptimization(new[] { new RoundedWeights(first.Node, first.Bits, first.Granularity, first.Scales, first.Shape, values, first.Method) }, Array.Empty<SavedBiasCorrection>(), "");
            var read = StatisticsFile.Read(StatisticsFile.Write(broken), "broken.calib");
            Assert.False(read.Succeeded);
            var diagnostic = Assert.Single(read.Diagnostics);
            Assert.Equal("NQG0017", diagnostic.Kind.Id);
            Assert.Contains(first.Node, diagnostic.Message);
        }
    }
}
