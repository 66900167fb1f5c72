using System.Linq;
using NetQuantGen.Diagnostics;
using NetQuantGen.IntegerIR;

namespace NetQuantGen.Compiler
{
    /// <summary>
    /// What the integer reference runs but the generated kernels cannot carry exactly: they take int8 tensors with one
    /// constant scale and zero-point, w − z_w in int8 and 2-D MatMul. Such a graph is an error (NQG0054) before
    /// emitting, never generated code with wrong numbers.
    /// </summary>
    internal static class ReferenceOnlyQuantization
    {
        public static void Check(IntegerGraph graph, string modelName)
        {
            var tensor = graph.Tensors().FirstOrDefault(t => t.PerAxis != null || t.IsDynamic);
            if (tensor != null)
                throw Error(modelName, $"tensor '{tensor.Name}' is quantized {(tensor.IsDynamic ? "at run time (DynamicQuantizeLinear)" : $"per axis {tensor.PerAxis!.Axis}")}");
            foreach (var op in graph.Operations)
            {
                string? why = op switch
                {
                    _ when op.Output.ElementType == QElementType.Int32 => "its output is an int32 accumulator (ConvInteger/MatMulInteger)",
                    QIntegerMatMul m when m.WeightShape.Length != 2 || m.Input.Shape.Length != 2 => "it is a batched (N-D) MatMul",
                    QIntegerConvolution or QIntegerMatMul => "its weights have zero-points that put w − z_w outside int8",
                    _ => null,
                };
                if (why != null) throw Error(modelName, $"node '{op.Source}' ({op.Kind}): {why}");
            }
        }

        private static ModelException Error(string modelName, string what) =>
            new(DiagnosticCatalog.ReferenceOnlyQuantization,
                $"Model '{modelName}': {what}; the integer reference (IntegerExecutor) runs it, the generated int8 kernels cannot carry it exactly. Quantize the weights symmetrically (int8 zero-point 0 or uint8 zero-point 128), activations per tensor with constant scales, 8-bit outputs and 2-D MatMul.");
    }
}
