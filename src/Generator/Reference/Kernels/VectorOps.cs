using System.Numerics;

namespace NetQuantGen.Reference.Kernels
{
    /// <summary>Small vectorized loops over contiguous floats shared by the kernels.</summary>
    internal static unsafe class VectorOps
    {
        public static void Fill(float* p, int count, float value)
        {
            int vc = Vector<float>.Count, i = 0;
            var v = new Vector<float>(value);
            for (; i + vc <= count; i += vc) *(Vector<float>*)(p + i) = v;
            for (; i < count; i++) p[i] = value;
        }

        /// <summary>p[i] += value.</summary>
        public static void AddScalar(float* p, int count, float value)
        {
            int vc = Vector<float>.Count, i = 0;
            var v = new Vector<float>(value);
            for (; i + vc <= count; i += vc) *(Vector<float>*)(p + i) += v;
            for (; i < count; i++) p[i] += value;
        }

        /// <summary>y[i] += a·x[i].</summary>
        public static void Axpy(float* y, float* x, int count, float a)
        {
            int vc = Vector<float>.Count, i = 0;
            var av = new Vector<float>(a);
            for (; i + vc <= count; i += vc) *(Vector<float>*)(y + i) += av * *(Vector<float>*)(x + i);
            for (; i < count; i++) y[i] += a * x[i];
        }

        /// <summary>p[i] = min(max(p[i], lo), hi).</summary>
        public static void Clamp(float* p, int count, float lo, float hi)
        {
            int vc = Vector<float>.Count, i = 0;
            var vlo = new Vector<float>(lo);
            var vhi = new Vector<float>(hi);
            for (; i + vc <= count; i += vc) *(Vector<float>*)(p + i) = Vector.Min(Vector.Max(*(Vector<float>*)(p + i), vlo), vhi);
            for (; i < count; i++)
            {
                float v = p[i];
                if (v < lo) v = lo;
                if (v > hi) v = hi;
                p[i] = v;
            }
        }

        /// <summary>Applies a fused activation clamp (nothing when null).</summary>
        public static void Clamp(float[] data, NetQuantGen.IR.FusedClamp? clamp)
        {
            if (clamp == null) return;
            fixed (float* p = data) Clamp(p, data.Length, clamp.Min, clamp.Max);
        }

        public static void Copy(float* dst, float* src, int count)
        {
            int vc = Vector<float>.Count, i = 0;
            for (; i + vc <= count; i += vc) *(Vector<float>*)(dst + i) = *(Vector<float>*)(src + i);
            for (; i < count; i++) dst[i] = src[i];
        }
    }
}
