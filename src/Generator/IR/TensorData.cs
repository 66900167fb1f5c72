using System;
using System.Linq;

namespace NetQuantGen.IR
{
    /// <summary>
    /// The contents of a constant tensor (an initializer or a folded Constant). Floating-point data is
    /// kept as float32; integer and boolean data as int64, whatever their width in the file.
    /// </summary>
    public sealed class TensorData
    {
        private TensorData(ElementType type, int[] shape, float[]? floats, long[]? integers)
        {
            Type = type;
            Shape = shape;
            Floats = floats;
            Integers = integers;
        }

        public ElementType Type { get; }

        public int[] Shape { get; }

        /// <summary>Set when <see cref="Type"/> is Float32.</summary>
        public float[]? Floats { get; }

        /// <summary>Set for every integer and boolean type.</summary>
        public long[]? Integers { get; }

        public int Length => Floats?.Length ?? Integers!.Length;

        public static TensorData FromFloats(int[] shape, float[] data)
        {
            CheckLength(shape, data.Length);
            return new TensorData(ElementType.Float32, shape, data, null);
        }

        public static TensorData FromIntegers(ElementType type, int[] shape, long[] data)
        {
            if (type == ElementType.Float32) throw new ArgumentException("Float32 data belongs in FromFloats.", nameof(type));
            CheckLength(shape, data.Length);
            return new TensorData(type, shape, null, data);
        }

        /// <summary>The values as float32, converting integers.</summary>
        public float[] ToFloats() => Floats ?? Integers!.Select(v => (float)v).ToArray();

        /// <summary>The values as int64; float data must hold whole numbers.</summary>
        public long[] ToIntegers() => Integers ?? Floats!.Select(v => (long)v).ToArray();

        private static void CheckLength(int[] shape, int length)
        {
            if (Shapes.ElementCount(shape) != length)
                throw new ArgumentException($"Shape {Shapes.Format(shape)} does not hold {length} elements.");
        }
    }
}
