using System;
using System.Buffers.Binary;
using System.Buffers.Text;
using System.Runtime.InteropServices;

namespace NetQuantGen.Runtime
{
    /// <summary>
    /// Decodes the weights that generated code bakes into the assembly as base64 UTF-8 literals (RVA data:
    /// compiles fast at any size, unlike array initializers of millions of elements).
    /// </summary>
    public static class WeightData
    {
        public static sbyte[] DecodeSBytes(ReadOnlySpan<byte> base64Utf8, int length)
        {
            var values = new sbyte[length];
            var status = Base64.DecodeFromUtf8(base64Utf8, MemoryMarshal.AsBytes(values.AsSpan()), out _, out int written);
            if (status != System.Buffers.OperationStatus.Done || written != length)
                throw new InvalidOperationException("Corrupt baked weights: the generated code and the runtime library do not match.");
            return values;
        }

        /// <summary>Decodes <paramref name="length"/> float32 values stored as base64 of their little-endian bytes (FLOAT32 builds).</summary>
        public static float[] DecodeFloats(ReadOnlySpan<byte> base64Utf8, int length)
        {
            var values = new float[length];
            var bytes = MemoryMarshal.AsBytes(values.AsSpan());
            var status = Base64.DecodeFromUtf8(base64Utf8, bytes, out _, out int written);
            if (status != System.Buffers.OperationStatus.Done || written != bytes.Length)
                throw new InvalidOperationException("Corrupt baked weights: the generated code and the runtime library do not match.");
            if (!BitConverter.IsLittleEndian)
            {
                var words = MemoryMarshal.Cast<float, int>(values.AsSpan());
                BinaryPrimitives.ReverseEndianness(words, words);
            }
            return values;
        }
    }
}
