using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.Compiler;
using NetQuantGen.Diagnostics;
using NetQuantGen.IR;
using NetQuantGen.Passes;

namespace NetQuantGen.Quantization
{
    /// <summary>
    /// Per-layer bit-widths: the LayerWeightBits and LayerActivationBits options, and under SizeBudgetKiB an automatic
    /// choice of weight widths. The size counts each layer's weights at its bit-width (as packed storage would hold them;
    /// the generated code keeps every width in int8) plus 4 bytes per int32 bias. Sensitivity is measured when the
    /// statistics carry it (`netquant optimize --sensitivity`: the network output's noise-to-signal ratio with only that
    /// layer at b bits), else the data-free proxy ‖W − Q_b(W)‖² / ‖W‖²; starting from WeightBits everywhere, the
    /// allocation repeatedly takes one bit from the layer whose error grows least per byte saved, until the weights fit.
    /// Given layers keep their width.
    /// </summary>
    public static class LayerBitAllocation
    {
        public static IReadOnlyDictionary<string, int> Choose(Graph graph, CompilationOptions options, QuantizationSettings settings, string modelName, List<ModelDiagnostic> diagnostics)
        {
            var layers = graph.Nodes.Where(n => n.Op is Conv || n.Op is Gemm || n.Op is MatMul).ToList();
            var problem = LayerBitWidths.TryParse(options.LayerWeightBits ?? "", out var given);
            if (problem != null)
                throw new ModelException(DiagnosticCatalog.InvalidOption, $"Model '{modelName}': LayerWeightBits \"{options.LayerWeightBits}\": {problem}");
            foreach (var name in given.Keys)
                if (!layers.Any(n => n.Name == name))
                    throw new ModelException(DiagnosticCatalog.UnknownLayer,
                        $"Model '{modelName}': LayerWeightBits names '{name}', which is not a Conv, Gemm or MatMul node after the float passes (layers: {string.Join(", ", layers.Select(n => n.Name))}).");
            var bits = given.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            if (options.SizeBudgetKiB <= 0) return bits;

            var candidates = layers.Select(n => Matrix(n)).Where(m => m != null).Select(m => m!.Value).ToList();
            foreach (var (node, _, _) in candidates)
                if (!bits.ContainsKey(node.Name)) bits[node.Name] = settings.WeightBits;
            var measured = settings.MeasuredSensitivity;
            bool useMeasured = measured != null && candidates.All(c => measured(c.Node.Name) != null);
            var errors = candidates.ToDictionary(c => c.Node.Name, c => useMeasured ? measured!(c.Node.Name)! : RelativeErrors(c.Weights, c.Outputs, settings));
            long Bytes() => candidates.Sum(c => (c.Weights.Length * (long)bits[c.Node.Name] + 7) / 8 + 4L * c.Outputs);
            long budget = options.SizeBudgetKiB * 1024L;
            while (Bytes() > budget)
            {
                var next = candidates
                    .Where(c => !given.ContainsKey(c.Node.Name) && bits[c.Node.Name] > LayerBitWidths.MinBits)
                    .Select(c => (c.Node.Name, Cost: (errors[c.Node.Name][bits[c.Node.Name] - 1] - errors[c.Node.Name][bits[c.Node.Name]]) / (c.Weights.Length / 8.0)))
                    .OrderBy(c => c.Cost).ThenBy(c => c.Name, StringComparer.Ordinal)
                    .FirstOrDefault();
                if (next.Name == null)
                {
                    diagnostics.Add(new ModelDiagnostic(DiagnosticCatalog.SizeBudgetUnreachable,
                        $"Model '{modelName}': the weights need {Bytes() / 1024.0:F1} KiB even at {LayerBitWidths.MinBits} bits where allowed, more than SizeBudgetKiB = {options.SizeBudgetKiB}; raise the budget or free layers pinned by LayerWeightBits."));
                    break;
                }
                bits[next.Name]--;
            }
            return bits;
        }

        /// <summary>The size the budget counts when every layer has <paramref name="bits"/>-bit weights, in bytes (weights packed, int32 biases).</summary>
        public static long UniformBytes(Graph graph, int bits) =>
            graph.Nodes.Where(n => n.Op is Conv || n.Op is Gemm || n.Op is MatMul).Select(Matrix).Where(m => m != null)
                .Sum(m => (m!.Value.Weights.Length * (long)bits + 7) / 8 + 4L * m.Value.Outputs);

        /// <summary>The LayerActivationBits option checked against the graph: every name must be a node (its output activation gets the width).</summary>
        public static IReadOnlyDictionary<string, int> ActivationWidths(Graph graph, CompilationOptions options, string modelName)
        {
            var problem = LayerBitWidths.TryParseActivations(options.LayerActivationBits ?? "", out var given);
            if (problem != null)
                throw new ModelException(DiagnosticCatalog.InvalidOption, $"Model '{modelName}': LayerActivationBits \"{options.LayerActivationBits}\": {problem}");
            foreach (var name in given.Keys)
                if (!graph.Nodes.Any(n => n.Name == name))
                    throw new ModelException(DiagnosticCatalog.UnknownLayer,
                        $"Model '{modelName}': LayerActivationBits names '{name}', which is not a node after the float passes (nodes: {string.Join(", ", graph.Nodes.Select(n => n.Name))}).");
            return given;
        }

        /// <summary>The weights (grouped by output channel) and their per-channel count, or null for a layer without constant weights.</summary>
        private static (Node Node, float[] Weights, int Outputs)? Matrix(Node node)
        {
            var layer = ChannelLayer.From(node);
            if (layer != null)
            {
                var rows = new List<float>();
                layer.ForEachWeight((o, f, w) => rows.Add((float)w));
                return (node, rows.ToArray(), layer.OutputChannels);
            }
            var constant = node.OptionalInput(1)?.Constant;
            if (constant?.Floats == null || constant.Shape.Length < 1) return null;
            return (node, constant.Floats, constant.Shape[0]);
        }

        /// <summary>Relative squared error at each bit-width 0..max (unused entries 0).</summary>
        private static double[] RelativeErrors(float[] weights, int outputs, QuantizationSettings settings)
        {
            double energy = weights.Sum(w => (double)w * w);
            var result = new double[LayerBitWidths.MaxBits + 1];
            if (energy == 0) return result;
            int per = weights.Length / outputs;
            for (int b = LayerBitWidths.MinBits; b <= LayerBitWidths.MaxBits; b++)
            {
                var (q, scales) = WeightQuantizer.Quantize(weights, outputs, b, settings.Granularity, settings.WeightRange);
                double error = 0;
                for (int i = 0; i < weights.Length; i++)
                {
                    double e = weights[i] - q[i] * (double)scales[i / per];
                    error += e * e;
                }
                result[b] = error / energy;
            }
            return result;
        }
    }
}
