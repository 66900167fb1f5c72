using System.Collections.Generic;
using System.Linq;
using NetQuantGen.IntegerIR;
using NetQuantGen.IR;

namespace NetQuantGen.Emit
{
    /// <summary>A 2×2 stride-2 max pooling computed by the Winograd convolution that feeds it: each 2×2 block of outputs is stored as its largest.</summary>
    public sealed record PoolFusion(QConvolution Convolution, QPool Pool);

    /// <summary>
    /// Decides at build time which max poolings the emitter fuses into the Winograd convolution before them (see
    /// <see cref="PoolFusion"/>): a 2×2 window, stride 2, no padding or dilation, over an even output plane, so that each
    /// window is the outputs of one 2×2 Winograd tile (two windows per 4×2 tile); the convolution's output read by nothing
    /// else and not a graph output; the pooling keeping its input's quantization, as max pooling does. The kernel then
    /// requantizes the largest accumulator of each window once instead of all four, which gives the same bytes because
    /// requantization never decreases as the accumulator grows: float scales are positive, fixed-point multipliers are
    /// positive, and a left shift is allowed only where the baked weights prove it cannot overflow
    /// ((|bias| + 255·Σ|w|)·2^shift &lt; 2^31 per channel).
    /// </summary>
    public sealed class MaxPoolFusion
    {
        private readonly Dictionary<QConvolution, PoolFusion> _byConvolution;
        private readonly Dictionary<QPool, PoolFusion> _byPool;

        private MaxPoolFusion(IReadOnlyList<PoolFusion> fusions)
        {
            _byConvolution = fusions.ToDictionary(f => f.Convolution);
            _byPool = fusions.ToDictionary(f => f.Pool);
        }

        /// <summary>The pooling fused into this convolution, or null.</summary>
        public PoolFusion? Of(QConvolution convolution) => _byConvolution.TryGetValue(convolution, out var f) ? f : null;

        /// <summary>The fusion that computes this pooling inside a convolution, or null when it runs as its own layer.</summary>
        public PoolFusion? Of(QPool pool) => _byPool.TryGetValue(pool, out var f) ? f : null;

        public static MaxPoolFusion Plan(IntegerGraph graph)
        {
            var producers = graph.Operations.ToDictionary(op => op.Output);
            var readers = graph.Operations.SelectMany(op => op.Inputs).GroupBy(t => t).ToDictionary(g => g.Key, g => g.Count());
            var graphOutputs = new HashSet<QTensor>(graph.Outputs.Select(o => o.Input));
            var fusions = new List<PoolFusion>();
            foreach (var pool in graph.Operations.OfType<QPool>())
                if (IsTwoByTwoMax(pool) && producers.TryGetValue(pool.Input, out var producer) && producer is QConvolution conv
                    && readers[conv.Output] == 1 && !graphOutputs.Contains(conv.Output) && IsWinograd(conv) && RequantizationNeverDecreases(conv))
                    fusions.Add(new PoolFusion(conv, pool));
            return new MaxPoolFusion(fusions);
        }

        private static bool IsTwoByTwoMax(QPool pool)
        {
            var w = pool.Window;
            var x = pool.Input.Shape;
            return pool.Pool == PoolKind.Max && w.KernelShape.SequenceEqual(new[] { 2, 2 }) && w.Strides.SequenceEqual(new[] { 2, 2 })
                && w.Dilations.All(d => d == 1) && w.Pads.All(p => p == 0) && w.AutoPad is AutoPad.NotSet or AutoPad.Valid
                && x.Length == 4 && x[2] % 2 == 0 && x[3] % 2 == 0
                && pool.Output.Shape.SequenceEqual(new[] { x[0], x[1], x[2] / 2, x[3] / 2 })
                && pool.Input.ElementType == QElementType.Int8 && pool.Input.SameQuantization(pool.Output);
        }

        private static bool IsWinograd(QConvolution c) =>
            ConvolutionEmitter.KernelOf(c) is ConvolutionKernel.Winograd or ConvolutionKernel.WinogradFourByTwo;

        /// <summary>Whether requantization is non-decreasing over every accumulator the layer can produce (|x − z_in| ≤ 255).</summary>
        public static bool RequantizationNeverDecreases(QConvolution c)
        {
            if (c.FloatScales != null) return c.FloatScales.All(s => s > 0);
            int taps = c.InputChannelsPerGroup * c.KernelHeight * c.KernelWidth;
            for (int m = 0; m < c.OutputChannels; m++)
            {
                var r = c.Requantization[m];
                if (r.Multiplier < 0) return false;
                if (r.Shift <= 0) continue;
                long sum = 0;
                for (int i = 0; i < taps; i++) sum += System.Math.Abs((int)c.Weights[m * taps + i]);
                long bound = System.Math.Abs((long)c.Bias[m]) + 255 * sum;
                if (r.Shift >= 31 || (bound << r.Shift) >= 1L << 31) return false;
            }
            return true;
        }
    }
}
