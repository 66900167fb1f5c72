using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;

namespace NetQuantGen.Runtime.Kernels
{
    /// <summary>The Winograd tile a layer runs: F(2×2, 3×3) or F(4×2, 3×3) (four outputs across, two down).</summary>
    public enum WinogradTile
    {
        TwoByTwo,
        FourByTwo,
    }

    /// <summary>
    /// What a Winograd layer stores: every output, or the largest of each 2×2 block of outputs (a 2×2 stride-2 max pooling
    /// fused in: requantization is monotone, so the block's largest accumulator, requantized once, is the largest output).
    /// </summary>
    public enum WinogradOutput
    {
        Plain,
        MaxPoolTwoByTwo,
    }

    /// <summary>
    /// Dense 3×3 stride-1 int8 convolutions by exact integer Winograd F(2×2, 3×3): 16 multiplies per 2×2 outputs
    /// instead of 36. With u = x − z_in (|u| ≤ 255, padding taps 0) and per 4×4 input tile d (tiles two pixels apart):
    /// V = Bᵀ d B (|V| ≤ 4·255, int16); the compiler baked U' = G' g G'ᵀ with G' = 2·G, integer (|U'| ≤ 9·128, int16);
    /// M[ξ] = Σ_c V[ξ][c]·U'[ξ][c] are 16 GEMMs over the input channels in exact int16 pairs (vpmaddwd), int32 sums;
    /// Y = Aᵀ M A = 4·Σ w·u. Every step is a linear map with integer coefficients, so in wrapping int32 arithmetic Y is
    /// right modulo 2^32, and the compiler chose this kernel only where it proved |4·Σ w·u| ≤ 4·255·Σ|w| &lt; 2^31 from the
    /// baked weights: Y is then the exact value, acc = (Y &gt;&gt; 2) + bias is the direct kernel's accumulator, and the output
    /// goes through the same <see cref="Requantizer"/>. Bit-identical to the direct kernel on every path.
    /// The F(4×2, 3×3) tile (<see cref="WinogradTile.FourByTwo"/>) is F(4, 3) along the width ⊗ F(2, 3) down the height:
    /// 4×6 input tiles four pixels apart, 24 GEMMs, 24 multiplies per 8 outputs; G₄' = 24·G₄ is integer, so Y = 48·Σ w·u,
    /// |U'| ≤ 72·128 and |V| ≤ 20·255 fit int16, and the compiler proved 48·255·Σ|w| &lt; 2^31; Y/48 is exact (shift by 4,
    /// then times the inverse of 3 modulo 2^32). Only the transforms and the division differ; GEMMs and blocking are shared.
    /// The input tiles are transformed a block at a time into the scratch (sized so a block stays in L2), and the
    /// GEMMs run on register tiles of eight (AVX-512) or six tiles × one or two vectors of output channels, over all 16
    /// positions, so the 16 products of a register tile never leave L1 before their output transform. The opt-in parallel
    /// mode (<see cref="KernelThreads"/>) splits each block's tiles between threads: each transforms and multiplies its own.
    /// </summary>
    public static unsafe class Int8Winograd
    {
        /// <summary>The most tiles a register tile holds (eight with AVX-512, six otherwise).</summary>
        private const int MaximumGroup = 8;

        /// <summary>
        /// Bytes of transformed input per block of tiles at most: it is read once per vector pair of output channels, so it
        /// should stay in L2 beside that pair's weights.
        /// </summary>
        private const int BlockBytes = 512 * 1024;

        /// <summary>Tiles down the output plane, two output rows each (the last one half used when the height is odd).</summary>
        public static int TilesHigh(in ConvolutionGeometry g) => (g.OutHeight + 1) / 2;

        /// <summary>Tiles across the output plane, two or four output columns each (the last one partly used).</summary>
        public static int TilesWide(in ConvolutionGeometry g, WinogradTile tile = WinogradTile.TwoByTwo) => (g.OutWidth + Wide(tile) - 1) / Wide(tile);

        /// <summary>Output columns per tile.</summary>
        private static int Wide(WinogradTile tile) => tile == WinogradTile.FourByTwo ? FourByTwo.Wide : TwoByTwo.Wide;

        /// <summary>ξ: the positions of a transformed tile, one GEMM each (4×4 or 4×6).</summary>
        public static int Positions(WinogradTile tile) => tile == WinogradTile.FourByTwo ? FourByTwo.Positions : TwoByTwo.Positions;

        /// <summary>
        /// Tiles transformed at a time: the image's tiles in as few equal blocks as keep each within <see cref="BlockBytes"/>
        /// (every block but a tiny image's holds at least a register tile; each block streams all the weights once).
        /// </summary>
        public static int BlockTiles(in ConvolutionGeometry g, WinogradTile tile = WinogradTile.TwoByTwo)
        {
            int tiles = TilesHigh(g) * TilesWide(g, tile);
            int fit = Math.Max(MaximumGroup, BlockBytes / (Positions(tile) * sizeof(short) * 2 * g.ChannelPairs));
            int blocks = (tiles + fit - 1) / fit;
            return (tiles + blocks - 1) / blocks;
        }

        /// <summary>Scratch int16 elements: one block of transformed tiles, [ξ][tile][input channel], channels padded to pairs.</summary>
        public static int ScratchLength(in ConvolutionGeometry g, WinogradTile tile = WinogradTile.TwoByTwo) => Positions(tile) * BlockTiles(g, tile) * 2 * g.ChannelPairs;

        /// <summary>Packed weights: [16-channel block][ξ][input channel pair][16 output channels], each int32 two int16 of U'.</summary>
        public static int WeightLength(in ConvolutionGeometry g, WinogradTile tile = WinogradTile.TwoByTwo) => g.ChannelBlocks * Positions(tile) * g.ChannelPairs * ConvolutionGeometry.BlockChannels;

        /// <summary>Requantized in fixed point (DESIGN §3).</summary>
        public static void Dense(ReadOnlySpan<sbyte> x, Span<sbyte> y, Span<short> scratch, ReadOnlySpan<int> weights,
            ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> leftShift, ReadOnlySpan<int> rightShift,
            in ConvolutionGeometry g, WinogradTile tile = WinogradTile.TwoByTwo, WinogradOutput store = WinogradOutput.Plain)
        {
            bool pooled = store == WinogradOutput.MaxPoolTwoByTwo;
            if (tile == WinogradTile.FourByTwo) Run<FourByTwo>(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, default, g, default, default, pooled);
            else Run<TwoByTwo>(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, default, g, default, default, pooled);
        }

        /// <summary>
        /// Requantized in fixed point with a residual add fused into the output stage: y = Add(conv(x), skip) read from the add's
        /// table (<paramref name="residual"/>: the convolution's output as A, <paramref name="skip"/> as B).
        /// </summary>
        public static void Dense(ReadOnlySpan<sbyte> x, Span<sbyte> y, Span<short> scratch, ReadOnlySpan<int> weights,
            ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> leftShift, ReadOnlySpan<int> rightShift,
            in ConvolutionGeometry g, ReadOnlySpan<sbyte> skip, AddTable residual, WinogradTile tile = WinogradTile.TwoByTwo)
        {
            if (tile == WinogradTile.FourByTwo) Run<FourByTwo>(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, default, g, skip, residual, pooled: false);
            else Run<TwoByTwo>(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, default, g, skip, residual, pooled: false);
        }

        /// <summary>Requantized in float (ONNX Runtime's arithmetic) with per-channel scales.</summary>
        public static void Dense(ReadOnlySpan<sbyte> x, Span<sbyte> y, Span<short> scratch, ReadOnlySpan<int> weights,
            ReadOnlySpan<int> bias, ReadOnlySpan<float> scale, in ConvolutionGeometry g, WinogradTile tile = WinogradTile.TwoByTwo,
            WinogradOutput store = WinogradOutput.Plain)
        {
            bool pooled = store == WinogradOutput.MaxPoolTwoByTwo;
            if (tile == WinogradTile.FourByTwo) Run<FourByTwo>(x, y, scratch, weights, bias, default, default, default, scale, g, default, default, pooled);
            else Run<TwoByTwo>(x, y, scratch, weights, bias, default, default, default, scale, g, default, default, pooled);
        }

        [SkipLocalsInit] // the requantization constants' buffer is written whole before it is read: no zeroing per call
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Run<TTile>(ReadOnlySpan<sbyte> x, Span<sbyte> y, Span<short> scratch, ReadOnlySpan<int> weights,
            ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> leftShift, ReadOnlySpan<int> rightShift,
            ReadOnlySpan<float> scale, in ConvolutionGeometry g, ReadOnlySpan<sbyte> skip, AddTable? residual, bool pooled) where TTile : struct, IWinogradTile
        {
            CheckBounds(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, scale, g, TTile.Tile, pooled);
            if (!pooled) Int8Convolution.CheckResidual(y, skip, g);
            var path = KernelPaths.Current;
            int tiles = TilesHigh(g) * TilesWide(g, TTile.Tile), blockTiles = BlockTiles(g, TTile.Tile);
            fixed (sbyte* input = x)
            fixed (short* transformed = scratch)
            fixed (int* w = weights, b = bias, m = multiplier, ls = leftShift, rs = rightShift)
            fixed (float* s = scale)
            fixed (sbyte* output = y, residualSkip = skip)
            fixed (byte* residualTable = residual == null ? default : residual.Bytes)
            {
                byte* oneShift = stackalloc byte[Requantizer.OneShiftBytes(g, !scale.IsEmpty)];
                var r = new Requantizer(b, m, ls, rs, scale.IsEmpty ? null : s, g, oneShift, output, skip.IsEmpty ? null : residualSkip, residualTable);
                for (int first = 0; first < tiles; first += blockTiles)
                {
                    var block = new Block(first, Math.Min(blockTiles, tiles - first), blockTiles);
                    Dispatch(new Work<TTile>(input, transformed, w, output, r, g, block, path, pooled));
                }
            }
        }

        /// <summary>One block's input transform and GEMMs over a range of its tiles: what a thread of the opt-in parallel mode runs.</summary>
        private readonly struct Work<TTile> where TTile : struct, IWinogradTile
        {
            private readonly sbyte* _input;
            private readonly short* _transformed;
            private readonly int* _weights;
            private readonly sbyte* _output;
            private readonly Requantizer _r;
            private readonly Block _block;
            private readonly bool _pooled;

            public Work(sbyte* input, short* transformed, int* weights, sbyte* output, in Requantizer r, in ConvolutionGeometry g, in Block block, KernelPath path, bool pooled)
            {
                _pooled = pooled;
                _input = input;
                _transformed = transformed;
                _weights = weights;
                _output = output;
                _r = r;
                _block = block;
                Geometry = g;
                Path = path;
            }

            public ConvolutionGeometry Geometry { get; }

            public KernelPath Path { get; }

            public int Tiles => _block.Count;

            /// <summary>
            /// Tiles [first, end) of the block, every output channel. The transformed rows of tile i sit at
            /// (ξ·Stride + i)·rowLength, so the sub-block's rows are the block's, shifted by its first tile.
            /// </summary>
            public void Run(int first, int end)
            {
                var g = Geometry;
                var part = new Block(_block.First + first, end - first, _block.Stride);
                short* transformed = _transformed + first * 2 * g.ChannelPairs;
                TransformInput<TTile>(_input, transformed, g, part, Path);
                switch (Path)
                {
                    case KernelPath.Vector512: Gemms<TTile, Lanes512, Vector512<int>>(transformed, _weights, _output, _r, g, part, _pooled); break;
                    case KernelPath.Vector256: Gemms<TTile, Lanes256, Vector256<int>>(transformed, _weights, _output, _r, g, part, _pooled); break;
                    case KernelPath.Vector128: Gemms<TTile, Lanes128, Vector128<int>>(transformed, _weights, _output, _r, g, part, _pooled); break;
                    default: GemmsScalar<TTile>(transformed, (short*)_weights, _output, _r, g, part, _pooled); break;
                }
            }
        }

        /// <summary>
        /// Runs the block on this thread, or, when <see cref="KernelThreads.Count"/> allows and the layer is large enough
        /// to repay the hand-off, on that many threads, each over its own run of whole register tiles of the block (its
        /// input transform included, so no thread waits for another and no two write the same output pixels). Every output
        /// value is computed by one thread exactly as on one, so the bytes do not depend on the count.
        /// </summary>
        private static void Dispatch<TTile>(Work<TTile> work) where TTile : struct, IWinogradTile
        {
            var g = work.Geometry;
            int groups = work.Tiles / MaximumGroup, threads = Math.Min(KernelThreads.Count, groups);
            long macs = (long)g.OutputPixels * g.OutChannels * g.Taps * g.InChannels;
            if (threads <= 1 || macs < KernelThreads.MinimumMacs || work.Path == KernelPath.Scalar)
            {
                work.Run(0, work.Tiles);
                return;
            }
            RunInParallel(work, groups, threads);
        }

        /// <summary>Apart from <see cref="Dispatch"/> so that only the parallel mode allocates its closure, not every call. The last thread also takes the tiles past the whole groups.</summary>
        private static void RunInParallel<TTile>(Work<TTile> work, int groups, int threads) where TTile : struct, IWinogradTile =>
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
                work.Run((int)((long)groups * i / threads) * MaximumGroup, i == threads - 1 ? work.Tiles : (int)((long)groups * (i + 1) / threads) * MaximumGroup));

        /// <summary>
        /// A tile size: its output transform and exact division by its scale, its input transform, and how many GEMMs (ξ) it
        /// runs. The GEMMs, blocking and register tiles are shared.
        /// </summary>
        private interface IWinogradTile
        {
            static abstract WinogradTile Tile { get; }

            /// <summary>Output columns per tile (two output rows always).</summary>
            static abstract int Wide { get; }

            /// <summary>ξ: 4 rows × (Wide + 2) columns of the transformed tile.</summary>
            static abstract int Positions { get; }

            static abstract void TransformChannels<T>(sbyte* x, short* transformed, in ConvolutionGeometry g, in Block block, int c) where T : unmanaged;

            /// <summary>Y of the 2 × Wide outputs, row-major into <paramref name="y"/>, from the products m[ξ·step].</summary>
            static abstract void OutputTransform<T>(T* m, int step, T* y) where T : unmanaged;

            /// <summary>Y divided exactly by the tile's scale, plus the bias: the direct kernel's accumulator.</summary>
            static abstract T Accumulator<T>(T y, T bias) where T : unmanaged;
        }

        /// <summary>F(2×2, 3×3): 16 multiplies per 2×2 outputs, Y = 4·Σ w·u.</summary>
        private readonly struct TwoByTwo : IWinogradTile
        {
            public static WinogradTile Tile => WinogradTile.TwoByTwo;

            public static int Wide => 2;

            public static int Positions => 16;

            public static void TransformChannels<T>(sbyte* x, short* transformed, in ConvolutionGeometry g, in Block block, int c) where T : unmanaged =>
                TransformTwoByTwo<T>(x, transformed, g, block, c);

            public static void OutputTransform<T>(T* m, int step, T* y) where T : unmanaged
            {
                OutputTransformTwoByTwo(m, step, out y[0], out y[1], out y[2], out y[3]);
            }

            public static T Accumulator<T>(T y, T bias) where T : unmanaged => Quarter(y, bias);
        }

        /// <summary>F(4×2, 3×3): F(4, 3) along the width ⊗ F(2, 3) down the height, 24 multiplies per 4×2 outputs, Y = 48·Σ w·u.</summary>
        private readonly struct FourByTwo : IWinogradTile
        {
            public static WinogradTile Tile => WinogradTile.FourByTwo;

            public static int Wide => 4;

            public static int Positions => 24;

            public static void TransformChannels<T>(sbyte* x, short* transformed, in ConvolutionGeometry g, in Block block, int c) where T : unmanaged =>
                TransformFourByTwo<T>(x, transformed, g, block, c);

            public static void OutputTransform<T>(T* m, int step, T* y) where T : unmanaged => OutputTransformFourByTwo(m, step, y);

            public static T Accumulator<T>(T y, T bias) where T : unmanaged => FortyEighth(y, bias);
        }

        /// <summary>A register tile of eight Winograd tiles (AVX-512).</summary>
        private readonly struct EightTiles : ITileSize
        {
            public static int Count => 8;
        }

        /// <summary>Tiles [First, First + Count) of the image, transformed into the scratch with <see cref="Stride"/> tiles per ξ plane.</summary>
        private readonly record struct Block(int First, int Count, int Stride);

        /// <summary>Every pointer the kernel forms stays inside these spans when their lengths are what the geometry says.</summary>
        private static void CheckBounds(ReadOnlySpan<sbyte> x, Span<sbyte> y, Span<short> scratch, ReadOnlySpan<int> weights,
            ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> leftShift, ReadOnlySpan<int> rightShift,
            ReadOnlySpan<float> scale, in ConvolutionGeometry g, WinogradTile tile, bool pooled)
        {
            // A fused 2×2 pooling reads whole 2×2 blocks of outputs and stores a quarter of them.
            bool pooling = !pooled || (g.OutHeight % 2 == 0 && g.OutWidth % 2 == 0);
            int stored = pooled ? g.OutputPixels / 4 * g.OutChannels : g.OutputPixels * g.OutChannels;
            int padded = g.ChannelBlocks * ConvolutionGeometry.BlockChannels;
            bool requantization = scale.IsEmpty ? multiplier.Length >= padded && leftShift.Length >= padded && rightShift.Length >= padded : scale.Length >= padded;
            bool winograd = g.KernelHeight == 3 && g.KernelWidth == 3 && g.StrideHeight == 1 && g.StrideWidth == 1
                && g.DilationHeight == 1 && g.DilationWidth == 1 && !g.Patches && !g.KernelRows && g.ByteGroup == 0;
            if (!winograd || !pooling || g.OutHeight < 1 || g.OutWidth < 1
                || x.Length < g.InHeight * g.InWidth * g.InChannels || y.Length < stored
                || scratch.Length < ScratchLength(g, tile) || weights.Length < WeightLength(g, tile) || bias.Length < padded || !requantization)
                throw new ArgumentException("Winograd convolution buffers do not match their geometry: the generated code and the runtime library do not match.");
        }

        /// <summary>
        /// V = Bᵀ d B for every tile of the block and every input channel: the 4×4 input tile of u = x − z_in whose top-left
        /// pixel is (2·ty − PadTop, 2·tx − PadLeft), pixels outside the image 0. Channels go in the widest int16 vectors the
        /// path has (32, 16, 8), the rest one at a time; the odd channel that pads the last pair is 0.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void TransformInput<TTile>(sbyte* x, short* transformed, in ConvolutionGeometry g, in Block block, KernelPath path)
            where TTile : struct, IWinogradTile
        {
            int channels = g.InChannels, c = 0;
            if (path == KernelPath.Vector512)
                for (; c + 32 <= channels; c += 32) TTile.TransformChannels<Vector512<short>>(x, transformed, g, block, c);
            if (path >= KernelPath.Vector256)
                for (; c + 16 <= channels; c += 16) TTile.TransformChannels<Vector256<short>>(x, transformed, g, block, c);
            if (path >= KernelPath.Vector128)
                for (; c + 8 <= channels; c += 8) TTile.TransformChannels<Vector128<short>>(x, transformed, g, block, c);
            for (; c < channels; c++) TTile.TransformChannels<short>(x, transformed, g, block, c);
            if (channels % 2 != 0)
            {
                int rowLength = 2 * g.ChannelPairs;
                for (int p = 0; p < TTile.Positions; p++)
                    for (int i = 0; i < block.Count; i++) transformed[(p * block.Stride + i) * rowLength + channels] = 0;
            }
        }

        /// <summary>
        /// The transform of the channels [c, c + width of <typeparamref name="T"/>). Bᵀ d B is separable: down each input column
        /// e = Bᵀ d (Bᵀ = [[1,0,−1,0],[0,1,1,0],[0,−1,1,0],[0,1,0,−1]]), then the same combination across the tile's four
        /// columns. Neighbouring tiles of a row share two columns, so each column's e is computed once per tile row.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void TransformTwoByTwo<T>(sbyte* x, short* transformed, in ConvolutionGeometry g, in Block block, int c) where T : unmanaged
        {
            int tilesWide = TilesWide(g), rowLength = 2 * g.ChannelPairs, plane = block.Stride * rowLength;
            int width = g.InWidth, height = g.InHeight, stride = g.InChannels;
            short zero = (short)g.InputZeroPoint;
            sbyte* Row(int y) => (uint)y < (uint)height ? x + y * width * stride + c : null;
            for (int i = 0; i < block.Count;)
            {
                int tile = block.First + i, ty = tile / tilesWide, tx = tile - ty * tilesWide;
                int run = Math.Min(block.Count - i, tilesWide - tx), iy = 2 * ty - g.PadTop, ix = 2 * tx - g.PadLeft;
                sbyte* row0 = Row(iy), row1 = Row(iy + 1), row2 = Row(iy + 2), row3 = Row(iy + 3);
                Column(row0, row1, row2, row3, ix, width, stride, zero, out T e00, out T e10, out T e20, out T e30);
                Column(row0, row1, row2, row3, ix + 1, width, stride, zero, out T e01, out T e11, out T e21, out T e31);
                short* target = transformed + i * rowLength + c;
                for (int k = 0; k < run; k++, ix += 2, target += rowLength)
                {
                    Column(row0, row1, row2, row3, ix + 2, width, stride, zero, out T e02, out T e12, out T e22, out T e32);
                    Column(row0, row1, row2, row3, ix + 3, width, stride, zero, out T e03, out T e13, out T e23, out T e33);
                    StoreRow(target, plane, 0, e00, e01, e02, e03);
                    StoreRow(target, plane, 4, e10, e11, e12, e13);
                    StoreRow(target, plane, 8, e20, e21, e22, e23);
                    StoreRow(target, plane, 12, e30, e31, e32, e33);
                    e00 = e02; e10 = e12; e20 = e22; e30 = e32;
                    e01 = e03; e11 = e13; e21 = e23; e31 = e33;
                }
                i += run;
            }
        }

        /// <summary>
        /// <see cref="TransformTwoByTwo{T}"/> for F(4×2, 3×3): tiles of 4 rows × 6 columns whose top-left pixel is
        /// (2·ty − PadTop, 4·tx − PadLeft), ξ = 6·row + column. Down each column the F(2, 3) e = Bᵀ d, across the six columns
        /// the F(4, 3) B₄ᵀ (|V| ≤ 10·2·255 = 5100, int16); neighbouring tiles of a row share two columns.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void TransformFourByTwo<T>(sbyte* x, short* transformed, in ConvolutionGeometry g, in Block block, int c) where T : unmanaged
        {
            int tilesWide = TilesWide(g, WinogradTile.FourByTwo), rowLength = 2 * g.ChannelPairs, plane = block.Stride * rowLength;
            int width = g.InWidth, height = g.InHeight, stride = g.InChannels;
            short zero = (short)g.InputZeroPoint;
            sbyte* Row(int y) => (uint)y < (uint)height ? x + y * width * stride + c : null;
            for (int i = 0; i < block.Count;)
            {
                int tile = block.First + i, ty = tile / tilesWide, tx = tile - ty * tilesWide;
                int run = Math.Min(block.Count - i, tilesWide - tx), iy = 2 * ty - g.PadTop, ix = 4 * tx - g.PadLeft;
                sbyte* row0 = Row(iy), row1 = Row(iy + 1), row2 = Row(iy + 2), row3 = Row(iy + 3);
                Column(row0, row1, row2, row3, ix, width, stride, zero, out T e00, out T e10, out T e20, out T e30);
                Column(row0, row1, row2, row3, ix + 1, width, stride, zero, out T e01, out T e11, out T e21, out T e31);
                short* target = transformed + i * rowLength + c;
                for (int k = 0; k < run; k++, ix += 4, target += rowLength)
                {
                    Column(row0, row1, row2, row3, ix + 2, width, stride, zero, out T e02, out T e12, out T e22, out T e32);
                    Column(row0, row1, row2, row3, ix + 3, width, stride, zero, out T e03, out T e13, out T e23, out T e33);
                    Column(row0, row1, row2, row3, ix + 4, width, stride, zero, out T e04, out T e14, out T e24, out T e34);
                    Column(row0, row1, row2, row3, ix + 5, width, stride, zero, out T e05, out T e15, out T e25, out T e35);
                    StoreRowOfSix(target, plane, 0, e00, e01, e02, e03, e04, e05);
                    StoreRowOfSix(target, plane, 6, e10, e11, e12, e13, e14, e15);
                    StoreRowOfSix(target, plane, 12, e20, e21, e22, e23, e24, e25);
                    StoreRowOfSix(target, plane, 18, e30, e31, e32, e33, e34, e35);
                    e00 = e04; e10 = e14; e20 = e24; e30 = e34;
                    e01 = e05; e11 = e15; e21 = e25; e31 = e35;
                }
                i += run;
            }
        }

        /// <summary>
        /// Row r of V (ξ = <paramref name="first"/> .. + 5) from six columns of e by B₄ᵀ = [[4,0,−5,0,1,0],[0,−4,−4,1,1,0],
        /// [0,4,−4,−1,1,0],[0,−2,−1,2,1,0],[0,2,−1,−2,1,0],[0,4,0,−5,0,1]], in wrapping int16 (the result fits, so it is exact).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void StoreRowOfSix<T>(short* target, int plane, int first, T e0, T e1, T e2, T e3, T e4, T e5) where T : unmanaged
        {
            T sum12 = Add(e1, e2), difference12 = Sub(e1, e2), sum34 = Add(e4, e3), difference43 = Sub(e4, e3);
            T difference42 = Sub(e4, e2), twice31 = Twice(Sub(e3, e1));
            Store(target + first * plane, Add(Twice(Twice(Sub(e0, e2))), difference42));
            Store(target + (first + 1) * plane, Sub(sum34, Twice(Twice(sum12))));
            Store(target + (first + 2) * plane, Add(difference43, Twice(Twice(difference12))));
            Store(target + (first + 3) * plane, Add(difference42, twice31));
            Store(target + (first + 4) * plane, Sub(difference42, twice31));
            Store(target + (first + 5) * plane, Add(Twice(Twice(Sub(e1, e3))), Sub(e5, e3)));
        }

        /// <summary>
        /// The 4×2 outputs Y = A₂ᵀ M A₄ of the 24 products m[ξ·step] (48× the convolution): down each column A₂ᵀ =
        /// [[1,1,1,0],[0,1,−1,−1]], across each row A₄ᵀ = [[1,1,1,1,1,0],[0,1,−1,2,−2,0],[0,1,1,4,4,0],[0,1,−1,8,−8,1]].
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void OutputTransformFourByTwo<T>(T* m, int step, T* y) where T : unmanaged
        {
            for (int dy = 0; dy < 2; dy++)
            {
                T Row(int column) => dy == 0
                    ? Add(Add(m[column * step], m[(6 + column) * step]), m[(12 + column) * step])
                    : Sub(Sub(m[(6 + column) * step], m[(12 + column) * step]), m[(18 + column) * step]);
                T r1 = Row(1), r2 = Row(2), r3 = Row(3), r4 = Row(4);
                T sum12 = Add(r1, r2), difference12 = Sub(r1, r2), sum34 = Add(r3, r4), difference34 = Sub(r3, r4);
                y[4 * dy] = Add(Add(Row(0), sum12), sum34);
                y[4 * dy + 1] = Add(difference12, Twice(difference34));
                y[4 * dy + 2] = Add(sum12, Twice(Twice(sum34)));
                y[4 * dy + 3] = Add(Add(difference12, Twice(Twice(Twice(difference34)))), Row(5));
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static T Twice<T>(T a) where T : unmanaged => Add(a, a);

        /// <summary>e = Bᵀ d down input column <paramref name="ix"/> of the four rows (a row or column outside the image reads 0).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Column<T>(sbyte* row0, sbyte* row1, sbyte* row2, sbyte* row3, int ix, int width, int stride, short zero,
            out T e0, out T e1, out T e2, out T e3) where T : unmanaged
        {
            T d0 = default, d1 = default, d2 = default, d3 = default;
            if ((uint)ix < (uint)width)
            {
                int at = ix * stride;
                if (row0 != null) d0 = Widen<T>(row0 + at, zero);
                if (row1 != null) d1 = Widen<T>(row1 + at, zero);
                if (row2 != null) d2 = Widen<T>(row2 + at, zero);
                if (row3 != null) d3 = Widen<T>(row3 + at, zero);
            }
            e0 = Sub(d0, d2); e1 = Add(d1, d2); e2 = Sub(d2, d1); e3 = Sub(d1, d3);
        }

        /// <summary>Row r of V (ξ = <paramref name="first"/> .. + 3) from the tile's four columns of e: the same combination as down a column.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void StoreRow<T>(short* target, int plane, int first, T e0, T e1, T e2, T e3) where T : unmanaged
        {
            Store(target + first * plane, Sub(e0, e2));
            Store(target + (first + 1) * plane, Add(e1, e2));
            Store(target + (first + 2) * plane, Sub(e2, e1));
            Store(target + (first + 3) * plane, Sub(e1, e3));
        }

        /// <summary>x − z_in as int16 for the channels of one vector (or one channel).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static T Widen<T>(sbyte* x, short zero) where T : unmanaged =>
            typeof(T) == typeof(Vector512<short>) ? To<Vector512<short>, T>(Vector512.WidenLower(Vector256.Load(x).ToVector512Unsafe()) - Vector512.Create(zero))
            : typeof(T) == typeof(Vector256<short>) ? To<Vector256<short>, T>(Vector256.WidenLower(Vector128.Load(x).ToVector256Unsafe()) - Vector256.Create(zero))
            : typeof(T) == typeof(Vector128<short>) ? To<Vector128<short>, T>(Vector128.WidenLower(Vector128.CreateScalar(*(long*)x).AsSByte()) - Vector128.Create(zero))
            : typeof(T) == typeof(short) ? To<short, T>((short)(*x - zero))
            : throw new NotSupportedException();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Store<T>(short* target, T value) where T : unmanaged
        {
            if (typeof(T) == typeof(Vector512<short>)) To<T, Vector512<short>>(value).Store(target);
            else if (typeof(T) == typeof(Vector256<short>)) To<T, Vector256<short>>(value).Store(target);
            else if (typeof(T) == typeof(Vector128<short>)) To<T, Vector128<short>>(value).Store(target);
            else *target = To<T, short>(value);
        }

        /// <summary>
        /// The 2×2 outputs Y = Aᵀ M A, Aᵀ = [[1,1,1,0],[0,1,−1,−1]], of the 16 products m[ξ·step] (4× the convolution),
        /// in wrapping int32: right modulo 2^32, so exact where the compiler proved the true value fits.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void OutputTransformTwoByTwo<T>(T* m, int step, out T y00, out T y01, out T y10, out T y11)
            where T : unmanaged
        {
            // Rows first: r0 = M0 + M1 + M2, r1 = M1 − M2 − M3 (M_k the k-th row of four), then the same along each row.
            T r00 = Add(Add(m[0], m[4 * step]), m[8 * step]), r10 = Sub(Sub(m[4 * step], m[8 * step]), m[12 * step]);
            T r01 = Add(Add(m[step], m[5 * step]), m[9 * step]), r11 = Sub(Sub(m[5 * step], m[9 * step]), m[13 * step]);
            T r02 = Add(Add(m[2 * step], m[6 * step]), m[10 * step]), r12 = Sub(Sub(m[6 * step], m[10 * step]), m[14 * step]);
            T r03 = Add(Add(m[3 * step], m[7 * step]), m[11 * step]), r13 = Sub(Sub(m[7 * step], m[11 * step]), m[15 * step]);
            y00 = Add(Add(r00, r01), r02); y01 = Sub(Sub(r01, r02), r03);
            y10 = Add(Add(r10, r11), r12); y11 = Sub(Sub(r11, r12), r13);
        }

        // Wrapping lane arithmetic for the transforms, on every element type they run on (the vector types implement no
        // generic-math interfaces): each instantiation keeps one branch, so these compile to one instruction.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static T Add<T>(T a, T b) where T : unmanaged =>
            typeof(T) == typeof(Vector512<int>) ? To<Vector512<int>, T>(To<T, Vector512<int>>(a) + To<T, Vector512<int>>(b))
            : typeof(T) == typeof(Vector256<int>) ? To<Vector256<int>, T>(To<T, Vector256<int>>(a) + To<T, Vector256<int>>(b))
            : typeof(T) == typeof(Vector128<int>) ? To<Vector128<int>, T>(To<T, Vector128<int>>(a) + To<T, Vector128<int>>(b))
            : typeof(T) == typeof(Vector512<short>) ? To<Vector512<short>, T>(To<T, Vector512<short>>(a) + To<T, Vector512<short>>(b))
            : typeof(T) == typeof(Vector256<short>) ? To<Vector256<short>, T>(To<T, Vector256<short>>(a) + To<T, Vector256<short>>(b))
            : typeof(T) == typeof(Vector128<short>) ? To<Vector128<short>, T>(To<T, Vector128<short>>(a) + To<T, Vector128<short>>(b))
            : typeof(T) == typeof(int) ? To<int, T>(To<T, int>(a) + To<T, int>(b))
            : typeof(T) == typeof(short) ? To<short, T>((short)(To<T, short>(a) + To<T, short>(b)))
            : throw new NotSupportedException();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static T Max<T>(T a, T b) where T : unmanaged =>
            typeof(T) == typeof(Vector512<int>) ? To<Vector512<int>, T>(Vector512.Max(To<T, Vector512<int>>(a), To<T, Vector512<int>>(b)))
            : typeof(T) == typeof(Vector256<int>) ? To<Vector256<int>, T>(Vector256.Max(To<T, Vector256<int>>(a), To<T, Vector256<int>>(b)))
            : typeof(T) == typeof(Vector128<int>) ? To<Vector128<int>, T>(Vector128.Max(To<T, Vector128<int>>(a), To<T, Vector128<int>>(b)))
            : typeof(T) == typeof(int) ? To<int, T>(Math.Max(To<T, int>(a), To<T, int>(b)))
            : throw new NotSupportedException();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static T Sub<T>(T a, T b) where T : unmanaged =>
            typeof(T) == typeof(Vector512<int>) ? To<Vector512<int>, T>(To<T, Vector512<int>>(a) - To<T, Vector512<int>>(b))
            : typeof(T) == typeof(Vector256<int>) ? To<Vector256<int>, T>(To<T, Vector256<int>>(a) - To<T, Vector256<int>>(b))
            : typeof(T) == typeof(Vector128<int>) ? To<Vector128<int>, T>(To<T, Vector128<int>>(a) - To<T, Vector128<int>>(b))
            : typeof(T) == typeof(Vector512<short>) ? To<Vector512<short>, T>(To<T, Vector512<short>>(a) - To<T, Vector512<short>>(b))
            : typeof(T) == typeof(Vector256<short>) ? To<Vector256<short>, T>(To<T, Vector256<short>>(a) - To<T, Vector256<short>>(b))
            : typeof(T) == typeof(Vector128<short>) ? To<Vector128<short>, T>(To<T, Vector128<short>>(a) - To<T, Vector128<short>>(b))
            : typeof(T) == typeof(int) ? To<int, T>(To<T, int>(a) - To<T, int>(b))
            : typeof(T) == typeof(short) ? To<short, T>((short)(To<T, short>(a) - To<T, short>(b)))
            : throw new NotSupportedException();

        /// <summary>(y &gt;&gt; 2) + bias per int32 lane: y is 4·Σ w·u exactly, so the arithmetic shift is an exact division.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static T Quarter<T>(T y, T bias) where T : unmanaged =>
            typeof(T) == typeof(Vector512<int>) ? To<Vector512<int>, T>((To<T, Vector512<int>>(y) >> 2) + To<T, Vector512<int>>(bias))
            : typeof(T) == typeof(Vector256<int>) ? To<Vector256<int>, T>((To<T, Vector256<int>>(y) >> 2) + To<T, Vector256<int>>(bias))
            : typeof(T) == typeof(Vector128<int>) ? To<Vector128<int>, T>((To<T, Vector128<int>>(y) >> 2) + To<T, Vector128<int>>(bias))
            : typeof(T) == typeof(int) ? To<int, T>((To<T, int>(y) >> 2) + To<T, int>(bias))
            : throw new NotSupportedException();

        /// <summary>
        /// Y/48 + bias per int32 lane: Y is 48·Σ w·u exactly, so the arithmetic shift by 4 divides exactly by 16, and the
        /// product with 0xAAAAAAAB, the inverse of 3 modulo 2^32, divides the multiple of 3 exactly in wrapping arithmetic.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static T FortyEighth<T>(T y, T bias) where T : unmanaged =>
            typeof(T) == typeof(Vector512<int>) ? To<Vector512<int>, T>((To<T, Vector512<int>>(y) >> 4) * Vector512.Create(InverseOfThree) + To<T, Vector512<int>>(bias))
            : typeof(T) == typeof(Vector256<int>) ? To<Vector256<int>, T>((To<T, Vector256<int>>(y) >> 4) * Vector256.Create(InverseOfThree) + To<T, Vector256<int>>(bias))
            : typeof(T) == typeof(Vector128<int>) ? To<Vector128<int>, T>((To<T, Vector128<int>>(y) >> 4) * Vector128.Create(InverseOfThree) + To<T, Vector128<int>>(bias))
            : typeof(T) == typeof(int) ? To<int, T>(unchecked((To<T, int>(y) >> 4) * InverseOfThree + To<T, int>(bias)))
            : throw new NotSupportedException();

        /// <summary>3·0xAAAAAAAB = 1 modulo 2^32.</summary>
        private const int InverseOfThree = unchecked((int)0xAAAAAAAB);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static TTo To<TFrom, TTo>(TFrom value) where TFrom : unmanaged where TTo : unmanaged => Unsafe.BitCast<TFrom, TTo>(value);

        /// <summary>
        /// The block's GEMMs for every output channel, in tiles
        /// of two vectors (one for the last odd vector), times eight tiles with AVX-512 (16 accumulators of its 32 registers)
        /// or six (12 of 16 registers).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Gemms<TTile, TLanes, TVector>(short* transformed, int* weights, sbyte* output, in Requantizer r, in ConvolutionGeometry g, in Block block, bool pooled)
            where TTile : struct, IWinogradTile
            where TLanes : struct, IVectorLanes<TVector>
            where TVector : unmanaged
        {
            sbyte* partial = stackalloc sbyte[ConvolutionGeometry.BlockChannels];
            // The products of a register tile, [ξ][vector][tile], then room for the Y of one tile (StoreTiles).
            TVector* products = stackalloc TVector[(TTile.Positions + 1) * 2 * MaximumGroup];
            int* tiles = stackalloc int[MaximumGroup];
            int vectors = (g.OutChannels + TLanes.Lanes - 1) / TLanes.Lanes, v = 0;
            // The register tile that redoes fewer tiles at the block's end (eight only where AVX-512 has the registers);
            // fewer tiles than a register tile (a tiny image): one-tile register tiles.
            bool six = block.Count >= 6, eight = TLanes.Lanes == 16 && block.Count >= 8 && (block.Count + 7) / 8 * 8 <= (block.Count + 5) / 6 * 6;
            for (; v + 2 <= vectors; v += 2)
                if (eight) Tiles<TTile, TLanes, TVector, TwoVectors, EightTiles>(transformed, weights, output, products, tiles, partial, r, g, block, v * TLanes.Lanes, pooled);
                else if (six) Tiles<TTile, TLanes, TVector, TwoVectors, SixPixels>(transformed, weights, output, products, tiles, partial, r, g, block, v * TLanes.Lanes, pooled);
                else Tiles<TTile, TLanes, TVector, TwoVectors, OnePixel>(transformed, weights, output, products, tiles, partial, r, g, block, v * TLanes.Lanes, pooled);
            if (v < vectors)
                if (eight) Tiles<TTile, TLanes, TVector, OneVector, EightTiles>(transformed, weights, output, products, tiles, partial, r, g, block, v * TLanes.Lanes, pooled);
                else if (six) Tiles<TTile, TLanes, TVector, OneVector, SixPixels>(transformed, weights, output, products, tiles, partial, r, g, block, v * TLanes.Lanes, pooled);
                else Tiles<TTile, TLanes, TVector, OneVector, OnePixel>(transformed, weights, output, products, tiles, partial, r, g, block, v * TLanes.Lanes, pooled);
        }

        /// <summary>
        /// Per register tile (<typeparamref name="THeight"/> consecutive tiles of the block; the last one moved back to end at
        /// the block's end, so it may redo tiles: same values, same place) and per ξ, the accumulators sum every input-channel
        /// pair in registers, then go to <paramref name="products"/>; after the 16 positions, the output transform and store.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Tiles<TTile, TLanes, TVector, TWidth, THeight>(short* transformed, int* weights, sbyte* output, TVector* products, int* tiles,
            sbyte* partial, in Requantizer r, in ConvolutionGeometry g, in Block block, int channel, bool pooled)
            where TLanes : struct, IVectorLanes<TVector>
            where TVector : unmanaged
            where TTile : struct, IWinogradTile
            where TWidth : struct, ITileSize where THeight : struct, ITileSize
        {
            int positions = TTile.Positions;
            bool two = TWidth.Count == 2;
            int n = THeight.Count;
            const int Block = ConvolutionGeometry.BlockChannels;
            int pairs = g.ChannelPairs, rowLength = 2 * pairs, plane = block.Stride * rowLength;
            int positionWeights = pairs * Block, blockWeights = positions * positionWeights;
            int channel1 = channel + TLanes.Lanes;
            // Weights are [block][ξ][pair][16 channels]: a vector of channels starts at its block plus its lane.
            int* weights0 = weights + channel / Block * blockWeights + channel % Block;
            int* weights1 = weights + channel1 / Block * blockWeights + channel1 % Block;
            for (int p = 0; p < block.Count; p += n)
            {
                int first = Math.Min(p, block.Count - n);
                for (int xi = 0; xi < positions; xi++)
                {
                    short* r0 = transformed + xi * plane + first * rowLength;
                    short* r1 = r0 + rowLength, r2 = r1 + rowLength, r3 = r2 + rowLength;
                    short* r4 = r3 + rowLength, r5 = r4 + rowLength, r6 = r5 + rowLength, r7 = r6 + rowLength;
                    int* w0 = weights0 + xi * positionWeights, w1 = weights1 + xi * positionWeights;
                    TVector a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
                    TVector b0 = default, b1 = default, b2 = default, b3 = default, b4 = default, b5 = default, b6 = default, b7 = default;
                    for (int c = 0; c < rowLength; c += 2, w0 += Block, w1 += Block)
                    {
                        var u = TLanes.Load(w0);
                        var v = two ? TLanes.Load(w1) : default;
                        var x = TLanes.BroadcastPair(r0 + c); a0 = TLanes.MultiplyAddPairs(a0, x, u); if (two) b0 = TLanes.MultiplyAddPairs(b0, x, v);
                        if (n > 1) { x = TLanes.BroadcastPair(r1 + c); a1 = TLanes.MultiplyAddPairs(a1, x, u); if (two) b1 = TLanes.MultiplyAddPairs(b1, x, v); }
                        if (n > 2) { x = TLanes.BroadcastPair(r2 + c); a2 = TLanes.MultiplyAddPairs(a2, x, u); if (two) b2 = TLanes.MultiplyAddPairs(b2, x, v); }
                        if (n > 3) { x = TLanes.BroadcastPair(r3 + c); a3 = TLanes.MultiplyAddPairs(a3, x, u); if (two) b3 = TLanes.MultiplyAddPairs(b3, x, v); }
                        if (n > 4) { x = TLanes.BroadcastPair(r4 + c); a4 = TLanes.MultiplyAddPairs(a4, x, u); if (two) b4 = TLanes.MultiplyAddPairs(b4, x, v); }
                        if (n > 5) { x = TLanes.BroadcastPair(r5 + c); a5 = TLanes.MultiplyAddPairs(a5, x, u); if (two) b5 = TLanes.MultiplyAddPairs(b5, x, v); }
                        if (n > 6) { x = TLanes.BroadcastPair(r6 + c); a6 = TLanes.MultiplyAddPairs(a6, x, u); if (two) b6 = TLanes.MultiplyAddPairs(b6, x, v); }
                        if (n > 7) { x = TLanes.BroadcastPair(r7 + c); a7 = TLanes.MultiplyAddPairs(a7, x, u); if (two) b7 = TLanes.MultiplyAddPairs(b7, x, v); }
                    }
                    // [ξ][vector][tile]: the output transform reads one (vector, tile) every 2·MaximumGroup products.
                    TVector* m = products + xi * 2 * MaximumGroup;
                    m[0] = a0; m[1] = a1; m[2] = a2; m[3] = a3; m[4] = a4; m[5] = a5; m[6] = a6; m[7] = a7;
                    if (two) { m[8] = b0; m[9] = b1; m[10] = b2; m[11] = b3; m[12] = b4; m[13] = b5; m[14] = b6; m[15] = b7; }
                }
                for (int i = 0; i < n; i++) tiles[i] = block.First + first + i;
                StoreTiles<TTile, TLanes, TVector>(products, tiles, TWidth.Count, n, output, channel, partial, r, g, pooled);
            }
        }

        /// <summary>
        /// Output transform, exact division of Y plus bias, requantization and store of a register tile's outputs that exist;
        /// <paramref name="pooled"/>: of the largest Y of each 2×2 block only, at the block's place in the half-size plane.
        /// Y is exact and the division, requantization and clamp never decrease, so that is the largest of the four outputs.
        /// </summary>
        [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
        private static void StoreTiles<TTile, TLanes, TVector>(TVector* products, int* tiles, int vectors, int count, sbyte* output, int channel,
            sbyte* partial, in Requantizer r, in ConvolutionGeometry g, bool pooled)
            where TTile : struct, IWinogradTile
            where TLanes : struct, IVectorLanes<TVector>
            where TVector : unmanaged
        {
            int wide = TTile.Wide, tilesWide = TilesWide(g, TTile.Tile), outChannels = g.OutChannels;
            TVector* y = products + TTile.Positions * 2 * MaximumGroup;
            for (int i = 0; i < count; i++)
            {
                int ty = tiles[i] / tilesWide, oy = 2 * ty, ox = wide * (tiles[i] - ty * tilesWide);
                int columns = Math.Min(wide, g.OutWidth - ox), rows = Math.Min(2, g.OutHeight - oy);
                sbyte* pixel = output + (oy * g.OutWidth + ox) * outChannels;
                sbyte* block = output + (ty * (g.OutWidth / 2) + ox / 2) * outChannels;
                for (int h = 0; h < vectors; h++)
                {
                    int at = channel + h * TLanes.Lanes;
                    var bias = TLanes.Load(r.Bias + at);
                    if (pooled && typeof(TTile) == typeof(TwoByTwo))
                    {
                        OutputTransformTwoByTwo(products + h * MaximumGroup + i, 2 * MaximumGroup, out var y00, out var y01, out var y10, out var y11);
                        Int8Convolution.Store<TLanes, TVector>(block, Quarter(Max(Max(y00, y01), Max(y10, y11)), bias), at, outChannels, partial, r);
                        continue;
                    }
                    if (typeof(TTile) == typeof(TwoByTwo))
                    {
                        // The 2×2 outputs stay in registers (measured: through the buffer, small_cnn's 32- and 64-channel layers lose 3–6%).
                        bool right = columns > 1, down = rows > 1;
                        OutputTransformTwoByTwo(products + h * MaximumGroup + i, 2 * MaximumGroup, out var y00, out var y01, out var y10, out var y11);
                        Int8Convolution.Store<TLanes, TVector>(pixel, Quarter(y00, bias), at, outChannels, partial, r);
                        if (right) Int8Convolution.Store<TLanes, TVector>(pixel + outChannels, Quarter(y01, bias), at, outChannels, partial, r);
                        if (down) Int8Convolution.Store<TLanes, TVector>(pixel + g.OutWidth * outChannels, Quarter(y10, bias), at, outChannels, partial, r);
                        if (down && right) Int8Convolution.Store<TLanes, TVector>(pixel + (g.OutWidth + 1) * outChannels, Quarter(y11, bias), at, outChannels, partial, r);
                        continue;
                    }
                    TTile.OutputTransform(products + h * MaximumGroup + i, 2 * MaximumGroup, y);
                    if (pooled)
                    {
                        for (int k = 0; k < columns / 2; k++)
                            Int8Convolution.Store<TLanes, TVector>(block + k * outChannels,
                                TTile.Accumulator(Max(Max(y[2 * k], y[2 * k + 1]), Max(y[wide + 2 * k], y[wide + 2 * k + 1])), bias), at, outChannels, partial, r);
                        continue;
                    }
                    for (int dy = 0; dy < rows; dy++)
                        for (int dx = 0; dx < columns; dx++)
                            Int8Convolution.Store<TLanes, TVector>(pixel + (dy * g.OutWidth + dx) * outChannels, TTile.Accumulator(y[dy * wide + dx], bias), at, outChannels, partial, r);
                }
            }
        }

        /// <summary>The plain Winograd loops: per tile and output channel, the sums over the input channels at every ξ, then Y.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void GemmsScalar<TTile>(short* transformed, short* weights, sbyte* output, in Requantizer r, in ConvolutionGeometry g, in Block block, bool pooled)
            where TTile : struct, IWinogradTile
        {
            const int Block = ConvolutionGeometry.BlockChannels;
            int positions = TTile.Positions, wide = TTile.Wide;
            int pairs = g.ChannelPairs, rowLength = 2 * pairs, tilesWide = TilesWide(g, TTile.Tile);
            int* products = stackalloc int[FourByTwo.Positions];
            int* y = stackalloc int[2 * FourByTwo.Wide];
            for (int i = 0; i < block.Count; i++)
            {
                int tile = block.First + i, ty = tile / tilesWide, oy = 2 * ty, ox = wide * (tile - ty * tilesWide);
                for (int m = 0; m < g.OutChannels; m++)
                {
                    int outputBlock = m / Block, lane = m % Block;
                    for (int xi = 0; xi < positions; xi++)
                    {
                        short* row = transformed + (xi * block.Stride + i) * rowLength;
                        int sum = 0;
                        for (int c = 0; c < rowLength; c++)
                            sum += row[c] * weights[2 * (((outputBlock * positions + xi) * pairs + c / 2) * Block + lane) + (c & 1)];
                        products[xi] = sum;
                    }
                    TTile.OutputTransform(products, 1, y);
                    int bias = r.Bias[m];
                    if (pooled)
                    {
                        for (int k = 0; 2 * k < wide && ox + 2 * k < g.OutWidth; k++)
                        {
                            int largest = Math.Max(Math.Max(y[2 * k], y[2 * k + 1]), Math.Max(y[wide + 2 * k], y[wide + 2 * k + 1]));
                            output[(ty * (g.OutWidth / 2) + ox / 2 + k) * g.OutChannels + m] = r.Scalar(TTile.Accumulator(largest, bias), m);
                        }
                        continue;
                    }
                    for (int dy = 0; dy < 2 && oy + dy < g.OutHeight; dy++)
                        for (int dx = 0; dx < wide && ox + dx < g.OutWidth; dx++)
                            r.StoreScalar(output + ((oy + dy) * g.OutWidth + ox + dx) * g.OutChannels + m, TTile.Accumulator(y[dy * wide + dx], bias), m);
                }
            }
        }
    }
}
