using System;
using System.Runtime.CompilerServices;

// One source file, compiled into the compiler core (integer reference executor, parameters baked at build time)
// and into NetQuantGen.Runtime (generated code), like FixedPoint.cs: one definition of the arithmetic.
#if NETQUANTGEN_RUNTIME
namespace NetQuantGen.Runtime
#else
namespace NetQuantGen.IntegerIR
#endif
{
    /// <summary>
    /// The float requantization of ONNX Runtime's CPU kernels (MLAS), the second arithmetic besides DESIGN §3's
    /// <see cref="FixedPoint"/>: a QDQ model means "dequantize, compute in float, QuantizeLinear", and ONNX Runtime
    /// computes it with one float32 multiply and one rounding (half to even, as cvtps2dq does) per output. Every
    /// step here is float32 and correctly rounded, so the result does not depend on the machine.
    /// </summary>
    public static class FloatRequantization
    {
        /// <summary>The per-channel scale of QLinearConv and QGemm (alpha 1): (s_in·s_w) / s_out, each operation in float32.</summary>
        public static float ConvolutionScale(float inputScale, float weightScale, float outputScale)
        {
            // The casts make each step float32 even where a JIT might keep more precision (C# allows it; casts forbid it).
            float product = (float)(inputScale * weightScale);
            return (float)(product / outputScale);
        }

        /// <summary>The scale of QLinearGlobalAveragePool: s_in / (s_out·count) in float32, the division by the count folded in.</summary>
        public static float GlobalAverageScale(float inputScale, float outputScale, int count)
        {
            float denominator = (float)(outputScale * count);
            return (float)(inputScale / denominator);
        }

        /// <summary>
        /// MLAS's requantization of an int32 accumulator: float32(acc)·scale clamped to [min − z, max − z], rounded
        /// half to even, plus z. The bounds are integers, so clamping before or after rounding is the same.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static int Requantize(int acc, float scale, int zeroPoint, int min, int max)
        {
            float scaled = (float)(acc * scale);
            float low = min - zeroPoint, high = max - zeroPoint;
            scaled = scaled < low ? low : scaled > high ? high : scaled;
            return RoundHalfToEven(scaled) + zeroPoint;
        }

        /// <summary>
        /// MLAS's QLinearAdd on x86 (AVX2 kernel) over uint8 data, the storage ONNX Runtime runs QDQ models in on
        /// x86: with a, b the uint8 values (int8 + 128), fma(a, r_a, fma(b, r_b, fixedPart)) rounded half to even,
        /// saturated to uint8; returned as int8 (− 128).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static int Add(int a, int b, in FloatAddParameters p)
        {
            float sum = FusedMultiplyAdd(a + 128, p.RatioA, FusedMultiplyAdd(b + 128, p.RatioB, p.FixedPart));
            int c = RoundHalfToEven(Math.Min(Math.Max(sum, -1f), 256f));
            return Math.Min(Math.Max(c, 0), 255) - 128;
        }

        /// <summary>Round half to even of a float32 within int32 range (what cvtps2dq does in the default rounding mode).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static int RoundHalfToEven(float value) => (int)Math.Round((double)value, MidpointRounding.ToEven);

        /// <summary>
        /// x·y + z in float32 with a single rounding (vfmadd), from a small integer x. x·y is exact in double; the
        /// double sum is made round-to-odd when it is inexact, after which rounding it to float32 is the correctly
        /// rounded result (Boldo and Melquiond: double has more than 2·24 + 2 bits).
        /// </summary>
        public static float FusedMultiplyAdd(int x, float y, float z)
        {
            double product = (double)x * y;
            double sum = product + z;
            double zPart = sum - product;
            double error = (product - (sum - zPart)) + (z - zPart); // TwoSum: exactly product + z − sum
            long bits = BitConverter.DoubleToInt64Bits(sum);
            if (error != 0 && (bits & 1) == 0)
                sum = BitConverter.Int64BitsToDouble(bits + ((error > 0) == (sum > 0) ? 1 : -1)); // one ulp toward the exact value: odd
            return (float)sum;
        }
    }

    /// <summary>
    /// The constants of MLAS's QLinearAdd for uint8 data (zero-points + 128): r_a = s_a / s_c, r_b = s_b / s_c and
    /// z_c − (r_a·z_a + r_b·z_b), each in float32.
    /// </summary>
    public readonly record struct FloatAddParameters(float RatioA, float RatioB, float FixedPart)
    {
        public static FloatAddParameters For(float scaleA, int zeroPointA, float scaleB, int zeroPointB, float scaleC, int zeroPointC)
        {
            float ratioA = (float)(scaleA / scaleC), ratioB = (float)(scaleB / scaleC);
            float partA = (float)(ratioA * (zeroPointA + 128)), partB = (float)(ratioB * (zeroPointB + 128));
            float zeroParts = (float)(partA + partB);
            return new FloatAddParameters(ratioA, ratioB, (float)((zeroPointC + 128) - zeroParts));
        }
    }
}
