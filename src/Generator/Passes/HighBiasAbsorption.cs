using System;
using System.Linq;
using NetQuantGen.IR;

namespace NetQuantGen.Passes
{
    /// <summary>
    /// High-bias absorption (Nagel et al. 2019, §4.1.1). When a layer's output channel i is N(β_i, γ_i²) before a
    /// ReLU (its folded BatchNormalization says so, <see cref="Node.OutputPrior"/>), then for c_i = max(0, β_i − 3γ_i)
    /// almost every input satisfies relu(x) = relu(x − c_i) + c_i, so c_i moves from the layer's bias into the next
    /// layer's bias (b2 += W2·c). This narrows the activation range the quantizer must cover. It is exact wherever
    /// the pre-activation is at least c_i, and applies only where the constant carries through unchanged: a ReLU
    /// (not ReLU6, whose upper clip would move), max or unpadded average pooling in between, and a second layer
    /// without zero padding (padding would see 0, not c_i).
    /// </summary>
    public sealed class HighBiasAbsorption : IGraphPass
    {
        public const string PassName = "high-bias-absorption";

        /// <summary>Standard deviations below the mean that count as "almost every input".</summary>
        private const double Sigmas = 3;

        public string Name => PassName;

        public bool Run(Graph graph)
        {
            bool changed = false;
            foreach (var pair in LayerPair.Find(graph).Where(CarriesConstant))
            {
                var prior = pair.First.Node.OutputPrior!;
                var c = new double[pair.Channels];
                for (int i = 0; i < c.Length; i++) c[i] = Math.Max(0, prior.Mean[i] - Sigmas * prior.Std[i]);
                if (c.All(v => v == 0)) continue;
                pair.First.AddToBias(graph, c.Select(v => -v).ToArray());
                pair.First.Node.OutputPrior = prior.Shifted(c);
                pair.Second.AddToBias(graph, pair.Second.ResponseTo(c));
                changed = true;
            }
            return changed;
        }

        private static bool CarriesConstant(LayerPair pair)
        {
            var fused = pair.First.Fused;
            return pair.First.Node.OutputPrior is ChannelPrior prior && prior.Channels == pair.Channels
                && fused != null && fused.Min == 0f && float.IsPositiveInfinity(fused.Max)
                && !pair.Second.HasPadding
                && pair.Between.All(n => n.Op is MaxPool || n.Op is Flatten
                    || n.Op is GlobalAveragePool || n.Op is AveragePool avg && avg.Window.Pads.All(p => p == 0));
        }
    }
}
