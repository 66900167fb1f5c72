using System;
using System.Buffers.Text;
using System.Runtime.InteropServices;

namespace NetQuantGen.Runtime.Kernels
{
    /// <summary>Decodes convolution weights that the compiler packed (as int16 pairs in int32 words) and baked as base64.</summary>
    public static class PackedWeights
    {
        public static int[] DecodeInt32(ReadOnlySpan<byte> base64Utf8, int length)
        {
            var values = new int[length];
            var status = Base64.DecodeFromUtf8(base64Utf8, MemoryMarshal.AsBytes(values.AsSpan()), out _, out int written);
            if (status != System.Buffers.OperationStatus.Done || written != 4 * length)
                throw new InvalidOperationException("Corrupt baked weights: the generated code and the runtime library do not match.");
            if (!BitConverter.IsLittleEndian)
                for (int i = 0; i < values.Length; i++) values[i] = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(values[i]);
            return values;
        }
    }
}
