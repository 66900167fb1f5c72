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
        /// <summary>y = clamp(z + M(M_a((a − z_a) ≪ s) + M_b((b − z_b) ≪ s))): the scalar definition every vector path matches.</summary>
        public int Apply(int a, int b)
        {
            int sa = FixedPoint.MultiplyByQuantizedMultiplier((a - ZeroPointA) << LeftShift, MultiplierA, ShiftA);
            int sb = FixedPoint.MultiplyByQuantizedMultiplier((b - ZeroPointB) << LeftShift, MultiplierB, ShiftB);
            int v = OutputZeroPoint + FixedPoint.MultiplyByQuantizedMultiplier(sa + sb, OutputMultiplier, OutputShift);
            return Math.Clamp(v, ClampMin, ClampMax);
        }
    }

    /// <summary><see cref="AddParameters.Apply"/> on eight int32 lanes (AVX2), its vectors prepared once for many.</summary>
    internal readonly struct AddSteps256
    {
        private readonly Vector256<int> _zeroA, _zeroB, _zeroOut, _low, _high;
        private readonly Multipliers256 _scaleA, _scaleB, _scaleOut;
        private readonly Vector128<int> _leftShift;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public AddSteps256(in AddParameters p)
        {
            _zeroA = Vector256.Create(p.ZeroPointA);
            _zeroB = Vector256.Create(p.ZeroPointB);
            _zeroOut = Vector256.Create(p.OutputZeroPoint);
            _low = Vector256.Create(p.ClampMin);
            _high = Vector256.Create(p.ClampMax);
            _scaleA = Scale(p.MultiplierA, p.ShiftA);
            _scaleB = Scale(p.MultiplierB, p.ShiftB);
            _scaleOut = Scale(p.OutputMultiplier, p.OutputShift);
            // The count in a register (vpslld ymm, xmm): the same instruction cost as an immediate, which a run-time shift cannot be.
            _leftShift = Vector128.CreateScalar(p.LeftShift);
        }

        /// <summary>Clamped, so within int8 when the clamp is.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<int> Apply(Vector256<int> a, Vector256<int> b)
        {
            var sa = Avx2.ShiftLeftLogical(Avx2.Subtract(a, _zeroA), _leftShift);
            var sb = Avx2.ShiftLeftLogical(Avx2.Subtract(b, _zeroB), _leftShift);
            var sum = Avx2.Add(VectorFixedPoint.MultiplyByQuantizedMultiplier(sa, _scaleA), VectorFixedPoint.MultiplyByQuantizedMultiplier(sb, _scaleB));
            var v = Avx2.Add(VectorFixedPoint.MultiplyByQuantizedMultiplier(sum, _scaleOut), _zeroOut);
            return Avx2.Min(Avx2.Max(v, _low), _high);
        }

        /// <summary>A multiplier and its signed shift as the vector routine takes them: left and right shifts apart.</summary>
        private static Multipliers256 Scale(int multiplier, int shift) =>
            new(Vector256.Create(multiplier), Vector256.Create((uint)Math.Max(0, shift)), Vector256.Create(Math.Max(0, -shift)));
    }

    /// <summary><see cref="AddSteps256"/> on sixteen lanes (AVX-512), the same steps.</summary>
    internal readonly struct AddSteps512
    {
        private readonly Vector512<int> _zeroA, _zeroB, _zeroOut, _low, _high;
        private readonly Multipliers512 _scaleA, _scaleB, _scaleOut;
        private readonly Vector128<int> _leftShift;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public AddSteps512(in AddParameters p)
        {
            _zeroA = Vector512.Create(p.ZeroPointA);
            _zeroB = Vector512.Create(p.ZeroPointB);
            _zeroOut = Vector512.Create(p.OutputZeroPoint);
            _low = Vector512.Create(p.ClampMin);
            _high = Vector512.Create(p.ClampMax);
            _scaleA = Scale(p.MultiplierA, p.ShiftA);
            _scaleB = Scale(p.MultiplierB, p.ShiftB);
            _scaleOut = Scale(p.OutputMultiplier, p.OutputShift);
            _leftShift = Vector128.CreateScalar(p.LeftShift);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<int> Apply(Vector512<int> a, Vector512<int> b)
        {
            var sa = Avx512F.ShiftLeftLogical(Avx512F.Subtract(a, _zeroA), _leftShift);
            var sb = Avx512F.ShiftLeftLogical(Avx512F.Subtract(b, _zeroB), _leftShift);
            var sum = Avx512F.Add(VectorFixedPoint.MultiplyByQuantizedMultiplier(sa, _scaleA), VectorFixedPoint.MultiplyByQuantizedMultiplier(sb, _scaleB));
            var v = Avx512F.Add(VectorFixedPoint.MultiplyByQuantizedMultiplier(sum, _scaleOut), _zeroOut);
            return Avx512F.Min(Avx512F.Max(v, _low), _high);
        }

        private static Multipliers512 Scale(int multiplier, int shift) =>
            new(Vector512.Create(multiplier), Vector512.Create((uint)Math.Max(0, shift)), Vector512.Create(Math.Max(0, -shift)));
    }

    /// <summary>
    /// Elementwise int8 add of two tensors of one shape: each input shifted left by LeftShift and rescaled to a common
    /// scale, summed, requantized, clamped — y = clamp(z + M(M_a((a − z_a) ≪ s) + M_b((b − z_b) ≪ s))). The AVX-512 loop
    /// (sixteen lanes) and the AVX2 loop (eight) run the same fixed-point steps as <see cref="FixedPoint"/>; other paths
    /// and the tail run the scalar definition.
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
            fixed (sbyte* pa = a, pb = b, py = y)
            {
                if (path == KernelPath.Vector512 && Lanes512.IsSupported)
                {
                    var steps = new AddSteps512(p);
                    for (; i + 16 <= n; i += 16)
                    {
                        var v = steps.Apply(Avx512F.ConvertToVector512Int32(Sse2.LoadVector128(pa + i)), Avx512F.ConvertToVector512Int32(Sse2.LoadVector128(pb + i)));
                        // Already in int8: the truncating narrow (vpmovdb) is exact.
                        Sse2.Store(py + i, Avx512F.ConvertToVector128SByte(v));
                    }
                }
                if ((path == KernelPath.Vector256 || path == KernelPath.Vector512) && Avx2.IsSupported)
                {
                    var steps = new AddSteps256(p);
                    for (; i + 8 <= n; i += 8)
                        Lanes256.StoreFinished(py + i, steps.Apply(Avx2.ConvertToVector256Int32(pa + i), Avx2.ConvertToVector256Int32(pb + i)));
                }
            }
            for (; i < n; i++) y[i] = (sbyte)p.Apply(a[i], b[i]);
        }
    }
}
