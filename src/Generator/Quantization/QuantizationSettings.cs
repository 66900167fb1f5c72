using System;

namespace NetQuantGen.Quantization
{
    public enum WeightGranularity { PerChannel, PerTensor }

    /// <summary>What the quantizer needs to know besides the graph: bit-widths, granularity and the activation ranges.</summary>
    public sealed class QuantizationSettings
    {
        public QuantizationSettings(Func<string, ActivationRange?> rangeOf)
        {
            RangeOf = rangeOf;
        }

        /// <summary>The calibrated range of a float value by name (after range setting), or null when there is none.</summary>
        public Func<string, ActivationRange?> RangeOf { get; }

        public int WeightBits { get; init; } = 8;

        public WeightGranularity Granularity { get; init; } = WeightGranularity.PerChannel;

        /// <summary>
        /// Integer weights to bake instead of rounding to nearest (saved AdaRound/GPFQ results): given a node's
        /// name and its float weights laid out [M, K] (output channel outermost), the int8 values and per-channel
        /// scales, or null to round to nearest. The tool also uses it to see the float weights in that layout.
        /// </summary>
        public Func<string, float[], int, (sbyte[] Values, float[] Scales)?>? WeightOverride { get; init; }

        /// <summary>A node's empirical bias correction (per output channel, subtracted from the float bias), or null.</summary>
        public Func<string, float[]?>? BiasCorrectionOf { get; init; }
    }

    /// <summary>A real-valued range that an int8 activation must cover.</summary>
    public readonly record struct ActivationRange(float Min, float Max);
}
