using System;
using System.Collections.Generic;

namespace NetQuantGen.Quantization
{
    public enum WeightGranularity { PerChannel, PerTensor }

    public enum WeightRangeMethod { MinMax, Mse }

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

        /// <summary>Scale and zero-point a quantized (QDQ) model prescribes for a value, by name; used before any range.</summary>
        public Func<string, (float Scale, int ZeroPoint)?>? GivenActivation { get; init; }

        /// <summary>Integer weights (and bias) a quantized model prescribes for a Conv/Gemm/MatMul node, given its quantized input.</summary>
        public Func<IR.Node, IntegerIR.QTensor, GivenWeights?>? GivenWeights { get; init; }

        /// <summary>
        /// The quantized tensor a quantized model prescribes for a value whose quantization is not one static scale and
        /// zero-point (per axis, or computed at run time), by value; null for every other value.
        /// </summary>
        public Func<IR.Value, IntegerIR.QTensor?>? GivenTensor { get; init; }

        /// <summary>
        /// The integer operation a quantized model prescribes for a node exactly, when its arithmetic is not DESIGN §3's
        /// (weights beyond symmetric int8, int32 accumulator outputs); given the node and the quantized tensor of a
        /// value, null for the default lowering.
        /// </summary>
        public Func<IR.Node, Func<IR.Value, IntegerIR.QTensor>, IntegerIR.QOperation?>? GivenOperation { get; init; }

        /// <summary>The error for a value that has neither a given quantization nor a range; null for the statistics message.</summary>
        public Func<IR.Value, IR.Node?, Diagnostics.ModelException>? MissingRange { get; init; }

        public WeightRangeMethod WeightRange { get; init; } = WeightRangeMethod.MinMax;

        /// <summary>How convolutions, adds and global averages requantize (DESIGN §3's fixed point, or ONNX Runtime's float).</summary>
        public IntegerIR.RequantizationArithmetic Arithmetic { get; init; } = IntegerIR.RequantizationArithmetic.FixedPoint;

        /// <summary>Weight bit-widths of single layers by node name, overriding <see cref="WeightBits"/>.</summary>
        public IReadOnlyDictionary<string, int> LayerWeightBits { get; init; } = new Dictionary<string, int>();

        /// <summary>
        /// The expected value per channel of an activation by name, for analytic bias correction (null: no correction;
        /// a null array: nothing known about that activation, its readers are not corrected).
        /// </summary>
        public Func<string, double[]?>? ExpectedValue { get; init; }

        /// <summary>Width of every activation (8 or 16) unless <see cref="LayerActivationBits"/> says otherwise; also the model input's.</summary>
        public int ActivationBits { get; init; } = 8;

        /// <summary>Widths of single nodes' output activations by node name, overriding <see cref="ActivationBits"/>.</summary>
        public IReadOnlyDictionary<string, int> LayerActivationBits { get; init; } = new Dictionary<string, int>();

        /// <summary>The width of a node's output activation (null: the model input).</summary>
        public int ActivationBitsOf(string? node) => node != null && LayerActivationBits.TryGetValue(node, out int bits) ? bits : ActivationBits;

        /// <summary>
        /// A layer's measured sensitivity (network output noise-to-signal ratio by weight bit-width, from `netquant optimize
        /// --sensitivity`), or null when the statistics have none: the size-budget allocation then uses a weight-error proxy.
        /// </summary>
        public Func<string, double[]?>? MeasuredSensitivity { get; init; }

        /// <summary>The bit-width of a layer's weights.</summary>
        public int WeightBitsOf(string node) => LayerWeightBits.TryGetValue(node, out int bits) ? bits : WeightBits;

        /// <summary>
        /// Integer weights to bake instead of rounding to nearest (saved AdaRound/GPFQ results): given a node's
        /// name and its float weights laid out [M, K] (output channel outermost), the int8 values and per-channel
        /// scales, or null to round to nearest. The tool also uses it to see the float weights in that layout.
        /// </summary>
        public Func<string, float[], int, (sbyte[] Values, float[] Scales)?>? WeightOverride { get; init; }

        /// <summary>A node's empirical bias correction (per output channel, subtracted from the float bias), or null.</summary>
        public Func<string, float[]?>? BiasCorrectionOf { get; init; }
    }

    /// <summary>Weights in the integer layout [M, C/group, kH, kW] (Gemm/MatMul: [N, K, 1, 1]) with a scale per output channel; Bias null to quantize the float bias.</summary>
    public sealed record GivenWeights(sbyte[] Values, float[] Scales, int[]? Bias);

    /// <summary>A real-valued range that an int8 activation must cover.</summary>
    public readonly record struct ActivationRange(float Min, float Max);
}
