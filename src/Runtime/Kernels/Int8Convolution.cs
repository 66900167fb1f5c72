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
            Run(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, default, g, depthwise: false, default, default);

        /// <summary>
        /// A dense convolution with a residual add fused into its output stage: y = Add(conv(x), skip) read from the add's
        /// table (<paramref name="residual"/>: the convolution's output as A, <paramref name="skip"/> as B), skip of y's shape.
        /// </summary>
        public static void Dense(ReadOnlySpan<sbyte> x, Span<sbyte> y, Span<short> scratch, ReadOnlySpan<int> weights,
            ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> leftShift, ReadOnlySpan<int> rightShift,
            in ConvolutionGeometry g, ReadOnlySpan<sbyte> skip, AddTable residual) =>
            Run(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, default, g, depthwise: false, skip, residual);

        /// <summary>A depthwise convolution (group = input channels = output channels).</summary>
        public static void Depthwise(ReadOnlySpan<sbyte> x, Span<sbyte> y, Span<short> scratch, ReadOnlySpan<int> weights,
            ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> leftShift, ReadOnlySpan<int> rightShift,
            in ConvolutionGeometry g) =>
            Run(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, default, g, depthwise: true, default, default);

        /// <summary>A depthwise convolution with a fused residual add, as the dense one.</summary>
        public static void Depthwise(ReadOnlySpan<sbyte> x, Span<sbyte> y, Span<short> scratch, ReadOnlySpan<int> weights,
            ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> leftShift, ReadOnlySpan<int> rightShift,
            in ConvolutionGeometry g, ReadOnlySpan<sbyte> skip, AddTable residual) =>
            Run(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, default, g, depthwise: true, skip, residual);

        /// <summary><see cref="Dense(ReadOnlySpan{sbyte}, Span{sbyte}, Span{short}, ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int}, in ConvolutionGeometry)"/> requantized in float (ONNX Runtime's arithmetic) with per-channel scales.</summary>
        public static void Dense(ReadOnlySpan<sbyte> x, Span<sbyte> y, Span<short> scratch, ReadOnlySpan<int> weights,
            ReadOnlySpan<int> bias, ReadOnlySpan<float> scale, in ConvolutionGeometry g) =>
            Run(x, y, scratch, weights, bias, default, default, default, scale, g, depthwise: false, default, default);

        /// <summary>A depthwise convolution requantized in float (ONNX Runtime's arithmetic) with per-channel scales.</summary>
        public static void Depthwise(ReadOnlySpan<sbyte> x, Span<sbyte> y, Span<short> scratch, ReadOnlySpan<int> weights,
            ReadOnlySpan<int> bias, ReadOnlySpan<float> scale, in ConvolutionGeometry g) =>
            Run(x, y, scratch, weights, bias, default, default, default, scale, g, depthwise: true, default, default);

        /// <summary>Fixed-point requantization when <paramref name="scale"/> is empty, float otherwise; a residual add fused when <paramref name="skip"/> is not empty.</summary>
        [SkipLocalsInit] // the requantization constants' buffer is written whole before it is read: no zeroing per call
        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loops: straight to optimized code, no tier-0 or OSR versions
        private static void Run(ReadOnlySpan<sbyte> x, Span<sbyte> y, Span<short> scratch, ReadOnlySpan<int> weights,
            ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> leftShift, ReadOnlySpan<int> rightShift,
            ReadOnlySpan<float> scale, in ConvolutionGeometry g, bool depthwise, ReadOnlySpan<sbyte> skip, AddTable? residual)
        {
            CheckBounds(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, scale, g, depthwise);
            CheckResidual(y, skip, g);
            var path = KernelPaths.Current;
            var kind = depthwise ? WorkKind.Depthwise : g.ByteGroup > 0 ? WorkKind.Bytes : WorkKind.Dense;
            // With patches the windows are the rows of one 1×1 convolution over the output plane (its weights are packed that way).
            var rows = g.Patches ? g.AsPatchGemm() : g;
            // The byte kernel's offset bytes are addressed as int16 pairs, so the window's pixel arithmetic serves both kernels.
            int stride = kind == WorkKind.Bytes ? 2 * rows.ChannelQuads : rows.WideStride(depthwise);
            var source = g.KernelRows ? RowSource.KernelRows : g.Patches ? RowSource.Patches : !depthwise && IsPointwise(g) ? RowSource.Pixels
                : depthwise && path != KernelPath.Scalar && g.InChannels % ConvolutionGeometry.BlockChannels == 0 ? RowSource.Input : RowSource.Prepared;
            if (source == RowSource.Prepared)
            {
                if (kind == WorkKind.Bytes) Offset(x, scratch, g, path != KernelPath.Scalar);
                else Widen(x, scratch, g, stride, path != KernelPath.Scalar);
            }
            if (source == RowSource.KernelRows) PadInput(x, scratch, g, path != KernelPath.Scalar);
            // With stride 1, the int8 input padded with z_in in the scratch, where it fits: every window then lies inside it (no
            // border pixels). A strided layer's input is several times its output, and copying it cost more than its borders (measured).
            bool padded = source == RowSource.Input && g.StrideHeight == 1 && g.StrideWidth == 1 && PadWithZeroPoint(x, MemoryMarshal.AsBytes(scratch), g, out rows);
            fixed (sbyte* input = x)
            fixed (short* wide = scratch)
            fixed (int* w = weights, b = bias, m = multiplier, ls = leftShift, rs = rightShift)
            fixed (float* s = scale)
            fixed (sbyte* output = y, residualSkip = skip)
            fixed (byte* residualTable = residual == null ? default : residual.Bytes)
            {
                byte* oneShift = stackalloc byte[Requantizer.OneShiftBytes(g, !scale.IsEmpty)];
                Dispatch(new Work(padded ? (sbyte*)wide : input, wide, w, output, new Requantizer(b, m, ls, rs, scale.IsEmpty ? null : s, g, oneShift, output, skip.IsEmpty ? null : residualSkip, residualTable),
                    g, rows, stride, kind, source, path));
            }
        }

        /// <summary>
        /// The int8 input that a depthwise layer's windows read, padded with z_in (x − z_in = 0, as the padding is) to the
        /// rows and columns from −PadTop, −PadLeft to the last window's bottom-right tap, written to <paramref name="target"/>
        /// if it fits there; <paramref name="geometry"/> is then the layer over the padded input, with no padding.
        /// </summary>
        private static bool PadWithZeroPoint(ReadOnlySpan<sbyte> x, Span<byte> target, in ConvolutionGeometry g, out ConvolutionGeometry geometry)
        {
            int height = (g.OutHeight - 1) * g.StrideHeight + (g.KernelHeight - 1) * g.DilationHeight + 1;
            int width = (g.OutWidth - 1) * g.StrideWidth + (g.KernelWidth - 1) * g.DilationWidth + 1, channels = g.InChannels;
            if ((long)height * width * channels > target.Length)
            {
                geometry = g;
                return false;
            }
            geometry = g with { InHeight = height, InWidth = width, PadTop = 0, PadLeft = 0 };
            var input = MemoryMarshal.AsBytes(x);
            byte zero = (byte)(sbyte)g.InputZeroPoint;
            int left = Math.Min(g.PadLeft, width), count = Math.Max(0, Math.Min(g.InWidth, width - left));
            for (int row = 0; row < height; row++)
            {
                var line = target.Slice(row * width * channels, width * channels);
                int iy = row - g.PadTop;
                if ((uint)iy >= (uint)g.InHeight || count == 0)
                {
                    line.Fill(zero);
                    continue;
                }
                line.Slice(0, left * channels).Fill(zero);
                input.Slice(iy * g.InWidth * channels, count * channels).CopyTo(line.Slice(left * channels));
                line.Slice((left + count) * channels).Fill(zero);
            }
            return true;
        }

        /// <summary>A fused residual add reads one skip element per output element: an empty skip means none is fused.</summary>
        internal static void CheckResidual(Span<sbyte> y, ReadOnlySpan<sbyte> skip, in ConvolutionGeometry g)
        {
            if (!skip.IsEmpty && (skip.Length < g.OutputPixels * g.OutChannels || y.Length < g.OutputPixels * g.OutChannels))
                throw new ArgumentException("The residual add's skip tensor does not match the convolution's output: the generated code and the runtime library do not match.");
        }

        /// <summary>Output pixel p reads input pixel p alone (1×1, stride 1, no padding): its row of the widened input is its whole reduction.</summary>
        private static bool IsPointwise(in ConvolutionGeometry g) =>
            g.KernelHeight == 1 && g.KernelWidth == 1 && g.StrideHeight == 1 && g.StrideWidth == 1 && g.PadTop == 0 && g.PadLeft == 0
            && g.OutHeight == g.InHeight && g.OutWidth == g.InWidth;

        private enum WorkKind { Dense, Depthwise, Bytes }

        /// <summary>
        /// Where the kernel's input rows come from: <see cref="Prepared"/>, the whole input widened (or offset) before the
        /// kernel runs, for windows that read neighbouring pixels; <see cref="KernelRows"/>, the whole input widened into a
        /// zero-padded copy whose kernel rows the windows read; otherwise the rows of a pointwise reduction, built a block
        /// of output pixels at a time just before the kernel reads them: the input pixels themselves (<see cref="Pixels"/>,
        /// a 1×1 convolution) or their windows (<see cref="Patches"/>, im2col); or, for a depthwise layer whose channels fill
        /// whole blocks, the int8 input itself (<see cref="Input"/>: no widening pass, the input zero-point folded into the bias).
        /// </summary>
        private enum RowSource { Prepared, KernelRows, Pixels, Patches, Input }

        /// <summary>Block rows up to about this many bytes: written and read back while they are still in L1.</summary>
        private const int BlockBytes = 16 * 1024;

        /// <summary>
        /// Tiles per block at least: each block runs every output channel, so all the weights are read once per block; long
        /// rows (a wide reduction) take bigger blocks, in L2, rather than reading a large weight matrix every few pixels.
        /// </summary>
        private const int MinimumBlockTiles = 8;

        /// <summary>One layer's kernel call over a range of output pixels: what a thread of the opt-in parallel mode runs.</summary>
        private readonly struct Work
        {
            private readonly sbyte* _input;
            private readonly short* _wide;
            private readonly int* _weights;
            private readonly sbyte* _output;
            private readonly Requantizer _r;
            private readonly ConvolutionGeometry _layer;
            private readonly int _stride;
            private readonly RowSource _source;

            /// <param name="layer">The layer's geometry; <paramref name="rows"/>: the one the kernel loops see (the patch GEMM with patches).</param>
            public Work(sbyte* input, short* wide, int* weights, sbyte* output, in Requantizer r, in ConvolutionGeometry layer, in ConvolutionGeometry rows,
                int stride, WorkKind kind, RowSource source, KernelPath path)
            {
                _input = input;
                _wide = wide;
                _weights = weights;
                _output = output;
                _r = r;
                _layer = layer;
                Geometry = rows;
                _stride = stride;
                _source = source;
                Kind = kind;
                Path = path;
            }

            public ConvolutionGeometry Geometry { get; }

            public KernelPath Path { get; }

            public WorkKind Kind { get; }

            /// <summary>
            /// Output pixels [first, end); the scalar kernels, the reference, always take the whole plane. Built rows go to
            /// this range's own part of the scratch (rows [first, end) of the whole plane's), a block at a time.
            /// </summary>
            public void Run(int first, int end)
            {
                if (_source is RowSource.Prepared or RowSource.KernelRows or RowSource.Input)
                {
                    Kernel(new Window(_wide, Geometry, _stride), first, end);
                    return;
                }
                bool vector = Path != KernelPath.Scalar;
                int block = vector ? Math.Max(MinimumBlockTiles, BlockBytes / (2 * _stride) / TilePixels) * TilePixels : end - first;
                short* rows = _wide + (long)first * _stride;
                for (int b = first; b < end; b += block)
                {
                    int blockEnd = Math.Min(end, b + block);
                    switch (_source, Kind)
                    {
                        case (RowSource.Patches, WorkKind.Bytes): Patches<byte, OffsetCell>(_input, (byte*)rows, _layer, 2 * _stride, b, blockEnd, vector); break;
                        case (RowSource.Patches, _): Patches<short, WidenedCell>(_input, rows, _layer, _stride, b, blockEnd, vector); break;
                        case (_, WorkKind.Bytes): Offset(_input + (long)b * _layer.InChannels, (byte*)rows, blockEnd - b, _layer.InChannels, 2 * _stride, vector); break;
                        default: Widen(_input + (long)b * _layer.InChannels, rows, blockEnd - b, _layer.InChannels, _stride, _layer.InputZeroPoint, vector); break;
                    }
                    Kernel(new Window(rows, b, Geometry, _stride), b, blockEnd);
                }
            }

            private void Kernel(in Window window, int first, int end)
            {
                var g = Geometry;
                var source = _source;
                switch (Path, Kind)
                {
                    case (KernelPath.Vector512, WorkKind.Dense): Tiled<DenseTileLoop, Lanes512, Vector512<int>>(window, _weights, _output, _r, g, source, first, end); break;
                    case (KernelPath.Vector512, WorkKind.Depthwise): Depthwise<Lanes512, Vector512<int>>(_input, _wide, _source == RowSource.Input, _weights, _output, _r, g, _stride, first, end); break;
                    case (KernelPath.Vector512, WorkKind.Bytes): Tiled<ByteTileLoop, Lanes512, Vector512<int>>(window, _weights, _output, _r, g, source, first, end); break;
                    case (KernelPath.Vector256, WorkKind.Dense): Tiled<DenseTileLoop, Lanes256, Vector256<int>>(window, _weights, _output, _r, g, source, first, end); break;
                    case (KernelPath.Vector256, WorkKind.Depthwise): Depthwise<Lanes256, Vector256<int>>(_input, _wide, _source == RowSource.Input, _weights, _output, _r, g, _stride, first, end); break;
                    case (KernelPath.Vector256, WorkKind.Bytes): Tiled<ByteTileLoop, Lanes256, Vector256<int>>(window, _weights, _output, _r, g, source, first, end); break;
                    case (KernelPath.Vector128, WorkKind.Dense): Tiled<DenseTileLoop, Lanes128, Vector128<int>>(window, _weights, _output, _r, g, source, first, end); break;
                    case (KernelPath.Vector128, WorkKind.Depthwise): Depthwise<Lanes128, Vector128<int>>(_input, _wide, _source == RowSource.Input, _weights, _output, _r, g, _stride, first, end); break;
                    case (KernelPath.Vector128, WorkKind.Bytes): Tiled<ByteTileLoop, Lanes128, Vector128<int>>(window, _weights, _output, _r, g, source, first, end); break;
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
                || g.Taps > MaxTaps || (depthwise && g.InChannels != g.OutChannels)
                || (g.KernelRows && (depthwise || g.Patches || g.ByteGroup > 0 || g.DilationWidth != 1)))
                throw new ArgumentException("Convolution buffers do not match their geometry: the generated code and the runtime library do not match.");
        }

        /// <summary>How one input value is stored in a row of the window: widened with the zero-point subtracted, or offset to uint8.</summary>
        private interface IPatchCell<T> where T : unmanaged
        {
            static abstract T Of(sbyte x, int zeroPoint);

            /// <summary>A tap in the padding.</summary>
            static abstract T Padding(int zeroPoint);

            /// <summary>Sixteen consecutive values at once (128-bit vectors, every vector path).</summary>
            static abstract void Sixteen(sbyte* source, T* target, int zeroPoint);
        }

        /// <summary>The exact int16 kernel's cells: x − z_in, padding 0.</summary>
        private readonly struct WidenedCell : IPatchCell<short>
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static short Of(sbyte x, int zeroPoint) => (short)(x - zeroPoint);

            public static short Padding(int zeroPoint) => 0;

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static void Sixteen(sbyte* source, short* target, int zeroPoint)
            {
                var bytes = Vector128.Load(source);
                var z = Vector128.Create((short)zeroPoint);
                (Vector128.WidenLower(bytes) - z).Store(target);
                (Vector128.WidenUpper(bytes) - z).Store(target + 8);
            }
        }

        /// <summary>The byte kernel's cells: x + 128 as uint8 (the sign bit flipped), padding z_in + 128 (the bias accounts for it).</summary>
        private readonly struct OffsetCell : IPatchCell<byte>
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static byte Of(sbyte x, int zeroPoint) => (byte)(x ^ 0x80);

            public static byte Padding(int zeroPoint) => (byte)(zeroPoint + 128);

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static void Sixteen(sbyte* source, byte* target, int zeroPoint) =>
                (Vector128.Load((byte*)source) ^ Vector128.Create((byte)0x80)).Store(target);
        }

        /// <summary>Stack cells for the kh converted input lines of <see cref="Patches{T, TCell}"/>.</summary>
        private const int MaxLineCells = 8192;

        /// <summary>
        /// im2col for <see cref="ConvolutionGeometry.Patches"/>, output pixels [first, end): per pixel one row of
        /// <paramref name="rowLength"/> cells from <paramref name="rows"/> on, tap t's channels at t·C, then the tail past
        /// the window 0 (its weights are 0). With dilation 1 across, the kh input lines of the current output row are
        /// converted once, padding included, and every window's kernel rows are copied from them in 16-byte chunks
        /// (overlapping windows no longer convert each input cell once per window); otherwise, or when the lines do not fit
        /// on the stack, each kernel row's valid taps are converted over a row of padding cells.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Patches<T, TCell>(sbyte* input, T* rows, in ConvolutionGeometry g, int rowLength, int first, int end, bool vector)
            where T : unmanaged where TCell : struct, IPatchCell<T>
        {
            int channels = g.InChannels, kh = g.KernelHeight, kw = g.KernelWidth, dw = g.DilationWidth, window = g.Taps * channels, zero = g.InputZeroPoint;
            var padding = TCell.Padding(zero);
            int run = kw * channels, chunk = 16 / sizeof(T);
            // A line holds every input cell the output row's windows read, from column −PadLeft on, plus one chunk of slack.
            int lineCells = ((g.OutWidth - 1) * g.StrideWidth + kw) * channels + chunk;
            bool lines = dw == 1 && kh * lineCells <= MaxLineCells;
            T* line = stackalloc T[lines ? kh * lineCells : 0];
            if (lines)
            {
                PatchesFromLines<T, TCell>(input, rows, g, rowLength, first, end, line, lineCells, vector);
                return;
            }
            int oy = first / g.OutWidth, ox = first - oy * g.OutWidth;
            T* row = rows;
            for (int p = first; p < end; p++, row += rowLength)
            {
                int iy0 = oy * g.StrideHeight - g.PadTop, ix0 = ox * g.StrideWidth - g.PadLeft;
                for (int i = window; i < rowLength; i++) row[i] = default;
                new Span<T>(row, window).Fill(padding);
                // Kernel columns [firstColumn, lastColumn) fall inside the image.
                int firstColumn = ix0 >= 0 ? 0 : (-ix0 + dw - 1) / dw;
                int lastColumn = Math.Min(kw, ix0 >= g.InWidth ? 0 : (g.InWidth - 1 - ix0) / dw + 1);
                for (int ky = 0; ky < kh; ky++)
                {
                    int iy = iy0 + ky * g.DilationHeight;
                    if ((uint)iy >= (uint)g.InHeight) continue;
                    sbyte* source = input + (iy * g.InWidth + ix0) * channels;
                    T* target = row + ky * run;
                    if (dw == 1)
                    {
                        int i = firstColumn * channels, runEnd = lastColumn * channels;
                        if (vector)
                            for (; i + 16 <= runEnd; i += 16) TCell.Sixteen(source + i, target + i, zero);
                        for (; i < runEnd; i++) target[i] = TCell.Of(source[i], zero);
                    }
                    else
                        for (int kx = firstColumn; kx < lastColumn; kx++)
                            for (int c = 0; c < channels; c++)
                                target[kx * channels + c] = TCell.Of(source[kx * dw * channels + c], zero);
                }
                if (++ox == g.OutWidth) { ox = 0; oy++; }
            }
        }

        /// <summary>
        /// The line path of <see cref="Patches{T, TCell}"/>: per output row its kh input lines, then every window's kernel
        /// rows copied from them in 16-byte chunks. A chunk copy spills up to a chunk past its run, into the next runs, the
        /// tail or the next rows, all written after; the rows near the end of the block, whose spill would leave it, go cell by cell.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void PatchesFromLines<T, TCell>(sbyte* input, T* rows, in ConvolutionGeometry g, int rowLength, int first, int end, T* line, int lineCells, bool vector)
            where T : unmanaged where TCell : struct, IPatchCell<T>
        {
            int kh = g.KernelHeight, run = g.KernelWidth * g.InChannels, window = kh * run, outWidth = g.OutWidth, step = g.StrideWidth * g.InChannels;
            int chunk = 16 / sizeof(T), written = (run + chunk - 1) / chunk * chunk;
            // Offsets of rows whose chunk copies all land inside the block.
            int lastSafe = (end - first) * rowLength - (kh - 1) * run - written;
            int oy = first / outWidth, ox = first - oy * outWidth;
            T* row = rows;
            for (int p = first, offset = 0; p < end; p++, offset += rowLength, row += rowLength)
            {
                if (p == first || ox == 0)
                    for (int ky = 0; ky < kh; ky++)
                        Line<T, TCell>(input, line + ky * lineCells, lineCells, oy * g.StrideHeight - g.PadTop + ky * g.DilationHeight, g, vector);
                T* source = line + ox * step;
                if (vector && offset <= lastSafe)
                    for (int ky = 0; ky < kh; ky++)
                    {
                        byte* from = (byte*)(source + ky * lineCells), to = (byte*)(row + ky * run);
                        for (int k = 0; k < run; k += chunk, from += 16, to += 16) Vector128.Load(from).Store(to);
                    }
                else
                    for (int ky = 0; ky < kh; ky++)
                        for (int k = 0; k < run; k++) row[ky * run + k] = source[ky * lineCells + k];
                for (int i = window; i < rowLength; i++) row[i] = default;
                if (++ox == outWidth) { ox = 0; oy++; }
            }
        }

        /// <summary>Input row <paramref name="iy"/> as cells from column −PadLeft on, padding cells outside the image.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Line<T, TCell>(sbyte* input, T* line, int lineCells, int iy, in ConvolutionGeometry g, bool vector)
            where T : unmanaged where TCell : struct, IPatchCell<T>
        {
            int channels = g.InChannels, zero = g.InputZeroPoint;
            new Span<T>(line, lineCells).Fill(TCell.Padding(zero));
            if ((uint)iy >= (uint)g.InHeight) return;
            int start = g.PadLeft * channels, count = Math.Min(lineCells - start, g.InWidth * channels);
            sbyte* source = input + iy * g.InWidth * channels;
            T* target = line + start;
            int i = 0;
            if (vector)
                for (; i + 16 <= count; i += 16) TCell.Sixteen(source + i, target + i, zero);
            for (; i < count; i++) target[i] = TCell.Of(source[i], zero);
        }

        /// <summary>The whole input widened for a windowed kernel, then the zero pixel that padding taps read.</summary>
        private static void Widen(ReadOnlySpan<sbyte> x, Span<short> wide, in ConvolutionGeometry g, int stride, bool vector)
        {
            int pixels = g.InHeight * g.InWidth;
            fixed (sbyte* source = x)
            fixed (short* target = wide)
                Widen(source, target, pixels, g.InChannels, stride, g.InputZeroPoint, vector);
            wide.Slice(pixels * stride, stride).Clear();
        }

        /// <summary>
        /// The padded input that <see cref="ConvolutionGeometry.KernelRows"/> windows read: row r is input row r − PadTop from
        /// column −PadLeft on, x − z_in per cell, 0 in the padding (real 0) and in the cell past the last window.
        /// </summary>
        private static void PadInput(ReadOnlySpan<sbyte> x, Span<short> scratch, in ConvolutionGeometry g, bool vector)
        {
            int rowCells = g.PaddedRowCells, channels = g.InChannels, left = Math.Min(g.PadLeft * channels, rowCells);
            int count = Math.Max(0, Math.Min(g.InWidth * channels, rowCells - left));
            for (int r = 0; r < g.PaddedHeight; r++)
            {
                var line = scratch.Slice(r * rowCells, rowCells);
                int iy = r - g.PadTop;
                if ((uint)iy >= (uint)g.InHeight || count == 0)
                {
                    line.Clear();
                    continue;
                }
                line.Slice(0, left).Clear();
                fixed (sbyte* source = x)
                fixed (short* target = line)
                    Widen(source + iy * g.InWidth * channels, target + left, 1, count, count, g.InputZeroPoint, vector);
                line.Slice(left + count).Clear();
            }
        }

        /// <summary>x − z_in as int16 for <paramref name="pixels"/> pixels, one every <paramref name="stride"/> elements, padding channels 0.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Widen(sbyte* source, short* target, int pixels, int channels, int stride, int zero, bool vector)
        {
            if (stride == channels)
            {
                int n = pixels * channels, i = 0;
                if (vector)
                {
                    var z = Vector128.Create((short)zero);
                    for (; i + 16 <= n; i += 16)
                    {
                        var bytes = Vector128.Load(source + i);
                        (Vector128.WidenLower(bytes) - z).Store(target + i);
                        (Vector128.WidenUpper(bytes) - z).Store(target + i + 8);
                    }
                }
                for (; i < n; i++) target[i] = (short)(source[i] - zero);
                return;
            }
            for (int p = 0; p < pixels; p++, source += channels, target += stride)
            {
                for (int c = 0; c < channels; c++) target[c] = (short)(source[c] - zero);
                for (int c = channels; c < stride; c++) target[c] = 0;
            }
        }

        /// <summary>The whole input offset for a windowed byte kernel, then the pixel that padding taps read, z_in + 128 in every byte.</summary>
        private static void Offset(ReadOnlySpan<sbyte> x, Span<short> scratch, in ConvolutionGeometry g, bool vector)
        {
            var bytes = MemoryMarshal.AsBytes(scratch);
            int pixels = g.InHeight * g.InWidth, stride = 4 * g.ChannelQuads;
            fixed (sbyte* source = x)
            fixed (byte* target = bytes)
                Offset(source, target, pixels, g.InChannels, stride, vector);
            bytes.Slice(pixels * stride, stride).Fill((byte)(g.InputZeroPoint + 128));
        }

        /// <summary>
        /// x + 128 as uint8 (the sign bit flipped) for <paramref name="pixels"/> pixels, <paramref name="stride"/> bytes per
        /// pixel, padding channels 0 (their weights are 0).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Offset(sbyte* source, byte* target, int pixels, int channels, int stride, bool vector)
        {
            if (stride == channels)
            {
                int n = pixels * channels, i = 0;
                if (vector)
                    for (; i + 16 <= n; i += 16)
                        (Vector128.Load((byte*)source + i) ^ Vector128.Create((byte)0x80)).Store(target + i);
                for (; i < n; i++) target[i] = (byte)(source[i] ^ 0x80);
                return;
            }
            for (int p = 0; p < pixels; p++, source += channels, target += stride)
            {
                for (int c = 0; c < channels; c++) target[c] = (byte)(source[c] ^ 0x80);
                for (int c = channels; c < stride; c++) target[c] = 0;
            }
        }

        /// <summary>The input window of the output pixels, as offsets: tap t reads input (iy0 + dy[t], ix0 + dx[t]).</summary>
        private readonly struct Window
        {
            private readonly short* _wide, _zero;
            private readonly int _inHeight, _inWidth, _outWidth, _stride, _strideH, _strideW, _padTop, _padLeft, _firstRow, _rowCells, _channels, _across, _down;

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
                _firstRow = 0;
                _rowCells = g.PaddedRowCells;
                _channels = g.InChannels;
                KernelRowStep = g.DilationHeight * _rowCells;
                _across = g.StrideWidth * _channels;
                _down = g.StrideHeight * _rowCells - (g.OutWidth - 1) * _across;
            }

            /// <summary>A pointwise reduction's rows of output pixels from <paramref name="firstRow"/> on, built at <paramref name="rows"/> (read through <see cref="Row"/>).</summary>
            public Window(short* rows, int firstRow, in ConvolutionGeometry g, int stride) : this(rows, g, stride) => _firstRow = firstRow;

            public short* Zero => _zero;

            /// <summary>With kernel rows: cells from one kernel row of a window to the next in the padded input.</summary>
            public int KernelRowStep { get; }

            /// <summary>With kernel rows: the first cell of output pixel <paramref name="pixel"/>'s window (its top kernel row) in the padded input.</summary>
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public short* KernelRow(int pixel)
            {
                int oy = pixel / _outWidth;
                return _wide + oy * _strideH * _rowCells + (pixel - oy * _outWidth) * _strideW * _channels;
            }

            /// <summary>With kernel rows: <see cref="KernelRow"/> of the pixel after the one at <paramref name="column"/> (which moves to it), without a division.</summary>
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public short* NextKernelRow(short* origin, ref int column)
            {
                if (++column < _outWidth) return origin + _across;
                column = 0;
                return origin + _down;
            }

            /// <summary>The row of output pixel <paramref name="pixel"/> in a pointwise reduction.</summary>
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public short* Row(int pixel) => _wide + (pixel - _firstRow) * _stride;


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
        /// How a tile loop finds its input rows: a pointwise reduction's rows (one per output pixel, no taps, no padding), the
        /// window's taps, or the window's kernel rows in the padded input (taps are kernel rows, never in the padding).
        /// </summary>
        private interface IRowAddressing
        {
            static abstract bool Pointwise { get; }

            static abstract bool KernelRows { get; }
        }

        private readonly struct PointwiseRows : IRowAddressing
        {
            public static bool Pointwise => true;

            public static bool KernelRows => false;
        }

        private readonly struct WindowRows : IRowAddressing
        {
            public static bool Pointwise => false;

            public static bool KernelRows => false;
        }

        private readonly struct PaddedKernelRows : IRowAddressing
        {
            public static bool Pointwise => false;

            public static bool KernelRows => true;
        }

        /// <summary>The register-tile loop of a dense kernel over one vector or a pair of vectors of output channels, written once per arithmetic.</summary>
        private interface ITileLoop
        {
            static abstract void Tiles<TLanes, TVector, TWidth, THeight, TRows>(in Window window, int* dy, int* dx, int* weights, sbyte* output,
                sbyte* partial, TVector* tile, int* tilePixels, in Requantizer r, in ConvolutionGeometry g, int channel, int first, int end)
                where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged
                where TWidth : struct, ITileSize where THeight : struct, ITileSize where TRows : struct, IRowAddressing;
        }

        private readonly struct DenseTileLoop : ITileLoop
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static void Tiles<TLanes, TVector, TWidth, THeight, TRows>(in Window window, int* dy, int* dx, int* weights, sbyte* output,
                sbyte* partial, TVector* tile, int* tilePixels, in Requantizer r, in ConvolutionGeometry g, int channel, int first, int end)
                where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged
                where TWidth : struct, ITileSize where THeight : struct, ITileSize where TRows : struct, IRowAddressing =>
                DenseTiles<TLanes, TVector, TWidth, THeight, TRows>(window, dy, dx, weights, output, partial, tile, tilePixels, r, g, channel, first, end);
        }

        private readonly struct ByteTileLoop : ITileLoop
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static void Tiles<TLanes, TVector, TWidth, THeight, TRows>(in Window window, int* dy, int* dx, int* weights, sbyte* output,
                sbyte* partial, TVector* tile, int* tilePixels, in Requantizer r, in ConvolutionGeometry g, int channel, int first, int end)
                where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged
                where TWidth : struct, ITileSize where THeight : struct, ITileSize where TRows : struct, IRowAddressing =>
                ByteTiles<TLanes, TVector, TWidth, THeight, TRows>(window, dy, dx, weights, output, partial, tile, tilePixels, r, g, channel, first, end);
        }

        /// <summary>
        /// A dense convolution as an implicit GEMM: output channels in tiles of two vectors (one for the last odd
        /// vector), output pixels in tiles of <see cref="TilePixels"/>, each tile's accumulators in registers across
        /// all taps and input channels, over output pixels [first, end). Tiles past the end repeat its last pixel (same
        /// values, same place). <typeparamref name="TLoop"/> is the exact int16 kernel or the byte kernel.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Tiled<TLoop, TLanes, TVector>(in Window window, int* weights, sbyte* output, in Requantizer r, in ConvolutionGeometry g, RowSource source, int first, int end)
            where TLoop : struct, ITileLoop where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged
        {
            // The byte kernel never has kernel rows (CheckBounds).
            if (source == RowSource.Prepared) Tiled<TLoop, TLanes, TVector, WindowRows>(window, weights, output, r, g, first, end);
            else if (source == RowSource.KernelRows) Tiled<DenseTileLoop, TLanes, TVector, PaddedKernelRows>(window, weights, output, r, g, first, end);
            else Tiled<TLoop, TLanes, TVector, PointwiseRows>(window, weights, output, r, g, first, end);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Tiled<TLoop, TLanes, TVector, TRows>(in Window window, int* weights, sbyte* output, in Requantizer r, in ConvolutionGeometry g, int first, int end)
            where TLoop : struct, ITileLoop where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged where TRows : struct, IRowAddressing
        {
            int* dy = stackalloc int[g.Taps];
            int* dx = stackalloc int[g.Taps];
            Window.Taps(g, dy, dx);
            sbyte* partial = stackalloc sbyte[ConvolutionGeometry.BlockChannels];
            TVector* tile = stackalloc TVector[2 * TilePixels];
            int* tilePixels = stackalloc int[TilePixels];
            int vectors = (g.OutChannels + TLanes.Lanes - 1) / TLanes.Lanes, v = 0;
            // Fewer pixels than a tile (a Gemm, a tiny image): one-pixel tiles instead of six copies of the same pixel.
            bool six = end - first >= TilePixels;
            for (; v + 2 <= vectors; v += 2)
                if (six) TLoop.Tiles<TLanes, TVector, TwoVectors, SixPixels, TRows>(window, dy, dx, weights, output, partial, tile, tilePixels, r, g, v * TLanes.Lanes, first, end);
                else TLoop.Tiles<TLanes, TVector, TwoVectors, OnePixel, TRows>(window, dy, dx, weights, output, partial, tile, tilePixels, r, g, v * TLanes.Lanes, first, end);
            if (v < vectors)
                if (six) TLoop.Tiles<TLanes, TVector, OneVector, SixPixels, TRows>(window, dy, dx, weights, output, partial, tile, tilePixels, r, g, v * TLanes.Lanes, first, end);
                else TLoop.Tiles<TLanes, TVector, OneVector, OnePixel, TRows>(window, dy, dx, weights, output, partial, tile, tilePixels, r, g, v * TLanes.Lanes, first, end);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void DenseTiles<TLanes, TVector, TWidth, THeight, TRows>(in Window window, int* dy, int* dx, int* weights, sbyte* output,
            sbyte* partial, TVector* tile, int* tilePixels, in Requantizer r, in ConvolutionGeometry g, int channel, int first, int end)
            where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged
            where TWidth : struct, ITileSize where THeight : struct, ITileSize where TRows : struct, IRowAddressing
        {
            bool two = TWidth.Count == 2, six = THeight.Count == TilePixels, pointwise = TRows.Pointwise, kernelRows = TRows.KernelRows;
            int lanes = TLanes.Lanes, pairs = g.ReductionPairs, taps = pointwise ? 1 : g.WeightTaps, outChannels = g.OutChannels, rowStep = window.KernelRowStep;
            const int Block = ConvolutionGeometry.BlockChannels;
            int tapWeights = pairs * Block, blockWeights = taps * tapWeights;
            int channel1 = channel + lanes;
            // Weights are [block][tap][pair][16 channels]: a vector of channels starts at its block plus its lane.
            int* weights0 = weights + channel / Block * blockWeights + channel % Block;
            int* weights1 = weights + channel1 / Block * blockWeights + channel1 % Block;
            int* bias = r.Bias;
            short* zero = window.Zero;
            int last = end - 1;
            // With kernel rows, the window of pixel p and p's column in its output row.
            short* next = kernelRows ? window.KernelRow(first) : null;
            int column = first % g.OutWidth;
            for (int p = first; p < end; p += THeight.Count)
            {
                int q0 = p, q1 = Math.Min(p + 1, last), q2 = Math.Min(p + 2, last);
                int q3 = Math.Min(p + 3, last), q4 = Math.Min(p + 4, last), q5 = Math.Min(p + 5, last);
                int y0 = 0, x0 = 0, y1 = 0, x1 = 0, y2 = 0, x2 = 0, y3 = 0, x3 = 0, y4 = 0, x4 = 0, y5 = 0, x5 = 0;
                short* o0 = null, o1 = null, o2 = null, o3 = null, o4 = null, o5 = null;
                if (kernelRows && p + THeight.Count <= end)
                {
                    // Whole tiles walk the plane: a division per tile instead of one per pixel.
                    o0 = next;
                    if (six)
                    {
                        o1 = window.NextKernelRow(o0, ref column); o2 = window.NextKernelRow(o1, ref column); o3 = window.NextKernelRow(o2, ref column);
                        o4 = window.NextKernelRow(o3, ref column); o5 = window.NextKernelRow(o4, ref column);
                    }
                    next = window.NextKernelRow(six ? o5 : o0, ref column);
                }
                else if (kernelRows)
                {
                    o0 = window.KernelRow(q0); o1 = window.KernelRow(q1); o2 = window.KernelRow(q2);
                    o3 = window.KernelRow(q3); o4 = window.KernelRow(q4); o5 = window.KernelRow(q5);
                }
                else if (!pointwise)
                {
                    window.Origin(q0, out y0, out x0); window.Origin(q1, out y1, out x1);
                    window.Origin(q2, out y2, out x2); window.Origin(q3, out y3, out x3);
                    window.Origin(q4, out y4, out x4); window.Origin(q5, out y5, out x5);
                }
                var a0 = TLanes.Load(bias + channel); var a1 = a0; var a2 = a0; var a3 = a0; var a4 = a0; var a5 = a0;
                var b0 = two ? TLanes.Load(bias + channel1) : default; var b1 = b0; var b2 = b0; var b3 = b0; var b4 = b0; var b5 = b0;
                for (int t = 0; t < taps; t++)
                {
                    short* r0, r1, r2, r3, r4, r5;
                    if (pointwise)
                    {
                        r0 = window.Row(q0); r1 = window.Row(q1); r2 = window.Row(q2);
                        r3 = window.Row(q3); r4 = window.Row(q4); r5 = window.Row(q5);
                    }
                    else if (kernelRows)
                    {
                        int step = t * rowStep;
                        r0 = o0 + step; r1 = o1 + step; r2 = o2 + step; r3 = o3 + step; r4 = o4 + step; r5 = o5 + step;
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
        /// The byte kernel's tiles (see <see cref="Tiled{TLoop, TLanes, TVector}"/>): per tap, runs of ByteGroup quads are
        /// summed in int16 registers (uint8 × int8 pairs, vpmaddubsw, then int16 adds), and each run's sums are widened
        /// into the tile's int32 accumulators (vpmaddwd by ones). The compiler chose ByteGroup so that no pair and no run
        /// can leave int16 for any input. The bias it bakes already holds −(z_in + 128)·Σw, so acc = bias + Σ w·(x + 128) is
        /// the exact accumulator; padding taps are not skipped: they read the z_in + 128 pixel the bias accounts for.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void ByteTiles<TLanes, TVector, TWidth, THeight, TRows>(in Window window, int* dy, int* dx, int* weights, sbyte* output,
            sbyte* partial, TVector* tile, int* tilePixels, in Requantizer r, in ConvolutionGeometry g, int channel, int first, int end)
            where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged
            where TWidth : struct, ITileSize where THeight : struct, ITileSize where TRows : struct, IRowAddressing
        {
            bool two = TWidth.Count == 2, six = THeight.Count == TilePixels, pointwise = TRows.Pointwise;
            int lanes = TLanes.Lanes, quads = g.ChannelQuads, taps = pointwise ? 1 : g.Taps, group = g.ByteGroup;
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
                int y0 = 0, x0 = 0, y1 = 0, x1 = 0, y2 = 0, x2 = 0, y3 = 0, x3 = 0, y4 = 0, x4 = 0, y5 = 0, x5 = 0;
                if (!pointwise)
                {
                    window.Origin(q0, out y0, out x0); window.Origin(q1, out y1, out x1);
                    window.Origin(q2, out y2, out x2); window.Origin(q3, out y3, out x3);
                    window.Origin(q4, out y4, out x4); window.Origin(q5, out y5, out x5);
                }
                var bias0 = TLanes.Load(r.Bias + channel);
                var bias1 = two ? TLanes.Load(r.Bias + channel1) : default;
                for (int i = 0; i < TilePixels; i++) { tile[i] = bias0; tile[TilePixels + i] = bias1; }
                for (int t = 0; t < taps; t++)
                {
                    byte* r0, r1, r2, r3, r4, r5;
                    if (pointwise)
                    {
                        r0 = (byte*)window.Row(q0); r1 = (byte*)window.Row(q1); r2 = (byte*)window.Row(q2);
                        r3 = (byte*)window.Row(q3); r4 = (byte*)window.Row(q4); r5 = (byte*)window.Row(q5);
                    }
                    else
                    {
                        r0 = (byte*)window.Pixel(y0 + dy[t], x0 + dx[t]); r1 = (byte*)window.Pixel(y1 + dy[t], x1 + dx[t]);
                        r2 = (byte*)window.Pixel(y2 + dy[t], x2 + dx[t]); r3 = (byte*)window.Pixel(y3 + dy[t], x3 + dx[t]);
                        r4 = (byte*)window.Pixel(y4 + dy[t], x4 + dx[t]); r5 = (byte*)window.Pixel(y5 + dy[t], x5 + dx[t]);
                    }
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
                    r.StoreScalar(output + p * g.OutChannels + m, acc, m);
                }
            }
        }

        [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
        private static void StoreTile<TLanes, TVector>(TVector* tile, int* pixels, int vectors, int count, sbyte* output, int channel, int outChannels,
            sbyte* partial, in Requantizer r)
            where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged
        {
            for (int v = 0; v < vectors; v++)
            {
                int first = channel + v * TLanes.Lanes;
                TLanes.Finish(tile + v * TilePixels, count, first, r);
                for (int i = 0; i < count; i++)
                {
                    sbyte* pixel = output + pixels[i] * outChannels;
                    if (first + TLanes.Lanes <= outChannels)
                    {
                        if (r.HasResidual) tile[v * TilePixels + i] = TLanes.AddResidual(tile[v * TilePixels + i], pixel + first + r.SkipOffset, r);
                        TLanes.StoreFinished(pixel + first, tile[v * TilePixels + i]);
                        continue;
                    }
                    if (r.HasResidual)
                        tile[v * TilePixels + i] = TLanes.AddResidual(tile[v * TilePixels + i], SkipCopy(pixel + first + r.SkipOffset, outChannels - first, partial), r);
                    // Lanes past the last output channel (padding) would land on the next pixel.
                    TLanes.StoreFinished(partial, tile[v * TilePixels + i]);
                    for (int c = first; c < outChannels; c++) pixel[c] = partial[c - first];
                }
            }
        }

        /// <summary>
        /// Stores the channels of one vector that exist: lanes past the last output channel (padding) would land on
        /// the next pixel, so a vector that straddles the end goes through <paramref name="partial"/>.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static void Store<TLanes, TVector>(sbyte* pixel, TVector acc, int channel, int outChannels, sbyte* partial, in Requantizer r)
            where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged
        {
            if (r.HasResidual) StoreWithResidual<TLanes, TVector>(pixel, acc, channel, outChannels, partial, r);
            else StorePlain<TLanes, TVector>(pixel, acc, channel, outChannels, partial, r);
        }

        /// <summary><see cref="Store"/> without a residual add.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void StorePlain<TLanes, TVector>(sbyte* pixel, TVector acc, int channel, int outChannels, sbyte* partial, in Requantizer r)
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

        /// <summary>
        /// <see cref="Store"/> with the fused residual add; out of line, so that the loops that inline <see cref="Store"/>
        /// (Winograd) carry none of the add's code.
        /// </summary>
        [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
        private static void StoreWithResidual<TLanes, TVector>(sbyte* pixel, TVector acc, int channel, int outChannels, sbyte* partial, in Requantizer r)
            where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged
        {
            sbyte* skip = pixel + channel + r.SkipOffset;
            if (channel + TLanes.Lanes <= outChannels)
            {
                TLanes.StoreWithResidual(pixel + channel, acc, channel, skip, r);
                return;
            }
            TLanes.StoreWithResidual(partial, acc, channel, SkipCopy(skip, outChannels - channel, partial), r);
            for (int i = channel; i < outChannels; i++) pixel[i] = partial[i - channel];
        }

        /// <summary>
        /// The skip bytes of a vector that straddles the last output channel, copied into <paramref name="buffer"/> (past
        /// them lies the next pixel's or the end of the skip tensor), so that a whole vector of them can be read.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static sbyte* SkipCopy(sbyte* skip, int count, sbyte* buffer)
        {
            for (int c = 0; c < count; c++) buffer[c] = skip[c];
            return buffer;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void DenseScalar(short* wide, short* weights, sbyte* output, in Requantizer r, in ConvolutionGeometry g, int stride)
        {
            int pairs = g.ReductionPairs, taps = g.WeightTaps;
            var window = new Window(wide, g, stride);
            int* dy = stackalloc int[g.Taps];
            int* dx = stackalloc int[g.Taps];
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
                        short* row = g.KernelRows ? window.KernelRow(p) + t * window.KernelRowStep : window.Pixel(iy + dy[t], ix + dx[t]);
                        for (int c = 0; c < 2 * pairs; c++)
                            acc += row[c] * weights[2 * ((((long)block * taps + t) * pairs + c / 2) * ConvolutionGeometry.BlockChannels + lane) + (c & 1)];
                    }
                    r.StoreScalar(output + p * g.OutChannels + m, acc, m);
                }
            }
        }

        /// <summary>
        /// Depthwise: channels are the lanes. Each output row is walked once: the pixels whose window reaches into the
        /// padding (the border) one at a time, every tap looked up; the run between them, whose windows lie inside the image,
        /// by <see cref="DepthwiseRun"/>, a channel vector at a time across its pixels. The taps read the widened input
        /// (x − z_in, padding taps skipped), or with <paramref name="raw"/> the int8 input itself (no widening pass): then the
        /// bias starts at bias − z_in·Σw and a padding tap adds z_in·w back (exact: int32 sums wrap alike in any order).
        /// </summary>
        private static void Depthwise<TLanes, TVector>(sbyte* input, short* wide, bool raw, int* weights, sbyte* output, in Requantizer r, in ConvolutionGeometry g,
            int stride, int first, int end)
            where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged
        {
            if (raw) DepthwiseRows<TLanes, TVector, RawInput>((byte*)input, g.InChannels, weights, output, r, g, first, end);
            else DepthwiseRows<TLanes, TVector, WidenedInput>((byte*)wide, stride * sizeof(short), weights, output, r, g, first, end);
        }

        /// <summary>What the depthwise kernel reads: a type, so that each kind gets its own loops.</summary>
        private interface IDepthwiseInput
        {
            static abstract int ElementBytes { get; }

            /// <summary>Whether z_in is folded into the sums (the int8 input), rather than subtracted from the input (x − z_in, padding 0).</summary>
            static abstract bool FoldsZeroPoint { get; }

            static abstract TVector MultiplyAdd<TLanes, TVector>(TVector acc, byte* x, int* w) where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged;
        }

        /// <summary>The widened input: x − z_in as int16, a block of channels per pixel.</summary>
        private readonly struct WidenedInput : IDepthwiseInput
        {
            public static int ElementBytes => sizeof(short);

            public static bool FoldsZeroPoint => false;

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TVector MultiplyAdd<TLanes, TVector>(TVector acc, byte* x, int* w) where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged =>
                TLanes.MultiplyAddWidened(acc, (short*)x, w);
        }

        /// <summary>The int8 input as it is, when its channels fill whole blocks (so that no vector reads past a pixel).</summary>
        private readonly struct RawInput : IDepthwiseInput
        {
            public static int ElementBytes => sizeof(sbyte);

            public static bool FoldsZeroPoint => true;

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public static TVector MultiplyAdd<TLanes, TVector>(TVector acc, byte* x, int* w) where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged =>
                TLanes.MultiplyAddSignedBytes(acc, (sbyte*)x, w);
        }

        /// <param name="pixelBytes">Bytes from one input pixel to the next.</param>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void DepthwiseRows<TLanes, TVector, TInput>(byte* input, int pixelBytes, int* weights, sbyte* output, in Requantizer r, in ConvolutionGeometry g,
            int first, int end)
            where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged where TInput : struct, IDepthwiseInput
        {
            int taps = g.Taps, padded = g.ChannelBlocks * ConvolutionGeometry.BlockChannels, channels = g.OutChannels, outWidth = g.OutWidth;
            byte** rows = stackalloc byte*[taps];
            int* dy = stackalloc int[taps];
            int* dx = stackalloc int[taps];
            int* offsets = stackalloc int[taps];
            Window.Taps(g, dy, dx);
            for (int t = 0; t < taps; t++) offsets[t] = (dy[t] * g.InWidth + dx[t]) * pixelBytes;
            // z_in, then −z_in, in int16 lanes: the multiply-adds that fold it into the sums read them.
            short* zeroPoint = stackalloc short[2 * ConvolutionGeometry.BlockChannels];
            for (int c = 0; c < ConvolutionGeometry.BlockChannels; c++)
            {
                zeroPoint[c] = (short)g.InputZeroPoint;
                zeroPoint[ConvolutionGeometry.BlockChannels + c] = (short)-g.InputZeroPoint;
            }
            int* bias = r.Bias;
            if (TInput.FoldsZeroPoint)
            {
                int* folded = stackalloc int[padded];
                for (int channel = 0; channel < padded; channel += TLanes.Lanes)
                {
                    var acc = TLanes.Load(r.Bias + channel);
                    for (int t = 0; t < taps; t++) acc = TLanes.MultiplyAddWidened(acc, zeroPoint + ConvolutionGeometry.BlockChannels, weights + t * padded + channel);
                    *(TVector*)(folded + channel) = acc;
                }
                bias = folded;
            }
            // The window's bottom-right tap, relative to its top-left one.
            int spanY = (g.KernelHeight - 1) * g.DilationHeight, spanX = (g.KernelWidth - 1) * g.DilationWidth;
            // Output columns whose window lies inside the image across: ix = ox·strideW − padLeft in [0, InWidth − 1 − spanX].
            int insideFirst = (g.PadLeft + g.StrideWidth - 1) / g.StrideWidth, lastInside = g.InWidth - 1 - spanX + g.PadLeft;
            int insideEnd = lastInside < 0 ? 0 : Math.Min(outWidth, lastInside / g.StrideWidth + 1);
            TVector* sums = stackalloc TVector[RunPixels];
            int* pixels = stackalloc int[RunPixels];
            sbyte* partial = stackalloc sbyte[ConvolutionGeometry.BlockChannels];
            for (int p = first; p < end;)
            {
                int oy = p / outWidth, rowStart = oy * outWidth, from = p - rowStart, to = Math.Min(end - rowStart, outWidth);
                int iy = oy * g.StrideHeight - g.PadTop;
                bool insideDown = iy >= 0 && iy + spanY < g.InHeight;
                int runFirst = insideDown ? Math.Max(from, insideFirst) : to, runEnd = insideDown ? Math.Min(to, insideEnd) : to;
                // Whole rows inside the image (a padded input's, say) that fit in one run: taken together.
                int wholeRows = 0;
                if (insideDown && runFirst == 0 && runEnd == outWidth)
                    while (wholeRows < RunPixels / outWidth && p + (wholeRows + 1) * outWidth <= end && iy + wholeRows * g.StrideHeight + spanY < g.InHeight) wholeRows++;
                if (wholeRows > 1)
                {
                    for (int i = 0; i < wholeRows * outWidth; i++) pixels[i] = p + i;
                    DepthwiseRun<TLanes, TVector, TInput>(input + (iy * g.InWidth - g.PadLeft) * pixelBytes, outWidth, wholeRows, g.StrideHeight * g.InWidth * pixelBytes,
                        g.StrideWidth * pixelBytes, offsets, taps, weights, padded, bias, output, pixels, channels, sums, partial, r);
                    p += wholeRows * outWidth;
                    continue;
                }
                for (int ox = from; ox < to; ox++)
                {
                    int ix = ox * g.StrideWidth - g.PadLeft;
                    if (ox == runFirst && runFirst < runEnd)
                    {
                        byte* origin = input + (iy * g.InWidth + ix) * pixelBytes;
                        for (int chunk = runFirst; chunk < runEnd; chunk += RunPixels)
                        {
                            int count = Math.Min(RunPixels, runEnd - chunk);
                            for (int i = 0; i < count; i++) pixels[i] = rowStart + chunk + i;
                            DepthwiseRun<TLanes, TVector, TInput>(origin + (chunk - runFirst) * g.StrideWidth * pixelBytes, count, 1, 0, g.StrideWidth * pixelBytes,
                                offsets, taps, weights, padded, bias, output, pixels, channels, sums, partial, r);
                        }
                        ox = runEnd - 1;
                        continue;
                    }
                    sbyte* pixel = output + (rowStart + ox) * channels;
                    for (int t = 0; t < taps; t++)
                    {
                        int y = iy + dy[t], x = ix + dx[t];
                        rows[t] = (uint)y < (uint)g.InHeight && (uint)x < (uint)g.InWidth ? input + (y * g.InWidth + x) * pixelBytes : null;
                    }
                    for (int channel = 0; channel < channels; channel += TLanes.Lanes)
                    {
                        var acc = TLanes.Load(bias + channel);
                        for (int t = 0; t < taps; t++)
                        {
                            int* w = weights + t * padded + channel;
                            if (rows[t] != null) acc = TInput.MultiplyAdd<TLanes, TVector>(acc, rows[t] + channel * TInput.ElementBytes, w);
                            else if (TInput.FoldsZeroPoint) acc = TLanes.MultiplyAddWidened(acc, zeroPoint, w);
                        }
                        Store<TLanes, TVector>(pixel, acc, channel, channels, partial, r);
                    }
                }
                p = rowStart + to;
            }
        }

        /// <summary>Interior pixels of a row that <see cref="DepthwiseRun"/> takes at once: its sums of one channel vector stay in L1.</summary>
        private const int RunPixels = 64;

        /// <summary>Pixels that <see cref="DepthwiseRun"/> sums together, one weight load serving them all.</summary>
        private const int RunTile = 4;

        /// <summary>
        /// <paramref name="count"/> output pixels in each of <paramref name="rows"/> rows, whose windows lie inside the image,
        /// the first at <paramref name="origin"/>, each next one <paramref name="across"/> bytes on and each next row
        /// <paramref name="rowStep"/> bytes on: per channel vector, the taps summed <see cref="RunTile"/> pixels at a time
        /// (each tap's weights read once for them), then all the sums requantized as one batch (the channels' constants
        /// prepared once) and stored.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void DepthwiseRun<TLanes, TVector, TInput>(byte* origin, int count, int rows, int rowStep, int across, int* offsets, int taps, int* weights,
            int padded, int* bias, sbyte* output, int* pixels, int channels, TVector* rowSums, sbyte* partial, in Requantizer r)
            where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged where TInput : struct, IDepthwiseInput
        {
            for (int channel = 0; channel < channels; channel += TLanes.Lanes)
            {
                var start = TLanes.Load(bias + channel);
                for (int row = 0; row < rows; row++)
                    SumRow<TLanes, TVector, TInput>(origin + row * rowStep + channel * TInput.ElementBytes, count, across, offsets, taps, weights + channel, padded, start,
                        rowSums + row * count);
                StoreTile<TLanes, TVector>(rowSums, pixels, 1, rows * count, output, channel, channels, partial, r);
            }
        }

        /// <summary>One row of <see cref="DepthwiseRun"/> for one channel vector, its sums at <paramref name="sums"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void SumRow<TLanes, TVector, TInput>(byte* x, int count, int across, int* offsets, int taps, int* weights, int padded, TVector start, TVector* sums)
            where TLanes : struct, IVectorLanes<TVector> where TVector : unmanaged where TInput : struct, IDepthwiseInput
        {
            int i = 0;
            for (; i + RunTile <= count; i += RunTile, x += RunTile * across)
            {
                TVector a0 = start, a1 = start, a2 = start, a3 = start;
                int* w = weights;
                for (int t = 0; t < taps; t++, w += padded)
                {
                    byte* tap = x + offsets[t];
                    a0 = TInput.MultiplyAdd<TLanes, TVector>(a0, tap, w);
                    a1 = TInput.MultiplyAdd<TLanes, TVector>(a1, tap + across, w);
                    a2 = TInput.MultiplyAdd<TLanes, TVector>(a2, tap + 2 * across, w);
                    a3 = TInput.MultiplyAdd<TLanes, TVector>(a3, tap + 3 * across, w);
                }
                sums[i] = a0;
                sums[i + 1] = a1;
                sums[i + 2] = a2;
                sums[i + 3] = a3;
            }
            for (; i < count; i++, x += across)
            {
                var acc = start;
                int* w = weights;
                for (int t = 0; t < taps; t++, w += padded) acc = TInput.MultiplyAdd<TLanes, TVector>(acc, x + offsets[t], w);
                sums[i] = acc;
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
                    r.StoreScalar(output + p * g.OutChannels + m, acc, m);
                }
            }
        }
    }
}
