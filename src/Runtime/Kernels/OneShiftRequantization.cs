using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NetQuantGen.Runtime.Kernels
{
    /// <summary>
    /// z_out + <see cref="FixedPoint.MultiplyByQuantizedMultiplier"/>(acc) of sixteen channels as one rounding shift of the
    /// 64-bit product p = acc·M, with constants derived once per layer (<see cref="Derive"/>):
    /// <list type="bullet">
    /// <item>SaturatingRoundingDoublingHighMul, (p + nudge) / 2^31 truncated toward zero, is x = ⌊(p + 2^30) / 2^31⌋ for
    /// both signs: for p &lt; 0, p + 1 − 2^30 &lt; 0 truncates up, to ⌊(p + 1 − 2^30 + 2^31 − 1) / 2^31⌋ (multipliers are
    /// positive, so its one saturating case cannot occur);</item>
    /// <item>RoundingDivideByPOT(x, s), ties away from zero, is ⌊(x + 2^(s−1) − [x &lt; 0]) / 2^s⌋ for s ≥ 1, and floors of
    /// divisions by powers of two nest, so the whole is ⌊(p + 2^30 + 2^(30+s) − [p &lt; 0]·2^31) / 2^(31+s)⌋. The sign test
    /// should be x &lt; 0, i.e. p &lt; −2^30; it differs from p &lt; 0 only where −2^30 ≤ p &lt; 0, where both give 0;</item>
    /// <item>a left shift L (then s = 0) is ⌊(p·2^L + 2^30) / 2^31⌋ = ⌊(p + 2^(30−L)) / 2^(31−L)⌋, the product exact in
    /// 64 bits where gemmlowp's shifted int32 is (the compiler proves acc·2^L fits int32, so L ≤ 30 unless acc is 0).</item>
    /// </list>
    /// So per lane: q = p + addend (the negative addend where p &lt; 0), r = q ≫ T. |p| ≤ 2^62 − 2^31 and the addends are
    /// below 2^61 + 2^31, so q + 2^62 lies in (0, 2^64): the addends carry that 2^62, the shift is a logical one (AVX2 has
    /// no 64-bit arithmetic shift), and the low 32 bits of its result are r + 2^(62−T) modulo 2^32, which the per-lane zero
    /// point takes back. Where the clamp maps every r ≤ 0 to the same byte (a ReLU's clampMin ≥ z_out) the negative addend
    /// is not needed: without it r can only grow by one, and only for p &lt; 0, where it stays ≤ 0.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct OneShiftRequantization
    {
        /// <summary>Bytes of one block of sixteen channels: a multiple of the cache line, so aligned blocks stay aligned.</summary>
        public const int BlockBytes = 512;

        /// <summary>[2j]: the multiplier of channel 2j + 1 (vpmuldq reads the low half of each 64-bit lane).</summary>
        public fixed int OddMultiplier[16];

        /// <summary>Per 64-bit lane, the eight even channels then the eight odd ones, so eight lanes (AVX2) read a half of each.</summary>
        public fixed long Addend[16], NegativeAddend[16], Shift[16];

        /// <summary>z_out − 2^(62−T) modulo 2^32 per channel.</summary>
        public fixed int ZeroPoint[16];

        /// <summary>
        /// The constants of every block from the baked multipliers and shifts (arrays padded to whole blocks), eight
        /// channels at a time (AVX2: every path that reads them has it). Per channel: T = 31 − L for a left shift L
        /// (L ≤ 30 wherever acc can be non-zero; where acc is always 0 any shift gives 0), else 31 + s; the addend 2^62 +
        /// 2^(T−1), plus 2^30 for s ≥ 1 (minus 2^30 for the negative one).
        /// </summary>
        public static void Derive(OneShiftRequantization* blocks, int blockCount, int* multiplier, int* leftShift, int* rightShift, int outputZeroPoint)
        {
            var lowHalves = Vector256.Create(0xFFFF_FFFFL);
            var bias = Vector256.Create(1L << 62);
            for (int channel = 0; channel < 16 * blockCount; channel += 8)
            {
                var b = blocks + channel / 16;
                int half = (channel / 8) % 2, evenLane = 4 * half, oddLane = 8 + 4 * half;
                var left = Avx.LoadVector256(leftShift + channel);
                var right = Avx.LoadVector256(rightShift + channel);
                var shift = Avx2.BlendVariable(Avx2.Add(right, Vector256.Create(31)), Avx2.Subtract(Vector256.Create(31), Avx2.Min(left, Vector256.Create(30))),
                    Avx2.CompareGreaterThan(left, Vector256<int>.Zero));
                // 2^(62−T) is 0 modulo 2^32 for 62 − T ≥ 32, as vpsllvd gives.
                Avx.Store(b->ZeroPoint + 8 * half, Avx2.Subtract(Vector256.Create(outputZeroPoint), Avx2.ShiftLeftLogicalVariable(Vector256<int>.One, Avx2.Subtract(Vector256.Create(62), shift).AsUInt32())));
                Avx.Store(b->OddMultiplier + 8 * half, Avx2.ShiftRightLogical(Avx.LoadVector256(multiplier + channel).AsInt64(), 32).AsInt32());
                var rounding = Avx2.And(Avx2.CompareGreaterThan(right, Vector256<int>.Zero), Vector256.Create(1 << 30));
                DeriveLanes(b, evenLane, Avx2.And(shift.AsInt64(), lowHalves), Avx2.And(rounding.AsInt64(), lowHalves), bias);
                DeriveLanes(b, oddLane, Avx2.ShiftRightLogical(shift.AsInt64(), 32), Avx2.ShiftRightLogical(rounding.AsInt64(), 32), bias);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void DeriveLanes(OneShiftRequantization* b, int lane, Vector256<long> shift, Vector256<long> rounding, Vector256<long> bias)
        {
            var addend = Avx2.Add(bias, Avx2.ShiftLeftLogicalVariable(Vector256<long>.One, Avx2.Subtract(shift, Vector256<long>.One).AsUInt64()));
            Avx.Store(b->Shift + lane, shift);
            Avx.Store(b->Addend + lane, Avx2.Add(addend, rounding));
            Avx.Store(b->NegativeAddend + lane, Avx2.Subtract(addend, rounding));
        }
    }

    /// <summary>One block's <see cref="OneShiftRequantization"/> constants in registers (AVX-512), loaded once for many vectors.</summary>
    internal readonly unsafe struct OneShift512
    {
        private readonly Vector512<int> _multiplier, _oddMultiplier, _zeroPoint;
        private readonly Vector512<long> _evenAddend, _oddAddend, _evenNegativeAddend, _oddNegativeAddend;
        private readonly Vector512<ulong> _evenShift, _oddShift;
        private readonly bool _negatives;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public OneShift512(int* multiplier, OneShiftRequantization* b, bool negatives)
        {
            _multiplier = Avx512F.LoadVector512(multiplier);
            _oddMultiplier = Avx512F.LoadVector512(b->OddMultiplier);
            _zeroPoint = Avx512F.LoadVector512(b->ZeroPoint);
            _evenAddend = Avx512F.LoadVector512(b->Addend);
            _oddAddend = Avx512F.LoadVector512(b->Addend + 8);
            _evenNegativeAddend = negatives ? Avx512F.LoadVector512(b->NegativeAddend) : _evenAddend;
            _oddNegativeAddend = negatives ? Avx512F.LoadVector512(b->NegativeAddend + 8) : _oddAddend;
            _evenShift = Avx512F.LoadVector512(b->Shift).AsUInt64();
            _oddShift = Avx512F.LoadVector512(b->Shift + 8).AsUInt64();
            _negatives = negatives;
        }

        /// <summary>Sixteen channels' z_out + MultiplyByQuantizedMultiplier, unclamped.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<int> Apply(Vector512<int> acc)
        {
            var even = Avx512F.Multiply(acc, _multiplier);
            var odd = Avx512F.Multiply(Avx512F.ShiftRightLogical(acc.AsInt64(), 32).AsInt32(), _oddMultiplier);
            var evenAddend = _negatives ? Vector512.ConditionalSelect(Vector512.LessThan(even, Vector512<long>.Zero), _evenNegativeAddend, _evenAddend) : _evenAddend;
            var oddAddend = _negatives ? Vector512.ConditionalSelect(Vector512.LessThan(odd, Vector512<long>.Zero), _oddNegativeAddend, _oddAddend) : _oddAddend;
            var evenResult = Avx512F.ShiftRightLogicalVariable(Avx512F.Add(even, evenAddend).AsUInt64(), _evenShift);
            var oddResult = Avx512F.ShiftRightLogicalVariable(Avx512F.Add(odd, oddAddend).AsUInt64(), _oddShift);
            // The low halves of both, interleaved back into channel order.
            var interleaved = Avx512F.PermuteVar16x32x2(evenResult.AsInt32(), Vector512.Create(0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30), oddResult.AsInt32());
            return Avx512F.Add(interleaved, _zeroPoint);
        }
    }

    /// <summary>The eight channels of one <paramref name="half"/> of a block in registers (AVX2), as <see cref="OneShift512"/>.</summary>
    internal readonly unsafe struct OneShift256
    {
        private readonly Vector256<int> _multiplier, _oddMultiplier, _zeroPoint;
        private readonly Vector256<long> _evenAddend, _oddAddend, _evenNegativeAddend, _oddNegativeAddend;
        private readonly Vector256<ulong> _evenShift, _oddShift;
        private readonly bool _negatives;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public OneShift256(int* multiplier, OneShiftRequantization* b, int half, bool negatives)
        {
            int evenLane = 4 * half, oddLane = 8 + 4 * half;
            _multiplier = Avx.LoadVector256(multiplier);
            _oddMultiplier = Avx.LoadVector256(b->OddMultiplier + 8 * half);
            _zeroPoint = Avx.LoadVector256(b->ZeroPoint + 8 * half);
            _evenAddend = Avx.LoadVector256(b->Addend + evenLane);
            _oddAddend = Avx.LoadVector256(b->Addend + oddLane);
            _evenNegativeAddend = negatives ? Avx.LoadVector256(b->NegativeAddend + evenLane) : _evenAddend;
            _oddNegativeAddend = negatives ? Avx.LoadVector256(b->NegativeAddend + oddLane) : _oddAddend;
            _evenShift = Avx.LoadVector256(b->Shift + evenLane).AsUInt64();
            _oddShift = Avx.LoadVector256(b->Shift + oddLane).AsUInt64();
            _negatives = negatives;
        }

        /// <summary>Eight channels' z_out + MultiplyByQuantizedMultiplier, unclamped.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<int> Apply(Vector256<int> acc)
        {
            var even = Avx2.Multiply(acc, _multiplier);
            var odd = Avx2.Multiply(Avx2.ShiftRightLogical(acc.AsInt64(), 32).AsInt32(), _oddMultiplier);
            // vblendvpd selects by the sign bit of the product itself.
            var evenAddend = _negatives ? Avx.BlendVariable(_evenAddend.AsDouble(), _evenNegativeAddend.AsDouble(), even.AsDouble()).AsInt64() : _evenAddend;
            var oddAddend = _negatives ? Avx.BlendVariable(_oddAddend.AsDouble(), _oddNegativeAddend.AsDouble(), odd.AsDouble()).AsInt64() : _oddAddend;
            var evenResult = Avx2.ShiftRightLogicalVariable(Avx2.Add(even, evenAddend).AsUInt64(), _evenShift);
            var oddResult = Avx2.ShiftRightLogicalVariable(Avx2.Add(odd, oddAddend).AsUInt64(), _oddShift);
            var interleaved = Avx2.Blend(evenResult.AsInt32(), Avx2.ShiftLeftLogical(oddResult, 32).AsInt32(), 0b1010_1010);
            return Avx2.Add(interleaved, _zeroPoint);
        }
    }
}
