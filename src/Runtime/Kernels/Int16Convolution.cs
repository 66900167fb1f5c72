using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetQuantGen.Runtime.Kernels
{
    /// <summary>
    /// Exact convolutions of layers with an int16 activation (TFLite's 16x8 mode): int8 weights, an int8 or int16
    /// channels-last input, an int8 or int16 output. The input is widened into scratch as x − z_in (an int16 input has
    /// zero-point 0, so it is copied) and reduced with the int8 kernels' exact int16 pair multiply-add into int32
    /// lanes. When the compiler could not prove a layer's accumulator fits int32, the lanes are emptied into int64
    /// sums every <see cref="ChunkPairs"/> pairs, so no sum wraps or saturates. The output stage requantizes each
    /// sum per channel in scalar code (it is O(outputs), the reduction O(outputs·K)). Weights use the int8 kernels'
    /// packed layouts (<see cref="ConvolutionGeometry"/> without patches); every path gives the same bits.
    /// </summary>
    public static unsafe class Int16Convolution
    {
        /// <summary>|w| ≤ 128 and |x| ≤ 2^15: one pair adds at most 2^24 to a lane, so 64 pairs stay within 2^30.</summary>
        private const int ChunkPairs = 64;

        /// <summary>One depthwise tap adds at most 2^22 to a lane.</summary>
        private const int ChunkTaps = 256;

        /// <summary>The settings the compiler proved or chose for one layer.</summary>
        /// <param name="Int64Accumulator">The accumulator may exceed int32: sum in int64 chunks.</param>
        /// <param name="WideRequantization">The input is int16: requantize with FixedPoint.MultiplyByQuantizedMultiplierWide (else the int32 form).</param>
        public readonly record struct Arithmetic(bool Int64Accumulator, bool WideRequantization);

        /// <summary>A dense (group 1) convolution or a fully connected layer. <typeparamref name="TIn"/> and <typeparamref name="TOut"/> are sbyte or short.</summary>
        public static void Dense<TIn, TOut>(ReadOnlySpan<TIn> x, Span<TOut> y, Span<short> scratch, ReadOnlySpan<int> weights, ReadOnlySpan<int> bias,
            ReadOnlySpan<int> multiplier, ReadOnlySpan<int> shift, in ConvolutionGeometry g, Arithmetic arithmetic)
            where TIn : unmanaged where TOut : unmanaged =>
            Run(x, y, scratch, weights, bias, multiplier, shift, g, arithmetic, depthwise: false);

        /// <summary>A depthwise convolution (group = input channels = output channels).</summary>
        public static void Depthwise<TIn, TOut>(ReadOnlySpan<TIn> x, Span<TOut> y, Span<short> scratch, ReadOnlySpan<int> weights, ReadOnlySpan<int> bias,
            ReadOnlySpan<int> multiplier, ReadOnlySpan<int> shift, in ConvolutionGeometry g, Arithmetic arithmetic)
            where TIn : unmanaged where TOut : unmanaged =>
            Run(x, y, scratch, weights, bias, multiplier, shift, g, arithmetic, depthwise: true);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Run<TIn, TOut>(ReadOnlySpan<TIn> x, Span<TOut> y, Span<short> scratch, ReadOnlySpan<int> weights, ReadOnlySpan<int> bias,
            ReadOnlySpan<int> multiplier, ReadOnlySpan<int> shift, in ConvolutionGeometry g, Arithmetic arithmetic, bool depthwise)
            where TIn : unmanaged where TOut : unmanaged
        {
            if (typeof(TIn) != typeof(sbyte) && typeof(TIn) != typeof(short) || typeof(TOut) != typeof(sbyte) && typeof(TOut) != typeof(short))
                throw new NotSupportedException("Activations are sbyte or short.");
            int stride = g.WideStride(depthwise);
            if (g.Patches || g.KernelRows || x.Length < g.InHeight * g.InWidth * g.InChannels || y.Length < g.OutputPixels * g.OutChannels
                || scratch.Length < g.ScratchLength(depthwise) || weights.Length < (depthwise ? g.DepthwiseWeightLength : g.DenseWeightLength)
                || bias.Length < g.OutChannels || multiplier.Length < g.OutChannels || shift.Length < g.OutChannels
                || (depthwise && g.InChannels != g.OutChannels))
                throw new ArgumentException("Convolution buffers do not match their geometry: the generated code and the runtime library do not match.");
            if (typeof(TIn) == typeof(short)) Widen(MemoryMarshal.Cast<TIn, short>(x), scratch, g, stride);
            else Widen(MemoryMarshal.Cast<TIn, sbyte>(x), scratch, g, stride);

            var path = KernelPaths.Current;
            fixed (short* wide = scratch)
            fixed (int* w = weights, b = bias, m = multiplier, s = shift)
            fixed (TOut* output = y)
            {
                var stage = new OutputStage<TOut>(b, m, s, g, arithmetic.WideRequantization);
                int chunk = arithmetic.Int64Accumulator ? (depthwise ? ChunkTaps : ChunkPairs) : int.MaxValue;
                switch (path)
                {
                    case KernelPath.Vector512 when depthwise: DepthwiseVector<Lanes512, Vector512<int>, TOut>(wide, w, output, stage, g, stride, chunk); break;
                    case KernelPath.Vector512: DenseVector<Lanes512, Vector512<int>, TOut>(wide, w, output, stage, g, stride, chunk); break;
                    case KernelPath.Vector256 when depthwise: DepthwiseVector<Lanes256, Vector256<int>, TOut>(wide, w, output, stage, g, stride, chunk); break;
                    case KernelPath.Vector256: DenseVector<Lanes256, Vector256<int>, TOut>(wide, w, output, stage, g, stride, chunk); break;
                    case KernelPath.Vector128 when depthwise: DepthwiseVector<Lanes128, Vector128<int>, TOut>(wide, w, output, stage, g, stride, chunk); break;
                    case KernelPath.Vector128: DenseVector<Lanes128, Vector128<int>, TOut>(wide, w, output, stage, g, stride, chunk); break;
                    default: Scalar(wide, w, output, stage, g, stride, depthwise); break;
                }
            }
        }

        /// <summary>x − z_in as int16, one pixel every <paramref name="stride"/> elements, padding channels and the trailing zero pixel 0.</summary>
        private static void Widen(ReadOnlySpan<sbyte> x, Span<short> wide, in ConvolutionGeometry g, int stride)
        {
            int pixels = g.InHeight * g.InWidth, channels = g.InChannels;
            wide.Slice(0, (pixels + 1) * stride).Clear();
            for (int p = 0; p < pixels; p++)
                for (int c = 0; c < channels; c++) wide[p * stride + c] = (short)(x[p * channels + c] - g.InputZeroPoint);
        }

        /// <summary>An int16 input has zero-point 0: its values are copied, one pixel every <paramref name="stride"/> elements.</summary>
        private static void Widen(ReadOnlySpan<short> x, Span<short> wide, in ConvolutionGeometry g, int stride)
        {
            int pixels = g.InHeight * g.InWidth, channels = g.InChannels;
            if (g.InputZeroPoint != 0) throw new ArgumentException("An int16 input has zero-point 0.");
            wide.Slice(0, (pixels + 1) * stride).Clear();
            for (int p = 0; p < pixels; p++) x.Slice(p * channels, channels).CopyTo(wide.Slice(p * stride, channels));
        }

        /// <summary>The widened input pixel under tap (ky, kx) of output pixel (oy, ox), or the zero pixel in the padding.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static short* Pixel(short* wide, in ConvolutionGeometry g, int stride, int oy, int ox, int ky, int kx)
        {
            int iy = oy * g.StrideHeight - g.PadTop + ky * g.DilationHeight, ix = ox * g.StrideWidth - g.PadLeft + kx * g.DilationWidth;
            return (uint)iy < (uint)g.InHeight && (uint)ix < (uint)g.InWidth ? wide + (iy * g.InWidth + ix) * stride : null;
        }

        /// <summary>
        /// Tiles of <see cref="TilePixels"/> output pixels by one vector of output channels: each weight vector loaded feeds
        /// every pixel of the tile; the int32 lanes take the exact pair products of every tap and input-channel pair and are
        /// added into int64 sums every <paramref name="chunk"/> pairs and at the end. Tiles past the last pixel repeat the
        /// last pixel (same values, same place); taps in the padding read the zero pixel after the widened input.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void DenseVector<TLanes, TVector, TOut>(short* wide, int* weights, TOut* output, in OutputStage<TOut> stage, in ConvolutionGeometry g, int stride, int chunk)
            where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged where TOut : unmanaged
        {
            const int Block = ConvolutionGeometry.BlockChannels;
            int lanes = TLanes.Lanes, pairs = g.ChannelPairs, taps = g.Taps, blockWeights = taps * pairs * Block, pixels = g.OutputPixels;
            short* zero = wide + g.InHeight * g.InWidth * stride;
            int* spill = stackalloc int[Block];
            long* sums = stackalloc long[TilePixels * Block];
            int* tile = stackalloc int[TilePixels];
            short** rows = stackalloc short*[TilePixels];
            for (int p = 0; p < pixels; p += TilePixels)
            {
                for (int i = 0; i < TilePixels; i++) tile[i] = Math.Min(p + i, pixels - 1);
                for (int channel = 0; channel < g.OutChannels; channel += lanes)
                {
                    int* w = weights + channel / Block * blockWeights + channel % Block;
                    TVector a0 = default, a1 = default, a2 = default, a3 = default;
                    int pending = 0;
                    for (int i = 0; i < TilePixels * Block; i++) sums[i] = 0;
                    for (int t = 0; t < taps; t++)
                    {
                        int ky = t / g.KernelWidth, kx = t % g.KernelWidth;
                        bool any = false;
                        for (int i = 0; i < TilePixels; i++)
                        {
                            short* row = Pixel(wide, g, stride, tile[i] / g.OutWidth, tile[i] % g.OutWidth, ky, kx);
                            rows[i] = row == null ? zero : row;
                            any |= row != null;
                        }
                        if (!any) continue; // padding holds real 0
                        short* r0 = rows[0], r1 = rows[1], r2 = rows[2], r3 = rows[3];
                        int* tapWeights = w + t * pairs * Block;
                        for (int pair = 0; pair < pairs; pair++)
                        {
                            var u = TLanes.Load(tapWeights + pair * Block);
                            a0 = TLanes.MultiplyAddPairs(a0, TLanes.BroadcastPair(r0 + 2 * pair), u);
                            a1 = TLanes.MultiplyAddPairs(a1, TLanes.BroadcastPair(r1 + 2 * pair), u);
                            a2 = TLanes.MultiplyAddPairs(a2, TLanes.BroadcastPair(r2 + 2 * pair), u);
                            a3 = TLanes.MultiplyAddPairs(a3, TLanes.BroadcastPair(r3 + 2 * pair), u);
                            if (++pending == chunk)
                            {
                                FlushTile(ref a0, ref a1, ref a2, ref a3, spill, sums, lanes);
                                pending = 0;
                            }
                        }
                    }
                    FlushTile(ref a0, ref a1, ref a2, ref a3, spill, sums, lanes);
                    int count = Math.Min(lanes, g.OutChannels - channel);
                    for (int i = 0; i < TilePixels; i++) stage.Store(output + tile[i] * g.OutChannels, sums + i * Block, channel, count);
                }
            }
        }

        /// <summary>Output pixels per tile of the dense kernel (the four accumulators of <see cref="FlushTile"/>).</summary>
        private const int TilePixels = 4;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void FlushTile<TVector>(ref TVector a0, ref TVector a1, ref TVector a2, ref TVector a3, int* spill, long* sums, int lanes)
            where TVector : unmanaged
        {
            const int Block = ConvolutionGeometry.BlockChannels;
            Flush(ref a0, spill, sums, lanes);
            Flush(ref a1, spill, sums + Block, lanes);
            Flush(ref a2, spill, sums + 2 * Block, lanes);
            Flush(ref a3, spill, sums + 3 * Block, lanes);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void DepthwiseVector<TLanes, TVector, TOut>(short* wide, int* weights, TOut* output, in OutputStage<TOut> stage, in ConvolutionGeometry g, int stride, int chunk)
            where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged where TOut : unmanaged
        {
            int lanes = TLanes.Lanes, taps = g.Taps, padded = g.ChannelBlocks * ConvolutionGeometry.BlockChannels;
            int* spill = stackalloc int[ConvolutionGeometry.BlockChannels];
            long* sums = stackalloc long[ConvolutionGeometry.BlockChannels];
            for (int oy = 0; oy < g.OutHeight; oy++)
                for (int ox = 0; ox < g.OutWidth; ox++)
                {
                    TOut* pixel = output + (oy * g.OutWidth + ox) * g.OutChannels;
                    for (int channel = 0; channel < g.OutChannels; channel += lanes)
                    {
                        var acc = default(TVector);
                        int pending = 0;
                        for (int i = 0; i < lanes; i++) sums[i] = 0;
                        for (int t = 0; t < taps; t++)
                        {
                            short* row = Pixel(wide, g, stride, oy, ox, t / g.KernelWidth, t % g.KernelWidth);
                            if (row == null) continue;
                            acc = TLanes.MultiplyAddWidened(acc, row + channel, weights + t * padded + channel);
                            if (++pending == chunk)
                            {
                                Flush(ref acc, spill, sums, lanes);
                                pending = 0;
                            }
                        }
                        Flush(ref acc, spill, sums, lanes);
                        stage.Store(pixel, sums, channel, Math.Min(lanes, g.OutChannels - channel));
                    }
                }
        }

        /// <summary>Adds the int32 lanes into the int64 sums and clears them.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Flush<TVector>(ref TVector acc, int* spill, long* sums, int lanes) where TVector : unmanaged
        {
            *(TVector*)spill = acc;
            for (int i = 0; i < lanes; i++) sums[i] += spill[i];
            acc = default;
        }

        /// <summary>The definition: one int64 sum per output, weights read from the packed layouts.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Scalar<TOut>(short* wide, int* weights, TOut* output, in OutputStage<TOut> stage, in ConvolutionGeometry g, int stride, bool depthwise)
            where TOut : unmanaged
        {
            const int Block = ConvolutionGeometry.BlockChannels;
            int pairs = g.ChannelPairs, taps = g.Taps, padded = g.ChannelBlocks * Block;
            short* packed = (short*)weights;
            long* sum = stackalloc long[1];
            for (int oy = 0; oy < g.OutHeight; oy++)
                for (int ox = 0; ox < g.OutWidth; ox++)
                {
                    TOut* pixel = output + (oy * g.OutWidth + ox) * g.OutChannels;
                    for (int m = 0; m < g.OutChannels; m++)
                    {
                        long acc = 0;
                        for (int t = 0; t < taps; t++)
                        {
                            short* row = Pixel(wide, g, stride, oy, ox, t / g.KernelWidth, t % g.KernelWidth);
                            if (row == null) continue;
                            if (depthwise)
                                acc += row[m] * (long)weights[t * padded + m];
                            else
                                for (int c = 0; c < 2 * pairs; c++)
                                    acc += row[c] * (long)packed[2 * ((((long)(m / Block) * taps + t) * pairs + c / 2) * Block + m % Block) + (c & 1)];
                        }
                        *sum = acc;
                        stage.Store(pixel, sum, m, 1);
                    }
                }
        }

        /// <summary>y = clamp(z_out + requantized(bias + sum)) per channel, stored as sbyte or short.</summary>
        private readonly struct OutputStage<TOut> where TOut : unmanaged
        {
            private readonly int* _bias, _multiplier, _shift;
            private readonly int _zeroPoint, _clampMin, _clampMax;
            private readonly bool _wide;

            public OutputStage(int* bias, int* multiplier, int* shift, in ConvolutionGeometry g, bool wideRequantization)
            {
                _bias = bias;
                _multiplier = multiplier;
                _shift = shift;
                _zeroPoint = g.OutputZeroPoint;
                _clampMin = g.ClampMin;
                _clampMax = g.ClampMax;
                _wide = wideRequantization;
            }

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public void Store(TOut* pixel, long* sums, int channel, int count)
            {
                for (int i = 0; i < count; i++)
                {
                    int m = channel + i;
                    long acc = _bias[m] + sums[i];
                    long scaled = _wide
                        ? FixedPoint.MultiplyByQuantizedMultiplierWide(acc, _multiplier[m], _shift[m])
                        : FixedPoint.MultiplyByQuantizedMultiplier((int)acc, _multiplier[m], _shift[m]); // int8 input: int32 proven
                    int v = (int)Math.Clamp(_zeroPoint + scaled, _clampMin, _clampMax);
                    if (typeof(TOut) == typeof(short)) ((short*)pixel)[m] = (short)v;
                    else ((sbyte*)pixel)[m] = (sbyte)v;
                }
            }
        }
    }
}
