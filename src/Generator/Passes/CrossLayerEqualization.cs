using System;
using System.Linq;
using NetQuantGen.IR;

namespace NetQuantGen.Passes
{
    /// <summary>
    /// Cross-layer equalization (Nagel et al. 2019, §4.1). For two layers where output channel i of the first
    /// feeds input channel i of the second through a positively homogeneous activation (none or ReLU, and
    /// per-channel pooling), f(W1·x + b1) equals f((W1·x + b1)/s)·s for s &gt; 0, so dividing row i of W1 and b1
    /// by s_i and multiplying the weights of W2 that read channel i by s_i keeps the function. With r1, r2 the
    /// per-channel weight ranges, s_i = √(r1_i·r2_i)/r2_i makes both ranges √(r1_i·r2_i), which per-tensor
    /// quantization needs. Pairs share layers (conv → depthwise → pointwise: the depthwise's channels are both
    /// its inputs and outputs), so the sweep repeats until no scale moves by more than 10⁻⁶ (at most 100 sweeps).
    /// ReLU6 is not homogeneous; chains through it are left alone unless <see cref="ReplaceRelu6"/> ran first,
    /// as the paper does.
    /// </summary>
    public sealed class CrossLayerEqualization : IGraphPass
    {
        public const string PassName = "cross-layer-equalization";

        private const int MaxSweeps = 100;
        private const double Tolerance = 1e-6;

        public string Name => PassName;

        public bool Run(Graph graph)
        {
            bool changed = false;
            for (int sweep = 0; sweep < MaxSweeps; sweep++)
            {
                double largestMove = 0;
                foreach (var pair in LayerPair.Find(graph).Where(IsHomogeneous))
                {
                    var r1 = pair.First.OutputRanges();
                    var r2 = pair.Second.InputRanges(pair.Channels);
                    var s = new double[pair.Channels];
                    for (int i = 0; i < s.Length; i++)
                    {
                        // A dead channel on either side has nothing to balance.
                        s[i] = r1[i] > 0 && r2[i] > 0 ? Math.Sqrt(r1[i] * r2[i]) / r2[i] : 1;
                        largestMove = Math.Max(largestMove, Math.Abs(Math.Log(s[i])));
                    }
                    if (s.All(v => Math.Abs(v - 1) <= Tolerance)) continue;
                    pair.First.DivideOutputs(graph, s);
                    pair.Second.MultiplyInputs(graph, s);
                    changed = true;
                }
                if (largestMove <= Tolerance) break;
            }
            return changed;
        }

        /// <summary>No activation or ReLU between the layers: x ↦ f(x) commutes with positive per-channel scaling.</summary>
        private static bool IsHomogeneous(LayerPair pair) =>
            pair.First.Fused == null || pair.First.Fused.Min == 0f && float.IsPositiveInfinity(pair.First.Fused.Max);
    }
}
