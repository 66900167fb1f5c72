using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.IR;

namespace NetQuantGen.Passes
{
    /// <summary>
    /// A Conv (dense or depthwise) or Gemm seen as a matrix of output channels × input features × kernel taps,
    /// for the passes that rescale or shift whole channels (cross-layer equalization, high-bias absorption).
    /// Input features group into input channels: a Gemm reading a flattened [C, H, W] tensor has H·W features
    /// per channel. Every edit writes new constant data through <see cref="GraphEdits.SetConstantInput"/>.
    /// </summary>
    public sealed class ChannelLayer
    {
        private enum Layout { DenseConv, DepthwiseConv, GemmTransB, Gemm }

        private readonly Layout _layout;
        private readonly int[] _shape;

        private ChannelLayer(Node node, Layout layout, int[] shape, int outputs, int features, int taps)
        {
            Node = node;
            _layout = layout;
            _shape = shape;
            OutputChannels = outputs;
            InputFeatures = features;
            Taps = taps;
        }

        public Node Node { get; }

        /// <summary>The node's current weights (read each time: pairs sharing a layer edit it in turn).</summary>
        public float[] Weights => Node.Input(1).Constant!.Floats!;

        public int OutputChannels { get; }

        /// <summary>Input features: channels for a Conv, columns of A for a Gemm.</summary>
        public int InputFeatures { get; }

        /// <summary>Kernel positions per (output, feature) pair; 1 for a Gemm.</summary>
        public int Taps { get; }

        public FusedClamp? Fused => Node.Op switch { Conv c => c.Fused, Gemm g => g.Fused, _ => null };

        /// <summary>True when the layer reads zero padding (a shift of its input is then not a shift of its output).</summary>
        public bool HasPadding => Node.Op is Conv conv && conv.Window.Pads.Any(p => p != 0);

        /// <summary>The layer view of a node, or null for anything but a dense or depthwise Conv or a Gemm with constant weights and a per-channel (or absent) bias.</summary>
        public static ChannelLayer? From(Node node)
        {
            var weight = node.OptionalInput(1)?.Constant;
            if (weight?.Floats == null) return null;
            var bias = node.OptionalInput(2);
            if (bias != null && bias.Constant == null) return null;
            var w = weight.Floats;
            var s = weight.Shape;
            switch (node.Op)
            {
                case Conv conv when s.Length >= 3:
                    int taps = w.Length / (s[0] * s[1]);
                    if (bias != null && bias.ElementCount != s[0]) return null;
                    if (conv.Group == 1) return new ChannelLayer(node, Layout.DenseConv, s, s[0], s[1], taps);
                    if (s[1] == 1 && conv.Group == s[0] && node.Input(0).Shape.Length > 1 && node.Input(0).Shape[1] == s[0])
                        return new ChannelLayer(node, Layout.DepthwiseConv, s, s[0], s[0], taps);
                    return null;
                case Gemm gemm when !gemm.TransA && s.Length == 2:
                    int n = gemm.TransB ? s[0] : s[1], k = gemm.TransB ? s[1] : s[0];
                    if (bias != null && bias.ElementCount != n) return null; // a scalar C cannot take per-channel edits
                    return new ChannelLayer(node, gemm.TransB ? Layout.GemmTransB : Layout.Gemm, s, n, k, 1);
                default:
                    return null;
            }
        }

        /// <summary>Calls <paramref name="visit"/>(output, feature, index into <see cref="Weights"/>) for every weight.</summary>
        private void ForEach(Action<int, int, int> visit)
        {
            for (int o = 0; o < OutputChannels; o++)
            {
                if (_layout == Layout.DepthwiseConv)
                {
                    for (int t = 0; t < Taps; t++) visit(o, o, o * Taps + t);
                    continue;
                }
                for (int f = 0; f < InputFeatures; f++)
                    for (int t = 0; t < Taps; t++)
                        visit(o, f, _layout switch
                        {
                            Layout.DenseConv => (o * InputFeatures + f) * Taps + t,
                            Layout.GemmTransB => o * InputFeatures + f,
                            _ => f * OutputChannels + o,
                        });
            }
        }

        /// <summary>Calls <paramref name="visit"/>(output, feature, weight) for every weight, a Gemm's α applied.</summary>
        public void ForEachWeight(Action<int, int, double> visit)
        {
            var w = Weights;
            double alpha = Node.Op is Gemm g ? g.Alpha : 1;
            ForEach((o, f, i) => visit(o, f, alpha * w[i]));
        }

        /// <summary>Largest |w| of each output channel.</summary>
        public double[] OutputRanges()
        {
            var r = new double[OutputChannels];
            var w = Weights;
            ForEach((o, f, i) => r[o] = Math.Max(r[o], Math.Abs(w[i])));
            return r;
        }

        /// <summary>Largest |w| reading each of <paramref name="channels"/> input channels (features split evenly among them).</summary>
        public double[] InputRanges(int channels)
        {
            var r = new double[channels];
            int per = InputFeatures / channels;
            var w = Weights;
            ForEach((o, f, i) => r[f / per] = Math.Max(r[f / per], Math.Abs(w[i])));
            return r;
        }

        /// <summary>Divides output channel c (weights, bias and prior) by divisor[c] &gt; 0.</summary>
        public void DivideOutputs(Graph graph, double[] divisor)
        {
            var w = (float[])Weights.Clone();
            ForEach((o, f, i) => w[i] = (float)(w[i] / divisor[o]));
            SetWeights(graph, w);
            var bias = Bias();
            if (bias != null) SetBias(graph, bias.Select((b, c) => b / divisor[c]).ToArray());
            if (Node.OutputPrior != null) Node.OutputPrior = Node.OutputPrior.Divided(divisor);
        }

        /// <summary>Multiplies the weights reading input channel c by factor[c].</summary>
        public void MultiplyInputs(Graph graph, double[] factor)
        {
            int per = InputFeatures / factor.Length;
            var w = (float[])Weights.Clone();
            ForEach((o, f, i) => w[i] = (float)(w[i] * factor[f / per]));
            SetWeights(graph, w);
        }

        /// <summary>Per output channel, Σ w·input[c] over the weights that read input channel c: the output's change when every input of channel c grows by input[c].</summary>
        public double[] ResponseTo(double[] input)
        {
            int per = InputFeatures / input.Length;
            var response = new double[OutputChannels];
            ForEachWeight((o, f, w) => response[o] += w * input[f / per]);
            return response;
        }

        /// <summary>Adds delta[c] to the bias of output channel c (creating the bias when there is none).</summary>
        public void AddToBias(Graph graph, double[] delta)
        {
            var bias = Bias() ?? new double[OutputChannels];
            SetBias(graph, bias.Select((b, c) => b + delta[c]).ToArray());
        }

        /// <summary>The effective per-channel bias (a Gemm's β applied), or null when the node has none.</summary>
        public double[]? Bias()
        {
            var data = Node.OptionalInput(2)?.Constant?.ToFloats();
            if (data == null) return null;
            double beta = Node.Op is Gemm g ? g.Beta : 1;
            return data.Select(v => beta * v).ToArray();
        }

        private void SetWeights(Graph graph, float[] w)
        {
            GraphEdits.SetConstantInput(graph, Node, 1, TensorData.FromFloats((int[])_shape.Clone(), w), Node.Input(1).Name + "_scaled");
        }

        private void SetBias(Graph graph, double[] bias)
        {
            var old = Node.OptionalInput(2);
            int[] shape = old != null ? (int[])old.Shape.Clone() : new[] { OutputChannels };
            GraphEdits.SetConstantInput(graph, Node, 2, TensorData.FromFloats(shape, bias.Select(b => (float)b).ToArray()),
                old != null ? old.Name + "_scaled" : Node.Name + "_bias");
            if (Node.Op is Gemm gemm) Node.Op = gemm with { Beta = 1f };
        }
    }

    /// <summary>
    /// Two channel layers where every output channel of the first feeds the matching input channel of the second
    /// through ops that act on each channel alone: its only reader chain is pooling (max, average, global average)
    /// and at most one Flatten, and nobody else sees the values in between.
    /// </summary>
    internal sealed class LayerPair
    {
        private LayerPair(ChannelLayer first, ChannelLayer second, IReadOnlyList<Node> between)
        {
            First = first;
            Second = second;
            Between = between;
        }

        public ChannelLayer First { get; }

        public ChannelLayer Second { get; }

        /// <summary>The nodes between the two layers, in order.</summary>
        public IReadOnlyList<Node> Between { get; }

        public int Channels => First.OutputChannels;

        public static List<LayerPair> Find(Graph graph)
        {
            var pairs = new List<LayerPair>();
            foreach (var node in graph.Nodes)
            {
                var first = ChannelLayer.From(node);
                if (first == null) continue;
                var between = new List<Node>();
                var value = node.Output;
                Node? next = null;
                while (true)
                {
                    if (graph.IsGraphOutput(value)) break;
                    var readers = graph.ConsumersOf(value).ToList();
                    if (readers.Count != 1 || GraphEdits.UseCount(graph, value) != 1 || readers[0].Inputs[0] != value) break;
                    var reader = readers[0];
                    if (reader.Op is MaxPool || reader.Op is AveragePool || reader.Op is GlobalAveragePool
                        || reader.Op is Flatten { Axis: 1 } && !between.Any(n => n.Op is Flatten))
                    {
                        between.Add(reader);
                        value = reader.Output;
                        continue;
                    }
                    next = reader;
                    break;
                }
                var second = next == null ? null : ChannelLayer.From(next);
                if (second == null || second.InputFeatures % first.OutputChannels != 0) continue;
                if (second.Node.Op is Conv && second.InputFeatures != first.OutputChannels) continue;
                pairs.Add(new LayerPair(first, second, between));
            }
            return pairs;
        }
    }
}
