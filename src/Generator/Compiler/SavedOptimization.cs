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
        /// Saved weights must have been optimized for the attribute's weight bits and granularity (NQG0040) and
        /// name nodes of this graph that have weights (NQG0041); BiasCorrection = Empirical needs corrections saved in the
        /// file (NQG0041). Saved corrections are applied whenever the file has them: `netquant optimize` put them there.
        /// Empty when they fit.
        /// </summary>
        public static IReadOnlyList<ModelDiagnostic> Check(Graph graph, CalibrationStatistics statistics, CompilationOptions options, string statisticsFileName)
        {
            var diagnostics = new List<ModelDiagnostic>();
            var granularity = options.WeightGranularity == WeightGranularityOption.PerTensor ? WeightGranularity.PerTensor : WeightGranularity.PerChannel;
            var weighted = new HashSet<string>(graph.Nodes.Where(n => n.Op is Conv || n.Op is Gemm || n.Op is MatMul).Select(n => n.Name), StringComparer.Ordinal);
            var mismatched = statistics.RoundedWeights.FirstOrDefault(r => r.Bits != options.WeightBits || r.Granularity != granularity);
            if (mismatched != null)
                diagnostics.Add(new ModelDiagnostic(DiagnosticCatalog.SavedWeightsSettingsMismatch,
                    $"Model '{graph.ModelName}': statistics file '{statisticsFileName}' holds {mismatched.Method} weights optimized for W{mismatched.Bits} {RoundedWeights.GranularityName(mismatched.Granularity)} " +
                    $"(node '{mismatched.Node}'), but the attribute asks for W{options.WeightBits} {RoundedWeights.GranularityName(granularity)}; set WeightBits/WeightGranularity to match, " +
                    $"or re-run `netquant optimize` with --weight-bits {options.WeightBits} --granularity {RoundedWeights.GranularityName(granularity)}."));
            foreach (var name in statistics.RoundedWeights.Select(r => r.Node).Concat(statistics.BiasCorrections.Select(b => b.Node)).Where(n => !weighted.Contains(n)).Distinct())
                diagnostics.Add(new ModelDiagnostic(DiagnosticCatalog.SavedWeightsMismatch,
                    $"Model '{graph.ModelName}': statistics file '{statisticsFileName}' holds optimized weights or a bias correction for node '{name}', which the graph after the float passes has no Conv/Gemm/MatMul of that name; re-run `netquant optimize` on this model."));
            if (options.BiasCorrection == BiasCorrectionOption.Empirical && statistics.BiasCorrections.Count == 0)
                diagnostics.Add(new ModelDiagnostic(DiagnosticCatalog.SavedWeightsMismatch,
                    $"Model '{graph.ModelName}': BiasCorrection = Empirical, but statistics file '{statisticsFileName}' holds no empirical bias corrections; " +
                    "run `netquant optimize --bias-correction empirical` on it, or choose BiasCorrection = Analytic or None."));
            return diagnostics;
        }

        /// <summary>The quantizer hook that bakes the saved integer weights (null when the file has none).</summary>
        public static Func<string, float[], int, (sbyte[] Values, float[] Scales)?>? WeightOverride(CalibrationStatistics statistics)
        {
            if (statistics.RoundedWeights.Count == 0) return null;
            var byNode = statistics.RoundedWeights.ToDictionary(r => r.Node, StringComparer.Ordinal);
            return (node, _, _) => byNode.TryGetValue(node, out var r) ? (r.Values, r.Scales) : null;
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
