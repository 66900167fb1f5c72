using System.Collections.Generic;
using System.Linq;
using NetQuantGen.IR;

namespace NetQuantGen.IntegerIR
{
    /// <summary>The float graph input <see cref="InputName"/> is quantized (round half to even, saturate) into <see cref="Output"/>.</summary>
    public sealed record QuantizeInput(string InputName, QTensor Output);

    /// <summary><see cref="Input"/> is dequantized, (q − z)·s in float32, into the float graph output <see cref="OutputName"/>.</summary>
    public sealed record DequantizeOutput(QTensor Input, string OutputName);

    /// <summary>One integer operation. <see cref="Source"/> names the ONNX node(s) it came from.</summary>
    public abstract class QOperation
    {
        protected QOperation(string source, IReadOnlyList<QTensor> inputs, QTensor output)
        {
            Source = source;
            Inputs = inputs;
            Output = output;
        }

        public string Source { get; }

        public IReadOnlyList<QTensor> Inputs { get; }

        public QTensor Output { get; }

        public QTensor Input => Inputs[0];

        /// <summary>A short name for comments and method names, e.g. "Conv".</summary>
        public abstract string Kind { get; }
    }

    /// <summary>
    /// Convolution with int8 weights (zero-point 0), int32 bias and per-output-channel requantization:
    /// y = clamp(z_out + M_c·(Σ w·(x − z_in) + bias_c), ClampMin, ClampMax), with M_c applied in fixed point
    /// (<see cref="Requantization"/>) or, when <see cref="FloatScales"/> is set, in float32 as ONNX Runtime does
    /// (<see cref="FloatRequantization.Requantize"/>). Gemm and MatMul with constant weights lower to this as a
    /// 1×1 convolution over [batch, K, 1, 1]. With an int16 input the accumulator is exact in int64 (or int32 where
    /// <see cref="AccumulatorBits"/> says it was proven to fit) and requantized as TFLite's 16x8 kernels do
    /// (<see cref="Requantization.ApplyWide"/>); input and output may differ in width.
    /// </summary>
    public sealed class QConvolution : QOperation
    {
        public QConvolution(string source, QTensor input, QTensor output, Window window, int group,
            sbyte[] weights, int[] weightShape, float[] weightScales, int[] bias, Requantization[] requantization,
            int clampMin, int clampMax, bool fromGemm, float[]? floatScales = null, int accumulatorBits = 32)
            : base(source, new[] { input }, output)
        {
            FloatScales = floatScales;
            AccumulatorBits = accumulatorBits;
            Window = window;
            Group = group;
            Weights = weights;
            WeightShape = weightShape;
            WeightScales = weightScales;
            Bias = bias;
            Requantization = requantization;
            ClampMin = clampMin;
            ClampMax = clampMax;
            FromGemm = fromGemm;
        }

        public override string Kind => FromGemm ? "FullyConnected" : Group > 1 && Group == Input.Shape[1] && Group == OutputChannels ? "DepthwiseConv" : "Conv";

        /// <summary>Spatial geometry (explicit pads, strides, dilations; 2-D).</summary>
        public Window Window { get; }

        public int Group { get; }

        /// <summary>[M, C/group, kH, kW] row-major, symmetric int8.</summary>
        public sbyte[] Weights { get; }

        public int[] WeightShape { get; }

        /// <summary>Per output channel (one repeated value for per-tensor quantization).</summary>
        public float[] WeightScales { get; }

        /// <summary>int32, scale s_in·s_w[c].</summary>
        public int[] Bias { get; }

        public Requantization[] Requantization { get; }

        /// <summary>Per output channel, the float32 scale of <see cref="RequantizationArithmetic.Float"/> ((s_in·s_w[c]) / s_out); null in fixed point.</summary>
        public float[]? FloatScales { get; }

        public RequantizationArithmetic Arithmetic => FloatScales != null ? RequantizationArithmetic.Float : RequantizationArithmetic.FixedPoint;

        public int ClampMin { get; }

        public int ClampMax { get; }

        public bool FromGemm { get; }

        /// <summary>32 when every accumulator is proven to fit int32 (always, for an int8 input), else 64.</summary>
        public int AccumulatorBits { get; }

        /// <summary>Requantized from an int64 accumulator (int16 input), TFLite 16x8 style.</summary>
        public bool WideRequantization => Input.IsWide;

        /// <summary>Reads or writes int16: runs the int16 kernels instead of the int8 ones.</summary>
        public bool TouchesWide => Input.IsWide || Output.IsWide;

        public int OutputChannels => WeightShape[0];

        public int KernelHeight => WeightShape[2];

        public int KernelWidth => WeightShape[3];

        public int InputChannelsPerGroup => WeightShape[1];

        public long MacCount => (long)Output.Length * InputChannelsPerGroup * KernelHeight * KernelWidth;
    }

    /// <summary>
    /// Element-wise addition of two tensors with different scales (and widths), the TFLite way: both inputs are
    /// shifted left by <see cref="LeftShift"/>, rescaled to a common scale, added and requantized; or, when
    /// <see cref="FloatParameters"/> is set, in float32 as ONNX Runtime's QLinearAdd (<see cref="FloatRequantization.Add"/>).
    /// </summary>
    public sealed class QAdd : QOperation
    {
        public QAdd(string source, QTensor a, QTensor b, QTensor output, int leftShift,
            Requantization inputA, Requantization inputB, Requantization outputRequantization, int clampMin, int clampMax,
            FloatAddParameters? floatParameters = null)
            : base(source, new[] { a, b }, output)
        {
            FloatParameters = floatParameters;
            LeftShift = leftShift;
            InputA = inputA;
            InputB = inputB;
            OutputRequantization = outputRequantization;
            ClampMin = clampMin;
            ClampMax = clampMax;
        }

        public override string Kind => "Add";

        public int LeftShift { get; }

        public Requantization InputA { get; }

        public Requantization InputB { get; }

        public Requantization OutputRequantization { get; }

        /// <summary>The constants of <see cref="RequantizationArithmetic.Float"/>; null in fixed point.</summary>
        public FloatAddParameters? FloatParameters { get; }

        public RequantizationArithmetic Arithmetic => FloatParameters != null ? RequantizationArithmetic.Float : RequantizationArithmetic.FixedPoint;

        public int ClampMin { get; }

        public int ClampMax { get; }
    }

    public enum PoolKind { Max, Average }

    /// <summary>
    /// Max or average pooling over a window (GlobalAveragePool is a window over the whole plane). Input
    /// and output share scale and zero-point; an average is the rounding division of the integer sum
    /// (ties away from zero), over the valid or the full window as <see cref="CountIncludePad"/> says. A global
    /// average with <see cref="FloatScale"/> set is ONNX Runtime's QLinearGlobalAveragePool instead:
    /// FloatRequantization.Requantize(Σ(x − z), s_in / (s_out·count)).
    /// </summary>
    public sealed class QPool : QOperation
    {
        public QPool(string source, QTensor input, QTensor output, PoolKind pool, Window window, bool countIncludePad, float? floatScale = null)
            : base(source, new[] { input }, output)
        {
            FloatScale = floatScale;
            Pool = pool;
            Window = window;
            CountIncludePad = countIncludePad;
        }

        public override string Kind => Pool == PoolKind.Max ? "MaxPool" : "AveragePool";

        public PoolKind Pool { get; }

        public Window Window { get; }

        public bool CountIncludePad { get; }

        /// <summary>The float32 scale of a <see cref="RequantizationArithmetic.Float"/> global average; null for the rounding division.</summary>
        public float? FloatScale { get; }
    }

    /// <summary>
    /// Concatenation along an axis; inputs whose scale, zero-point or width differ from the output's are
    /// requantized: z_out + M·(q − z_in), clamped to the output's range.
    /// </summary>
    public sealed class QConcat : QOperation
    {
        public QConcat(string source, IReadOnlyList<QTensor> inputs, QTensor output, int axis, Requantization[] requantization)
            : base(source, inputs, output)
        {
            Axis = axis;
            InputRequantization = requantization;
        }

        public override string Kind => "Concat";

        public int Axis { get; }

        /// <summary>Per input; Multiplier 0 marks an input copied as is (same scale and zero-point).</summary>
        public Requantization[] InputRequantization { get; }
    }

    /// <summary>
    /// Data movement that keeps scale and zero-point: Reshape, Flatten, Squeeze, Unsqueeze are a copy
    /// (<see cref="Permutation"/> null); Transpose permutes the axes.
    /// </summary>
    public sealed class QMove : QOperation
    {
        public QMove(string source, string kind, QTensor input, QTensor output, int[]? permutation)
            : base(source, new[] { input }, output)
        {
            Kind = kind;
            Permutation = permutation;
        }

        public override string Kind { get; }

        public int[]? Permutation { get; }
    }

    /// <summary>Constant padding with the zero-point (real 0) or a quantized value; Pads as begins then ends.</summary>
    public sealed class QPad : QOperation
    {
        public QPad(string source, QTensor input, QTensor output, int[] pads, int value)
            : base(source, new[] { input }, output)
        {
            Pads = pads;
            Value = value;
        }

        public override string Kind => "Pad";

        public int[] Pads { get; }

        public int Value { get; }
    }

    /// <summary>
    /// An element-wise function of one int8 tensor (Sigmoid, HardSwish, LeakyRelu, a standalone Relu or
    /// Clip, ...) as a 256-entry table computed at build time: Table[q + 128].
    /// </summary>
    public sealed class QLookup : QOperation
    {
        public QLookup(string source, string kind, QTensor input, QTensor output, sbyte[] table)
            : base(source, new[] { input }, output)
        {
            Kind = kind;
            Table = table;
        }

        public override string Kind { get; }

        public sbyte[] Table { get; }
    }
}
