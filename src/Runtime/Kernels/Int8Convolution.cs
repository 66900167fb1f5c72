using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NetQuantGen.Runtime.Kernels
{
    /// <summary>
    /// Exact int8 convolutions on channels-last tensors: acc = bias + Σ w·(x − z_in) in int32, then
    /// y = clamp(z_out + MultiplyByQuantizedMultiplier(acc)). The input is first widened to int16 with the
    /// zero-point subtracted (padding reads a zero pixel), so the AVX2 path can use the exact int16×int16
    /// multiply-add of adjacent pairs (vpmaddwd): no saturating shortcut, and integer sums do not depend on
    /// order, so every path gives the same bits.
    /// </summary>
    public static unsafe class Int8Convolution
    {
        /// <summary>A dense (group 1) convolution or a fully connected layer (1×1 on a 1×1 image).</summary>
        public static void Dense(ReadOnlySpan<sbyte> x, Span<sbyte> y, Span<short> scratch, ReadOnlySpan<int> weights,
            ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> leftShift, ReadOnlySpan<int> rightShift,
            in ConvolutionGeometry g) =>
            Run(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, g, depthwise: false);

        /// <summary>A depthwise convolution (group = input channels = output channels).</summary>
        public static void Depthwise(ReadOnlySpan<sbyte> x, Span<sbyte> y, Span<short> scratch, ReadOnlySpan<int> weights,
            ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> leftShift, ReadOnlySpan<int> rightShift,
            in ConvolutionGeometry g) =>
            Run(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, g, depthwise: true);

        private static void Run(ReadOnlySpan<sbyte> x, Span<sbyte> y, Span<short> scratch, ReadOnlySpan<int> weights,
            ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> leftShift, ReadOnlySpan<int> rightShift,
            in ConvolutionGeometry g, bool depthwise)
        {
            int stride = g.WideStride(depthwise);
            bool vector = KernelPaths.Current == KernelPath.Vector256;
            Widen(x, scratch, g, stride, vector);
            fixed (short* wide = scratch)
            fixed (int* w = weights, b = bias, m = multiplier, ls = leftShift, rs = rightShift)
            fixed (sbyte* output = y)
            {
                var r = new Requantizer(b, m, ls, rs, g);
                if (depthwise && vector) DepthwiseAvx2(wide, w, output, r, g, stride);
                else if (depthwise) DepthwiseScalar(wide, w, output, r, g, stride);
                else if (vector) DenseAvx2(wide, w, output, r, g, stride);
                else DenseScalar(wide, (short*)w, output, r, g, stride);
            }
        }

        /// <summary>x − z_in as int16, one pixel every <paramref name="stride"/> elements, padding channels and the trailing zero pixel 0.</summary>
        private static void Widen(ReadOnlySpan<sbyte> x, Span<short> wide, in ConvolutionGeometry g, int stride, bool vector)
        {
            int pixels = g.InHeight * g.InWidth, channels = g.InChannels, zero = g.InputZeroPoint;
            if (stride == channels)
            {
                int n = pixels * channels, i = 0;
                if (vector)
                {
                    var z = Vector256.Create((short)zero);
                    fixed (sbyte* source = x)
                    fixed (short* target = wide)
                        for (; i + 16 <= n; i += 16)
                            Avx.Store(target + i, Avx2.Subtract(Avx2.ConvertToVector256Int16(Sse2.LoadVector128(source + i)), z));
                }
                for (; i < n; i++) wide[i] = (short)(x[i] - zero);
            }
            else
            {
                for (int p = 0; p < pixels; p++)
                {
                    var row = wide.Slice(p * stride, stride);
                    for (int c = 0; c < channels; c++) row[c] = (short)(x[p * channels + c] - zero);
                    row.Slice(channels).Clear();
                }
            }
            wide.Slice(pixels * stride, stride).Clear();
        }

        /// <summary>The widened input pixel a tap reads, or the zero pixel when the tap falls in the padding.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static short* Pixel(short* wide, short* zero, int iy, int ix, in ConvolutionGeometry g, int stride) =>
            (uint)iy < (uint)g.InHeight && (uint)ix < (uint)g.InWidth ? wide + (iy * g.InWidth + ix) * stride : zero;

        private static void DenseAvx2(short* wide, int* weights, sbyte* output, in Requantizer r, in ConvolutionGeometry g, int stride)
        {
            short* zero = wide + g.InHeight * g.InWidth * stride;
            int pairs = g.ChannelPairs, taps = g.Taps, pixels = g.OutputPixels;
            int blockWeights = taps * pairs * ConvolutionGeometry.BlockChannels;
            var rows = stackalloc short*[4 * taps];
            for (int block = 0; block < g.ChannelBlocks; block++)
            {
                int* blockW = weights + block * blockWeights;
                int channel = block * ConvolutionGeometry.BlockChannels;
                int p = 0;
                for (; p + 4 <= pixels; p += 4)
                {
                    bool any = false;
                    for (int i = 0; i < 4; i++) any |= Rows(rows + i * taps, wide, zero, p + i, g, stride);
                    var a00 = r.Bias0(block); var a01 = r.Bias1(block);
                    var a10 = a00; var a11 = a01; var a20 = a00; var a21 = a01; var a30 = a00; var a31 = a01;
                    int* w = blockW;
                    for (int t = 0; t < taps && any; t++)
                    {
                        int* r0 = (int*)rows[t], r1 = (int*)rows[taps + t], r2 = (int*)rows[2 * taps + t], r3 = (int*)rows[3 * taps + t];
                        if (r0 == (int*)zero && r1 == (int*)zero && r2 == (int*)zero && r3 == (int*)zero)
                        {
                            w += pairs * ConvolutionGeometry.BlockChannels;
                            continue;
                        }
                        for (int c = 0; c < pairs; c++, w += ConvolutionGeometry.BlockChannels)
                        {
                            var w0 = Avx.LoadVector256(w).AsInt16();
                            var w1 = Avx.LoadVector256(w + 8).AsInt16();
                            var x0 = Vector256.Create(r0[c]).AsInt16();
                            a00 = Avx2.Add(a00, Avx2.MultiplyAddAdjacent(x0, w0));
                            a01 = Avx2.Add(a01, Avx2.MultiplyAddAdjacent(x0, w1));
                            var x1 = Vector256.Create(r1[c]).AsInt16();
                            a10 = Avx2.Add(a10, Avx2.MultiplyAddAdjacent(x1, w0));
                            a11 = Avx2.Add(a11, Avx2.MultiplyAddAdjacent(x1, w1));
                            var x2 = Vector256.Create(r2[c]).AsInt16();
                            a20 = Avx2.Add(a20, Avx2.MultiplyAddAdjacent(x2, w0));
                            a21 = Avx2.Add(a21, Avx2.MultiplyAddAdjacent(x2, w1));
                            var x3 = Vector256.Create(r3[c]).AsInt16();
                            a30 = Avx2.Add(a30, Avx2.MultiplyAddAdjacent(x3, w0));
                            a31 = Avx2.Add(a31, Avx2.MultiplyAddAdjacent(x3, w1));
                        }
                    }
                    r.Store16(output + p * g.OutChannels + channel, a00, a01, block);
                    r.Store16(output + (p + 1) * g.OutChannels + channel, a10, a11, block);
                    r.Store16(output + (p + 2) * g.OutChannels + channel, a20, a21, block);
                    r.Store16(output + (p + 3) * g.OutChannels + channel, a30, a31, block);
                }
                for (; p < pixels; p++)
                {
                    Rows(rows, wide, zero, p, g, stride);
                    var a0 = r.Bias0(block); var a1 = r.Bias1(block);
                    int* w = blockW;
                    for (int t = 0; t < taps; t++)
                    {
                        int* row = (int*)rows[t];
                        if (row == (int*)zero)
                        {
                            w += pairs * ConvolutionGeometry.BlockChannels;
                            continue;
                        }
                        for (int c = 0; c < pairs; c++, w += ConvolutionGeometry.BlockChannels)
                        {
                            var xv = Vector256.Create(row[c]).AsInt16();
                            a0 = Avx2.Add(a0, Avx2.MultiplyAddAdjacent(xv, Avx.LoadVector256(w).AsInt16()));
                            a1 = Avx2.Add(a1, Avx2.MultiplyAddAdjacent(xv, Avx.LoadVector256(w + 8).AsInt16()));
                        }
                    }
                    r.Store16(output + p * g.OutChannels + channel, a0, a1, block);
                }
            }
        }

        /// <summary>Fills the tap rows of one output pixel; false when every tap falls in the padding.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static bool Rows(short** rows, short* wide, short* zero, int pixel, in ConvolutionGeometry g, int stride)
        {
            int oy = pixel / g.OutWidth, ox = pixel - oy * g.OutWidth;
            int iy0 = oy * g.StrideHeight - g.PadTop, ix0 = ox * g.StrideWidth - g.PadLeft;
            bool any = false;
            for (int ky = 0, t = 0; ky < g.KernelHeight; ky++)
                for (int kx = 0; kx < g.KernelWidth; kx++, t++)
                {
                    rows[t] = Pixel(wide, zero, iy0 + ky * g.DilationHeight, ix0 + kx * g.DilationWidth, g, stride);
                    any |= rows[t] != zero;
                }
            return any;
        }

        private static void DenseScalar(short* wide, short* weights, sbyte* output, in Requantizer r, in ConvolutionGeometry g, int stride)
        {
            short* zero = wide + g.InHeight * g.InWidth * stride;
            int pairs = g.ChannelPairs, taps = g.Taps;
            var rows = stackalloc short*[taps];
            for (int p = 0; p < g.OutputPixels; p++)
            {
                Rows(rows, wide, zero, p, g, stride);
                for (int m = 0; m < g.OutChannels; m++)
                {
                    int block = m / ConvolutionGeometry.BlockChannels, lane = m % ConvolutionGeometry.BlockChannels;
                    int acc = r.Bias[m];
                    for (int t = 0; t < taps; t++)
                        for (int c = 0; c < 2 * pairs; c++)
                            acc += rows[t][c] * weights[2 * ((((long)block * taps + t) * pairs + c / 2) * ConvolutionGeometry.BlockChannels + lane) + (c & 1)];
                    output[p * g.OutChannels + m] = r.Scalar(acc, m);
                }
            }
        }

        private static void DepthwiseAvx2(short* wide, int* weights, sbyte* output, in Requantizer r, in ConvolutionGeometry g, int stride)
        {
            short* zero = wide + g.InHeight * g.InWidth * stride;
            int taps = g.Taps, padded = g.ChannelBlocks * ConvolutionGeometry.BlockChannels;
            var rows = stackalloc short*[taps];
            for (int p = 0; p < g.OutputPixels; p++)
            {
                Rows(rows, wide, zero, p, g, stride);
                for (int block = 0; block < g.ChannelBlocks; block++)
                {
                    int channel = block * ConvolutionGeometry.BlockChannels;
                    var a0 = r.Bias0(block); var a1 = r.Bias1(block);
                    for (int t = 0; t < taps; t++)
                    {
                        short* row = rows[t];
                        if (row == zero) continue;
                        var xs = Avx.LoadVector256(row + channel);
                        int* w = weights + t * padded + channel;
                        a0 = Avx2.Add(a0, Avx2.MultiplyLow(Avx2.ConvertToVector256Int32(xs.GetLower()), Avx.LoadVector256(w)));
                        a1 = Avx2.Add(a1, Avx2.MultiplyLow(Avx2.ConvertToVector256Int32(xs.GetUpper()), Avx.LoadVector256(w + 8)));
                    }
                    r.Store16(output + p * g.OutChannels + channel, a0, a1, block);
                }
            }
        }

        private static void DepthwiseScalar(short* wide, int* weights, sbyte* output, in Requantizer r, in ConvolutionGeometry g, int stride)
        {
            short* zero = wide + g.InHeight * g.InWidth * stride;
            int taps = g.Taps, padded = g.ChannelBlocks * ConvolutionGeometry.BlockChannels;
            var rows = stackalloc short*[taps];
            for (int p = 0; p < g.OutputPixels; p++)
            {
                Rows(rows, wide, zero, p, g, stride);
                for (int m = 0; m < g.OutChannels; m++)
                {
                    int acc = r.Bias[m];
                    for (int t = 0; t < taps; t++) acc += rows[t][m] * weights[t * padded + m];
                    output[p * g.OutChannels + m] = r.Scalar(acc, m);
                }
            }
        }

        /// <summary>Per-channel requantization of sixteen accumulators and the clamped int8 store.</summary>
        private readonly struct Requantizer
        {
            private readonly int* _multiplier, _leftShift, _rightShift;
            private readonly int _outputZeroPoint, _clampMin, _clampMax, _channels;

            public Requantizer(int* bias, int* multiplier, int* leftShift, int* rightShift, in ConvolutionGeometry g)
            {
                Bias = bias;
                _multiplier = multiplier;
                _leftShift = leftShift;
                _rightShift = rightShift;
                _outputZeroPoint = g.OutputZeroPoint;
                _clampMin = g.ClampMin;
                _clampMax = g.ClampMax;
                _channels = g.OutChannels;
            }

            public int* Bias { get; }

            public Vector256<int> Bias0(int block) => Avx.LoadVector256(Bias + block * ConvolutionGeometry.BlockChannels);

            public Vector256<int> Bias1(int block) => Avx.LoadVector256(Bias + block * ConvolutionGeometry.BlockChannels + 8);

            public sbyte Scalar(int acc, int m)
            {
                int shift = _leftShift[m] > 0 ? _leftShift[m] : -_rightShift[m];
                int v = _outputZeroPoint + FixedPoint.MultiplyByQuantizedMultiplier(acc, _multiplier[m], shift);
                return (sbyte)Math.Clamp(v, _clampMin, _clampMax);
            }

            /// <summary>Requantizes channels [16·block, 16·block + 16) and stores those that exist.</summary>
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public void Store16(sbyte* destination, Vector256<int> low, Vector256<int> high, int block)
            {
                int first = block * ConvolutionGeometry.BlockChannels;
                var lo = Finish(low, first);
                var hi = Finish(high, first + 8);
                // Values are already clamped into int8, so the saturating packs are exact; the permutes undo
                // the packs' per-128-bit-lane interleaving.
                var words = Avx2.Permute4x64(Avx2.PackSignedSaturate(lo, hi).AsInt64(), 0b11_01_10_00).AsInt16();
                var bytes = Avx2.Permute4x64(Avx2.PackSignedSaturate(words, words).AsInt64(), 0b11_01_10_00).AsSByte().GetLower();
                int count = Math.Min(ConvolutionGeometry.BlockChannels, _channels - first);
                if (count == ConvolutionGeometry.BlockChannels) Sse2.Store(destination, bytes);
                else
                {
                    sbyte* temporary = stackalloc sbyte[16];
                    Sse2.Store(temporary, bytes);
                    for (int i = 0; i < count; i++) destination[i] = temporary[i];
                }
            }

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            private Vector256<int> Finish(Vector256<int> acc, int channel)
            {
                var scaled = VectorFixedPoint.MultiplyByQuantizedMultiplier(acc, Avx.LoadVector256(_multiplier + channel),
                    Avx.LoadVector256(_leftShift + channel).AsUInt32(), Avx.LoadVector256(_rightShift + channel));
                var v = Avx2.Add(scaled, Vector256.Create(_outputZeroPoint));
                return Avx2.Min(Avx2.Max(v, Vector256.Create(_clampMin)), Vector256.Create(_clampMax));
            }
        }
    }
}
