using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NetQuantGen.Runtime.Kernels
{
    /// <summary>
    /// Exact int8 convolutions on channels-last tensors: acc = bias + Σ w·(x − z_in) in int32, then
    /// y = clamp(z_out + MultiplyByQuantizedMultiplier(acc)). The input is first widened to int16 with the
    /// zero-point subtracted (padding reads a zero pixel), so the vector paths can use the exact int16×int16
    /// multiply-add of adjacent pairs (vpmaddwd / pmaddwd / NEON widening multiply + pairwise add): no
    /// saturating shortcut, and integer sums do not depend on order, so every path gives the same bits.
    /// The vector kernels are written once, generic over <see cref="IVectorLanes{TVector}"/>.
    /// </summary>
    public static unsafe class Int8Convolution
    {
        /// <summary>Output pixels per register tile of the dense kernel (times one or two vectors of channels: 6 or 12 accumulators).</summary>
        private const int TilePixels = 6;

        /// <summary>Kernel windows up to this many taps keep their tap offsets on the stack.</summary>
        private const int MaxTaps = 1024;

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
            CheckBounds(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, g, depthwise);
            int stride = g.WideStride(depthwise);
            var path = KernelPaths.Current;
            Widen(x, scratch, g, stride, path != KernelPath.Scalar);
            fixed (short* wide = scratch)
            fixed (int* w = weights, b = bias, m = multiplier, ls = leftShift, rs = rightShift)
            fixed (sbyte* output = y)
            {
                var r = new Requantizer(b, m, ls, rs, g);
                switch (path)
                {
                    case KernelPath.Vector512 when depthwise: DepthwiseVector<Lanes512, Vector512<int>>(wide, w, output, r, g, stride); break;
                    case KernelPath.Vector512: DenseVector<Lanes512, Vector512<int>>(wide, w, output, r, g, stride); break;
                    case KernelPath.Vector256 when depthwise: DepthwiseVector<Lanes256, Vector256<int>>(wide, w, output, r, g, stride); break;
                    case KernelPath.Vector256: DenseVector<Lanes256, Vector256<int>>(wide, w, output, r, g, stride); break;
                    case KernelPath.Vector128 when depthwise: DepthwiseVector<Lanes128, Vector128<int>>(wide, w, output, r, g, stride); break;
                    case KernelPath.Vector128: DenseVector<Lanes128, Vector128<int>>(wide, w, output, r, g, stride); break;
                    case KernelPath.Scalar when depthwise: DepthwiseScalar(wide, w, output, r, g, stride); break;
                    default: DenseScalar(wide, (short*)w, output, r, g, stride); break;
                }
            }
        }

        /// <summary>
        /// Every pointer the kernels form stays inside these spans when their lengths are what the geometry says
        /// (the kernels read whole padded blocks and the zero pixel after the widened input); a generated layer
        /// built against another runtime, or a scratch buffer planned for another model, fails here instead of
        /// reading or writing past an array.
        /// </summary>
        private static void CheckBounds(ReadOnlySpan<sbyte> x, Span<sbyte> y, Span<short> scratch, ReadOnlySpan<int> weights,
            ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> leftShift, ReadOnlySpan<int> rightShift,
            in ConvolutionGeometry g, bool depthwise)
        {
            int padded = g.ChannelBlocks * ConvolutionGeometry.BlockChannels;
            if (x.Length < g.InHeight * g.InWidth * g.InChannels || y.Length < g.OutputPixels * g.OutChannels
                || scratch.Length < g.ScratchLength(depthwise)
                || weights.Length < (depthwise ? g.DepthwiseWeightLength : g.DenseWeightLength)
                || bias.Length < padded || multiplier.Length < padded || leftShift.Length < padded || rightShift.Length < padded
                || g.Taps > MaxTaps || (depthwise && g.InChannels != g.OutChannels))
                throw new ArgumentException("Convolution buffers do not match their geometry: the generated code and the runtime library do not match.");
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
                    var z = Vector128.Create((short)zero);
                    fixed (sbyte* source = x)
                    fixed (short* target = wide)
                        for (; i + 16 <= n; i += 16)
                        {
                            var bytes = Vector128.Load(source + i);
                            (Vector128.WidenLower(bytes) - z).Store(target + i);
                            (Vector128.WidenUpper(bytes) - z).Store(target + i + 8);
                        }
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

        /// <summary>The input window of the output pixels, as offsets: tap t reads input (iy0 + dy[t], ix0 + dx[t]).</summary>
        private readonly struct Window
        {
            private readonly short* _wide, _zero;
            private readonly int _inHeight, _inWidth, _outWidth, _stride, _strideH, _strideW, _padTop, _padLeft;

            public Window(short* wide, in ConvolutionGeometry g, int stride)
            {
                _wide = wide;
                _zero = wide + g.InHeight * g.InWidth * stride;
                _inHeight = g.InHeight;
                _inWidth = g.InWidth;
                _outWidth = g.OutWidth;
                _stride = stride;
                _strideH = g.StrideHeight;
                _strideW = g.StrideWidth;
                _padTop = g.PadTop;
                _padLeft = g.PadLeft;
            }

            public short* Zero => _zero;

            /// <summary>Top-left input coordinates of output pixel <paramref name="pixel"/> (may lie in the padding).</summary>
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public void Origin(int pixel, out int iy, out int ix)
            {
                int oy = pixel / _outWidth;
                iy = oy * _strideH - _padTop;
                ix = (pixel - oy * _outWidth) * _strideW - _padLeft;
            }

            /// <summary>The widened input pixel at (iy, ix), or the zero pixel when that falls in the padding.</summary>
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public short* Pixel(int iy, int ix) =>
                (uint)iy < (uint)_inHeight && (uint)ix < (uint)_inWidth ? _wide + (iy * _inWidth + ix) * _stride : _zero;

            /// <summary>The whole window of one output pixel as one row: tap t's channels at t·C, a trailing odd element 0.</summary>
            public void Gather(int iy, int ix, int* dy, int* dx, in ConvolutionGeometry g, short* row)
            {
                int taps = g.Taps, channels = g.InChannels;
                for (int t = 0; t < taps; t++)
                {
                    short* source = Pixel(iy + dy[t], ix + dx[t]);
                    for (int c = 0; c < channels; c++) row[t * channels + c] = source[c];
                }
                if ((taps * channels & 1) != 0) row[taps * channels] = 0;
            }

            public static void Taps(in ConvolutionGeometry g, int* dy, int* dx)
            {
                for (int ky = 0, t = 0; ky < g.KernelHeight; ky++)
                    for (int kx = 0; kx < g.KernelWidth; kx++, t++)
                    {
                        dy[t] = ky * g.DilationHeight;
                        dx[t] = kx * g.DilationWidth;
                    }
            }
        }

        /// <summary>
        /// Dense convolution as an implicit GEMM: output channels in tiles of two vectors (one for the last odd
        /// vector), output pixels in tiles of <see cref="TilePixels"/>, each tile's accumulators in registers across
        /// all taps and input-channel pairs. Tiles past the last pixel repeat the last pixel (same values, same place).
        /// </summary>
        private static void DenseVector<TLanes, TVector>(short* wide, int* weights, sbyte* output, in Requantizer r, in ConvolutionGeometry g, int stride)
            where TLanes : struct, IVectorLanes<TVector> where TVector : struct
        {
            int* dy = stackalloc int[g.Taps];
            int* dx = stackalloc int[g.Taps];
            Window.Taps(g, dy, dx);
            sbyte* partial = stackalloc sbyte[ConvolutionGeometry.BlockChannels];
            // With patches, each tile's six windows are gathered here first (rows of 2·ReductionPairs int16).
            short* patches = stackalloc short[g.Patches ? TilePixels * 2 * g.ReductionPairs : 0];
            var window = new Window(wide, g, stride);
            int vectors = (g.OutChannels + TLanes.Lanes - 1) / TLanes.Lanes, v = 0;
            for (; v + 2 <= vectors; v += 2)
                DenseTiles<TLanes, TVector, TwoVectors>(window, dy, dx, weights, output, partial, patches, r, g, v * TLanes.Lanes);
            if (v < vectors)
                DenseTiles<TLanes, TVector, OneVector>(window, dy, dx, weights, output, partial, patches, r, g, v * TLanes.Lanes);
        }

        private static void DenseTiles<TLanes, TVector, TWidth>(in Window window, int* dy, int* dx, int* weights, sbyte* output,
            sbyte* partial, short* patches, in Requantizer r, in ConvolutionGeometry g, int channel)
            where TLanes : struct, IVectorLanes<TVector> where TVector : struct where TWidth : struct, ITileWidth
        {
            bool two = TWidth.Vectors == 2, gather = g.Patches;
            int lanes = TLanes.Lanes, pairs = g.ReductionPairs, taps = g.WeightTaps, pixels = g.OutputPixels, outChannels = g.OutChannels;
            int patchLength = 2 * pairs;
            const int Block = ConvolutionGeometry.BlockChannels;
            int tapWeights = pairs * Block, blockWeights = taps * tapWeights;
            int channel1 = channel + lanes;
            // Weights are [block][tap][pair][16 channels]: a vector of channels starts at its block plus its lane.
            int* weights0 = weights + channel / Block * blockWeights + channel % Block;
            int* weights1 = weights + channel1 / Block * blockWeights + channel1 % Block;
            int* bias = r.Bias;
            short* zero = window.Zero;
            for (int p = 0; p < pixels; p += TilePixels)
            {
                int q0 = p, q1 = Math.Min(p + 1, pixels - 1), q2 = Math.Min(p + 2, pixels - 1);
                int q3 = Math.Min(p + 3, pixels - 1), q4 = Math.Min(p + 4, pixels - 1), q5 = Math.Min(p + 5, pixels - 1);
                window.Origin(q0, out int y0, out int x0); window.Origin(q1, out int y1, out int x1);
                window.Origin(q2, out int y2, out int x2); window.Origin(q3, out int y3, out int x3);
                window.Origin(q4, out int y4, out int x4); window.Origin(q5, out int y5, out int x5);
                var a0 = TLanes.Load(bias + channel); var a1 = a0; var a2 = a0; var a3 = a0; var a4 = a0; var a5 = a0;
                var b0 = two ? TLanes.Load(bias + channel1) : default; var b1 = b0; var b2 = b0; var b3 = b0; var b4 = b0; var b5 = b0;
                if (gather)
                {
                    window.Gather(y0, x0, dy, dx, g, patches);
                    window.Gather(y1, x1, dy, dx, g, patches + patchLength);
                    window.Gather(y2, x2, dy, dx, g, patches + 2 * patchLength);
                    window.Gather(y3, x3, dy, dx, g, patches + 3 * patchLength);
                    window.Gather(y4, x4, dy, dx, g, patches + 4 * patchLength);
                    window.Gather(y5, x5, dy, dx, g, patches + 5 * patchLength);
                }
                for (int t = 0; t < taps; t++)
                {
                    short* r0, r1, r2, r3, r4, r5;
                    if (gather)
                    {
                        r0 = patches; r1 = r0 + patchLength; r2 = r1 + patchLength; r3 = r2 + patchLength; r4 = r3 + patchLength; r5 = r4 + patchLength;
                    }
                    else
                    {
                        r0 = window.Pixel(y0 + dy[t], x0 + dx[t]); r1 = window.Pixel(y1 + dy[t], x1 + dx[t]);
                        r2 = window.Pixel(y2 + dy[t], x2 + dx[t]); r3 = window.Pixel(y3 + dy[t], x3 + dx[t]);
                        r4 = window.Pixel(y4 + dy[t], x4 + dx[t]); r5 = window.Pixel(y5 + dy[t], x5 + dx[t]);
                        if (r0 == zero && r1 == zero && r2 == zero && r3 == zero && r4 == zero && r5 == zero) continue;
                    }
                    int* w0 = weights0 + t * tapWeights, w1 = weights1 + t * tapWeights;
                    for (int c = 0; c < 2 * pairs; c += 2, w0 += Block, w1 += Block)
                    {
                        var u = TLanes.Load(w0);
                        var v = two ? TLanes.Load(w1) : default;
                        var x = TLanes.BroadcastPair(r0 + c); a0 = TLanes.MultiplyAddPairs(a0, x, u); if (two) b0 = TLanes.MultiplyAddPairs(b0, x, v);
                        x = TLanes.BroadcastPair(r1 + c); a1 = TLanes.MultiplyAddPairs(a1, x, u); if (two) b1 = TLanes.MultiplyAddPairs(b1, x, v);
                        x = TLanes.BroadcastPair(r2 + c); a2 = TLanes.MultiplyAddPairs(a2, x, u); if (two) b2 = TLanes.MultiplyAddPairs(b2, x, v);
                        x = TLanes.BroadcastPair(r3 + c); a3 = TLanes.MultiplyAddPairs(a3, x, u); if (two) b3 = TLanes.MultiplyAddPairs(b3, x, v);
                        x = TLanes.BroadcastPair(r4 + c); a4 = TLanes.MultiplyAddPairs(a4, x, u); if (two) b4 = TLanes.MultiplyAddPairs(b4, x, v);
                        x = TLanes.BroadcastPair(r5 + c); a5 = TLanes.MultiplyAddPairs(a5, x, u); if (two) b5 = TLanes.MultiplyAddPairs(b5, x, v);
                    }
                }
                Store<TLanes, TVector>(output + q0 * outChannels, a0, channel, outChannels, partial, r);
                Store<TLanes, TVector>(output + q1 * outChannels, a1, channel, outChannels, partial, r);
                Store<TLanes, TVector>(output + q2 * outChannels, a2, channel, outChannels, partial, r);
                Store<TLanes, TVector>(output + q3 * outChannels, a3, channel, outChannels, partial, r);
                Store<TLanes, TVector>(output + q4 * outChannels, a4, channel, outChannels, partial, r);
                Store<TLanes, TVector>(output + q5 * outChannels, a5, channel, outChannels, partial, r);
                if (!two) continue;
                Store<TLanes, TVector>(output + q0 * outChannels, b0, channel1, outChannels, partial, r);
                Store<TLanes, TVector>(output + q1 * outChannels, b1, channel1, outChannels, partial, r);
                Store<TLanes, TVector>(output + q2 * outChannels, b2, channel1, outChannels, partial, r);
                Store<TLanes, TVector>(output + q3 * outChannels, b3, channel1, outChannels, partial, r);
                Store<TLanes, TVector>(output + q4 * outChannels, b4, channel1, outChannels, partial, r);
                Store<TLanes, TVector>(output + q5 * outChannels, b5, channel1, outChannels, partial, r);
            }
        }

        /// <summary>
        /// Stores the channels of one vector that exist: lanes past the last output channel (padding) would land on
        /// the next pixel, so a vector that straddles the end goes through <paramref name="partial"/>.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Store<TLanes, TVector>(sbyte* pixel, TVector acc, int channel, int outChannels, sbyte* partial, in Requantizer r)
            where TLanes : struct, IVectorLanes<TVector> where TVector : struct
        {
            if (channel + TLanes.Lanes <= outChannels)
            {
                TLanes.Store(pixel + channel, acc, channel, r);
                return;
            }
            TLanes.Store(partial, acc, channel, r);
            for (int i = channel; i < outChannels; i++) pixel[i] = partial[i - channel];
        }

        private static void DenseScalar(short* wide, short* weights, sbyte* output, in Requantizer r, in ConvolutionGeometry g, int stride)
        {
            int pairs = g.ReductionPairs, taps = g.Taps, weightTaps = g.WeightTaps, channels = g.InChannels;
            var window = new Window(wide, g, stride);
            int* dy = stackalloc int[taps];
            int* dx = stackalloc int[taps];
            Window.Taps(g, dy, dx);
            for (int p = 0; p < g.OutputPixels; p++)
            {
                window.Origin(p, out int iy, out int ix);
                for (int m = 0; m < g.OutChannels; m++)
                {
                    int block = m / ConvolutionGeometry.BlockChannels, lane = m % ConvolutionGeometry.BlockChannels;
                    int acc = r.Bias[m];
                    for (int t = 0; t < taps; t++)
                    {
                        short* row = window.Pixel(iy + dy[t], ix + dx[t]);
                        // Reduction index of (tap, channel): per tap, or across the whole window with patches.
                        int weightTap = g.Patches ? 0 : t, first = g.Patches ? t * channels : 0;
                        for (int c = 0; c < channels; c++)
                        {
                            int k = first + c;
                            acc += row[c] * weights[2 * ((((long)block * weightTaps + weightTap) * pairs + k / 2) * ConvolutionGeometry.BlockChannels + lane) + (k & 1)];
                        }
                    }
                    output[p * g.OutChannels + m] = r.Scalar(acc, m);
                }
            }
        }

        /// <summary>Depthwise: channels are the lanes; per output pixel, every vector of channels sums its taps.</summary>
        private static void DepthwiseVector<TLanes, TVector>(short* wide, int* weights, sbyte* output, in Requantizer r, in ConvolutionGeometry g, int stride)
            where TLanes : struct, IVectorLanes<TVector> where TVector : struct
        {
            int taps = g.Taps, padded = g.ChannelBlocks * ConvolutionGeometry.BlockChannels, channels = g.OutChannels;
            var window = new Window(wide, g, stride);
            short** rows = stackalloc short*[taps];
            int* dy = stackalloc int[taps];
            int* dx = stackalloc int[taps];
            Window.Taps(g, dy, dx);
            sbyte* partial = stackalloc sbyte[ConvolutionGeometry.BlockChannels];
            for (int p = 0; p < g.OutputPixels; p++)
            {
                window.Origin(p, out int iy, out int ix);
                for (int t = 0; t < taps; t++) rows[t] = window.Pixel(iy + dy[t], ix + dx[t]);
                for (int channel = 0; channel < channels; channel += TLanes.Lanes)
                {
                    var acc = TLanes.Load(r.Bias + channel);
                    for (int t = 0; t < taps; t++)
                        if (rows[t] != window.Zero) acc = TLanes.MultiplyAddWidened(acc, rows[t] + channel, weights + t * padded + channel);
                    Store<TLanes, TVector>(output + p * channels, acc, channel, channels, partial, r);
                }
            }
        }

        private static void DepthwiseScalar(short* wide, int* weights, sbyte* output, in Requantizer r, in ConvolutionGeometry g, int stride)
        {
            int taps = g.Taps, padded = g.ChannelBlocks * ConvolutionGeometry.BlockChannels;
            var window = new Window(wide, g, stride);
            int* dy = stackalloc int[taps];
            int* dx = stackalloc int[taps];
            Window.Taps(g, dy, dx);
            for (int p = 0; p < g.OutputPixels; p++)
            {
                window.Origin(p, out int iy, out int ix);
                for (int m = 0; m < g.OutChannels; m++)
                {
                    int acc = r.Bias[m];
                    for (int t = 0; t < taps; t++) acc += window.Pixel(iy + dy[t], ix + dx[t])[m] * weights[t * padded + m];
                    output[p * g.OutChannels + m] = r.Scalar(acc, m);
                }
            }
        }
    }
}
