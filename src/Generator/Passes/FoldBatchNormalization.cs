using System;
using System.Linq;
using NetQuantGen.IR;

namespace NetQuantGen.Passes
{
    /// <summary>
    /// Folds an inference-mode BatchNormalization into the Conv (any group, depthwise included) or Gemm that
    /// feeds it, when the BN is that output's only reader and the output is not a graph output. With
    /// s = γ/√(var+ε) per output channel, the weights of channel c are scaled by s[c] and the bias becomes
    /// β − mean·s + s·bias (a bias is created when there is none). The merged node outputs the BN's value.
    /// Weights and biases get new <see cref="TensorData"/>; a constant shared with other nodes is copied.
    /// A BN with any other producer, or whose parameters are not constant, stays as it is. The merged node keeps
    /// the BN's own description of its output, N(β, γ²) per channel, as <see cref="Node.OutputPrior"/> for the
    /// data-free passes (high-bias absorption, analytic bias correction, data-free ranges).
    /// </summary>
    public sealed class FoldBatchNormalization : IGraphPass
    {
        public const string PassName = "fold-batchnorm";

        public string Name => PassName;

        public bool Run(Graph graph)
        {
            bool changed = false;
            foreach (var bn in graph.Nodes.Where(n => n.Op is BatchNormalization).ToList())
            {
                var x = bn.Input(0);
                var producer = graph.ProducerOf(x);
                if (producer == null || !GraphEdits.OnlyFeeds(graph, x, bn)) continue;
                if (!TryScaleAndShift(bn, out var scale, out var shift)) continue;
                bool folded = producer.Op switch
                {
                    Conv { Fused: null } => FoldIntoConv(graph, producer, scale, shift),
                    Gemm { Fused: null } gemm => FoldIntoGemm(graph, producer, gemm, scale, shift),
                    _ => false,
                };
                if (!folded) continue;
                producer.OutputPrior = PriorOf(bn);
                GraphEdits.Absorb(graph, producer, bn);
                changed = true;
            }
            return changed;
        }

        /// <summary>The BN output's distribution as the BN itself states it: N(β, γ²) per channel.</summary>
        private static ChannelPrior PriorOf(Node bn)
        {
            var gamma = GraphEdits.ConstantFloats(bn.Input(1))!;
            var beta = GraphEdits.ConstantFloats(bn.Input(2))!;
            return new ChannelPrior(beta.Select(b => (double)b).ToArray(), gamma.Select(g => Math.Abs((double)g)).ToArray());
        }

        /// <summary>BN as y = scale·x + shift per channel, in double; false when a parameter is computed or the scale is not finite.</summary>
        private static bool TryScaleAndShift(Node bn, out double[] scale, out double[] shift)
        {
            scale = shift = Array.Empty<double>();
            var gamma = GraphEdits.ConstantFloats(bn.Input(1));
            var beta = GraphEdits.ConstantFloats(bn.Input(2));
            var mean = GraphEdits.ConstantFloats(bn.Input(3));
            var variance = GraphEdits.ConstantFloats(bn.Input(4));
            if (gamma == null || beta == null || mean == null || variance == null) return false;
            double epsilon = ((BatchNormalization)bn.Op).Epsilon;
            int channels = gamma.Length;
            scale = new double[channels];
            shift = new double[channels];
            for (int c = 0; c < channels; c++)
            {
                scale[c] = gamma[c] / Math.Sqrt(variance[c] + epsilon);
                shift[c] = beta[c] - mean[c] * scale[c];
                if (double.IsNaN(scale[c]) || double.IsInfinity(scale[c]) || double.IsNaN(shift[c]) || double.IsInfinity(shift[c]))
                    return false;
            }
            return true;
        }

        private static bool FoldIntoConv(Graph graph, Node conv, double[] scale, double[] shift)
        {
            var weight = conv.Input(1).Constant;
            var biasValue = conv.OptionalInput(2);
            if (weight?.Floats == null || biasValue != null && biasValue.Constant == null) return false;
            int channels = weight.Shape[0];
            if (channels != scale.Length) return false;
            var w = weight.Floats;
            int block = w.Length / channels;
            var newWeight = new float[w.Length];
            for (int c = 0; c < channels; c++)
                for (int i = c * block; i < (c + 1) * block; i++)
                    newWeight[i] = (float)(w[i] * scale[c]);
            var bias = biasValue?.Constant!.ToFloats();
            var newBias = new float[channels];
            for (int c = 0; c < channels; c++)
                newBias[c] = (float)(shift[c] + scale[c] * (bias?[c] ?? 0f));

            GraphEdits.SetConstantInput(graph, conv, 1, TensorData.FromFloats((int[])weight.Shape.Clone(), newWeight), conv.Input(1).Name + "_bnfolded");
            GraphEdits.SetConstantInput(graph, conv, 2, TensorData.FromFloats(new[] { channels }, newBias),
                biasValue != null ? biasValue.Name + "_bnfolded" : conv.Name + "_bias");
            return true;
        }

        /// <summary>
        /// Y = α·A'·B' + β·C with BN over axis 1 of the [M, N] output: column n of B' (row n of B when transB,
        /// column n otherwise) scales by s[n]; the new C is β·s·C + shift, broadcast over N (and over M only when
        /// C varies along M), with β = 1.
        /// </summary>
        private static bool FoldIntoGemm(Graph graph, Node node, Gemm gemm, double[] scale, double[] shift)
        {
            var weight = node.Input(1).Constant;
            var cValue = node.OptionalInput(2);
            if (weight?.Floats == null || cValue != null && cValue.Constant == null) return false;
            int m = node.Output.Shape[0], n = node.Output.Shape[1];
            if (n != scale.Length || weight.Shape.Length != 2) return false;
            var w = weight.Floats;
            var newWeight = new float[w.Length];
            int rows = weight.Shape[0], cols = weight.Shape[1];
            for (int r = 0; r < rows; r++)
                for (int k = 0; k < cols; k++)
                    newWeight[r * cols + k] = (float)(w[r * cols + k] * scale[gemm.TransB ? r : k]);

            // C as it broadcasts against [M, N]: aligned right, size-1 axes repeat.
            int[] cShape = cValue?.Shape ?? Array.Empty<int>();
            int cm = cShape.Length == 2 ? cShape[0] : 1;
            int cn = cShape.Length >= 1 ? cShape[cShape.Length - 1] : 1;
            var c = cValue?.Constant!.ToFloats();
            int outRows = cm == 1 ? 1 : m;
            var newC = new float[outRows * n];
            for (int i = 0; i < outRows; i++)
                for (int j = 0; j < n; j++)
                {
                    double bias = c == null ? 0 : gemm.Beta * (double)c[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
                    newC[i * n + j] = (float)(scale[j] * bias + shift[j]);
                }
            var cData = TensorData.FromFloats(outRows == 1 ? new[] { n } : new[] { m, n }, newC);

            GraphEdits.SetConstantInput(graph, node, 1, TensorData.FromFloats((int[])weight.Shape.Clone(), newWeight), node.Input(1).Name + "_bnfolded");
            GraphEdits.SetConstantInput(graph, node, 2, cData, cValue != null ? cValue.Name + "_bnfolded" : node.Name + "_bias");
            node.Op = gemm with { Beta = 1f };
            return true;
        }
    }
}
