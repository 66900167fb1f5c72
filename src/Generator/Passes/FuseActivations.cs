using System;
using System.Linq;
using NetQuantGen.IR;

namespace NetQuantGen.Passes
{
    /// <summary>
    /// Folds a Relu, or a Clip with constant (or absent) bounds (ReLU6 included), into the Conv, Gemm or Add
    /// that feeds it, when that output has no other reader and is not a graph output: the producer gets
    /// <c>Fused</c> = a clamp and outputs the activation's value. An existing clamp combines with the new one
    /// (clamp₂ ∘ clamp₁ is the clamp to [clamp₂(min₁), clamp₂(max₁)]).
    /// </summary>
    public sealed class FuseActivations : IGraphPass
    {
        public const string PassName = "fuse-activation";

        public string Name => PassName;

        public bool Run(Graph graph)
        {
            bool changed = false;
            foreach (var activation in graph.Nodes.Where(n => n.Op is Activation { Kind: ActivationKind.Relu } || n.Op is Clip).ToList())
            {
                var clamp = ClampOf(activation);
                if (clamp == null) continue;
                var x = activation.Input(0);
                var producer = graph.ProducerOf(x);
                if (producer == null || !GraphEdits.OnlyFeeds(graph, x, activation)) continue;
                Operator? fused = producer.Op switch
                {
                    Conv conv => conv with { Fused = Combine(conv.Fused, clamp) },
                    Gemm gemm => gemm with { Fused = Combine(gemm.Fused, clamp) },
                    Binary { Kind: BinaryKind.Add } add => add with { Fused = Combine(add.Fused, clamp) },
                    _ => null,
                };
                if (fused == null) continue;
                producer.Op = fused;
                GraphEdits.Absorb(graph, producer, activation);
                changed = true;
            }
            return changed;
        }

        /// <summary>The activation as a clamp, or null when a Clip bound is computed at run time or NaN.</summary>
        private static FusedClamp? ClampOf(Node node)
        {
            if (node.Op is Activation) return FusedClamp.Relu;
            float min = float.NegativeInfinity, max = float.PositiveInfinity;
            var minValue = node.OptionalInput(1);
            var maxValue = node.OptionalInput(2);
            if (minValue != null)
            {
                var data = GraphEdits.ConstantFloats(minValue);
                if (data == null || data.Length != 1 || float.IsNaN(data[0])) return null;
                min = data[0];
            }
            if (maxValue != null)
            {
                var data = GraphEdits.ConstantFloats(maxValue);
                if (data == null || data.Length != 1 || float.IsNaN(data[0])) return null;
                max = data[0];
            }
            return new FusedClamp(min, max);
        }

        /// <summary>The clamp equal to applying <paramref name="first"/> and then <paramref name="second"/>.</summary>
        internal static FusedClamp Combine(FusedClamp? first, FusedClamp second)
        {
            if (first == null) return second;
            float Apply(float v) => Math.Min(Math.Max(v, second.Min), second.Max);
            return new FusedClamp(Apply(first.Min), Apply(first.Max));
        }
    }
}
