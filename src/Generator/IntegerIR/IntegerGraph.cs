using System.Collections.Generic;
using System.Linq;
using NetQuantGen.IR;

namespace NetQuantGen.IntegerIR
{
    /// <summary>
    /// A quantized activation tensor: integer values q with real value Scale·(q − ZeroPoint), int8 (asymmetric)
    /// or int16 (symmetric, zero-point 0, as TFLite's 16x8 mode). Every tensor of the integer graph has its own
    /// storage; the emitter later shares memory between tensors whose lifetimes do not overlap.
    /// </summary>
    public sealed class QTensor
    {
        public QTensor(string name, int[] shape, float scale, int zeroPoint, int bits = 8)
        {
            Name = name;
            Shape = shape;
            Scale = scale;
            ZeroPoint = zeroPoint;
            Bits = bits;
        }

        /// <summary>The name of the float value it quantizes.</summary>
        public string Name { get; }

        public int[] Shape { get; }

        public float Scale { get; }

        public int ZeroPoint { get; }

        /// <summary>8 (sbyte storage) or 16 (short storage).</summary>
        public int Bits { get; }

        public bool IsWide => Bits == 16;

        public int QMin => IsWide ? short.MinValue : sbyte.MinValue;

        public int QMax => IsWide ? short.MaxValue : sbyte.MaxValue;

        /// <summary>The C# type of one element in generated code.</summary>
        public string ElementType => IsWide ? "short" : "sbyte";

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
