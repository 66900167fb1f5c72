using System;
using System.Numerics;
using System.Runtime.InteropServices;

namespace NetQuantGen.Cli.Optimization
{
    /// <summary>The two float kernels the layer-wise optimizers spend their time in, vectorized.</summary>
    internal static class VectorMath
    {
        public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
        {
            var va = MemoryMarshal.Cast<float, Vector<float>>(a);
            var vb = MemoryMarshal.Cast<float, Vector<float>>(b);
            var sum = Vector<float>.Zero;
            for (int i = 0; i < va.Length; i++) sum += va[i] * vb[i];
            float result = Vector.Sum(sum);
            for (int i = va.Length * Vector<float>.Count; i < a.Length; i++) result += a[i] * b[i];
            return result;
        }

        /// <summary>y += alpha·x.</summary>
        public static void AddScaled(Span<float> y, float alpha, ReadOnlySpan<float> x)
        {
            var vy = MemoryMarshal.Cast<float, Vector<float>>(y);
            var vx = MemoryMarshal.Cast<float, Vector<float>>(x);
            var va = new Vector<float>(alpha);
            for (int i = 0; i < vy.Length; i++) vy[i] += va * vx[i];
            for (int i = vy.Length * Vector<float>.Count; i < y.Length; i++) y[i] += alpha * x[i];
        }
    }
}
