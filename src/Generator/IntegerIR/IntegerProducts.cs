using System;
using NetQuantGen.IR;

namespace NetQuantGen.IntegerIR
{
    /// <summary>
    /// ONNX Runtime's requantization of QLinearConv/QLinearMatMul (MLAS): the int32 accumulator times the float32
    /// scale s_x·s_w[c]/s_y, rounded half to even, plus the output zero-point, clamped to the output's range.
    /// One scale per output channel (a repeated value when the weights are quantized per tensor); the arithmetic is
    /// <see cref="FloatRequantization"/>'s, as for the int8 operations under Requantization = Float.
    /// </summary>
    public sealed class ProductRequantization
    {
        public ProductRequantization(float[] scales, int clampMin, int clampMax)
        {
            Scales = scales;
            ClampMin = clampMin;
            ClampMax = clampMax;
        }

        public float[] Scales { get; }

        /// <summary>Bounds in the int8 domain of the output tensor (uint8 outputs shifted by −128).</summary>
        public int ClampMin { get; }

        public int ClampMax { get; }

        /// <summary>The multiplier as ONNX Runtime computes it: (x_scale · w_scale) / y_scale, each step in float32.</summary>
        public static float Scale(float inputScale, float weightScale, float outputScale) =>
            FloatRequantization.ConvolutionScale(inputScale, weightScale, outputScale);

        public int Apply(int accumulator, int channel, int zeroPoint) =>
            FloatRequantization.Requantize(accumulator, Scales[channel], zeroPoint, ClampMin, ClampMax);
    }

    /// <summary>
    /// A convolution as ONNX's ConvInteger and QLinearConv define it, for what the int8 kernels cannot carry:
    /// weights stored as w − z_w (any int8 or uint8 weight with any zero-point per tensor or per output channel,
    /// so in [−255, 255]), acc = bias_c + Σ (w − z_w)·(x − z_x) exactly in int32, and then either the raw
    /// accumulator as an int32 output (ConvInteger, <see cref="Requantization"/> null) or the float requantization
    /// of ONNX Runtime into an 8-bit output (QLinearConv).
    /// </summary>
    public sealed class QIntegerConvolution : QOperation
    {
        public QIntegerConvolution(string source, QTensor input, QTensor output, Window window, int group,
            short[] weights, int[] weightShape, int[] bias, ProductRequantization? requantization)
            : base(source, new[] { input }, output)
        {
            Window = window;
            Group = group;
            Weights = weights;
            WeightShape = weightShape;
            Bias = bias;
            Requantization = requantization;
        }

        public override string Kind => "ConvInteger";

        public Window Window { get; }

        public int Group { get; }

        /// <summary>[M, C/group, kH, kW] row-major, w − z_w.</summary>
        public short[] Weights { get; }

        public int[] WeightShape { get; }

        public int[] Bias { get; }

        public ProductRequantization? Requantization { get; }

        public int OutputChannels => WeightShape[0];
    }

    /// <summary>
    /// A matrix product of an activation A [..., M, K] by constant weights B [..., K, N] as ONNX's MatMulInteger
    /// and QLinearMatMul define it, with numpy batch broadcasting: B stored as w − z_w (per tensor or per column),
    /// acc = Σ (a − z_a)·(b − z_b) exactly in int32, output the raw int32 accumulator or requantized in float
    /// (one scale per column N).
    /// </summary>
    public sealed class QIntegerMatMul : QOperation
    {
        public QIntegerMatMul(string source, QTensor input, QTensor output, short[] weights, int[] weightShape, ProductRequantization? requantization)
            : base(source, new[] { input }, output)
        {
            Weights = weights;
            WeightShape = weightShape;
            Requantization = requantization;
        }

        public override string Kind => "MatMulInteger";

        /// <summary>B row-major in <see cref="WeightShape"/>, w − z_w.</summary>
        public short[] Weights { get; }

        public int[] WeightShape { get; }

        public ProductRequantization? Requantization { get; }
    }
}
