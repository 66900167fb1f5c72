using System;
using System.Runtime.CompilerServices;

// One source file, compiled into the compiler core (for the integer reference executor and for baking
// multipliers) and into NetQuantGen.Runtime (for generated code), so both use the very same arithmetic.
#if NETQUANTGEN_RUNTIME
namespace NetQuantGen.Runtime
#else
namespace NetQuantGen.IntegerIR
#endif
{
    /// <summary>
    /// The fixed-point requantization arithmetic of the TFLite reference kernels (gemmlowp), which
    /// DESIGN §3 makes the definition of every integer result.
    /// </summary>
    public static class FixedPoint
    {
        /// <summary>round(a·b / 2^31) with ties away from zero, saturating the single overflow case.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static int SaturatingRoundingDoublingHighMul(int a, int b)
        {
            if (a == int.MinValue && b == int.MinValue) return int.MaxValue;
            long ab = (long)a * b;
            long nudge = ab >= 0 ? 1L << 30 : 1 - (1L << 30);
            return (int)((ab + nudge) / (1L << 31)); // division truncates toward zero, as in C
        }

        /// <summary>x / 2^exponent rounded to nearest, ties away from zero.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static int RoundingDivideByPOT(int x, int exponent)
        {
            int mask = (1 << exponent) - 1;
            int remainder = x & mask;
            int threshold = (mask >> 1) + (x < 0 ? 1 : 0);
            return (x >> exponent) + (remainder > threshold ? 1 : 0);
        }

        /// <summary>
        /// x · M where M = multiplier · 2^(shift − 31). A positive shift is applied as a left shift before
        /// the multiplication (the compiler proves it cannot overflow), a negative one as a rounding right shift.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static int MultiplyByQuantizedMultiplier(int x, int multiplier, int shift)
        {
            int leftShift = shift > 0 ? shift : 0;
            int rightShift = shift > 0 ? 0 : -shift;
            return RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x * (1 << leftShift), multiplier), rightShift);
        }

        /// <summary>
        /// x · M for an int64 accumulator (int16 activations), as TFLite's 16x8 kernels requantize: the multiplier
        /// rounded to 15 bits, one rounding shift (ties up). Exact in int64 for |x| &lt; 2^47 and shift ≤ 14, which
        /// the compiler proves per layer; the result is clamped by the caller, never narrowed first.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static long MultiplyByQuantizedMultiplierWide(long x, int multiplier, int shift)
        {
            long reduced = multiplier < 0x7FFF0000 ? (multiplier + (1 << 15)) >> 16 : 0x7FFF;
            int totalShift = 15 - shift;
            return (x * reduced + (1L << (totalShift - 1))) >> totalShift;
        }

        /// <summary>
        /// Splits a positive real multiplier into an int32 in [2^30, 2^31) and a power-of-two shift, as
        /// TFLite's QuantizeMultiplier does (round half away from zero).
        /// </summary>
        public static (int Multiplier, int Shift) QuantizeMultiplier(double real)
        {
            if (!(real > 0) || double.IsInfinity(real)) return (0, 0);
            int exponent = 0;
            double q = real;
            while (q >= 1.0) { q *= 0.5; exponent++; }
            while (q < 0.5) { q *= 2.0; exponent--; }
            long fixedPoint = (long)Math.Round(q * (1L << 31), MidpointRounding.AwayFromZero);
            if (fixedPoint == 1L << 31)
            {
                fixedPoint /= 2;
                exponent++;
            }
            if (exponent < -31) return (0, 0);
            return ((int)fixedPoint, exponent);
        }

        /// <summary>float → int with round-half-to-even and saturation (ONNX QuantizeLinear).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static int Quantize(float value, float scale, int zeroPoint, int min, int max)
        {
            float scaled = value / scale;
            if (float.IsNaN(scaled)) return zeroPoint < min ? min : zeroPoint > max ? max : zeroPoint;
            double rounded = Math.Round((double)scaled, MidpointRounding.ToEven) + zeroPoint;
            return rounded < min ? min : rounded > max ? max : (int)rounded;
        }
    }
}
