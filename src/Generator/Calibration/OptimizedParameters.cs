using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.Quantization;

namespace NetQuantGen.Calibration
{
    /// <summary>
    /// Integer weights of one Conv/Gemm/MatMul node chosen from data (AdaRound, GPFQ) by <c>netquant optimize</c>,
    /// laid out as the quantizer lays weights out: [M, K] with the output channel outermost.
    /// </summary>
    public sealed class RoundedWeights
    {
        public RoundedWeights(string node, int bits, WeightGranularity granularity, float[] scales, int[] shape, sbyte[] values, string method)
        {
            Node = node ?? throw new ArgumentNullException(nameof(node));
            Bits = bits;
            Granularity = granularity;
            Scales = scales ?? throw new ArgumentNullException(nameof(scales));
            Shape = shape ?? throw new ArgumentNullException(nameof(shape));
            Values = values ?? throw new ArgumentNullException(nameof(values));
            Method = method ?? "";
        }

        public string Node { get; }

        public int Bits { get; }

        public WeightGranularity Granularity { get; }

        /// <summary>One per output channel: real weight = Scales[c]·value.</summary>
        public float[] Scales { get; }

        public int[] Shape { get; }

        public sbyte[] Values { get; }

        /// <summary>"adaround", "gpfq" or "gpfq-sparse".</summary>
        public string Method { get; }

        public static string GranularityName(WeightGranularity g) => g == WeightGranularity.PerTensor ? "per-tensor" : "per-channel";

        /// <summary>Fraction of the values that are zero.</summary>
        public double Sparsity => Values.Length == 0 ? 0 : Values.Count(v => v == 0) / (double)Values.Length;
    }

    /// <summary>
    /// An empirical bias correction: per output channel E[W̃x̃] − E[Wx], subtracted from the node's float bias. It depends
    /// on the quantized weights W̃, so it records the bit-width and granularity they had (Bits 0: not recorded, an older file).
    /// </summary>
    public sealed class SavedBiasCorrection
    {
        public SavedBiasCorrection(string node, float[] correction, int bits, WeightGranularity granularity)
        {
            Node = node ?? throw new ArgumentNullException(nameof(node));
            Correction = correction ?? throw new ArgumentNullException(nameof(correction));
            Bits = bits;
            Granularity = granularity;
        }

        public string Node { get; }

        public float[] Correction { get; }

        public int Bits { get; }

        public WeightGranularity Granularity { get; }
    }

    /// <summary>
    /// How much a layer's weight quantization hurts the network output, measured on calibration data: for each width
    /// b, the output noise-to-signal ratio with only this layer's weights at b bits (every other layer and every
    /// activation in float). Errors of different layers add up nearly independently, so the sum over layers ranks
    /// whole allocations.
    /// </summary>
    public sealed class LayerSensitivity
    {
        public LayerSensitivity(string node, WeightGranularity granularity, double[] outputNoise)
        {
            Node = node ?? throw new ArgumentNullException(nameof(node));
            Granularity = granularity;
            OutputNoise = outputNoise ?? throw new ArgumentNullException(nameof(outputNoise));
        }

        public string Node { get; }

        public WeightGranularity Granularity { get; }

        /// <summary>Indexed by bit-width (entries below <see cref="LayerBitWidths.MinBits"/> unused).</summary>
        public double[] OutputNoise { get; }
    }
}
