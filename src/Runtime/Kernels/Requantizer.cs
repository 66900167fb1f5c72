using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NetQuantGen.Runtime.Kernels
{
    /// <summary>
    /// The per-channel output stage of a convolution: y = clamp(z_out + MultiplyByQuantizedMultiplier(acc)).
    /// Bias, multiplier and shift arrays are padded to whole 16-channel blocks, so any vector of lanes that
    /// starts inside the padded range reads in bounds.
    /// </summary>
    internal readonly unsafe struct Requantizer
    {
        private readonly int* _multiplier, _leftShift, _rightShift;
        private readonly int _outputZeroPoint, _clampMin, _clampMax;

        public Requantizer(int* bias, int* multiplier, int* leftShift, int* rightShift, in ConvolutionGeometry g)
        {
            Bias = bias;
            _multiplier = multiplier;
            _leftShift = leftShift;
            _rightShift = rightShift;
            _outputZeroPoint = g.OutputZeroPoint;
            _clampMin = g.ClampMin;
            _clampMax = g.ClampMax;
        }

        public int* Bias { get; }

        public sbyte Scalar(int acc, int m)
        {
            int shift = _leftShift[m] > 0 ? _leftShift[m] : -_rightShift[m];
            int v = _outputZeroPoint + FixedPoint.MultiplyByQuantizedMultiplier(acc, _multiplier[m], shift);
            return (sbyte)Math.Clamp(v, _clampMin, _clampMax);
        }

        /// <summary>Eight channels from <paramref name="channel"/> on: requantized and clamped, still int32 (AVX2).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<int> Finish(Vector256<int> acc, int channel)
        {
            var scaled = VectorFixedPoint.MultiplyByQuantizedMultiplier(acc, Avx.LoadVector256(_multiplier + channel),
                Avx.LoadVector256(_leftShift + channel).AsUInt32(), Avx.LoadVector256(_rightShift + channel));
            var v = Avx2.Add(scaled, Vector256.Create(_outputZeroPoint));
            return Avx2.Min(Avx2.Max(v, Vector256.Create(_clampMin)), Vector256.Create(_clampMax));
        }

        /// <summary>Sixteen channels from <paramref name="channel"/> on (AVX-512): requantized and clamped, still int32.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<int> Finish(Vector512<int> acc, int channel)
        {
            var scaled = VectorFixedPoint.MultiplyByQuantizedMultiplier(acc, Avx512F.LoadVector512(_multiplier + channel),
                Avx512F.LoadVector512(_leftShift + channel).AsUInt32(), Avx512F.LoadVector512(_rightShift + channel));
            var v = Avx512F.Add(scaled, Vector512.Create(_outputZeroPoint));
            return Avx512F.Min(Avx512F.Max(v, Vector512.Create(_clampMin)), Vector512.Create(_clampMax));
        }
    }
}
