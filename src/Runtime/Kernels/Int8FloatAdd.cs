using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NetQuantGen.Runtime.Kernels
{
    /// <summary>
    /// Elementwise int8 add in ONNX Runtime's float arithmetic (<see cref="FloatRequantization.Add"/>, MLAS's QLinearAdd
    /// on uint8), then the fused clamp. The AVX2+FMA loop (also used by the Vector512 path) runs the same float32 steps
    /// on eight lanes — vcvtdq2ps, two vfmadd (each rounded once, as the scalar FusedMultiplyAdd), vcvtps2dq (half to
    /// even) — so it is bit-identical to the scalar definition the other paths run.
    /// </summary>
    public static unsafe class Int8FloatAdd
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run(ReadOnlySpan<sbyte> a, ReadOnlySpan<sbyte> b, Span<sbyte> y, in FloatAddParameters p, int clampMin, int clampMax)
        {
            if (a.Length != y.Length || b.Length != y.Length)
                throw new ArgumentException("Add operands do not match their output: the generated code and the runtime library do not match.");
            int n = y.Length, i = 0;
            var path = KernelPaths.Current;
            if ((path == KernelPath.Vector256 || path == KernelPath.Vector512) && Avx2.IsSupported && Fma.IsSupported)
            {
                var offset = Vector256.Create(128);
                var ratioA = Vector256.Create(p.RatioA);
                var ratioB = Vector256.Create(p.RatioB);
                var fixedPart = Vector256.Create(p.FixedPart);
                var low = Vector256.Create(Math.Max(0, clampMin + 128));
                var high = Vector256.Create(Math.Min(255, clampMax + 128));
                var belowRange = Vector256.Create(-1f);
                var aboveRange = Vector256.Create(256f);
                fixed (sbyte* pa = a, pb = b, py = y)
                    for (; i + 8 <= n; i += 8)
                    {
                        var ua = Avx.ConvertToVector256Single(Avx2.Add(Avx2.ConvertToVector256Int32(pa + i), offset));
                        var ub = Avx.ConvertToVector256Single(Avx2.Add(Avx2.ConvertToVector256Int32(pb + i), offset));
                        var sum = Fma.MultiplyAdd(ua, ratioA, Fma.MultiplyAdd(ub, ratioB, fixedPart));
                        var c = Avx.ConvertToVector256Int32(Avx.Min(Avx.Max(sum, belowRange), aboveRange));
                        // Saturating to uint8 and the fused clamp in one, both in the uint8 domain; then back to int8.
                        var v = Avx2.Subtract(Avx2.Min(Avx2.Max(c, low), high), offset);
                        // Already in int8: the saturating packs are exact; each 128-bit half keeps four bytes.
                        var words = Avx2.PackSignedSaturate(v, v);
                        var bytes = Avx2.PackSignedSaturate(words, words).AsInt32();
                        *(int*)(py + i) = bytes.GetElement(0);
                        *(int*)(py + i + 4) = bytes.GetElement(4);
                    }
            }
            for (; i < n; i++) y[i] = (sbyte)Math.Clamp(FloatRequantization.Add(a[i], b[i], p), clampMin, clampMax);
        }
    }
}
