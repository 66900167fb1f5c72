using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NetQuantGen.Runtime.Kernels
{
    /// <summary>
    /// The build-time constants of one integer add (TFLite reference formulation); generated code passes literals. A
    /// convolution with a fused residual add takes its own output as A and the skip tensor as B.
    /// </summary>
    public readonly record struct AddParameters(
        int LeftShift, int ZeroPointA, int MultiplierA, int ShiftA, int ZeroPointB, int MultiplierB, int ShiftB,
        int OutputZeroPoint, int OutputMultiplier, int OutputShift, int ClampMin, int ClampMax)
    {
        /// <summary>y = clamp(z + M(M_a((a − z_a) ≪ s) + M_b((b − z_b) ≪ s))): the scalar definition, which an <see cref="AddTable"/> holds for every pair of inputs.</summary>
        public int Apply(int a, int b)
        {
            int sa = FixedPoint.MultiplyByQuantizedMultiplier((a - ZeroPointA) << LeftShift, MultiplierA, ShiftA);
            int sb = FixedPoint.MultiplyByQuantizedMultiplier((b - ZeroPointB) << LeftShift, MultiplierB, ShiftB);
            int v = OutputZeroPoint + FixedPoint.MultiplyByQuantizedMultiplier(sa + sb, OutputMultiplier, OutputShift);
            return Math.Clamp(v, ClampMin, ClampMax);
        }
    }

    /// <summary>
    /// An add's output is a function of its two int8 inputs alone, so it is exactly a 256×256 table of bytes: built once per
    /// add layer from the scalar definition <see cref="AddParameters.Apply"/> (exact by construction, 64 KB), then read by
    /// every path, one lookup per element (the vector paths with vpgatherdd: on Zen 4 two 8-lane gathers cost less than the
    /// three fixed-point multiplies per element they replace).
    /// </summary>
    public sealed unsafe class AddTable
    {
        /// <summary>
        /// Bytes before the outputs: a dword gathered at byte offset <see cref="Index"/> then has the output as its top byte,
        /// which one arithmetic right shift sign-extends.
        /// </summary>
        private const int Padding = 3;

        private readonly byte[] _bytes = new byte[Padding + 256 * 256];

        public AddTable(in AddParameters parameters)
        {
            Parameters = parameters;
            for (int a = -128; a < 128; a++)
                for (int b = -128; b < 128; b++)
                    _bytes[Padding + Index(a, b)] = (byte)parameters.Apply(a, b);
        }

        public AddParameters Parameters { get; }

        /// <summary>The padding and the outputs, to be pinned while a kernel reads them through <see cref="Lookup(int, int, byte*)"/> and its vector forms.</summary>
        internal ReadOnlySpan<byte> Bytes => _bytes;

        /// <summary>The output for inputs a and b (int8 values): <see cref="AddParameters.Apply"/>(a, b).</summary>
        public sbyte Apply(int a, int b) => (sbyte)_bytes[Padding + Index(a, b)];

        private static int Index(int a, int b) => (a + 128) * 256 + (b + 128);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static int Lookup(int a, int b, byte* bytes) => (sbyte)bytes[Padding + Index(a, b)];

        /// <summary>
        /// The dword whose top byte is the output of (0, 0): the one at byte offset (a ≪ 8) + b (signed, as vpgatherdd
        /// reads its indices) from it has the output of (a, b) as its top byte.
        /// </summary>
        private static byte* Origin(byte* bytes) => bytes + Index(0, 0);

        /// <summary>Eight outputs of int8 lanes a and b, sign-extended to int32 (AVX2).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static Vector256<int> Lookup(Vector256<int> a, Vector256<int> b, byte* bytes) =>
            Avx2.ShiftRightArithmetic(Avx2.GatherVector256((int*)Origin(bytes), Avx2.Add(Avx2.ShiftLeftLogical(a, 8), b), 1), 24);

        /// <summary>
        /// Sixteen outputs (AVX-512), sign-extended to int32: .NET 10 exposes no 512-bit gather, so two 256-bit ones.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static Vector512<int> Lookup(Vector512<int> a, Vector512<int> b, byte* bytes)
        {
            var index = Avx512F.Add(Avx512F.ShiftLeftLogical(a, 8), b);
            int* origin = (int*)Origin(bytes);
            return Avx512F.ShiftRightArithmetic(Vector512.Create(Avx2.GatherVector256(origin, index.GetLower(), 1), Avx2.GatherVector256(origin, index.GetUpper(), 1)), 24);
        }
    }

    /// <summary>
    /// Elementwise int8 add of two tensors of one shape: each input shifted left by LeftShift and rescaled to a common
    /// scale, summed, requantized, clamped — y = clamp(z + M(M_a((a − z_a) ≪ s) + M_b((b − z_b) ≪ s))), read from the
    /// add's <see cref="AddTable"/>: sixteen lanes a step on AVX-512, eight on AVX2, one on the other paths and the tail.
    /// </summary>
    public static unsafe class Int8Add
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run(ReadOnlySpan<sbyte> a, ReadOnlySpan<sbyte> b, Span<sbyte> y, AddTable table)
        {
            if (a.Length != y.Length || b.Length != y.Length)
                throw new ArgumentException("Add operands do not match their output: the generated code and the runtime library do not match.");
            int n = y.Length, i = 0;
            var path = KernelPaths.Current;
            fixed (sbyte* pa = a, pb = b, py = y)
            fixed (byte* bytes = table.Bytes)
            {
                if (path == KernelPath.Vector512 && Lanes512.IsSupported)
                    for (; i + 16 <= n; i += 16)
                    {
                        var v = AddTable.Lookup(Avx512F.ConvertToVector512Int32(Sse2.LoadVector128(pa + i)), Avx512F.ConvertToVector512Int32(Sse2.LoadVector128(pb + i)), bytes);
                        Lanes512.StoreFinished(py + i, v);
                    }
                if ((path == KernelPath.Vector256 || path == KernelPath.Vector512) && Avx2.IsSupported)
                    for (; i + 8 <= n; i += 8)
                        Lanes256.StoreFinished(py + i, AddTable.Lookup(Avx2.ConvertToVector256Int32(pa + i), Avx2.ConvertToVector256Int32(pb + i), bytes));
                for (; i < n; i++) py[i] = (sbyte)AddTable.Lookup(pa[i], pb[i], bytes);
            }
        }
    }
}
