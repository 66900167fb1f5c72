using System.Collections.Generic;
using System.Linq;
using NetQuantGen.Diagnostics;
using NetQuantGen.Passes;
using NetQuantGen.Quantization;

namespace NetQuantGen.Compiler
{
    /// <summary>
    /// Data-free quantization (Nagel et al. 2019, §5) for a build without statistics: the attribute's passes plus
    /// cross-layer equalization and high-bias absorption, activation ranges from the BatchNormalization priors
    /// (<see cref="PriorPropagation"/>), and analytic bias correction. It applies when every activation the integer
    /// graph needs has an estimate; otherwise the caller builds FLOAT32 and says why.
    /// </summary>
    internal static class DataFree
    {
        /// <summary>The passes of a data-free build: the attribute's, with equalization and absorption added, in pipeline order.</summary>
        public static IReadOnlyList<string> PassNames(CompilationOptions options)
        {
            var chosen = options.PassNames();
            var added = new CompilationOptions { Passes = 16 | 32 }.PassNames();
            return PassPipeline.Order.Where(n => chosen.Contains(n) || added.Contains(n)).ToList();
        }

        /// <summary>The generated header's settings line for a data-free build.</summary>
        public static string Describe(CompilationOptions options) =>
            ModelCompiler.Describe(options with { Passes = options.Passes | 16 | 32, BiasCorrection = BiasCorrectionOption.Analytic })
                .Replace("range min-max", "range data-free from BatchNormalization statistics");

        /// <summary>
        /// Quantizes a clone of <paramref name="imported"/> data-free. On success returns the integer graph, sets
        /// <paramref name="graph"/> to the float graph after the passes and adds the NQG0030 note; otherwise returns null
        /// with the reason in <paramref name="whyNot"/>.
        /// </summary>
        public static IntegerIR.IntegerGraph? TryLower(ModelInput input, IR.Graph imported, List<ModelDiagnostic> diagnostics, out IR.Graph graph, out string? whyNot)
        {
            graph = imported.Clone();
            PassPipeline.FromNames(PassNames(input.Options)).Run(graph);
            var estimates = PriorPropagation.Run(graph);
            var missing = graph.Inputs.Concat(graph.Nodes.Select(n => n.Output)).FirstOrDefault(v => !estimates.ContainsKey(v));
            if (missing != null)
            {
                whyNot = graph.Inputs.Contains(missing)
                    ? $"the range of input '{missing.Name}' cannot be estimated (its first layer has no BatchNormalization)"
                    : $"the range of '{missing.Name}' cannot be estimated from BatchNormalization statistics";
                return null;
            }
            var ranges = estimates.ToDictionary(p => p.Key.Name, p => p.Value.Range);
            var settings = new QuantizationSettings(name => ranges.TryGetValue(name, out var r) ? r : null)
            {
                WeightBits = input.Options.WeightBits,
                Granularity = input.Options.WeightGranularity == WeightGranularityOption.PerTensor ? WeightGranularity.PerTensor : WeightGranularity.PerChannel,
                WeightRange = input.Options.WeightRange == WeightRangeOption.Mse ? WeightRangeMethod.Mse : WeightRangeMethod.MinMax,
                Arithmetic = input.Options.ArithmeticFor(quantizedModel: false),
            };
            var notes = new List<ModelDiagnostic>();
            try
            {
                settings = ModelCompiler.WithGraphOptions(settings, input.Options, graph, input.ModelFileName, notes, analyticBiasCorrection: true);
                var integer = Quantizer.Run(graph, settings);
                diagnostics.AddRange(notes);
                diagnostics.Add(new ModelDiagnostic(DiagnosticCatalog.DataFreeQuantization,
                    $"Model '{input.ModelFileName}' has no calibration statistics, so it was quantized to INT8 data-free: activation ranges from its " +
                    $"BatchNormalization statistics, with cross-layer equalization, high-bias absorption and analytic bias correction. " +
                    $"Calibration would do better. {ModelCompiler.HowToCalibrate(input)}"));
                whyNot = null;
                return integer;
            }
            catch (ModelException e) when (e.Kind != DiagnosticCatalog.UnknownLayer && e.Kind != DiagnosticCatalog.InvalidOption)
            {
                whyNot = e.Message;
                return null;
            }
        }
    }
}
