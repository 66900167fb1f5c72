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

    /// <summary>
    /// An input's high multiply SaturatingRoundingDoublingHighMul(d·2^L, M) in 32-bit lanes, for d = x − z_x (|d| ≤ 255) and
    /// L = the add's left shift plus the multiplier's own, 8 ≤ L ≤ 23 (TFLite's 20): d·2^L does not wrap, and with
    /// k = 31 − L the high multiply floor((d·M·2^L + 2^30) / 2^31) is floor((d·M + 2^(k−1)) / 2^k); M = High·2^k + Low
    /// (0 ≤ Low &lt; 2^k) makes it d·High + ((d·Low + 2^(k−1)) ≫ k), and |d·High| &lt; 255·2^(31−k), |d·Low| + 2^(k−1) &lt; 256·2^k
    /// both fit int32: two 32-bit multiplies instead of the 64-bit products of the even and odd lanes.
    /// </summary>
    internal readonly struct NarrowMultiplier
    {
        public readonly int High, Low, Shift, Round;

        public NarrowMultiplier(int multiplier, int shift)
        {
            Shift = shift;
            High = multiplier >> shift;
            Low = multiplier & ((1 << shift) - 1);
            Round = 1 << (shift - 1);
        }

        /// <summary>Whether an input shifted left by <paramref name="shift"/> in all takes the 32-bit steps.</summary>
        public static bool Applies(int shift) => shift >= 8 && shift <= 23;
    }

    /// <summary>The constants of an add as its vector steps read them, derived once: each vector of them is a broadcast.</summary>
    internal readonly struct AddConstants
    {
        public readonly int ZeroA, ZeroB, ZeroOut, Low, High, LeftShift;
        public readonly ScalarMultiplier ScaleA, ScaleB, ScaleOut;

        /// <summary>Both inputs' high multiplies run in 32-bit lanes (<see cref="NarrowMultiplier"/>); their rounding right shifts as ever.</summary>
        public readonly bool Narrow;
        public readonly NarrowMultiplier NarrowA, NarrowB;

        public AddConstants(in AddParameters p)
        {
            ZeroA = p.ZeroPointA;
            ZeroB = p.ZeroPointB;
            ZeroOut = p.OutputZeroPoint;
            Low = p.ClampMin;
            High = p.ClampMax;
            LeftShift = p.LeftShift;
            ScaleA = new ScalarMultiplier(p.MultiplierA, p.ShiftA);
            ScaleB = new ScalarMultiplier(p.MultiplierB, p.ShiftB);
            ScaleOut = new ScalarMultiplier(p.OutputMultiplier, p.OutputShift);
            int shiftA = p.LeftShift + ScaleA.LeftShift, shiftB = p.LeftShift + ScaleB.LeftShift;
            Narrow = NarrowMultiplier.Applies(shiftA) && NarrowMultiplier.Applies(shiftB);
            if (Narrow)
            {
                NarrowA = new NarrowMultiplier(p.MultiplierA, 31 - shiftA);
                NarrowB = new NarrowMultiplier(p.MultiplierB, 31 - shiftB);
            }
        }
    }

    /// <summary>
    /// <see cref="AddParameters.Apply"/> on eight int32 lanes (AVX2), the same fixed-point steps, its vectors prepared once
    /// for many (the loop of <see cref="Int8Add"/>, a convolution's whole output stage).
    /// </summary>
    internal readonly struct AddSteps256
    {
        private readonly Vector256<int> _zeroA, _zeroB, _zeroOut, _low, _high;
        private readonly Multipliers256 _scaleA, _scaleB, _scaleOut;
        private readonly Vector256<int> _highA, _lowA, _roundA, _highB, _lowB, _roundB;
        private readonly Vector128<int> _leftShift, _shiftA, _shiftB;
        private readonly bool _narrow;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public AddSteps256(in AddConstants c)
        {
            _zeroA = Vector256.Create(c.ZeroA);
            _zeroB = Vector256.Create(c.ZeroB);
            _zeroOut = Vector256.Create(c.ZeroOut);
            _low = Vector256.Create(c.Low);
            _high = Vector256.Create(c.High);
            _scaleA = new Multipliers256(c.ScaleA);
            _scaleB = new Multipliers256(c.ScaleB);
            _scaleOut = new Multipliers256(c.ScaleOut);
            // Counts in a register (vpslld ymm, xmm): the same instruction cost as an immediate, which a run-time shift cannot be.
            _leftShift = Vector128.CreateScalar(c.LeftShift);
            _narrow = c.Narrow;
            _highA = Vector256.Create(c.NarrowA.High);
            _lowA = Vector256.Create(c.NarrowA.Low);
            _roundA = Vector256.Create(c.NarrowA.Round);
            _shiftA = Vector128.CreateScalar(c.NarrowA.Shift);
            _highB = Vector256.Create(c.NarrowB.High);
            _lowB = Vector256.Create(c.NarrowB.Low);
            _roundB = Vector256.Create(c.NarrowB.Round);
            _shiftB = Vector128.CreateScalar(c.NarrowB.Shift);
        }

        /// <summary>Clamped, so within int8 when the clamp is.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<int> Apply(Vector256<int> a, Vector256<int> b)
        {
            Vector256<int> sum;
            var da = Avx2.Subtract(a, _zeroA);
            var db = Avx2.Subtract(b, _zeroB);
            if (_narrow)
            {
                // The NarrowMultiplier steps: d·High + ((d·Low + 2^(k−1)) ≫ k).
                var ha = Avx2.Add(Avx2.MultiplyLow(da, _highA), Avx2.ShiftRightArithmetic(Avx2.Add(Avx2.MultiplyLow(da, _lowA), _roundA), _shiftA));
                var hb = Avx2.Add(Avx2.MultiplyLow(db, _highB), Avx2.ShiftRightArithmetic(Avx2.Add(Avx2.MultiplyLow(db, _lowB), _roundB), _shiftB));
                sum = Avx2.Add(VectorFixedPoint.RoundingDivideByPOT(ha, _scaleA), VectorFixedPoint.RoundingDivideByPOT(hb, _scaleB));
            }
            else
                sum = Avx2.Add(VectorFixedPoint.MultiplyByQuantizedMultiplier(Avx2.ShiftLeftLogical(da, _leftShift), _scaleA),
                    VectorFixedPoint.MultiplyByQuantizedMultiplier(Avx2.ShiftLeftLogical(db, _leftShift), _scaleB));
            var v = Avx2.Add(VectorFixedPoint.MultiplyByQuantizedMultiplier(sum, _scaleOut), _zeroOut);
            return Avx2.Min(Avx2.Max(v, _low), _high);
        }
    }

    /// <summary><see cref="AddSteps256"/> on sixteen lanes (AVX-512), the same steps.</summary>
    internal readonly struct AddSteps512
    {
        private readonly Vector512<int> _zeroA, _zeroB, _zeroOut, _low, _high;
        private readonly Multipliers512 _scaleA, _scaleB, _scaleOut;
        private readonly Vector512<int> _highA, _lowA, _roundA, _highB, _lowB, _roundB;
        private readonly Vector128<int> _leftShift, _shiftA, _shiftB;
        private readonly bool _narrow;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public AddSteps512(in AddConstants c)
        {
            _zeroA = Vector512.Create(c.ZeroA);
            _zeroB = Vector512.Create(c.ZeroB);
            _zeroOut = Vector512.Create(c.ZeroOut);
            _low = Vector512.Create(c.Low);
            _high = Vector512.Create(c.High);
            _scaleA = new Multipliers512(c.ScaleA);
            _scaleB = new Multipliers512(c.ScaleB);
            _scaleOut = new Multipliers512(c.ScaleOut);
            _leftShift = Vector128.CreateScalar(c.LeftShift);
            _narrow = c.Narrow;
            _highA = Vector512.Create(c.NarrowA.High);
            _lowA = Vector512.Create(c.NarrowA.Low);
            _roundA = Vector512.Create(c.NarrowA.Round);
            _shiftA = Vector128.CreateScalar(c.NarrowA.Shift);
            _highB = Vector512.Create(c.NarrowB.High);
            _lowB = Vector512.Create(c.NarrowB.Low);
            _roundB = Vector512.Create(c.NarrowB.Round);
            _shiftB = Vector128.CreateScalar(c.NarrowB.Shift);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<int> Apply(Vector512<int> a, Vector512<int> b)
        {
            Vector512<int> sum;
            var da = Avx512F.Subtract(a, _zeroA);
            var db = Avx512F.Subtract(b, _zeroB);
            if (_narrow)
            {
                var ha = Avx512F.Add(Avx512F.MultiplyLow(da, _highA), Avx512F.ShiftRightArithmetic(Avx512F.Add(Avx512F.MultiplyLow(da, _lowA), _roundA), _shiftA));
                var hb = Avx512F.Add(Avx512F.MultiplyLow(db, _highB), Avx512F.ShiftRightArithmetic(Avx512F.Add(Avx512F.MultiplyLow(db, _lowB), _roundB), _shiftB));
                sum = Avx512F.Add(VectorFixedPoint.RoundingDivideByPOT(ha, _scaleA), VectorFixedPoint.RoundingDivideByPOT(hb, _scaleB));
            }
            else
                sum = Avx512F.Add(VectorFixedPoint.MultiplyByQuantizedMultiplier(Avx512F.ShiftLeftLogical(da, _leftShift), _scaleA),
                    VectorFixedPoint.MultiplyByQuantizedMultiplier(Avx512F.ShiftLeftLogical(db, _leftShift), _scaleB));
            var v = Avx512F.Add(VectorFixedPoint.MultiplyByQuantizedMultiplier(sum, _scaleOut), _zeroOut);
            return Avx512F.Min(Avx512F.Max(v, _low), _high);
        }
    }

    /// <summary>
    /// Elementwise int8 add of two tensors of one shape: each input shifted left by LeftShift and rescaled to a common
    /// scale, summed, requantized, clamped — y = clamp(z + M(M_a((a − z_a) ≪ s) + M_b((b − z_b) ≪ s))). The AVX-512 loop
    /// (sixteen lanes) and the AVX2 loop (eight) give the bits of the scalar definition (<see cref="FixedPoint"/>; the
    /// inputs' high multiplies in 32-bit lanes where <see cref="NarrowMultiplier"/> applies); other paths and the tail run
    /// the scalar definition.
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
            var constants = new AddConstants(p);
            fixed (sbyte* pa = a, pb = b, py = y)
            {
                if (path == KernelPath.Vector512 && Lanes512.IsSupported)
                {
                    var steps = new AddSteps512(constants);
                    for (; i + 16 <= n; i += 16)
                    {
                        var v = steps.Apply(Avx512F.ConvertToVector512Int32(Sse2.LoadVector128(pa + i)), Avx512F.ConvertToVector512Int32(Sse2.LoadVector128(pb + i)));
                        // Already in int8: the truncating narrow (vpmovdb) is exact.
                        Sse2.Store(py + i, Avx512F.ConvertToVector128SByte(v));
                    }
                }
                if ((path == KernelPath.Vector256 || path == KernelPath.Vector512) && Avx2.IsSupported)
                {
                    var steps = new AddSteps256(constants);
                    for (; i + 8 <= n; i += 8)
                        Lanes256.StoreFinished(py + i, steps.Apply(Avx2.ConvertToVector256Int32(pa + i), Avx2.ConvertToVector256Int32(pb + i)));
                }
            }
            for (; i < n; i++) y[i] = (sbyte)p.Apply(a[i], b[i]);
        }
    }
}
