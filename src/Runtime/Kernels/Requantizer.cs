using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NetQuantGen.Runtime.Kernels
{
    /// <summary>
    /// The per-channel output stage of a convolution: y = clamp(z_out + MultiplyByQuantizedMultiplier(acc)), or with
    /// float scales (ONNX Runtime's arithmetic) y = <see cref="FloatRequantization.Requantize"/>(acc, scale[m]).
    /// Bias, multiplier, shift and scale arrays are padded to whole 16-channel blocks, so any vector of lanes that
    /// starts inside the padded range reads in bounds.
    /// With a fused residual add (<see cref="HasResidual"/>) the finished value of each output element then goes through
    /// the add with the skip tensor's element at the same offset (same shape, same channels-last layout):
    /// y = <see cref="AddParameters.Apply"/>(finished, skip), the conv's output as A, the skip as B, read from the add's <see cref="AddTable"/>.
    /// </summary>
    internal readonly unsafe struct Requantizer
    {
        private readonly int* _multiplier, _leftShift, _rightShift;
        private readonly float* _scale;
        private readonly int _outputZeroPoint, _clampMin, _clampMax;
        private readonly OneShiftRequantization* _oneShift;
        private readonly bool _negativesMatter;

        private const int VectorAlignment = 64;

        /// <summary>Bytes of the caller's buffer for the x86 vector paths' fixed-point constants (<see cref="OneShiftRequantization"/>), derived once per kernel call.</summary>
        public static int OneShiftBytes(in ConvolutionGeometry g, bool floatScales) =>
            floatScales ? 0 : g.ChannelBlocks * OneShiftRequantization.BlockBytes + VectorAlignment;

        /// <summary>
        /// Fixed point when <paramref name="scale"/> is null, float otherwise (then the multiplier and shifts are not read);
        /// the x86 vector paths' fixed-point constants derived into <paramref name="oneShift"/> (<see cref="OneShiftBytes"/>,
        /// alive while the kernel runs);
        /// a residual add fused when <paramref name="skip"/> is not null: its element for output[i] is skip[i], its outputs
        /// in <paramref name="residualTable"/> (<see cref="AddTable"/>'s bytes, pinned while the kernel runs).
        /// </summary>
        public Requantizer(int* bias, int* multiplier, int* leftShift, int* rightShift, float* scale, in ConvolutionGeometry g,
            byte* oneShift, sbyte* output = null, sbyte* skip = null, byte* residualTable = null)
        {
            if (scale == null && Avx2.IsSupported)
            {
                _oneShift = (OneShiftRequantization*)Align(oneShift);
                OneShiftRequantization.Derive(_oneShift, g.ChannelBlocks, multiplier, leftShift, rightShift, g.OutputZeroPoint);
            }
            _negativesMatter = g.ClampMin < g.OutputZeroPoint;
            HasResidual = skip != null;
            SkipOffset = skip == null ? 0 : (nint)(skip - output);
            ResidualTable = residualTable;
            Bias = bias;
            _multiplier = multiplier;
            _leftShift = leftShift;
            _rightShift = rightShift;
            _scale = scale;
            _outputZeroPoint = g.OutputZeroPoint;
            _clampMin = g.ClampMin;
            _clampMax = g.ClampMax;
        }

        private static byte* Align(byte* buffer) => (byte*)(((nint)buffer + VectorAlignment - 1) & ~(nint)(VectorAlignment - 1));

        public int* Bias { get; }

        /// <summary>Whether a residual add is fused: one predictable branch per stored vector, none in the accumulation loops.</summary>
        public bool HasResidual { get; }

        /// <summary>The skip tensor's element for the output element at address p is at p + SkipOffset.</summary>
        public nint SkipOffset { get; }

        /// <summary>The fused add's <see cref="AddTable"/> bytes: the add of (finished, skip) is <see cref="AddTable.Lookup(int, int, byte*)"/> and its vector forms.</summary>
        public byte* ResidualTable { get; }

        /// <summary>Requantizes one accumulator of channel <paramref name="m"/> and stores it at <paramref name="destination"/> (an output element), the residual add applied if fused.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void StoreScalar(sbyte* destination, int acc, int m)
        {
            sbyte v = Scalar(acc, m);
            *destination = HasResidual ? (sbyte)AddTable.Lookup(v, destination[SkipOffset], ResidualTable) : v;
        }

        /// <summary>The convolution's own output value (the residual add not applied).</summary>
        public sbyte Scalar(int acc, int m)
        {
            if (_scale != null) return (sbyte)FloatRequantization.Requantize(acc, _scale[m], _outputZeroPoint, _clampMin, _clampMax);
            int shift = _leftShift[m] > 0 ? _leftShift[m] : -_rightShift[m];
            int v = _outputZeroPoint + FixedPoint.MultiplyByQuantizedMultiplier(acc, _multiplier[m], shift);
            return (sbyte)Math.Clamp(v, _clampMin, _clampMax);
        }

        /// <summary>Eight channels from <paramref name="channel"/> on: requantized and clamped, still int32 (AVX2).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<int> Finish(Vector256<int> acc, int channel) =>
            _scale != null ? FinishFloat(acc, Avx.LoadVector256(_scale + channel)) : FinishFixed(acc, OneShift256(channel));

        /// <summary>
        /// <paramref name="count"/> vectors of the eight channels from <paramref name="channel"/> on (say, a tile's pixels)
        /// finished in place as <see cref="Finish(Vector256{int}, int)"/>, the channels' constants prepared once.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Finish(Vector256<int>* values, int count, int channel)
        {
            if (_scale != null)
            {
                var scale = Avx.LoadVector256(_scale + channel);
                for (int i = 0; i < count; i++) values[i] = FinishFloat(values[i], scale);
                return;
            }
            var m = OneShift256(channel);
            for (int i = 0; i < count; i++) values[i] = FinishFixed(values[i], m);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private OneShift256 OneShift256(int channel) => new(_multiplier + channel, _oneShift + (channel >> 4), (channel >> 3) & 1, _negativesMatter);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private Vector256<int> FinishFixed(Vector256<int> acc, in OneShift256 m) =>
            Avx2.Min(Avx2.Max(m.Apply(acc), Vector256.Create(_clampMin)), Vector256.Create(_clampMax));

        /// <summary>
        /// <see cref="FloatRequantization.Requantize"/> on eight lanes, the same float32 steps: vcvtdq2ps and vmulps
        /// (each correctly rounded, as the scalar conversion and multiply), clamp, vcvtps2dq (half to even in the
        /// default MXCSR mode, as the scalar rounding), plus the zero-point.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private Vector256<int> FinishFloat(Vector256<int> acc, Vector256<float> scale)
        {
            var scaled = Avx.Multiply(Avx.ConvertToVector256Single(acc), scale);
            var low = Vector256.Create((float)(_clampMin - _outputZeroPoint));
            var high = Vector256.Create((float)(_clampMax - _outputZeroPoint));
            var rounded = Avx.ConvertToVector256Int32(Avx.Min(Avx.Max(scaled, low), high));
            return Avx2.Add(rounded, Vector256.Create(_outputZeroPoint));
        }

        /// <summary>Sixteen channels from <paramref name="channel"/> on (AVX-512): requantized and clamped, still int32.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<int> Finish(Vector512<int> acc, int channel) =>
            _scale != null ? FinishFloat(acc, Avx512F.LoadVector512(_scale + channel)) : FinishFixed(acc, OneShift512(channel));

        /// <summary><see cref="Finish(Vector256{int}*, int, int)"/> on sixteen channels (AVX-512).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Finish(Vector512<int>* values, int count, int channel)
        {
            if (_scale != null)
            {
                var scale = Avx512F.LoadVector512(_scale + channel);
                for (int i = 0; i < count; i++) values[i] = FinishFloat(values[i], scale);
                return;
            }
            var m = OneShift512(channel);
            for (int i = 0; i < count; i++) values[i] = FinishFixed(values[i], m);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private OneShift512 OneShift512(int channel) => new(_multiplier + channel, _oneShift + (channel >> 4), _negativesMatter);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private Vector512<int> FinishFixed(Vector512<int> acc, in OneShift512 m) =>
            Avx512F.Min(Avx512F.Max(m.Apply(acc), Vector512.Create(_clampMin)), Vector512.Create(_clampMax));

        /// <summary><see cref="FinishFloat(Vector256{int}, Vector256{float})"/> on sixteen lanes (AVX-512), the same float32 steps.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private Vector512<int> FinishFloat(Vector512<int> acc, Vector512<float> scale)
        {
            var scaled = Avx512F.Multiply(Avx512F.ConvertToVector512Single(acc), scale);
            var low = Vector512.Create((float)(_clampMin - _outputZeroPoint));
            var high = Vector512.Create((float)(_clampMax - _outputZeroPoint));
            var rounded = Avx512F.ConvertToVector512Int32(Avx512F.Min(Avx512F.Max(scaled, low), high));
            return Avx512F.Add(rounded, Vector512.Create(_outputZeroPoint));
        }
    }
}
