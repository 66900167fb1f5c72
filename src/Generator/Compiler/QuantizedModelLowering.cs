using System.Collections.Generic;
using System.Linq;
using NetQuantGen.Diagnostics;
using NetQuantGen.Import;
using NetQuantGen.IR;
using NetQuantGen.Passes;
using NetQuantGen.Quantization;

namespace NetQuantGen.Compiler
{
    /// <summary>
    /// The lowering of a quantized ONNX model (QDQ or QOperator): no statistics, the model's scales,
    /// zero-points and integer weights, and only the float passes that leave weights alone.
    /// </summary>
    internal static class QuantizedModelLowering
    {
        public static Lowering Lower(ModelInput input, string modelHash, Graph graph, QdqModel model, List<ModelDiagnostic> diagnostics)
        {
            var ignored = new List<string>();
            if (input.StatisticsBytes != null) ignored.Add($"the statistics '{input.StatisticsFileName}'");
            if (input.Options.WeightBits != 8) ignored.Add($"WeightBits = {input.Options.WeightBits}");
            if (input.Options.WeightGranularity != WeightGranularityOption.PerChannel) ignored.Add("WeightGranularity");
            if (input.Options.ActivationBits != 8 || !string.IsNullOrWhiteSpace(input.Options.LayerActivationBits)) ignored.Add("ActivationBits and LayerActivationBits");
            var skipped = input.Options.PassNames().Where(p => !QdqLowering.Passes.Contains(p) && p != FoldBatchNormalization.PassName).ToList();
            if (skipped.Count > 0) ignored.Add($"the passes {string.Join(", ", skipped)}");
            if (ignored.Count > 0)
                diagnostics.Add(new ModelDiagnostic(DiagnosticCatalog.QuantizedModelIgnoresSettings,
                    $"Model '{input.ModelFileName}' is already quantized (QuantizeLinear/DequantizeLinear or QOperator nodes), so it keeps its own scales, zero-points and weights; ignored: {string.Join("; ", ignored)}."));

            CheckFusableActivations(graph, model, input.ModelFileName);
            PassPipeline.FromNames(QdqLowering.Passes).Run(graph);
            var arithmetic = input.Options.ArithmeticFor(quantizedModel: true);
            var integerGraph = Quantizer.Run(graph, QdqLowering.Settings(model, input.ModelFileName, arithmetic));
            QdqLowering.CheckBoundaryTensors(integerGraph, input.ModelFileName);
            FloatArithmeticCoverage.Check(integerGraph, input.ModelFileName, diagnostics);
            return new Lowering(modelHash, graph, integerGraph, diagnostics) { Quantization = QdqLowering.Describe(model, arithmetic) };
        }

        /// <summary>
        /// Activation fusion folds a Relu/Clip into the clamp of the operator before it, which quantizes once, at
        /// the activation's output: exact only when a quantization between the two (if any) is the same.
        /// </summary>
        private static void CheckFusableActivations(Graph graph, QdqModel model, string modelName)
        {
            foreach (var node in graph.Nodes.Where(n => n.Op is Activation { Kind: ActivationKind.Relu } || n.Op is Clip))
                if (model.Activations.TryGetValue(node.Input(0).Name, out var before) && model.Activations.TryGetValue(node.Output.Name, out var after) && before != after)
                    throw new ModelException(DiagnosticCatalog.UnsupportedQuantization,
                        $"Model '{modelName}': node '{node.Name}' ({node.Op.OpType}) reads '{node.Input(0).Name}' quantized with scale {before.Scale:R}, zero-point {before.ZeroPoint} and writes '{node.Output.Name}' quantized with scale {after.Scale:R}, zero-point {after.ZeroPoint}; the integer path folds the activation into the operator before it, so quantize both tensors alike (or only the activation's output).");
        }
    }
}
