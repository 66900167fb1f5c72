using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NetQuantGen.Runtime.Kernels
{
    /// <summary>The build-time constants of one integer add (TFLite reference formulation); generated code passes literals.</summary>
    public readonly record struct AddParameters(
        int LeftShift, int ZeroPointA, int MultiplierA, int ShiftA, int ZeroPointB, int MultiplierB, int ShiftB,
        int OutputZeroPoint, int OutputMultiplier, int OutputShift, int ClampMin, int ClampMax);

    /// <summary>
    /// Elementwise int8 add of two tensors of one shape: each input shifted left by LeftShift and rescaled to a common
    /// scale, summed, requantized, clamped — y = clamp(z + M(M_a((a − z_a) ≪ s) + M_b((b − z_b) ≪ s))). The AVX2 loop (also
    /// used by the Vector512 path) runs the same fixed-point steps as <see cref="FixedPoint"/> on eight lanes; other
    /// paths run the scalar definition.
    /// </summary>
    public static unsafe class Int8Add
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run(ReadOnlySpan<sbyte> a, ReadOnlySpan<sbyte> b, Span<sbyte> y, in AddParameters p)
        {
            if (a.Length != y.Length || b.Length != y.Length)
                throw new ArgumentException("Add operands do not match their output: the generated code and the runtime library do not match.");
            int n = y.Length, i = 0;
            var path = KernelPaths.Current;
            if ((path == KernelPath.Vector256 || path == KernelPath.Vector512) && Avx2.IsSupported)
            {
                var zeroA = Vector256.Create(p.ZeroPointA);
                var zeroB = Vector256.Create(p.ZeroPointB);
                var scaleA = Scale(p.MultiplierA, p.ShiftA);
                var scaleB = Scale(p.MultiplierB, p.ShiftB);
                var scaleOut = Scale(p.OutputMultiplier, p.OutputShift);
                var zeroOut = Vector256.Create(p.OutputZeroPoint);
                var low = Vector256.Create(p.ClampMin);
                var high = Vector256.Create(p.ClampMax);
                // The count in a register (vpslld ymm, xmm): the same instruction cost as an immediate, which a run-time shift cannot be.
                var shift = Vector128.CreateScalar(p.LeftShift);
                fixed (sbyte* pa = a, pb = b, py = y)
                    for (; i + 8 <= n; i += 8)
                    {
                        var sa = Avx2.ShiftLeftLogical(Avx2.Subtract(Avx2.ConvertToVector256Int32(pa + i), zeroA), shift);
                        var sb = Avx2.ShiftLeftLogical(Avx2.Subtract(Avx2.ConvertToVector256Int32(pb + i), zeroB), shift);
                        var sum = Avx2.Add(VectorFixedPoint.MultiplyByQuantizedMultiplier(sa, scaleA),
                            VectorFixedPoint.MultiplyByQuantizedMultiplier(sb, scaleB));
                        var v = Avx2.Add(VectorFixedPoint.MultiplyByQuantizedMultiplier(sum, scaleOut), zeroOut);
                        v = Avx2.Min(Avx2.Max(v, low), high);
                        // Already in int8: the saturating packs are exact; each 128-bit half keeps four bytes.
                        var words = Avx2.PackSignedSaturate(v, v);
                        var bytes = Avx2.PackSignedSaturate(words, words).AsInt32();
                        *(int*)(py + i) = bytes.GetElement(0);
                        *(int*)(py + i + 4) = bytes.GetElement(4);
                    }
            }
            for (; i < n; i++)
            {
                int sa = FixedPoint.MultiplyByQuantizedMultiplier((a[i] - p.ZeroPointA) << p.LeftShift, p.MultiplierA, p.ShiftA);
                int sb = FixedPoint.MultiplyByQuantizedMultiplier((b[i] - p.ZeroPointB) << p.LeftShift, p.MultiplierB, p.ShiftB);
                int v = p.OutputZeroPoint + FixedPoint.MultiplyByQuantizedMultiplier(sa + sb, p.OutputMultiplier, p.OutputShift);
                y[i] = (sbyte)Math.Clamp(v, p.ClampMin, p.ClampMax);
            }
        }

        /// <summary>A multiplier and its signed shift as the vector routine takes them: left and right shifts apart.</summary>
        private static Multipliers256 Scale(int multiplier, int shift) =>
            new(Vector256.Create(multiplier), Vector256.Create((uint)Math.Max(0, shift)), Vector256.Create(Math.Max(0, -shift)));
    }
}
