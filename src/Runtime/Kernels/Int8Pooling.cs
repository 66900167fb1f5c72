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
            int channels = g.Channels;
            var path = KernelPaths.Current;
            fixed (sbyte* input = x, output = y)
                for (int oy = 0, p = 0; oy < g.OutHeight; oy++)
                    for (int ox = 0; ox < g.OutWidth; ox++, p++)
                    {
                        sbyte* pixel = output + p * channels;
                        new Span<sbyte>(pixel, channels).Fill(sbyte.MinValue);
                        for (int ky = 0; ky < g.KernelHeight; ky++)
                        {
                            int iy = oy * g.StrideHeight - g.PadTop + ky * g.DilationHeight;
                            if ((uint)iy >= (uint)g.InHeight) continue;
                            for (int kx = 0; kx < g.KernelWidth; kx++)
                            {
                                int ix = ox * g.StrideWidth - g.PadLeft + kx * g.DilationWidth;
                                if ((uint)ix >= (uint)g.InWidth) continue;
                                MaxInto(pixel, input + (iy * g.InWidth + ix) * channels, channels, path);
                            }
                        }
                    }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void MaxInto(sbyte* target, sbyte* source, int channels, KernelPath path)
        {
            int c = 0;
            if (path >= KernelPath.Vector256 && Vector256.IsHardwareAccelerated)
                for (; c + 32 <= channels; c += 32)
                    Vector256.Max(Vector256.Load(target + c), Vector256.Load(source + c)).Store(target + c);
            if (path >= KernelPath.Vector128)
                for (; c + 16 <= channels; c += 16)
                    Vector128.Max(Vector128.Load(target + c), Vector128.Load(source + c)).Store(target + c);
            for (; c < channels; c++)
                if (source[c] > target[c]) target[c] = source[c];
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
