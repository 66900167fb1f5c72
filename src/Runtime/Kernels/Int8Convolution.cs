using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;

namespace NetQuantGen.Runtime.Kernels
{
    /// <summary>
    /// Exact int8 convolutions on channels-last tensors: acc = bias + Σ w·(x − z_in) in int32, then
    /// y = clamp(z_out + MultiplyByQuantizedMultiplier(acc)), or the float requantization of <see cref="Requantizer"/>
    /// (the overloads with float scales). The input is first widened to int16 with the zero-point subtracted (padding reads a zero pixel), so the vector paths can use the exact int16×int16
    /// multiply-add of adjacent pairs (vpmaddwd / pmaddwd / NEON widening multiply + pairwise add); integer sums
    /// do not depend on order, so every path gives the same bits. Layers whose geometry has a ByteGroup run the
    /// uint8 × int8 byte kernel instead (vpmaddubsw, int16 sums): saturating instructions, used only where the
    /// compiler proved from the baked weights that they cannot saturate or wrap, so they are exact there too.
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
            Run(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, default, g, depthwise: false);

        /// <summary>A depthwise convolution (group = input channels = output channels).</summary>
        public static void Depthwise(ReadOnlySpan<sbyte> x, Span<sbyte> y, Span<short> scratch, ReadOnlySpan<int> weights,
            ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> leftShift, ReadOnlySpan<int> rightShift,
            in ConvolutionGeometry g) =>
            Run(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, default, g, depthwise: true);

        /// <summary><see cref="Dense(ReadOnlySpan{sbyte}, Span{sbyte}, Span{short}, ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int}, in ConvolutionGeometry)"/> requantized in float (ONNX Runtime's arithmetic) with per-channel scales.</summary>
        public static void Dense(ReadOnlySpan<sbyte> x, Span<sbyte> y, Span<short> scratch, ReadOnlySpan<int> weights,
            ReadOnlySpan<int> bias, ReadOnlySpan<float> scale, in ConvolutionGeometry g) =>
            Run(x, y, scratch, weights, bias, default, default, default, scale, g, depthwise: false);

        /// <summary>A depthwise convolution requantized in float (ONNX Runtime's arithmetic) with per-channel scales.</summary>
        public static void Depthwise(ReadOnlySpan<sbyte> x, Span<sbyte> y, Span<short> scratch, ReadOnlySpan<int> weights,
            ReadOnlySpan<int> bias, ReadOnlySpan<float> scale, in ConvolutionGeometry g) =>
            Run(x, y, scratch, weights, bias, default, default, default, scale, g, depthwise: true);

        /// <summary>Fixed-point requantization when <paramref name="scale"/> is empty, float otherwise.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loops: straight to optimized code, no tier-0 or OSR versions
        private static void Run(ReadOnlySpan<sbyte> x, Span<sbyte> y, Span<short> scratch, ReadOnlySpan<int> weights,
            ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> leftShift, ReadOnlySpan<int> rightShift,
            ReadOnlySpan<float> scale, in ConvolutionGeometry g, bool depthwise)
        {
            CheckBounds(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, scale, g, depthwise);
            var path = KernelPaths.Current;
            if (g.ByteGroup > 0 && g.Patches)
            {
                var rows = g.AsPatchGemm();
                BytePatches(x, scratch, g, rows.InChannels, path != KernelPath.Scalar);
                RunBytes(scratch, y, weights, bias, multiplier, leftShift, rightShift, scale, rows, path);
                return;
            }
            if (g.ByteGroup > 0)
            {
                Offset(x, scratch, g, path != KernelPath.Scalar);
                RunBytes(scratch, y, weights, bias, multiplier, leftShift, rightShift, scale, g, path);
                return;
            }
            if (g.Patches)
            {
                // The windows as rows of one 1×1 convolution over the output plane (its weights are packed that way).
                var rows = g.AsPatchGemm();
                Patches(x, scratch, g, rows.InChannels, path != KernelPath.Scalar);
                RunWidened(scratch, y, weights, bias, multiplier, leftShift, rightShift, scale, rows, depthwise: false, path);
                return;
            }
            Widen(x, scratch, g, g.WideStride(depthwise), path != KernelPath.Scalar);
            RunWidened(scratch, y, weights, bias, multiplier, leftShift, rightShift, scale, g, depthwise, path);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void RunWidened(Span<short> scratch, Span<sbyte> y, ReadOnlySpan<int> weights, ReadOnlySpan<int> bias,
            ReadOnlySpan<int> multiplier, ReadOnlySpan<int> leftShift, ReadOnlySpan<int> rightShift, ReadOnlySpan<float> scale,
            in ConvolutionGeometry g, bool depthwise, KernelPath path)
        {
            fixed (short* wide = scratch)
            fixed (int* w = weights, b = bias, m = multiplier, ls = leftShift, rs = rightShift)
            fixed (float* s = scale)
            fixed (sbyte* output = y)
                Dispatch(new Work(wide, w, output, new Requantizer(b, m, ls, rs, scale.IsEmpty ? null : s, g), g, g.WideStride(depthwise), depthwise ? WorkKind.Depthwise : WorkKind.Dense, path));
        }

        /// <summary>
        /// The uint8 × int8 kernel. The bias the compiler bakes for it already holds −(z_in + 128)·Σw, so
        /// acc = bias + Σ w·(x + 128) = the exact accumulator; padding taps read a pixel of z_in + 128 (w·(x − z_in) = 0).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void RunBytes(Span<short> scratch, Span<sbyte> y, ReadOnlySpan<int> weights, ReadOnlySpan<int> bias,
            ReadOnlySpan<int> multiplier, ReadOnlySpan<int> leftShift, ReadOnlySpan<int> rightShift, ReadOnlySpan<float> scale,
            in ConvolutionGeometry g, KernelPath path)
        {
            // The offset bytes as int16 pairs, so the window's pixel arithmetic serves both kernels.
            fixed (short* wide = scratch)
            fixed (int* w = weights, b = bias, m = multiplier, ls = leftShift, rs = rightShift)
            fixed (float* s = scale)
            fixed (sbyte* output = y)
                Dispatch(new Work(wide, w, output, new Requantizer(b, m, ls, rs, scale.IsEmpty ? null : s, g), g, 2 * g.ChannelQuads, WorkKind.Bytes, path));
        }

        private enum WorkKind { Dense, Depthwise, Bytes }

        /// <summary>One layer's kernel call over a range of output pixels: what a thread of the opt-in parallel mode runs.</summary>
        private readonly struct Work
        {
            private readonly short* _wide;
            private readonly int* _weights;
            private readonly sbyte* _output;
            private readonly Requantizer _r;
            private readonly int _stride;

            public Work(short* wide, int* weights, sbyte* output, in Requantizer r, in ConvolutionGeometry g, int stride, WorkKind kind, KernelPath path)
            {
                _wide = wide;
                _weights = weights;
                _output = output;
                _r = r;
                Geometry = g;
                _stride = stride;
                Kind = kind;
                Path = path;
            }

            public ConvolutionGeometry Geometry { get; }

            public KernelPath Path { get; }

            public WorkKind Kind { get; }

            /// <summary>Output pixels [first, end); the scalar kernels, the reference, always take the whole plane.</summary>
            public void Run(int first, int end)
            {
                var g = Geometry;
                switch (Path, Kind)
                {
                    case (KernelPath.Vector512, WorkKind.Dense): DenseVector<Lanes512, Vector512<int>>(_wide, _weights, _output, _r, g, _stride, first, end); break;
                    case (KernelPath.Vector512, WorkKind.Depthwise): DepthwiseVector<Lanes512, Vector512<int>>(_wide, _weights, _output, _r, g, _stride, first, end); break;
                    case (KernelPath.Vector512, WorkKind.Bytes): DenseBytesVector<Lanes512, Vector512<int>>(_wide, _weights, _output, _r, g, _stride, first, end); break;
                    case (KernelPath.Vector256, WorkKind.Dense): DenseVector<Lanes256, Vector256<int>>(_wide, _weights, _output, _r, g, _stride, first, end); break;
                    case (KernelPath.Vector256, WorkKind.Depthwise): DepthwiseVector<Lanes256, Vector256<int>>(_wide, _weights, _output, _r, g, _stride, first, end); break;
                    case (KernelPath.Vector256, WorkKind.Bytes): DenseBytesVector<Lanes256, Vector256<int>>(_wide, _weights, _output, _r, g, _stride, first, end); break;
                    case (KernelPath.Vector128, WorkKind.Dense): DenseVector<Lanes128, Vector128<int>>(_wide, _weights, _output, _r, g, _stride, first, end); break;
                    case (KernelPath.Vector128, WorkKind.Depthwise): DepthwiseVector<Lanes128, Vector128<int>>(_wide, _weights, _output, _r, g, _stride, first, end); break;
                    case (KernelPath.Vector128, WorkKind.Bytes): DenseBytesVector<Lanes128, Vector128<int>>(_wide, _weights, _output, _r, g, _stride, first, end); break;
                    case (_, WorkKind.Depthwise): DepthwiseScalar(_wide, _weights, _output, _r, g, _stride); break;
                    case (_, WorkKind.Bytes): DenseBytesScalar(_wide, (sbyte*)_weights, _output, _r, g, _stride); break;
                    default: DenseScalar(_wide, (short*)_weights, _output, _r, g, _stride); break;
                }
            }
        }

        /// <summary>
        /// Runs the work on this thread, or, when <see cref="KernelThreads.Count"/> allows and the layer is large enough to
        /// repay the hand-off, on that many threads, each over its own run of whole pixel tiles. Every output value is
        /// computed by one thread exactly as the single-threaded kernel computes it, so the bytes do not depend on the count.
        /// </summary>
        private static void Dispatch(Work work)
        {
            var g = work.Geometry;
            int pixels = g.OutputPixels;
            long macs = (long)pixels * g.OutChannels * g.Taps * (work.Kind == WorkKind.Depthwise ? 1 : g.InChannels);
            int threads = Math.Min(KernelThreads.Count, pixels / (2 * TilePixels));
            if (threads <= 1 || macs < KernelThreads.MinimumMacs || work.Path == KernelPath.Scalar)
            {
                work.Run(0, pixels);
                return;
            }
            RunInParallel(work, threads);
        }

        /// <summary>Apart from <see cref="Dispatch"/> so that only the parallel mode allocates its closure, not every call.</summary>
        private static void RunInParallel(Work work, int threads)
        {
            int pixels = work.Geometry.OutputPixels, tiles = (pixels + TilePixels - 1) / TilePixels;
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
                work.Run(Math.Min(pixels, (int)((long)tiles * i / threads) * TilePixels), Math.Min(pixels, (int)((long)tiles * (i + 1) / threads) * TilePixels)));
        }

        /// <summary>
        /// Every pointer the kernels form stays inside these spans when their lengths are what the geometry says
        /// (the kernels read whole padded blocks and the zero pixel after the widened input); a generated layer
        /// built against another runtime, or a scratch buffer planned for another model, fails here instead of
        /// reading or writing past an array.
        /// </summary>
        private static void CheckBounds(ReadOnlySpan<sbyte> x, Span<sbyte> y, Span<short> scratch, ReadOnlySpan<int> weights,
            ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> leftShift, ReadOnlySpan<int> rightShift,
            ReadOnlySpan<float> scale, in ConvolutionGeometry g, bool depthwise)
        {
            int padded = g.ChannelBlocks * ConvolutionGeometry.BlockChannels;
            bool requantization = scale.IsEmpty ? multiplier.Length >= padded && leftShift.Length >= padded && rightShift.Length >= padded : scale.Length >= padded;
            if (x.Length < g.InHeight * g.InWidth * g.InChannels || y.Length < g.OutputPixels * g.OutChannels
                || scratch.Length < g.ScratchLength(depthwise)
                || weights.Length < (depthwise ? g.DepthwiseWeightLength : g.ByteGroup > 0 ? g.ByteWeightLength : g.DenseWeightLength)
                || (g.ByteGroup > 0 && depthwise)
                || bias.Length < padded || !requantization
                || g.Taps > MaxTaps || (depthwise && g.InChannels != g.OutChannels))
                throw new ArgumentException("Convolution buffers do not match their geometry: the generated code and the runtime library do not match.");
        }

        /// <summary>
        /// im2col for <see cref="ConvolutionGeometry.Patches"/>: per output pixel one row of <paramref name="rowLength"/>
        /// int16, tap t's channels (x − z_in) at t·C, taps in the padding and the odd tail 0; then one zero row.
        /// The valid taps of one kernel row are one run of input memory when the dilation is 1, copied as one run.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Patches(ReadOnlySpan<sbyte> x, Span<short> rows, in ConvolutionGeometry g, int rowLength, bool vector)
        {
            int channels = g.InChannels, kw = g.KernelWidth, dw = g.DilationWidth;
            var z = Vector128.Create((short)g.InputZeroPoint);
            short zero = (short)g.InputZeroPoint;
            rows.Slice(0, (g.OutputPixels + 1) * rowLength).Clear();
            fixed (sbyte* input = x)
            fixed (short* output = rows)
            {
                short* row = output;
                for (int oy = 0; oy < g.OutHeight; oy++)
                    for (int ox = 0; ox < g.OutWidth; ox++, row += rowLength)
                    {
                        int ix0 = ox * g.StrideWidth - g.PadLeft;
                        // Kernel columns [first, last) fall inside the image.
                        int first = ix0 >= 0 ? 0 : (-ix0 + dw - 1) / dw;
                        int last = Math.Min(kw, ix0 >= g.InWidth ? 0 : (g.InWidth - 1 - ix0) / dw + 1);
                        if (first >= last) continue;
                        for (int ky = 0; ky < g.KernelHeight; ky++)
                        {
                            int iy = oy * g.StrideHeight - g.PadTop + ky * g.DilationHeight;
                            if ((uint)iy >= (uint)g.InHeight) continue;
                            sbyte* source = input + (iy * g.InWidth + ix0) * channels;
                            short* target = row + ky * kw * channels;
                            if (dw == 1)
                            {
                                int i = first * channels, end = last * channels;
                                if (vector)
                                    for (; i + 16 <= end; i += 16)
                                    {
                                        var bytes = Vector128.Load(source + i);
                                        (Vector128.WidenLower(bytes) - z).Store(target + i);
                                        (Vector128.WidenUpper(bytes) - z).Store(target + i + 8);
                                    }
                                for (; i < end; i++) target[i] = (short)(source[i] - zero);
                            }
                            else
                                for (int kx = first; kx < last; kx++)
                                    for (int c = 0; c < channels; c++)
                                        target[kx * channels + c] = (short)(source[kx * dw * channels + c] - zero);
                        }
                    }
            }
        }

        /// <summary>x − z_in as int16, one pixel every <paramref name="stride"/> elements, padding channels and the trailing zero pixel 0.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

        /// <summary>
        /// x + 128 as uint8 (the sign bit flipped), 4·<see cref="ConvolutionGeometry.ChannelQuads"/> bytes per pixel, padding
        /// channels 0 (their weights are 0); then the pixel that padding taps read, z_in + 128 in every byte.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Offset(ReadOnlySpan<sbyte> x, Span<short> scratch, in ConvolutionGeometry g, bool vector)
        {
            var bytes = MemoryMarshal.AsBytes(scratch);
            int pixels = g.InHeight * g.InWidth, channels = g.InChannels, stride = 4 * g.ChannelQuads;
            var source = MemoryMarshal.AsBytes(x);
            if (stride == channels)
            {
                int n = pixels * channels, i = 0;
                if (vector)
                    for (; i + 16 <= n; i += 16)
                        (Vector128.Create(source.Slice(i, 16)) ^ Vector128.Create((byte)0x80)).CopyTo(bytes.Slice(i, 16));
                for (; i < n; i++) bytes[i] = (byte)(source[i] ^ 0x80);
            }
            else
                for (int p = 0; p < pixels; p++)
                {
                    var row = bytes.Slice(p * stride, stride);
                    for (int c = 0; c < channels; c++) row[c] = (byte)(source[p * channels + c] ^ 0x80);
                    row.Slice(channels).Clear();
                }
            bytes.Slice(pixels * stride, stride).Fill((byte)(g.InputZeroPoint + 128));
        }

        /// <summary>
        /// im2col for the byte kernel with <see cref="ConvolutionGeometry.Patches"/>: per output pixel one row of
        /// <paramref name="rowLength"/> bytes, tap t's channels x + 128 at t·C, taps in the padding z_in + 128 (the bias
        /// accounts for them), the tail past the window 0 (its weights are 0); then one zero row.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void BytePatches(ReadOnlySpan<sbyte> x, Span<short> scratch, in ConvolutionGeometry g, int rowLength, bool vector)
        {
            int channels = g.InChannels, kw = g.KernelWidth, dw = g.DilationWidth, window = g.Taps * channels;
            byte padding = (byte)(g.InputZeroPoint + 128);
            fixed (sbyte* input = x)
            fixed (short* scratchStart = scratch)
            {
                byte* row = (byte*)scratchStart;
                for (int oy = 0; oy < g.OutHeight; oy++)
                    for (int ox = 0; ox < g.OutWidth; ox++, row += rowLength)
                    {
                        new Span<byte>(row, window).Fill(padding);
                        new Span<byte>(row + window, rowLength - window).Clear();
                        int ix0 = ox * g.StrideWidth - g.PadLeft;
                        // Kernel columns [first, last) fall inside the image.
                        int first = ix0 >= 0 ? 0 : (-ix0 + dw - 1) / dw;
                        int last = Math.Min(kw, ix0 >= g.InWidth ? 0 : (g.InWidth - 1 - ix0) / dw + 1);
                        for (int ky = 0; ky < g.KernelHeight; ky++)
                        {
                            int iy = oy * g.StrideHeight - g.PadTop + ky * g.DilationHeight;
                            if ((uint)iy >= (uint)g.InHeight) continue;
                            sbyte* source = input + (iy * g.InWidth + ix0) * channels;
                            byte* target = row + ky * kw * channels;
                            if (dw == 1)
                            {
                                // The valid taps of the kernel row are one run of input memory.
                                int i = first * channels, end = last * channels;
                                if (vector)
                                    for (; i + 16 <= end; i += 16)
                                        (Vector128.Load((byte*)source + i) ^ Vector128.Create((byte)0x80)).Store(target + i);
                                for (; i < end; i++) target[i] = (byte)(source[i] ^ 0x80);
                            }
                            else
                                for (int kx = first; kx < last; kx++)
                                    for (int c = 0; c < channels; c++)
                                        target[kx * channels + c] = (byte)(source[kx * dw * channels + c] ^ 0x80);
                        }
                    }
                new Span<byte>(row, rowLength).Clear();
            }
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
        /// all taps and input-channel pairs, over output pixels [first, end). Tiles past the end repeat its last pixel (same values, same place).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void DenseVector<TLanes, TVector>(short* wide, int* weights, sbyte* output, in Requantizer r, in ConvolutionGeometry g, int stride, int first, int end)
            where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged
        {
            int* dy = stackalloc int[g.Taps];
            int* dx = stackalloc int[g.Taps];
            Window.Taps(g, dy, dx);
            sbyte* partial = stackalloc sbyte[ConvolutionGeometry.BlockChannels];
            TVector* tile = stackalloc TVector[2 * TilePixels];
            int* tilePixels = stackalloc int[TilePixels];
            var window = new Window(wide, g, stride);
            int vectors = (g.OutChannels + TLanes.Lanes - 1) / TLanes.Lanes, v = 0;
            // Fewer pixels than a tile (a Gemm, a tiny image): one-pixel tiles instead of six copies of the same pixel.
            bool six = end - first >= TilePixels;
            for (; v + 2 <= vectors; v += 2)
                if (six) DenseTiles<TLanes, TVector, TwoVectors, SixPixels>(window, dy, dx, weights, output, partial, tile, tilePixels, r, g, v * TLanes.Lanes, first, end);
                else DenseTiles<TLanes, TVector, TwoVectors, OnePixel>(window, dy, dx, weights, output, partial, tile, tilePixels, r, g, v * TLanes.Lanes, first, end);
            if (v < vectors)
                if (six) DenseTiles<TLanes, TVector, OneVector, SixPixels>(window, dy, dx, weights, output, partial, tile, tilePixels, r, g, v * TLanes.Lanes, first, end);
                else DenseTiles<TLanes, TVector, OneVector, OnePixel>(window, dy, dx, weights, output, partial, tile, tilePixels, r, g, v * TLanes.Lanes, first, end);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void DenseTiles<TLanes, TVector, TWidth, THeight>(in Window window, int* dy, int* dx, int* weights, sbyte* output,
            sbyte* partial, TVector* tile, int* tilePixels, in Requantizer r, in ConvolutionGeometry g, int channel, int first, int end)
            where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged where TWidth : struct, ITileSize where THeight : struct, ITileSize
        {
            bool two = TWidth.Count == 2, six = THeight.Count == TilePixels;
            int lanes = TLanes.Lanes, pairs = g.ChannelPairs, taps = g.Taps, outChannels = g.OutChannels;
            const int Block = ConvolutionGeometry.BlockChannels;
            int tapWeights = pairs * Block, blockWeights = taps * tapWeights;
            int channel1 = channel + lanes;
            // Weights are [block][tap][pair][16 channels]: a vector of channels starts at its block plus its lane.
            int* weights0 = weights + channel / Block * blockWeights + channel % Block;
            int* weights1 = weights + channel1 / Block * blockWeights + channel1 % Block;
            int* bias = r.Bias;
            short* zero = window.Zero;
            int last = end - 1;
            for (int p = first; p < end; p += THeight.Count)
            {
                int q0 = p, q1 = Math.Min(p + 1, last), q2 = Math.Min(p + 2, last);
                int q3 = Math.Min(p + 3, last), q4 = Math.Min(p + 4, last), q5 = Math.Min(p + 5, last);
                window.Origin(q0, out int y0, out int x0); window.Origin(q1, out int y1, out int x1);
                window.Origin(q2, out int y2, out int x2); window.Origin(q3, out int y3, out int x3);
                window.Origin(q4, out int y4, out int x4); window.Origin(q5, out int y5, out int x5);
                var a0 = TLanes.Load(bias + channel); var a1 = a0; var a2 = a0; var a3 = a0; var a4 = a0; var a5 = a0;
                var b0 = two ? TLanes.Load(bias + channel1) : default; var b1 = b0; var b2 = b0; var b3 = b0; var b4 = b0; var b5 = b0;
                for (int t = 0; t < taps; t++)
                {
                    short* r0 = window.Pixel(y0 + dy[t], x0 + dx[t]), r1 = window.Pixel(y1 + dy[t], x1 + dx[t]);
                    short* r2 = window.Pixel(y2 + dy[t], x2 + dx[t]), r3 = window.Pixel(y3 + dy[t], x3 + dx[t]);
                    short* r4 = window.Pixel(y4 + dy[t], x4 + dx[t]), r5 = window.Pixel(y5 + dy[t], x5 + dx[t]);
                    if (r0 == zero && r1 == zero && r2 == zero && r3 == zero && r4 == zero && r5 == zero) continue;
                    int* w0 = weights0 + t * tapWeights, w1 = weights1 + t * tapWeights;
                    for (int c = 0; c < 2 * pairs; c += 2, w0 += Block, w1 += Block)
                    {
                        var u = TLanes.Load(w0);
                        var v = two ? TLanes.Load(w1) : default;
                        var x = TLanes.BroadcastPair(r0 + c); a0 = TLanes.MultiplyAddPairs(a0, x, u); if (two) b0 = TLanes.MultiplyAddPairs(b0, x, v);
                        if (six) { x = TLanes.BroadcastPair(r1 + c); a1 = TLanes.MultiplyAddPairs(a1, x, u); if (two) b1 = TLanes.MultiplyAddPairs(b1, x, v); }
                        if (six) { x = TLanes.BroadcastPair(r2 + c); a2 = TLanes.MultiplyAddPairs(a2, x, u); if (two) b2 = TLanes.MultiplyAddPairs(b2, x, v); }
                        if (six) { x = TLanes.BroadcastPair(r3 + c); a3 = TLanes.MultiplyAddPairs(a3, x, u); if (two) b3 = TLanes.MultiplyAddPairs(b3, x, v); }
                        if (six) { x = TLanes.BroadcastPair(r4 + c); a4 = TLanes.MultiplyAddPairs(a4, x, u); if (two) b4 = TLanes.MultiplyAddPairs(b4, x, v); }
                        if (six) { x = TLanes.BroadcastPair(r5 + c); a5 = TLanes.MultiplyAddPairs(a5, x, u); if (two) b5 = TLanes.MultiplyAddPairs(b5, x, v); }
                    }
                }
                // Through memory to a separate method: no call while the accumulators are live, so none is spilled in the loop.
                tile[0] = a0; tile[1] = a1; tile[2] = a2; tile[3] = a3; tile[4] = a4; tile[5] = a5;
                if (two) { tile[6] = b0; tile[7] = b1; tile[8] = b2; tile[9] = b3; tile[10] = b4; tile[11] = b5; }
                tilePixels[0] = q0; tilePixels[1] = q1; tilePixels[2] = q2; tilePixels[3] = q3; tilePixels[4] = q4; tilePixels[5] = q5;
                StoreTile<TLanes, TVector>(tile, tilePixels, TWidth.Count, THeight.Count, output, channel, outChannels, partial, r);
            }
        }

        /// <summary>
        /// The byte kernel, tiled like <see cref="DenseVector{TLanes, TVector}"/>: per tap, runs of ByteGroup quads are
        /// summed in int16 registers (uint8 × int8 pairs, vpmaddubsw, then int16 adds), and each run's sums are widened
        /// into the tile's int32 accumulators (vpmaddwd by ones). The compiler chose ByteGroup so that no pair and no run
        /// can leave int16 for any input. Padding taps are not skipped: they read the z_in + 128 pixel the bias accounts for.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void DenseBytesVector<TLanes, TVector>(short* wide, int* weights, sbyte* output, in Requantizer r, in ConvolutionGeometry g, int stride, int first, int end)
            where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged
        {
            int* dy = stackalloc int[g.Taps];
            int* dx = stackalloc int[g.Taps];
            Window.Taps(g, dy, dx);
            sbyte* partial = stackalloc sbyte[ConvolutionGeometry.BlockChannels];
            TVector* tile = stackalloc TVector[2 * TilePixels];
            int* tilePixels = stackalloc int[TilePixels];
            var window = new Window(wide, g, stride);
            int vectors = (g.OutChannels + TLanes.Lanes - 1) / TLanes.Lanes, v = 0;
            bool six = end - first >= TilePixels;
            for (; v + 2 <= vectors; v += 2)
                if (six) ByteTiles<TLanes, TVector, TwoVectors, SixPixels>(window, dy, dx, weights, output, partial, tile, tilePixels, r, g, v * TLanes.Lanes, first, end);
                else ByteTiles<TLanes, TVector, TwoVectors, OnePixel>(window, dy, dx, weights, output, partial, tile, tilePixels, r, g, v * TLanes.Lanes, first, end);
            if (v < vectors)
                if (six) ByteTiles<TLanes, TVector, OneVector, SixPixels>(window, dy, dx, weights, output, partial, tile, tilePixels, r, g, v * TLanes.Lanes, first, end);
                else ByteTiles<TLanes, TVector, OneVector, OnePixel>(window, dy, dx, weights, output, partial, tile, tilePixels, r, g, v * TLanes.Lanes, first, end);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void ByteTiles<TLanes, TVector, TWidth, THeight>(in Window window, int* dy, int* dx, int* weights, sbyte* output,
            sbyte* partial, TVector* tile, int* tilePixels, in Requantizer r, in ConvolutionGeometry g, int channel, int first, int end)
            where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged where TWidth : struct, ITileSize where THeight : struct, ITileSize
        {
            bool two = TWidth.Count == 2, six = THeight.Count == TilePixels;
            int lanes = TLanes.Lanes, quads = g.ChannelQuads, taps = g.Taps, group = g.ByteGroup;
            const int Block = ConvolutionGeometry.BlockChannels;
            int tapWeights = quads * Block, blockWeights = taps * tapWeights;
            int channel1 = channel + lanes;
            // Weights are [block][tap][quad][16 channels]: a vector of channels starts at its block plus its lane.
            int* weights0 = weights + channel / Block * blockWeights + channel % Block;
            int* weights1 = weights + channel1 / Block * blockWeights + channel1 % Block;
            int last = end - 1;
            for (int p = first; p < end; p += THeight.Count)
            {
                int q0 = p, q1 = Math.Min(p + 1, last), q2 = Math.Min(p + 2, last);
                int q3 = Math.Min(p + 3, last), q4 = Math.Min(p + 4, last), q5 = Math.Min(p + 5, last);
                window.Origin(q0, out int y0, out int x0); window.Origin(q1, out int y1, out int x1);
                window.Origin(q2, out int y2, out int x2); window.Origin(q3, out int y3, out int x3);
                window.Origin(q4, out int y4, out int x4); window.Origin(q5, out int y5, out int x5);
                var bias0 = TLanes.Load(r.Bias + channel);
                var bias1 = two ? TLanes.Load(r.Bias + channel1) : default;
                for (int i = 0; i < TilePixels; i++) { tile[i] = bias0; tile[TilePixels + i] = bias1; }
                for (int t = 0; t < taps; t++)
                {
                    byte* r0 = (byte*)window.Pixel(y0 + dy[t], x0 + dx[t]), r1 = (byte*)window.Pixel(y1 + dy[t], x1 + dx[t]);
                    byte* r2 = (byte*)window.Pixel(y2 + dy[t], x2 + dx[t]), r3 = (byte*)window.Pixel(y3 + dy[t], x3 + dx[t]);
                    byte* r4 = (byte*)window.Pixel(y4 + dy[t], x4 + dx[t]), r5 = (byte*)window.Pixel(y5 + dy[t], x5 + dx[t]);
                    int* w0 = weights0 + t * tapWeights, w1 = weights1 + t * tapWeights;
                    for (int k = 0; k < quads;)
                    {
                        TVector a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default;
                        TVector b0 = default, b1 = default, b2 = default, b3 = default, b4 = default, b5 = default;
                        for (int runEnd = Math.Min(k + group, quads); k < runEnd; k++, w0 += Block, w1 += Block)
                        {
                            var u = TLanes.Load(w0);
                            var v = two ? TLanes.Load(w1) : default;
                            int c = 4 * k;
                            var x = TLanes.BroadcastQuad(r0 + c); a0 = TLanes.MultiplyAddBytes(a0, x, u); if (two) b0 = TLanes.MultiplyAddBytes(b0, x, v);
                            if (six) { x = TLanes.BroadcastQuad(r1 + c); a1 = TLanes.MultiplyAddBytes(a1, x, u); if (two) b1 = TLanes.MultiplyAddBytes(b1, x, v); }
                            if (six) { x = TLanes.BroadcastQuad(r2 + c); a2 = TLanes.MultiplyAddBytes(a2, x, u); if (two) b2 = TLanes.MultiplyAddBytes(b2, x, v); }
                            if (six) { x = TLanes.BroadcastQuad(r3 + c); a3 = TLanes.MultiplyAddBytes(a3, x, u); if (two) b3 = TLanes.MultiplyAddBytes(b3, x, v); }
                            if (six) { x = TLanes.BroadcastQuad(r4 + c); a4 = TLanes.MultiplyAddBytes(a4, x, u); if (two) b4 = TLanes.MultiplyAddBytes(b4, x, v); }
                            if (six) { x = TLanes.BroadcastQuad(r5 + c); a5 = TLanes.MultiplyAddBytes(a5, x, u); if (two) b5 = TLanes.MultiplyAddBytes(b5, x, v); }
                        }
                        tile[0] = TLanes.AddWidened(tile[0], a0);
                        if (six) { tile[1] = TLanes.AddWidened(tile[1], a1); tile[2] = TLanes.AddWidened(tile[2], a2); tile[3] = TLanes.AddWidened(tile[3], a3); tile[4] = TLanes.AddWidened(tile[4], a4); tile[5] = TLanes.AddWidened(tile[5], a5); }
                        if (two)
                        {
                            tile[6] = TLanes.AddWidened(tile[6], b0);
                            if (six) { tile[7] = TLanes.AddWidened(tile[7], b1); tile[8] = TLanes.AddWidened(tile[8], b2); tile[9] = TLanes.AddWidened(tile[9], b3); tile[10] = TLanes.AddWidened(tile[10], b4); tile[11] = TLanes.AddWidened(tile[11], b5); }
                        }
                    }
                }
                tilePixels[0] = q0; tilePixels[1] = q1; tilePixels[2] = q2; tilePixels[3] = q3; tilePixels[4] = q4; tilePixels[5] = q5;
                StoreTile<TLanes, TVector>(tile, tilePixels, TWidth.Count, THeight.Count, output, channel, g.OutChannels, partial, r);
            }
        }

        /// <summary>The byte kernel's plain formula: acc = bias + Σ (x + 128)·w over every tap, padding included.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void DenseBytesScalar(short* wide, sbyte* weights, sbyte* output, in Requantizer r, in ConvolutionGeometry g, int stride)
        {
            int quads = g.ChannelQuads, taps = g.Taps;
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
                        byte* row = (byte*)window.Pixel(iy + dy[t], ix + dx[t]);
                        for (int c = 0; c < 4 * quads; c++)
                            acc += row[c] * weights[4 * ((((long)block * taps + t) * quads + c / 4) * ConvolutionGeometry.BlockChannels + lane) + (c & 3)];
                    }
                    output[p * g.OutChannels + m] = r.Scalar(acc, m);
                }
            }
        }

        [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
        private static void StoreTile<TLanes, TVector>(TVector* tile, int* pixels, int vectors, int count, sbyte* output, int channel, int outChannels,
            sbyte* partial, in Requantizer r)
            where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged
        {
            for (int v = 0; v < vectors; v++)
                for (int i = 0; i < count; i++)
                    Store<TLanes, TVector>(output + pixels[i] * outChannels, tile[v * TilePixels + i], channel + v * TLanes.Lanes, outChannels, partial, r);
        }

        /// <summary>
        /// Stores the channels of one vector that exist: lanes past the last output channel (padding) would land on
        /// the next pixel, so a vector that straddles the end goes through <paramref name="partial"/>.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Store<TLanes, TVector>(sbyte* pixel, TVector acc, int channel, int outChannels, sbyte* partial, in Requantizer r)
            where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged
        {
            if (channel + TLanes.Lanes <= outChannels)
            {
                TLanes.Store(pixel + channel, acc, channel, r);
                return;
            }
            TLanes.Store(partial, acc, channel, r);
            for (int i = channel; i < outChannels; i++) pixel[i] = partial[i - channel];
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void DenseScalar(short* wide, short* weights, sbyte* output, in Requantizer r, in ConvolutionGeometry g, int stride)
        {
            int pairs = g.ChannelPairs, taps = g.Taps;
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
                        for (int c = 0; c < 2 * pairs; c++)
                            acc += row[c] * weights[2 * ((((long)block * taps + t) * pairs + c / 2) * ConvolutionGeometry.BlockChannels + lane) + (c & 1)];
                    }
                    output[p * g.OutChannels + m] = r.Scalar(acc, m);
                }
            }
        }

        /// <summary>
        /// Depthwise: channels are the lanes; per output pixel, every vector of channels sums its taps. A pixel whose
        /// window lies inside the image (most of them) reads its taps at fixed offsets from its top-left input pixel,
        /// with no per-tap padding test; only the border pixels look each tap up through the window.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void DepthwiseVector<TLanes, TVector>(short* wide, int* weights, sbyte* output, in Requantizer r, in ConvolutionGeometry g, int stride, int first, int end)
            where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged
        {
            int taps = g.Taps, padded = g.ChannelBlocks * ConvolutionGeometry.BlockChannels, channels = g.OutChannels;
            var window = new Window(wide, g, stride);
            short** rows = stackalloc short*[taps];
            int* dy = stackalloc int[taps];
            int* dx = stackalloc int[taps];
            int* offsets = stackalloc int[taps];
            Window.Taps(g, dy, dx);
            for (int t = 0; t < taps; t++) offsets[t] = (dy[t] * g.InWidth + dx[t]) * stride;
            // The window's bottom-right tap, relative to its top-left one.
            int spanY = (g.KernelHeight - 1) * g.DilationHeight, spanX = (g.KernelWidth - 1) * g.DilationWidth;
            sbyte* partial = stackalloc sbyte[ConvolutionGeometry.BlockChannels];
            for (int p = first; p < end; p++)
            {
                window.Origin(p, out int iy, out int ix);
                sbyte* pixel = output + p * channels;
                if (iy >= 0 && ix >= 0 && iy + spanY < g.InHeight && ix + spanX < g.InWidth)
                {
                    short* origin = wide + (iy * g.InWidth + ix) * stride;
                    for (int channel = 0; channel < channels; channel += TLanes.Lanes)
                    {
                        var acc = TLanes.Load(r.Bias + channel);
                        short* x = origin + channel;
                        int* w = weights + channel;
                        for (int t = 0; t < taps; t++, w += padded) acc = TLanes.MultiplyAddWidened(acc, x + offsets[t], w);
                        Store<TLanes, TVector>(pixel, acc, channel, channels, partial, r);
                    }
                    continue;
                }
                for (int t = 0; t < taps; t++) rows[t] = window.Pixel(iy + dy[t], ix + dx[t]);
                for (int channel = 0; channel < channels; channel += TLanes.Lanes)
                {
                    var acc = TLanes.Load(r.Bias + channel);
                    for (int t = 0; t < taps; t++)
                        if (rows[t] != window.Zero) acc = TLanes.MultiplyAddWidened(acc, rows[t] + channel, weights + t * padded + channel);
                    Store<TLanes, TVector>(pixel, acc, channel, channels, partial, r);
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
