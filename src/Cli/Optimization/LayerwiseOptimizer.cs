using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading.Tasks;
using NetQuantGen.Calibration;
using NetQuantGen.IntegerIR;
using NetQuantGen.IR;
using NetQuantGen.Quantization;
using NetQuantGen.Reference;

namespace NetQuantGen.Cli.Optimization
{
    public enum RoundingMethod { Nearest, AdaRound, Gpfq }

    /// <summary>What <c>netquant optimize</c> computes.</summary>
    public sealed record OptimizationSettings
    {
        public RoundingMethod Rounding { get; init; } = RoundingMethod.Nearest;

        public bool EmpiricalBiasCorrection { get; init; }

        /// <summary>λ of sparse GPFQ (0: plain GPFQ).</summary>
        public double GpfqSparsity { get; init; }

        public AdaRoundSettings AdaRound { get; init; } = new();

        /// <summary>Input patches sampled per layer (from all samples' output positions).</summary>
        public int Patches { get; init; } = 2048;

        public int Threads { get; init; } = 2;

        public int Seed { get; init; } = 1;
    }

    /// <summary>What happened to one layer: relative reconstruction error ‖Wx − W̃x̃‖²/‖Wx‖² with nearest rounding and with the chosen weights.</summary>
    public sealed record LayerReport(string Node, int OutputChannels, int Inputs, int Patches, double NearestError, double ChosenError, double Sparsity, double Seconds);

    public sealed record OptimizationResult(IReadOnlyList<RoundedWeights> RoundedWeights, IReadOnlyList<SavedBiasCorrection> BiasCorrections, IReadOnlyList<LayerReport> Layers);

    /// <summary>
    /// Layer by layer in graph order, the data-dependent quantization steps: each Conv/Gemm/MatMul sees its
    /// inputs in the float network (one run over the samples) and in the quantized network with every earlier
    /// layer already optimized and bias-corrected (an integer-reference run per layer, stopped at the layer),
    /// chooses its integer weights (nearest, AdaRound or GPFQ) and, if asked, its empirical bias correction
    /// E[W̃x̃] − E[Wx] per output channel.
    /// </summary>
    public static class LayerwiseOptimizer
    {
        public static OptimizationResult Run(Graph graph, QuantizationSettings quantization, IReadOnlyList<float[]> samples, OptimizationSettings settings, Action<string>? log = null)
        {
            var layers = graph.Nodes.Where(n => n.Op is Conv || n.Op is Gemm || n.Op is MatMul).ToList();
            var samplers = layers.Select((n, i) => new PatchSampler(n, samples.Count, settings.Patches, settings.Seed + i)).ToList();
            var (floatPatches, floatMeans) = CollectFloat(graph, samplers, samples, settings.Threads);

            var rounded = new Dictionary<string, (sbyte[] Values, float[] Scales)>(StringComparer.Ordinal);
            var corrections = new Dictionary<string, float[]>(StringComparer.Ordinal);
            var savedWeights = new List<RoundedWeights>();
            var savedCorrections = new List<SavedBiasCorrection>();
            var reports = new List<LayerReport>();
            var cache = samples.Select(_ => new Dictionary<string, short[]>(StringComparer.Ordinal)).ToArray();
            for (int l = 0; l < layers.Count; l++)
            {
                var clock = Stopwatch.StartNew();
                var node = layers[l];
                var sampler = samplers[l];
                float[]? floatWeights = null;
                var current = new QuantizationSettings(quantization.RangeOf)
                {
                    WeightBits = quantization.WeightBits,
                    Granularity = quantization.Granularity,
                    WeightOverride = (name, weights, _) =>
                    {
                        if (name == node.Name) floatWeights = weights;
                        return rounded.TryGetValue(name, out var r) ? r : null;
                    },
                    BiasCorrectionOf = name => corrections.TryGetValue(name, out var c) ? c : null,
                };
                var integer = Quantizer.Run(graph, current);
                var op = integer.Operations.OfType<QConvolution>().Single(c => c.Source == node.Name);
                var (quantizedPatches, quantizedMeans) = CollectQuantized(integer, op.Input, sampler, samples, cache, settings.Threads);

                double collectSeconds = clock.Elapsed.TotalSeconds;
                int m = op.OutputChannels;
                var (_, scales) = WeightQuantizer.Quantize(floatWeights!, m, quantization.WeightBits, quantization.Granularity);
                var (clampMin, clampMax) = ClampOf(node);
                var problem = new LayerProblem(floatWeights!, m, scales, quantization.WeightBits, sampler.Groups, sampler.Patches,
                    floatPatches[l], quantizedPatches, FloatBias(node, m), clampMin, clampMax);
                var nearest = problem.RoundToNearest();
                var chosen = settings.Rounding switch
                {
                    RoundingMethod.AdaRound => AdaRound.Quantize(problem, settings.AdaRound with { Seed = settings.Seed + l }, settings.Threads),
                    RoundingMethod.Gpfq => Gpfq.Quantize(problem, settings.GpfqSparsity, settings.Threads),
                    _ => nearest,
                };
                if (settings.Rounding != RoundingMethod.Nearest)
                {
                    rounded[node.Name] = (chosen, scales);
                    string method = settings.Rounding == RoundingMethod.AdaRound ? "adaround" : settings.GpfqSparsity > 0 ? "gpfq-sparse" : "gpfq";
                    savedWeights.Add(new RoundedWeights(node.Name, quantization.WeightBits, quantization.Granularity, scales, new[] { m, problem.Inputs }, chosen, method));
                }
                if (settings.EmpiricalBiasCorrection)
                {
                    var correction = BiasCorrectionOf(problem, chosen, floatMeans[l], quantizedMeans, (double)samples.Count * sampler.PositionsPerSample);
                    corrections[node.Name] = correction;
                    savedCorrections.Add(new SavedBiasCorrection(node.Name, correction, quantization.WeightBits, quantization.Granularity));
                }
                double energy = Math.Max(problem.OutputEnergy(), 1e-30);
                var report = new LayerReport(node.Name, m, problem.Inputs, problem.Patches, problem.ReconstructionError(nearest) / energy,
                    problem.ReconstructionError(chosen) / energy, chosen.Count(v => v == 0) / (double)chosen.Length, clock.Elapsed.TotalSeconds);
                reports.Add(report);
                log?.Invoke(FormattableString.Invariant($"{node.Name}: {m}x{problem.Inputs}, {problem.Patches} patches, relative error nearest {report.NearestError:E2} -> {report.ChosenError:E2}, zeros {100 * report.Sparsity:F1}%, {report.Seconds:F1} s ({collectSeconds:F1} s collecting)"));
            }
            return new OptimizationResult(savedWeights, savedCorrections, reports);
        }

        /// <summary>Per output channel, the mean pre-activation error E[W̃x̃] − E[Wx] over every position of every sample.</summary>
        private static float[] BiasCorrectionOf(LayerProblem layer, sbyte[] quantized, double[][] floatSums, double[][] quantizedSums, double positions)
        {
            var correction = new float[layer.OutputChannels];
            for (int c = 0; c < layer.OutputChannels; c++)
            {
                int g = layer.GroupOf(c);
                double sum = 0;
                for (int t = 0; t < layer.Inputs; t++)
                    sum += layer.Scales[c] * quantized[c * layer.Inputs + t] * quantizedSums[g][t] - layer.Weights[c * layer.Inputs + t] * floatSums[g][t];
                correction[c] = (float)(sum / positions);
            }
            return correction;
        }

        private static (float[][][] Patches, double[][][] Sums) CollectFloat(Graph graph, IReadOnlyList<PatchSampler> samplers, IReadOnlyList<float[]> samples, int threads)
        {
            var patches = samplers.Select(s => s.NewStorage()).ToArray();
            var partSums = new double[threads][][][];
            var byInput = samplers.Select((s, i) => (s.Node.Input(0).Name, i)).ToLookup(p => p.Name, p => p.i);
            var input = graph.Inputs[0].Name;
            Parallel.For(0, threads, part =>
            {
                var executor = new FloatExecutor(graph);
                var sums = partSums[part] = samplers.Select(s => s.NewMeans()).ToArray();
                for (int n = part; n < samples.Count; n += threads)
                    executor.Run(new Dictionary<string, float[]> { [input] = samples[n] }, (value, data) =>
                    {
                        foreach (int l in byInput[value.Name]) samplers[l].Collect(n, data, patches[l], sums[l]);
                    });
            });
            return (patches, Merge(partSums));
        }

        /// <summary>
        /// The layer's input patches in the quantized network. <paramref name="cache"/> holds, per sample, the integer
        /// tensors earlier runs computed (by name): every operation before this layer's input only depends on
        /// layers already final, so each runs once per sample over the whole optimization (at the cost of keeping
        /// every int8 activation of every sample: tens of MB for the sample models).
        /// </summary>
        private static (float[][] Patches, double[][] Sums) CollectQuantized(IntegerGraph integer, QTensor layerInput, PatchSampler sampler, IReadOnlyList<float[]> samples, Dictionary<string, short[]>[] cache, int threads)
        {
            var patches = sampler.NewStorage();
            var partSums = new double[threads][][][];
            var inputTensor = integer.Inputs[0].Output;
            Parallel.For(0, threads, part =>
            {
                var executor = new IntegerExecutor(integer);
                var sums = partSums[part] = new[] { sampler.NewMeans() };
                var real = new float[layerInput.Length];
                for (int n = part; n < samples.Count; n += threads)
                {
                    var known = cache[n];
                    executor.RunQuantized(IntegerExecutor.QuantizeValues(samples[n], inputTensor), t => known.TryGetValue(t.Name, out var q) ? q : null, (tensor, data) =>
                    {
                        if (!known.ContainsKey(tensor.Name)) known[tensor.Name] = (short[])data.Clone();
                        if (!ReferenceEquals(tensor, layerInput)) return true;
                        for (int i = 0; i < real.Length; i++) real[i] = (data[i] - tensor.ZeroPoint) * tensor.Scale;
                        sampler.Collect(n, real, patches, sums[0]);
                        return false;
                    });
                }
            });
            return (patches, Merge(partSums)[0]);
        }

        private static double[][][] Merge(double[][][][] parts)
        {
            var total = parts[0];
            foreach (var part in parts.Skip(1))
                for (int l = 0; l < total.Length; l++)
                    for (int g = 0; g < total[l].Length; g++)
                        for (int t = 0; t < total[l][g].Length; t++) total[l][g][t] += part[l][g][t];
            return total;
        }

        private static (float Min, float Max) ClampOf(Node node)
        {
            var fused = node.Op switch { Conv c => c.Fused, Gemm g => g.Fused, _ => null };
            return (fused?.Min ?? float.NegativeInfinity, fused?.Max ?? float.PositiveInfinity);
        }

        /// <summary>The float bias as the quantizer sees it (Gemm: β·C broadcast), zeros when there is none.</summary>
        private static float[] FloatBias(Node node, int m)
        {
            var bias = node.OptionalInput(2)?.Constant?.ToFloats();
            if (bias == null) return new float[m];
            float beta = node.Op is Gemm gemm ? gemm.Beta : 1f;
            return Enumerable.Range(0, m).Select(c => beta * bias[bias.Length == 1 ? 0 : c]).ToArray();
        }
    }
}
