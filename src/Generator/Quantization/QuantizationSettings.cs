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
    }

    /// <summary>A real-valued range that an int8 activation must cover.</summary>
    public readonly record struct ActivationRange(float Min, float Max);
}
