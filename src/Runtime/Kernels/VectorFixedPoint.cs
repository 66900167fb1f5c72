using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NetQuantGen.Runtime.Kernels
{
    /// <summary>
    /// <see cref="FixedPoint.MultiplyByQuantizedMultiplier"/> on eight int32 lanes with AVX2 (sixteen with AVX-512: the
    /// same steps, half the instructions), bit-identical to
    /// the scalar definition for every multiplier the compiler bakes (positive, so the single saturating case
    /// of SaturatingRoundingDoublingHighMul, both operands int.MinValue, cannot occur).
    /// </summary>
    internal static class VectorFixedPoint
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> MultiplyByQuantizedMultiplier(Vector256<int> x, Vector256<int> multiplier, Vector256<uint> leftShift, Vector256<int> rightShift)
        {
            var shifted = Avx2.ShiftLeftLogicalVariable(x, leftShift);
            return RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(shifted, multiplier), rightShift);
        }

        /// <summary>round(a·b / 2^31), ties away from zero: 64-bit products of the even and the odd lanes.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> SaturatingRoundingDoublingHighMul(Vector256<int> a, Vector256<int> b)
        {
            var even = HighHalf(Avx2.Multiply(a, b));
            var odd = HighHalf(Avx2.Multiply(
                Avx2.ShiftRightLogical(a.AsInt64(), 32).AsInt32(),
                Avx2.ShiftRightLogical(b.AsInt64(), 32).AsInt32()));
            return Avx2.Blend(even.AsInt32(), Avx2.ShiftLeftLogical(odd, 32).AsInt32(), 0b1010_1010);
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
        public static Vector256<int> RoundingDivideByPOT(Vector256<int> x, Vector256<int> exponent)
        {
            var ones = Vector256.Create(1);
            var mask = Avx2.Subtract(Avx2.ShiftLeftLogicalVariable(ones, exponent.AsUInt32()), ones);
            var remainder = Avx2.And(x, mask);
            // threshold = mask/2 + (x < 0 ? 1 : 0); the comparison gives −1 for true.
            var threshold = Avx2.Subtract(Avx2.ShiftRightLogical(mask, 1), Avx2.CompareGreaterThan(Vector256<int>.Zero, x));
            var quotient = Avx2.ShiftRightArithmeticVariable(x, exponent.AsUInt32());
            return Avx2.Subtract(quotient, Avx2.CompareGreaterThan(remainder, threshold));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<int> MultiplyByQuantizedMultiplier(Vector512<int> x, Vector512<int> multiplier, Vector512<uint> leftShift, Vector512<int> rightShift)
        {
            var a = Avx512F.ShiftLeftLogicalVariable(x, leftShift);
            var even = HighHalf(Avx512F.Multiply(a, multiplier));
            var odd = HighHalf(Avx512F.Multiply(Avx512F.ShiftRightLogical(a.AsInt64(), 32).AsInt32(), Avx512F.ShiftRightLogical(multiplier.AsInt64(), 32).AsInt32()));
            var high = Vector512.ConditionalSelect(Vector512.Create(unchecked((long)0xFFFF_FFFF_0000_0000)), Avx512F.ShiftLeftLogical(odd, 32), even).AsInt32();
            return RoundingDivideByPOT(high, rightShift);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<long> HighHalf(Vector512<long> product) =>
            Avx512F.ShiftRightLogical(Avx512F.Add(product, Vector512.Create(1L << 30)), 31);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<int> RoundingDivideByPOT(Vector512<int> x, Vector512<int> exponent)
        {
            var ones = Vector512.Create(1);
            var mask = Avx512F.Subtract(Avx512F.ShiftLeftLogicalVariable(ones, exponent.AsUInt32()), ones);
            var remainder = Avx512F.And(x, mask);
            // threshold = mask/2 + (x < 0 ? 1 : 0); the arithmetic shift by 31 gives −1 for negative x.
            var threshold = Avx512F.Subtract(Avx512F.ShiftRightLogical(mask, 1), Avx512F.ShiftRightArithmetic(x, 31));
            var quotient = Avx512F.ShiftRightArithmeticVariable(x, exponent.AsUInt32());
            return Avx512F.Subtract(quotient, Vector512.GreaterThan(remainder, threshold));
        }
    }
}
