using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.Calibration;
using NetQuantGen.Diagnostics;
using NetQuantGen.IR;
using NetQuantGen.Quantization;

namespace NetQuantGen.Compiler
{
    /// <summary>
    /// The data-dependent results a statistics file may carry (AdaRound/GPFQ integer weights, empirical bias
    /// corrections): whether they fit this build, and the quantizer hooks that bake them.
    /// </summary>
    public static class SavedOptimization
    {
        /// <summary>
        /// Saved weights and bias corrections must have been computed for the attribute's weight granularity (NQG0040;
        /// their bit-widths are checked per layer by <see cref="CheckWidths"/>) and name nodes of this graph that have
        /// weights (NQG0041); BiasCorrection = Empirical needs corrections saved in the file (NQG0041). Saved corrections
        /// are applied whenever the file has them: `netquant optimize` put them there. Empty when they fit.
        /// </summary>
        public static IReadOnlyList<ModelDiagnostic> Check(Graph graph, CalibrationStatistics statistics, CompilationOptions options, string statisticsFileName)
        {
            var diagnostics = new List<ModelDiagnostic>();
            var granularity = options.WeightGranularity == WeightGranularityOption.PerTensor ? WeightGranularity.PerTensor : WeightGranularity.PerChannel;
            var weighted = new HashSet<string>(graph.Nodes.Where(n => n.Op is Conv || n.Op is Gemm || n.Op is MatMul).Select(n => n.Name), StringComparer.Ordinal);
            var mismatched = Saved(statistics).FirstOrDefault(r => r.Bits != 0 && r.Granularity != granularity);
            if (mismatched.Node != null)
                diagnostics.Add(new ModelDiagnostic(DiagnosticCatalog.SavedWeightsSettingsMismatch,
                    $"Model '{graph.ModelName}': statistics file '{statisticsFileName}' holds {mismatched.What} computed for W{mismatched.Bits} {RoundedWeights.GranularityName(mismatched.Granularity)} " +
                    $"(node '{mismatched.Node}'), but the attribute asks for {RoundedWeights.GranularityName(granularity)} weights; set WeightGranularity to match, " +
                    $"or re-run `netquant optimize` with --granularity {RoundedWeights.GranularityName(granularity)}."));
            foreach (var name in statistics.RoundedWeights.Select(r => r.Node).Concat(statistics.BiasCorrections.Select(b => b.Node)).Where(n => !weighted.Contains(n)).Distinct())
                diagnostics.Add(new ModelDiagnostic(DiagnosticCatalog.SavedWeightsMismatch,
                    $"Model '{graph.ModelName}': statistics file '{statisticsFileName}' holds optimized weights or a bias correction for node '{name}', which the graph after the float passes has no Conv/Gemm/MatMul of that name; re-run `netquant optimize` on this model."));
            if (options.BiasCorrection == BiasCorrectionOption.Empirical && statistics.BiasCorrections.Count == 0)
                diagnostics.Add(new ModelDiagnostic(DiagnosticCatalog.SavedWeightsMismatch,
                    $"Model '{graph.ModelName}': BiasCorrection = Empirical, but statistics file '{statisticsFileName}' holds no empirical bias corrections; " +
                    "run `netquant optimize --bias-correction empirical` on it, or choose BiasCorrection = Analytic or None."));
            return diagnostics;
        }

        /// <summary>
        /// Saved weights and (recorded) bias corrections must have been computed for the bit-width each layer gets in this
        /// build: WeightBits, or its LayerWeightBits entry or size-budget choice (NQG0040). Empty when they fit.
        /// </summary>
        public static IReadOnlyList<ModelDiagnostic> CheckWidths(Graph graph, CalibrationStatistics statistics, QuantizationSettings settings, string statisticsFileName)
        {
            var mismatched = Saved(statistics).FirstOrDefault(r => r.Bits != 0 && r.Bits != settings.WeightBitsOf(r.Node));
            if (mismatched.Node == null) return Array.Empty<ModelDiagnostic>();
            int bits = settings.WeightBitsOf(mismatched.Node);
            return new[]
            {
                new ModelDiagnostic(DiagnosticCatalog.SavedWeightsSettingsMismatch,
                    $"Model '{graph.ModelName}': statistics file '{statisticsFileName}' holds {mismatched.What} computed for W{mismatched.Bits} weights of node '{mismatched.Node}', " +
                    $"but this build gives that layer {bits}-bit weights (WeightBits, LayerWeightBits or SizeBudgetKiB); make them match, or re-run `netquant optimize` with --weight-bits {bits}."),
            };
        }

        /// <summary>Every saved per-node result with the weight settings it was computed for.</summary>
        private static IEnumerable<(string Node, int Bits, WeightGranularity Granularity, string What)> Saved(CalibrationStatistics statistics) =>
            statistics.RoundedWeights.Select(r => (r.Node, r.Bits, r.Granularity, $"{r.Method} weights"))
                .Concat(statistics.BiasCorrections.Select(b => (b.Node, b.Bits, b.Granularity, "an empirical bias correction")));

        /// <summary>The quantizer hook that bakes the saved integer weights (null when the file has none).</summary>
        public static Func<string, float[], int, (sbyte[] Values, float[] Scales)?>? WeightOverride(CalibrationStatistics statistics)
        {
            if (statistics.RoundedWeights.Count == 0) return null;
            var byNode = statistics.RoundedWeights.ToDictionary(r => r.Node, StringComparer.Ordinal);
            return (node, _, _) => byNode.TryGetValue(node, out var r) ? (r.Values, r.Scales) : null;
        }

        /// <summary>Measured layer sensitivities for the size-budget allocation, when the file has them for the attribute's granularity.</summary>
        public static Func<string, double[]?>? MeasuredSensitivity(CalibrationStatistics statistics, CompilationOptions options)
        {
            var granularity = options.WeightGranularity == WeightGranularityOption.PerTensor ? WeightGranularity.PerTensor : WeightGranularity.PerChannel;
            var byNode = statistics.LayerSensitivities.Where(l => l.Granularity == granularity).ToDictionary(l => l.Node, l => l.OutputNoise, StringComparer.Ordinal);
            if (byNode.Count == 0) return null;
            return node => byNode.TryGetValue(node, out var noise) ? noise : null;
        }

        /// <summary>The quantizer hook that applies the saved bias corrections (null when the file has none).</summary>
        public static Func<string, float[]?>? BiasCorrectionOf(CalibrationStatistics statistics)
        {
            if (statistics.BiasCorrections.Count == 0) return null;
            var byNode = statistics.BiasCorrections.ToDictionary(b => b.Node, b => b.Correction, StringComparer.Ordinal);
            return node => byNode.TryGetValue(node, out var c) ? c : null;
        }
    }
}
