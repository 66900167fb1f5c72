using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NetQuantGen.Runtime.Kernels
{
    /// <summary>
    /// The build-time constants of one pooling layer over one channels-last image; generated code passes literals.
    /// PadBottom and PadRight are the explicit pads only (a ceil_mode overhang beyond them never counts).
    /// </summary>
    public readonly record struct PoolGeometry(
        int InHeight, int InWidth, int Channels, int OutHeight, int OutWidth,
        int KernelHeight, int KernelWidth, int StrideHeight, int StrideWidth, int DilationHeight, int DilationWidth,
        int PadTop, int PadLeft, int PadBottom, int PadRight, int InputZeroPoint, bool CountIncludePad);

    /// <summary>
    /// Max and average pooling on channels-last int8 images: per output pixel, the valid taps of its window, whole
    /// channel rows at a time (vectors of channels on the vector paths). Max is exact on any path; the average is an
    /// int32 sum per channel (exact, any order) followed by the rounding division of the integer reference.
    /// </summary>
    public static unsafe class Int8Pooling
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Max(ReadOnlySpan<sbyte> x, Span<sbyte> y, in PoolGeometry g)
        {
            CheckBounds(x, y, g);
            int channels = g.Channels, rowStep = g.DilationHeight * g.InWidth * channels, tapStep = g.DilationWidth * channels;
            var path = KernelPaths.Current;
            fixed (sbyte* input = x, output = y)
                for (int oy = 0, p = 0; oy < g.OutHeight; oy++)
                {
                    int iy0 = oy * g.StrideHeight - g.PadTop;
                    int kyFirst = FirstInside(iy0, g.DilationHeight), kyEnd = EndInside(iy0, g.DilationHeight, g.KernelHeight, g.InHeight);
                    for (int ox = 0; ox < g.OutWidth; ox++, p++)
                    {
                        int ix0 = ox * g.StrideWidth - g.PadLeft;
                        int kxFirst = FirstInside(ix0, g.DilationWidth), kxEnd = EndInside(ix0, g.DilationWidth, g.KernelWidth, g.InWidth);
                        // Only taps inside the window's rectangle of valid rows and columns are read through this origin.
                        sbyte* origin = input + ((long)iy0 * g.InWidth + ix0) * channels;
                        var taps = new TapRectangle(kyFirst, kyEnd, kxFirst, kxEnd, rowStep, tapStep);
                        MaxOfWindow(output + (long)p * channels, origin, channels, taps, path);
                    }
                }
        }

        /// <summary>The first kernel index whose tap i0 + k·d lies at 0 or after.</summary>
        private static int FirstInside(int i0, int d) => i0 >= 0 ? 0 : (-i0 + d - 1) / d;

        /// <summary>One past the last kernel index (of <paramref name="k"/>) whose tap i0 + k·d lies before <paramref name="n"/>.</summary>
        private static int EndInside(int i0, int d, int k, int n) => i0 >= n ? 0 : Math.Min(k, (n - 1 - i0) / d + 1);

        /// <summary>A window's taps inside the image: kernel rows [KyFirst, KyEnd) × columns [KxFirst, KxEnd), at these steps from its origin.</summary>
        private readonly record struct TapRectangle(int KyFirst, int KyEnd, int KxFirst, int KxEnd, int RowStep, int TapStep);

        /// <summary>
        /// Each vector of channels takes its maximum over the valid taps in a register and is stored once (a running
        /// maximum kept in the output would wait on its own store at every tap); int8 minimum when no tap is valid.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void MaxOfWindow(sbyte* target, sbyte* origin, int channels, in TapRectangle t, KernelPath path)
        {
            int c = 0;
            if (path == KernelPath.Vector512 && Vector512.IsHardwareAccelerated)
                for (; c + 64 <= channels; c += 64)
                {
                    var max = Vector512.Create(sbyte.MinValue);
                    for (int ky = t.KyFirst; ky < t.KyEnd; ky++)
                        for (int kx = t.KxFirst; kx < t.KxEnd; kx++) max = Vector512.Max(max, Vector512.Load(origin + ky * t.RowStep + kx * t.TapStep + c));
                    max.Store(target + c);
                }
            if (path >= KernelPath.Vector256 && Vector256.IsHardwareAccelerated)
                for (; c + 32 <= channels; c += 32)
                {
                    var max = Vector256.Create(sbyte.MinValue);
                    for (int ky = t.KyFirst; ky < t.KyEnd; ky++)
                        for (int kx = t.KxFirst; kx < t.KxEnd; kx++) max = Vector256.Max(max, Vector256.Load(origin + ky * t.RowStep + kx * t.TapStep + c));
                    max.Store(target + c);
                }
            if (path >= KernelPath.Vector128)
                for (; c + 16 <= channels; c += 16)
                {
                    var max = Vector128.Create(sbyte.MinValue);
                    for (int ky = t.KyFirst; ky < t.KyEnd; ky++)
                        for (int kx = t.KxFirst; kx < t.KxEnd; kx++) max = Vector128.Max(max, Vector128.Load(origin + ky * t.RowStep + kx * t.TapStep + c));
                    max.Store(target + c);
                }
            for (; c < channels; c++)
            {
                sbyte max = sbyte.MinValue;
                for (int ky = t.KyFirst; ky < t.KyEnd; ky++)
                    for (int kx = t.KxFirst; kx < t.KxEnd; kx++) max = Math.Max(max, origin[ky * t.RowStep + kx * t.TapStep + c]);
                target[c] = max;
            }
        }

        /// <summary>Rounding division (ties away from zero) of each channel's sum by the window's count; padding counts as the zero-point when CountIncludePad.</summary>
        public static void Average(ReadOnlySpan<sbyte> x, Span<sbyte> y, in PoolGeometry g) => AverageCore(x, y, g, float.NaN, 0);

        /// <summary>
        /// The average in ONNX Runtime's float arithmetic (QLinearGlobalAveragePool): <see cref="FloatRequantization.Requantize"/>
        /// of Σ(x − z_in) with <paramref name="scale"/> = s_in / (s_out·count).
        /// </summary>
        public static void Average(ReadOnlySpan<sbyte> x, Span<sbyte> y, in PoolGeometry g, float scale, int outputZeroPoint)
        {
            if (float.IsNaN(scale)) throw new ArgumentException("The float average needs a scale.", nameof(scale));
            AverageCore(x, y, g, scale, outputZeroPoint);
        }

        /// <summary>Fixed-point rounding division when <paramref name="scale"/> is NaN, float requantization otherwise.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void AverageCore(ReadOnlySpan<sbyte> x, Span<sbyte> y, in PoolGeometry g, float scale, int outputZeroPoint)
        {
            CheckBounds(x, y, g);
            int channels = g.Channels;
            bool vector = KernelPaths.Current >= KernelPath.Vector128;
            int* sum = stackalloc int[channels];
            fixed (sbyte* input = x, output = y)
                for (int oy = 0, p = 0; oy < g.OutHeight; oy++)
                    for (int ox = 0; ox < g.OutWidth; ox++, p++)
                    {
                        new Span<int>(sum, channels).Clear();
                        int count = 0, padded = 0;
                        for (int ky = 0; ky < g.KernelHeight; ky++)
                            for (int kx = 0; kx < g.KernelWidth; kx++)
                            {
                                int iy = oy * g.StrideHeight - g.PadTop + ky * g.DilationHeight, ix = ox * g.StrideWidth - g.PadLeft + kx * g.DilationWidth;
                                if ((uint)iy >= (uint)g.InHeight || (uint)ix >= (uint)g.InWidth)
                                {
                                    if (iy < g.InHeight + g.PadBottom && ix < g.InWidth + g.PadRight) padded++;
                                    continue;
                                }
                                count++;
                                AddInto(sum, input + (iy * g.InWidth + ix) * channels, channels, vector);
                            }
                        if (g.CountIncludePad) count += padded;
                        else padded = 0;
                        sbyte* pixel = output + p * channels;
                        for (int c = 0; c < channels; c++)
                        {
                            int total = sum[c] + padded * g.InputZeroPoint;
                            pixel[c] = float.IsNaN(scale)
                                ? (sbyte)(total >= 0 ? (total + count / 2) / count : (total - count / 2) / count)
                                : (sbyte)FloatRequantization.Requantize(total - count * g.InputZeroPoint, scale, outputZeroPoint, sbyte.MinValue, sbyte.MaxValue);
                        }
                    }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void AddInto(int* sum, sbyte* source, int channels, bool vector)
        {
            int c = 0;
            if (vector)
                for (; c + 16 <= channels; c += 16)
                {
                    var bytes = Vector128.Load(source + c);
                    var (low, high) = (Vector128.WidenLower(bytes), Vector128.WidenUpper(bytes));
                    (Vector128.Load(sum + c) + Vector128.WidenLower(low)).Store(sum + c);
                    (Vector128.Load(sum + c + 4) + Vector128.WidenUpper(low)).Store(sum + c + 4);
                    (Vector128.Load(sum + c + 8) + Vector128.WidenLower(high)).Store(sum + c + 8);
                    (Vector128.Load(sum + c + 12) + Vector128.WidenUpper(high)).Store(sum + c + 12);
                }
            for (; c < channels; c++) sum[c] += source[c];
        }

        private static void CheckBounds(ReadOnlySpan<sbyte> x, Span<sbyte> y, in PoolGeometry g)
        {
            if (x.Length < g.InHeight * g.InWidth * g.Channels || y.Length < g.OutHeight * g.OutWidth * g.Channels)
                throw new ArgumentException("Pooling buffers do not match their geometry: the generated code and the runtime library do not match.");
        }
    }
}
