using System.Collections.Generic;
using System.Linq;
using NetQuantGen.IR;

namespace NetQuantGen.IntegerIR
{
    /// <summary>How a tensor's integers are stored: int8 or int16 activations, or the raw int32 accumulators of ConvInteger/MatMulInteger.</summary>
    public enum QElementType { Int8, Int16, Int32 }

    /// <summary>Scales and zero-points per slice along <see cref="Axis"/> (ONNX QuantizeLinear/DequantizeLinear with axis).</summary>
    public sealed record AxisQuantization(int Axis, float[] Scales, int[] ZeroPoints)
    {
        /// <summary>The slice that element <paramref name="index"/> of a row-major tensor of <paramref name="shape"/> lies in.</summary>
        public int SliceOf(int index, int[] shape)
        {
            int inner = 1;
            for (int d = Axis + 1; d < shape.Length; d++) inner *= shape[d];
            return index / inner % shape[Axis];
        }
    }

    /// <summary>
    /// A quantized activation tensor: integer values q with real value Scale·(q − ZeroPoint), int8 (asymmetric)
    /// or int16 (symmetric, zero-point 0, as TFLite's 16x8 mode). Every tensor of the integer graph has its own
    /// storage; the emitter later shares memory between tensors whose lifetimes do not overlap.
    /// </summary>
    public sealed class QTensor
    {
        public QTensor(string name, int[] shape, float scale, int zeroPoint, QElementType elementType = QElementType.Int8)
        {
            Name = name;
            Shape = shape;
            Scale = scale;
            ZeroPoint = zeroPoint;
            ElementType = elementType;
        }

        /// <summary>A tensor quantized per slice along an axis (Scale and ZeroPoint are then those of slice 0).</summary>
        public QTensor(string name, int[] shape, AxisQuantization perAxis)
            : this(name, shape, perAxis.Scales[0], perAxis.ZeroPoints[0])
        {
            PerAxis = perAxis;
        }

        /// <summary>
        /// A tensor whose scale and zero-point are computed at run time from the float values it quantizes, as ONNX's
        /// DynamicQuantizeLinear does (uint8, here shifted by −128); Scale is NaN, so no build-time arithmetic can use it.
        /// </summary>
        public static QTensor Dynamic(string name, int[] shape) => new(name, shape, float.NaN, 0) { IsDynamic = true };

        /// <summary>The name of the float value it quantizes.</summary>
        public string Name { get; }

        public int[] Shape { get; }

        public float Scale { get; }

        public int ZeroPoint { get; }

        /// <summary>Int8 (the default), Int16 (symmetric activations, zero-point 0) or Int32 (an accumulator tensor, zero-point 0).</summary>
        public QElementType ElementType { get; }

        /// <summary>Per-axis scales and zero-points, or null for one scale and zero-point.</summary>
        public AxisQuantization? PerAxis { get; }

        /// <summary>Whether the scale and zero-point are computed at run time (DynamicQuantizeLinear).</summary>
        public bool IsDynamic { get; private init; }

        /// <summary>Whether the quantization of the tensor agrees with <paramref name="other"/>'s, so that its integers can be copied.</summary>
        public bool SameQuantization(QTensor other) =>
            IsDynamic == other.IsDynamic && ElementType == other.ElementType
            && (PerAxis == null ? other.PerAxis == null && Scale.Equals(other.Scale) && ZeroPoint == other.ZeroPoint
                : other.PerAxis != null && PerAxis.Axis == other.PerAxis.Axis && PerAxis.Scales.SequenceEqual(other.PerAxis.Scales) && PerAxis.ZeroPoints.SequenceEqual(other.PerAxis.ZeroPoints));

        /// <summary>8 (sbyte storage), 16 (short) or 32 (int).</summary>
        public int Bits => ElementType switch { QElementType.Int16 => 16, QElementType.Int32 => 32, _ => 8 };

        public bool IsWide => ElementType == QElementType.Int16;

        public int QMin => ElementType switch { QElementType.Int16 => short.MinValue, QElementType.Int32 => int.MinValue, _ => sbyte.MinValue };

        public int QMax => ElementType switch { QElementType.Int16 => short.MaxValue, QElementType.Int32 => int.MaxValue, _ => sbyte.MaxValue };

        /// <summary>The C# type of one element in generated code.</summary>
        public string StorageType => ElementType switch { QElementType.Int16 => "short", QElementType.Int32 => "int", _ => "sbyte" };

        /// <summary>Bytes of storage.</summary>
        public int ByteLength => Length * Bits / 8;

        public int Length => (int)Shapes.ElementCount(Shape);

        public override string ToString() => $"{Name}{Shapes.Format(Shape)} s={Scale:R} z={ZeroPoint}{(IsWide ? " int16" : "")}";
    }

    /// <summary>A requantization multiplier M = Multiplier·2^(Shift−31), as FixedPoint.MultiplyByQuantizedMultiplier applies it.</summary>
    public readonly record struct Requantization(int Multiplier, int Shift)
    {
        public static Requantization FromReal(double real)
        {
            var (m, s) = FixedPoint.QuantizeMultiplier(real);
            return new Requantization(m, s);
        }

        public int Apply(int x) => FixedPoint.MultiplyByQuantizedMultiplier(x, Multiplier, Shift);

        /// <summary>The int64-accumulator form of TFLite's 16x8 kernels (see FixedPoint.MultiplyByQuantizedMultiplierWide).</summary>
        public long ApplyWide(long x) => FixedPoint.MultiplyByQuantizedMultiplierWide(x, Multiplier, Shift);
    }

    /// <summary>How an operation turns its int32 result into the int8 output.</summary>
    public enum RequantizationArithmetic
    {
        /// <summary>DESIGN §3: fixed-point multiplier and shift, gemmlowp rounding (TFLite); the default for our own quantization.</summary>
        FixedPoint,

        /// <summary>
        /// ONNX Runtime's (MLAS) float requantization: one float32 multiply by a scale computed as ONNX Runtime
        /// computes it, one rounding half to even; the default for quantized (QDQ/QOperator) models, whose meaning is float.
        /// </summary>
        Float,
    }

    /// <summary>
    /// The quantized model: every tensor has (scale, zero-point), every operation has exact integer
    /// parameters. The integer reference executor runs it; the emitter turns it into C#.
    /// </summary>
    public sealed class IntegerGraph
    {
        public IntegerGraph(string modelName, IReadOnlyList<QuantizeInput> inputs, IReadOnlyList<DequantizeOutput> outputs, IReadOnlyList<QOperation> operations)
        {
            ModelName = modelName;
            Inputs = inputs;
            Outputs = outputs;
            Operations = operations;
        }

        public string ModelName { get; }

        /// <summary>Float graph inputs and the int8 tensors they are quantized into.</summary>
        public IReadOnlyList<QuantizeInput> Inputs { get; }

        /// <summary>Int8 tensors dequantized into the float graph outputs.</summary>
        public IReadOnlyList<DequantizeOutput> Outputs { get; }

        /// <summary>Integer operations in execution order (inputs quantized before, outputs dequantized after).</summary>
        public IReadOnlyList<QOperation> Operations { get; }

        /// <summary>Every tensor, in first-definition order.</summary>
        public IEnumerable<QTensor> Tensors() =>
            Inputs.Select(i => i.Output).Concat(Operations.SelectMany(o => o.Inputs.Append(o.Output))).Distinct();

        public long MacCount => Operations.OfType<QConvolution>().Sum(c => c.MacCount);

        public long WeightBytes => Operations.OfType<QConvolution>().Sum(c => (long)c.Weights.Length + 4L * c.Bias.Length);
    }
}
