using System;
using System.Linq;
using NetQuantGen.Cli.Optimization;
using Xunit;
using Xunit.Abstractions;

namespace NetQuantGen.Tests.Optimization
{
    /// <summary>AdaRound and GPFQ on synthetic layers, against round to nearest on the same grid.</summary>
    public class LayerOptimizerTests
    {
        private readonly ITestOutputHelper _output;

        public LayerOptimizerTests(ITestOutputHelper output) => _output = output;

        /// <summary>
        /// A layer of Gaussian weights seeing ReLU-like inputs over <paramref name="patches"/> patches; the quantized
        /// network's inputs are the float ones on an int8-like grid (step 1/128), as after an activation quantizer.
        /// </summary>
        internal static LayerProblem Layer(int outputs, int inputs, int patches, int bits, int seed)
        {
            var random = new Random(seed);
            double Gaussian() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            var weights = Enumerable.Range(0, outputs * inputs).Select(_ => (float)(Gaussian() / Math.Sqrt(inputs))).ToArray();
            var x = new float[inputs * patches];
            for (int i = 0; i < x.Length; i++) x[i] = (float)Math.Max(0, Gaussian() + 0.3);
            var xq = x.Select(v => (float)(Math.Round(v * 128) / 128)).ToArray();
            int qmax = (1 << (bits - 1)) - 1;
            var scales = Enumerable.Range(0, outputs).Select(c => Enumerable.Range(0, inputs).Max(k => Math.Abs(weights[c * inputs + k])) / qmax).ToArray();
            return new LayerProblem(weights, outputs, scales, bits, 1, patches, new[] { x }, new[] { xq }, new float[outputs], float.NegativeInfinity, float.PositiveInfinity);
        }

        [Fact]
        public void AdaRoundReducesTheLayerReconstructionErrorOfRoundToNearest()
        {
            var layer = Layer(outputs: 16, inputs: 72, patches: 512, bits: 4, seed: 1);
            double nearest = layer.ReconstructionError(layer.RoundToNearest());
            var rounded = AdaRound.Quantize(layer, new AdaRoundSettings { Iterations = 400, BatchSize = 128, AfterActivation = false });
            double adaround = layer.ReconstructionError(rounded);
            _output.WriteLine($"reconstruction error: nearest {nearest:E3}, AdaRound {adaround:E3}");
            Assert.True(adaround < 0.9 * nearest, $"AdaRound {adaround:E3} vs nearest {nearest:E3}");
            // AdaRound only chooses between the two neighbours on the grid: every value is ⌊w/s⌋ or ⌊w/s⌋ + 1.
            for (int i = 0; i < rounded.Length; i++)
            {
                double x = layer.Weights[i] / layer.Scales[i / layer.Inputs];
                Assert.InRange(rounded[i], Math.Floor(x) - 1e-9, Math.Floor(x) + 1 + 1e-9);
            }
        }

        [Fact]
        public void GpfqBeatsRoundToNearestOnALayer()
        {
            var layer = Layer(outputs: 16, inputs: 72, patches: 512, bits: 4, seed: 2);
            double nearest = layer.ReconstructionError(layer.RoundToNearest());
            var quantized = Gpfq.Quantize(layer);
            double gpfq = layer.ReconstructionError(quantized);
            _output.WriteLine($"reconstruction error: nearest {nearest:E3}, GPFQ {gpfq:E3}");
            Assert.True(gpfq < 0.8 * nearest, $"GPFQ {gpfq:E3} vs nearest {nearest:E3}");
            Assert.All(quantized, q => Assert.InRange(q, -7, 7));
        }

        /// <summary>
        /// The paper's error bound: with more weights per neuron than data points, GPFQ's error ‖Xw − X̃q‖ stays bounded
        /// (it does not grow with the number of weights N₀, so the relative error decays), while round to nearest's error
        /// grows in proportion to N₀.
        /// </summary>
        [Fact]
        public void GpfqErrorStaysBoundedAsTheNumberOfWeightsGrowsWhileNearestRoundingGrows()
        {
            const int patches = 64;
            var small = Layer(outputs: 8, inputs: 64, patches, bits: 4, seed: 3);
            var large = Layer(outputs: 8, inputs: 1024, patches, bits: 4, seed: 3);
            // The weights scale as 1/√N₀; compare errors for unit-norm-per-input weights, i.e. times N₀.
            double Nearest(LayerProblem l) => l.ReconstructionError(l.RoundToNearest()) * l.Inputs;
            double Greedy(LayerProblem l) => l.ReconstructionError(Gpfq.Quantize(l)) * l.Inputs;
            double nearestGrowth = Nearest(large) / Nearest(small), gpfqGrowth = Greedy(large) / Greedy(small);
            _output.WriteLine($"error growth from 64 to 1024 weights: nearest x{nearestGrowth:F1}, GPFQ x{gpfqGrowth:F1}");
            Assert.True(nearestGrowth > 8, $"nearest rounding error grew only x{nearestGrowth:F1}");
            Assert.True(gpfqGrowth < nearestGrowth / 5, $"GPFQ error grew x{gpfqGrowth:F1}, nearest x{nearestGrowth:F1}");
        }

        [Fact]
        public void SparseGpfqZeroesMoreWeightsAsLambdaGrows()
        {
            var layer = Layer(outputs: 16, inputs: 72, patches: 512, bits: 4, seed: 4);
            double Sparsity(double lambda) => Gpfq.Quantize(layer, lambda).Count(q => q == 0) / (double)layer.Weights.Length;
            double plain = Sparsity(0), some = Sparsity(1), more = Sparsity(3);
            _output.WriteLine($"zero weights: λ=0 {plain:P1}, λ=1 {some:P1}, λ=3 {more:P1}");
            Assert.True(some > plain + 0.05 && more > some + 0.05, $"sparsity {plain:P1}, {some:P1}, {more:P1}");
        }
    }
}
