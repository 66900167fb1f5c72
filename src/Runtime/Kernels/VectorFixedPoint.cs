using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NetQuantGen.Runtime.Kernels
{
    /// <summary>
    /// One multiplier with its signed shift split, and the masks <see cref="VectorFixedPoint"/> derives from the right
    /// shift, computed once: a vector of it is then only broadcasts.
    /// </summary>
    internal readonly struct ScalarMultiplier
    {
        public readonly int Multiplier, LeftShift, RightShift, Mask, HalfMask;

        public ScalarMultiplier(int multiplier, int shift)
        {
            Multiplier = multiplier;
            LeftShift = Math.Max(0, shift);
            RightShift = Math.Max(0, -shift);
            Mask = (int)((1L << RightShift) - 1);
            HalfMask = Mask >> 1;
        }
    }

    /// <summary>
    /// One multiplier and its shifts in every lane for <see cref="VectorFixedPoint"/>, with what can be derived from them once
    /// (AVX2): the residual add's scales. Convolutions, whose channels each have their own, use <see cref="OneShiftRequantization"/>.
    /// </summary>
    internal readonly struct Multipliers256
    {
        public readonly Vector256<int> Multiplier, OddMultiplier, RightShift, Mask, HalfMask;
        public readonly Vector256<uint> LeftShift;

        /// <summary>One multiplier in every lane (vpmuldq reads the even lanes of the odd multiplier: the broadcast serves).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Multipliers256(in ScalarMultiplier m)
        {
            Multiplier = OddMultiplier = Vector256.Create(m.Multiplier);
            LeftShift = Vector256.Create((uint)m.LeftShift);
            RightShift = Vector256.Create(m.RightShift);
            Mask = Vector256.Create(m.Mask);
            HalfMask = Vector256.Create(m.HalfMask);
        }
    }

    /// <summary><see cref="Multipliers256"/> on sixteen lanes (AVX-512).</summary>
    internal readonly struct Multipliers512
    {
        public readonly Vector512<int> Multiplier, OddMultiplier, RightShift, Mask, HalfMask;
        public readonly Vector512<uint> LeftShift;

        /// <summary>One multiplier in every lane, as <see cref="Multipliers256(in ScalarMultiplier)"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Multipliers512(in ScalarMultiplier m)
        {
            Multiplier = OddMultiplier = Vector512.Create(m.Multiplier);
            LeftShift = Vector512.Create((uint)m.LeftShift);
            RightShift = Vector512.Create(m.RightShift);
            Mask = Vector512.Create(m.Mask);
            HalfMask = Vector512.Create(m.HalfMask);
        }
    }

    /// <summary>
    /// <see cref="FixedPoint.MultiplyByQuantizedMultiplier"/> on eight int32 lanes with AVX2 (sixteen with AVX-512: the
    /// same steps, half the instructions), bit-identical to
    /// the scalar definition for every multiplier the compiler bakes (positive, so the single saturating case
    /// of SaturatingRoundingDoublingHighMul, both operands int.MinValue, cannot occur).
    /// </summary>
    internal static class VectorFixedPoint
    {
        /// <summary>
        /// MultiplyByQuantizedMultiplier per lane, the per-lane constants of <paramref name="m"/> prepared once for many
        /// vectors: SaturatingRoundingDoublingHighMul as 64-bit products of the even and the odd lanes, then
        /// RoundingDivideByPOT.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> MultiplyByQuantizedMultiplier(Vector256<int> x, in Multipliers256 m)
        {
            var a = Avx2.ShiftLeftLogicalVariable(x, m.LeftShift);
            var even = HighHalf(Avx2.Multiply(a, m.Multiplier));
            var odd = Avx2.Add(Avx2.Multiply(Avx2.ShiftRightLogical(a.AsInt64(), 32).AsInt32(), m.OddMultiplier), Vector256.Create(1L << 30));
            // odd + odd holds bits 31..62 of the nudged product in its high half: HighHalf moved up by 32, in one add.
            var high = Avx2.Blend(even.AsInt32(), Avx2.Add(odd, odd).AsInt32(), 0b1010_1010);
            return RoundingDivideByPOT(high, m);
        }

        /// <summary>
        /// (p + nudge) / 2^31 truncated toward zero, in the low 32 bits of each 64-bit lane. For p ≥ 0 that is
        /// floor((p + 2^30) / 2^31); for p &lt; 0, p + nudge = p + 1 − 2^30 &lt; 0 and truncation is the ceiling, which is
        /// floor((p + 1 − 2^30 + 2^31 − 1) / 2^31) = floor((p + 2^30) / 2^31) again: one add and one shift for both signs.
        /// The low 32 bits of an arithmetic and a logical shift by 31 are the same bits of the sum, so the logical shift
        /// (AVX2 has no 64-bit arithmetic shift) is exact; |p| ≤ 2^62, so the sum cannot overflow.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<long> HighHalf(Vector256<long> product) =>
            Avx2.ShiftRightLogical(Avx2.Add(product, Vector256.Create(1L << 30)), 31);

        /// <summary>x / 2^e rounded to nearest, ties away from zero, per lane.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> RoundingDivideByPOT(Vector256<int> x, in Multipliers256 m)
        {
            var remainder = Avx2.And(x, m.Mask);
            // threshold = mask/2 + (x < 0 ? 1 : 0); the comparison gives −1 for true.
            var threshold = Avx2.Subtract(m.HalfMask, Avx2.CompareGreaterThan(Vector256<int>.Zero, x));
            var quotient = Avx2.ShiftRightArithmeticVariable(x, m.RightShift.AsUInt32());
            return Avx2.Subtract(quotient, Avx2.CompareGreaterThan(remainder, threshold));
        }

        /// <summary>The AVX-512 steps with the per-lane constants of <paramref name="m"/> prepared once for many vectors.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<int> MultiplyByQuantizedMultiplier(Vector512<int> x, in Multipliers512 m)
        {
            var a = Avx512F.ShiftLeftLogicalVariable(x, m.LeftShift);
            var even = HighHalf(Avx512F.Multiply(a, m.Multiplier));
            var odd = Avx512F.Add(Avx512F.Multiply(Avx512F.ShiftRightLogical(a.AsInt64(), 32).AsInt32(), m.OddMultiplier), Vector512.Create(1L << 30));
            // odd + odd holds bits 31..62 of the nudged product in its high half: HighHalf moved up by 32, in one add.
            var high = Vector512.ConditionalSelect(Vector512.Create(unchecked((long)0xFFFF_FFFF_0000_0000)), Avx512F.Add(odd, odd), even).AsInt32();
            return RoundingDivideByPOT(high, m);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<long> HighHalf(Vector512<long> product) =>
            Avx512F.ShiftRightLogical(Avx512F.Add(product, Vector512.Create(1L << 30)), 31);

        /// <summary>x / 2^e rounded to nearest, ties away from zero, per lane (AVX-512).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<int> RoundingDivideByPOT(Vector512<int> x, in Multipliers512 m)
        {
            var remainder = Avx512F.And(x, m.Mask);
            // threshold = mask/2 + (x < 0 ? 1 : 0); the arithmetic shift by 31 gives −1 for negative x.
            var threshold = Avx512F.Subtract(m.HalfMask, Avx512F.ShiftRightArithmetic(x, 31));
            var quotient = Avx512F.ShiftRightArithmeticVariable(x, m.RightShift.AsUInt32());
            return Avx512F.Subtract(quotient, Vector512.GreaterThan(remainder, threshold));
        }
    }
}
