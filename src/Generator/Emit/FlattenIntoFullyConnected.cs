using System.Collections.Generic;
using System.Linq;
using NetQuantGen.IntegerIR;
using NetQuantGen.IR;

namespace NetQuantGen.Emit
{
    /// <summary>
    /// A Flatten (or Reshape) of one image [1, C, H, W] into [1, C·H·W] read only by a fully connected layer is, with
    /// that layer, one H×W convolution without padding over the image: the Gemm's weights [M, C·H·W] are byte for byte
    /// the convolution's [M, C, H, W] (both row-major, k = (c·H + y)·W + x), and the sums are the same. Emitted that way
    /// the kernel reads the channels-last image as it lies, instead of a copy reordered into row-major bytes first.
    /// The rewrite changes how generated code computes, not what: tests run it against the reference on the original graph.
    /// </summary>
    public static class FlattenIntoFullyConnected
    {
        public static IntegerGraph Run(IntegerGraph graph)
        {
            var readers = graph.Operations.SelectMany(op => op.Inputs.Select(t => (Tensor: t, Op: op)))
                .GroupBy(r => r.Tensor).ToDictionary(g => g.Key, g => g.Select(r => r.Op).Distinct().ToList());
            var graphOutputs = new HashSet<QTensor>(graph.Outputs.Select(o => o.Input));
            var merged = new Dictionary<QOperation, QConvolution>(); // fully connected layer → the convolution it becomes
            var flattens = new HashSet<QOperation>();
            foreach (var move in graph.Operations.OfType<QMove>())
                if (!graphOutputs.Contains(move.Output) && readers.TryGetValue(move.Output, out var ops) && ops.Count == 1
                    && ops[0] is QConvolution fc && Applies(move, fc))
                {
                    merged[fc] = AsConvolution(move, fc);
                    flattens.Add(move);
                }
            if (flattens.Count == 0) return graph;
            var operations = graph.Operations.Where(op => !flattens.Contains(op))
                .Select(op => merged.TryGetValue(op, out var convolution) ? convolution : op).ToList();
            return new IntegerGraph(graph.ModelName, graph.Inputs, graph.Outputs, operations);
        }

        private static bool Applies(QMove move, QConvolution fc)
        {
            var image = move.Input.Shape;
            return move.Permutation == null && image.Length == 4 && image[0] == 1
                && move.Output.Shape.Length == 2 && move.Output.Shape[0] == 1 && move.Output.Shape[1] == image[1] * image[2] * image[3]
                && !move.Input.IsWide && !move.Input.IsDynamic && move.Input.PerAxis == null && move.Input.SameQuantization(move.Output)
                && fc.FromGemm && fc.Group == 1 && !fc.TouchesWide && fc.Input == move.Output
                && fc.WeightShape.Length == 4 && fc.WeightShape[1] == move.Output.Shape[1] && fc.WeightShape[2] == 1 && fc.WeightShape[3] == 1;
        }

        private static QConvolution AsConvolution(QMove move, QConvolution fc)
        {
            var image = move.Input.Shape;
            int height = image[2], width = image[3];
            var window = new Window(new[] { height, width }, new[] { 1, 1 }, new[] { 1, 1 }, new[] { 0, 0, 0, 0 }, AutoPad.NotSet, CeilMode: false);
            return new QConvolution($"{move.Source} + {fc.Source}", move.Input, fc.Output, window, group: 1,
                fc.Weights, new[] { fc.OutputChannels, image[1], height, width }, fc.WeightScales, fc.Bias, fc.Requantization,
                fc.ClampMin, fc.ClampMax, fromGemm: true, fc.FloatScales, fc.AccumulatorBits);
        }
    }
}
