using System.Collections.Generic;
using System.Linq;
using NetQuantGen.Diagnostics;
using NetQuantGen.IntegerIR;

namespace NetQuantGen.Compiler
{
    /// <summary>
    /// Under Requantization = Float, the operations that have no float formulation of ONNX Runtime's here and keep
    /// DESIGN §3's integer one: a windowed average (the rounding division; ONNX Runtime's QLinearAveragePool averages
    /// in float), a concatenation that rescales an input (QLinearConcat), and element-wise tables (built in double
    /// precision; ONNX Runtime's QLinearSigmoid/QLinearLeakyRelu tables in float32). Each may differ from ONNX Runtime
    /// by a step; NQG0060 (info) names them, so that "bit-identical with ONNX Runtime" is never silently untrue.
    /// </summary>
    public static class FloatArithmeticCoverage
    {
        public static void Check(IntegerGraph graph, string modelName, List<ModelDiagnostic> diagnostics)
        {
            bool floatArithmetic = graph.Operations.OfType<QConvolution>().Any(c => c.Arithmetic == RequantizationArithmetic.Float)
                || graph.Operations.OfType<QAdd>().Any(a => a.Arithmetic == RequantizationArithmetic.Float);
            if (!floatArithmetic) return;
            var integerOnly = graph.Operations.Where(op => op switch
            {
                QPool { Pool: PoolKind.Average, FloatScale: null } => true,
                QConcat concat => concat.InputRequantization.Any(r => r.Multiplier != 0),
                QLookup => true,
                _ => false,
            }).ToList();
            if (integerOnly.Count == 0) return;
            diagnostics.Add(new ModelDiagnostic(DiagnosticCatalog.FloatArithmeticNotCovered,
                $"Model '{modelName}' is built with ONNX Runtime's float requantization, but {string.Join(", ", integerOnly.Select(op => $"node '{op.Source}' ({op.Kind})"))} " +
                "keep DESIGN §3's integer arithmetic (rounding division, fixed-point rescaling, tables computed in double precision), where ONNX Runtime may differ by one step."));
        }
    }
}
