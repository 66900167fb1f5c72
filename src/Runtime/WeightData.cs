using System;
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
    }
}
