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
            var skipped = input.Options.PassNames().Where(p => !QdqLowering.Passes.Contains(p) && p != FoldBatchNormalization.PassName).ToList();
            if (skipped.Count > 0) ignored.Add($"the passes {string.Join(", ", skipped)}");
            if (ignored.Count > 0)
                diagnostics.Add(new ModelDiagnostic(DiagnosticCatalog.QuantizedModelIgnoresSettings,
                    $"Model '{input.ModelFileName}' is already quantized (QuantizeLinear/DequantizeLinear or QOperator nodes), so it keeps its own scales, zero-points and weights; ignored: {string.Join("; ", ignored)}."));

            PassPipeline.FromNames(QdqLowering.Passes).Run(graph);
            var integerGraph = Quantizer.Run(graph, QdqLowering.Settings(model, input.ModelFileName));
            return new Lowering(modelHash, graph, integerGraph, diagnostics) { Quantization = QdqLowering.Describe(model) };
        }
    }
}
