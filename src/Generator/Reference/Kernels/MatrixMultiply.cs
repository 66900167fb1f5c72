using System;
using System.Numerics;

namespace NetQuantGen.Reference.Kernels
{
    /// <summary>A strided view of a matrix: element (i, j) is <c>Data[Offset + i·RowStride + j·ColStride]</c>.</summary>
    internal readonly struct MatrixView
    {
        public MatrixView(float[] data, int offset, int rowStride, int colStride)
        {
            Data = data;
            Offset = offset;
            RowStride = rowStride;
            ColStride = colStride;
        }

        public float[] Data { get; }

        public int Offset { get; }

        public int RowStride { get; }

        public int ColStride { get; }

        /// <summary>A row-major matrix with <paramref name="columns"/> columns starting at <paramref name="offset"/>.</summary>
        public static MatrixView RowMajor(float[] data, int offset, int columns) => new(data, offset, columns, 1);

        public MatrixView Transposed() => new(Data, Offset, ColStride, RowStride);
    }

    /// <summary>
    /// A matrix packed once for <see cref="Sgemm"/>: for every depth block of <see cref="Sgemm.KC"/>, panels of
    /// <see cref="Sgemm.MR"/> rows (the A side) or <see cref="Sgemm.NR"/> columns (the B side), each stored
    /// depth-major and zero-padded to the full panel width. Used for constant weights.
    /// </summary>
    internal sealed class PackedMatrix
    {
        private PackedMatrix(float[] data, int extent, int depth, int width)
        {
            Data = data;
            Extent = extent;
            Depth = depth;
            Width = width;
            PaddedExtent = (extent + width - 1) / width * width;
        }

        public float[] Data { get; }

        /// <summary>Rows of an A-side matrix, columns of a B-side one.</summary>
        public int Extent { get; }

        /// <summary>The shared (inner) dimension.</summary>
        public int Depth { get; }

        public int Width { get; }

        public int PaddedExtent { get; }

        /// <summary>Where the panels of depth block starting at <paramref name="depthStart"/> begin.</summary>
        public int BlockOffset(int depthStart) => depthStart * PaddedExtent;

        /// <summary>Packs an m×k matrix as the left operand.</summary>
        public static unsafe PackedMatrix PackA(MatrixView a, int m, int k)
        {
            var packed = new PackedMatrix(new float[Math.Max(1, (m + Sgemm.MR - 1) / Sgemm.MR * Sgemm.MR * k)], m, k, Sgemm.MR);
            fixed (float* src = a.Data, dst = packed.Data)
                for (int pc = 0; pc < k; pc += Sgemm.KC)
                {
                    int kc = Math.Min(Sgemm.KC, k - pc);
                    Sgemm.PackA(src, a, 0, pc, m, kc, dst + packed.BlockOffset(pc));
                }
            return packed;
        }

        /// <summary>Packs a k×n matrix as the right operand.</summary>
        public static unsafe PackedMatrix PackB(MatrixView b, int k, int n)
        {
            int nr = Sgemm.NR;
            var packed = new PackedMatrix(new float[Math.Max(1, (n + nr - 1) / nr * nr * k)], n, k, nr);
            fixed (float* src = b.Data, dst = packed.Data)
                for (int pc = 0; pc < k; pc += Sgemm.KC)
                {
                    int kc = Math.Min(Sgemm.KC, k - pc);
                    Sgemm.PackB(src, b, pc, 0, kc, n, dst + packed.BlockOffset(pc));
                }
            return packed;
        }
    }

    /// <summary>
    /// Single-precision matrix multiplication C (+)= A·B over strided views, the engine of Conv, Gemm and MatMul.
    /// Cache-blocked in the manner of BLIS (depth blocks of <see cref="KC"/>, row blocks of <see cref="MC"/>,
    /// column blocks of <see cref="NC"/>), with packed operands and an <see cref="MR"/>×<see cref="NR"/>
    /// register-blocked micro-kernel on <see cref="Vector{T}"/>; matrix-vector products take a separate
    /// memory-bound path. Not thread-safe: the buffers live in the caller's <see cref="Workspace"/>.
    /// </summary>
    internal static unsafe class Sgemm
    {
        /// <summary>Rows of the micro-kernel.</summary>
        public const int MR = 6;

        /// <summary>Depth block: an MR×KC and a KC×NR panel stay in L1 together.</summary>
        public const int KC = 256;

        /// <summary>Rows per block of packed A (kept in L2).</summary>
        public const int MC = 120;

        /// <summary>Columns per block of packed B; a multiple of <see cref="NR"/> for every vector width.</summary>
        public const int NC = 1024;

        /// <summary>Columns of the micro-kernel: two vectors.</summary>
        public static int NR => 2 * Vector<float>.Count;

        /// <summary>Floats of packing space <see cref="Multiply"/> may use.</summary>
        public static int PackFloats => MC * KC + KC * NC;

        /// <summary>
        /// Whether computing Cᵀ = Bᵀ·Aᵀ wastes less of the micro-kernel than C = A·B (C has few columns).
        /// </summary>
        public static bool PreferTransposed(int m, int n)
        {
            long Padded(int x, int w) => (x + w - 1) / w * (long)w;
            return Padded(m, MR) * Padded(n, NR) > Padded(n, MR) * Padded(m, NR);
        }

        /// <summary>
        /// C (+)= A·B for an m×k A and a k×n B. Either operand may come pre-packed (then its view is ignored).
        /// With <paramref name="accumulate"/> false C is overwritten.
        /// </summary>
        public static void Multiply(int m, int n, int k, MatrixView a, MatrixView b, MatrixView c, bool accumulate, Workspace ws,
            PackedMatrix? packedA = null, PackedMatrix? packedB = null)
        {
            if (m <= 0 || n <= 0) return;
            fixed (float* pa = a.Data, pb = b.Data, pc = c.Data)
            {
                if (k <= 0)
                {
                    if (!accumulate)
                        for (int i = 0; i < m; i++)
                            for (int j = 0; j < n; j++)
                                pc[c.Offset + i * c.RowStride + j * c.ColStride] = 0f;
                    return;
                }
                if (packedA == null && packedB == null && (n == 1 || m == 1))
                {
                    MultiplyVector(m, n, k, pa, a, pb, b, pc, c, accumulate, ws);
                    return;
                }
                fixed (float* wsA = ws.PackA, wsB = ws.PackB, tile = ws.Tile)
                    Blocked(m, n, k, pa, a, pb, b, pc + c.Offset, c.RowStride, c.ColStride, accumulate, wsA, wsB, tile, packedA, packedB);
            }
        }

        private static void Blocked(int m, int n, int k, float* pa, MatrixView a, float* pb, MatrixView b, float* c, int rsC, int csC,
            bool accumulate, float* wsA, float* wsB, float* tile, PackedMatrix? packedA, PackedMatrix? packedB)
        {
            int nr = NR;
            fixed (float* preA = packedA?.Data, preB = packedB?.Data)
            {
                for (int jc = 0; jc < n; jc += NC)
                {
                    int nc = Math.Min(NC, n - jc);
                    for (int pcol = 0; pcol < k; pcol += KC)
                    {
                        int kc = Math.Min(KC, k - pcol);
                        float* bBlock;
                        if (packedB != null)
                            bBlock = preB + packedB.BlockOffset(pcol) + jc * kc; // panel jc/NR of this depth block
                        else
                        {
                            PackB(pb, b, pcol, jc, kc, nc, wsB);
                            bBlock = wsB;
                        }
                        bool acc = accumulate || pcol > 0;
                        for (int ic = 0; ic < m; ic += MC)
                        {
                            int mc = Math.Min(MC, m - ic);
                            float* aBlock;
                            if (packedA != null)
                                aBlock = preA + packedA.BlockOffset(pcol) + ic * kc;
                            else
                            {
                                PackA(pa, a, ic, pcol, mc, kc, wsA);
                                aBlock = wsA;
                            }
                            for (int jr = 0; jr < nc; jr += nr)
                            {
                                int nrEff = Math.Min(nr, nc - jr);
                                float* bPanel = bBlock + jr * kc;
                                for (int ir = 0; ir < mc; ir += MR)
                                {
                                    int mrEff = Math.Min(MR, mc - ir);
                                    float* cTile = c + (long)(ic + ir) * rsC + (long)(jc + jr) * csC;
                                    MicroKernel(kc, aBlock + ir * kc, bPanel, cTile, rsC, csC, mrEff, nrEff, acc, tile);
                                }
                            }
                        }
                    }
                }
            }
        }

        /// <summary>Packs rows [i0, i0+mc) × depth [p0, p0+kc) of A into MR-row panels, zero-padding the last.</summary>
        internal static void PackA(float* src, MatrixView a, int i0, int p0, int mc, int kc, float* dst)
        {
            int rs = a.RowStride, cs = a.ColStride;
            for (int ir = 0; ir < mc; ir += MR)
            {
                int rows = Math.Min(MR, mc - ir);
                float* d = dst + ir * kc;
                float* s = src + a.Offset + (long)(i0 + ir) * rs + (long)p0 * cs;
                if (rows == MR)
                {
                    if (cs == 1)
                    {
                        float* s0 = s, s1 = s + rs, s2 = s + 2 * rs, s3 = s + 3 * rs, s4 = s + 4 * rs, s5 = s + 5 * rs;
                        for (int p = 0; p < kc; p++, d += MR)
                        {
                            d[0] = s0[p]; d[1] = s1[p]; d[2] = s2[p]; d[3] = s3[p]; d[4] = s4[p]; d[5] = s5[p];
                        }
                    }
                    else
                    {
                        for (int p = 0; p < kc; p++, d += MR, s += cs)
                        {
                            d[0] = s[0]; d[1] = s[rs]; d[2] = s[2 * rs]; d[3] = s[3 * rs]; d[4] = s[4 * rs]; d[5] = s[5 * rs];
                        }
                    }
                }
                else
                {
                    for (int p = 0; p < kc; p++, d += MR, s += cs)
                    {
                        int i = 0;
                        for (; i < rows; i++) d[i] = s[(long)i * rs];
                        for (; i < MR; i++) d[i] = 0f;
                    }
                }
            }
        }

        /// <summary>Packs depth [p0, p0+kc) × columns [j0, j0+nc) of B into NR-column panels, zero-padding the last.</summary>
        internal static void PackB(float* src, MatrixView b, int p0, int j0, int kc, int nc, float* dst)
        {
            int nr = NR, vc = Vector<float>.Count;
            int rs = b.RowStride, cs = b.ColStride;
            for (int jr = 0; jr < nc; jr += nr)
            {
                int cols = Math.Min(nr, nc - jr);
                float* d = dst + jr * kc;
                float* s = src + b.Offset + (long)p0 * rs + (long)(j0 + jr) * cs;
                if (cols == nr && cs == 1)
                {
                    for (int p = 0; p < kc; p++, d += nr, s += rs)
                    {
                        *(Vector<float>*)d = *(Vector<float>*)s;
                        *(Vector<float>*)(d + vc) = *(Vector<float>*)(s + vc);
                    }
                }
                else if (cs == 1)
                {
                    for (int p = 0; p < kc; p++, d += nr, s += rs)
                    {
                        int j = 0;
                        for (; j < cols; j++) d[j] = s[j];
                        for (; j < nr; j++) d[j] = 0f;
                    }
                }
                else
                {
                    // Columns are strided (a transposed operand): walk each column down the depth.
                    for (int j = 0; j < nr; j++)
                    {
                        float* dj = d + j;
                        if (j < cols)
                        {
                            float* sj = s + (long)j * cs;
                            for (int p = 0; p < kc; p++, dj += nr, sj += rs) *dj = *sj;
                        }
                        else
                            for (int p = 0; p < kc; p++, dj += nr) *dj = 0f;
                    }
                }
            }
        }

        /// <summary>
        /// The register-blocked core: an MR×NR tile of C from an MR-row panel of A and an NR-column panel of B,
        /// twelve vector accumulators. Partial or strided tiles go through <paramref name="tile"/>.
        /// </summary>
        private static void MicroKernel(int kc, float* a, float* b, float* c, int rsC, int csC, int mr, int nr, bool accumulate, float* tile)
        {
            int vc = Vector<float>.Count;
            Vector<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
            Vector<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
            for (int p = 0; p < kc; p++)
            {
                Vector<float> b0 = *(Vector<float>*)b;
                Vector<float> b1 = *(Vector<float>*)(b + vc);
                Vector<float> av = new Vector<float>(a[0]);
                c00 += av * b0;
                c01 += av * b1;
                av = new Vector<float>(a[1]);
                c10 += av * b0;
                c11 += av * b1;
                av = new Vector<float>(a[2]);
                c20 += av * b0;
                c21 += av * b1;
                av = new Vector<float>(a[3]);
                c30 += av * b0;
                c31 += av * b1;
                av = new Vector<float>(a[4]);
                c40 += av * b0;
                c41 += av * b1;
                av = new Vector<float>(a[5]);
                c50 += av * b0;
                c51 += av * b1;
                a += MR;
                b += 2 * vc;
            }

            if (mr == MR && nr == 2 * vc && csC == 1)
            {
                if (accumulate)
                {
                    Add(c, vc, c00, c01); Add(c + rsC, vc, c10, c11); Add(c + 2 * rsC, vc, c20, c21);
                    Add(c + 3 * rsC, vc, c30, c31); Add(c + 4 * rsC, vc, c40, c41); Add(c + 5 * rsC, vc, c50, c51);
                }
                else
                {
                    Store(c, vc, c00, c01); Store(c + rsC, vc, c10, c11); Store(c + 2 * rsC, vc, c20, c21);
                    Store(c + 3 * rsC, vc, c30, c31); Store(c + 4 * rsC, vc, c40, c41); Store(c + 5 * rsC, vc, c50, c51);
                }
                return;
            }

            int w = 2 * vc;
            Store(tile, vc, c00, c01); Store(tile + w, vc, c10, c11); Store(tile + 2 * w, vc, c20, c21);
            Store(tile + 3 * w, vc, c30, c31); Store(tile + 4 * w, vc, c40, c41); Store(tile + 5 * w, vc, c50, c51);
            for (int i = 0; i < mr; i++)
            {
                float* row = c + (long)i * rsC;
                float* t = tile + i * w;
                if (accumulate)
                    for (int j = 0; j < nr; j++) row[(long)j * csC] += t[j];
                else
                    for (int j = 0; j < nr; j++) row[(long)j * csC] = t[j];
            }
        }

        private static void Store(float* p, int vc, Vector<float> x, Vector<float> y)
        {
            *(Vector<float>*)p = x;
            *(Vector<float>*)(p + vc) = y;
        }

        private static void Add(float* p, int vc, Vector<float> x, Vector<float> y)
        {
            *(Vector<float>*)p += x;
            *(Vector<float>*)(p + vc) += y;
        }

        /// <summary>C (+)= A·B when C is a single row or column: dot products or AXPYs, no packing.</summary>
        private static void MultiplyVector(int m, int n, int k, float* pa, MatrixView a, float* pb, MatrixView b, float* pc, MatrixView c,
            bool accumulate, Workspace ws)
        {
            // Express both cases as y = X·v with X (len × k) and v (k).
            MatrixView x;
            float* xData;
            float* v;
            int vStride, len, yStride;
            if (n == 1)
            {
                x = a; xData = pa; v = pb + b.Offset; vStride = b.RowStride; len = m; yStride = c.RowStride;
            }
            else
            {
                x = b.Transposed(); xData = pb; v = pa + a.Offset; vStride = a.ColStride; len = n; yStride = c.ColStride;
            }
            fixed (float* scratch = ws.Vector)
            {
                float* vec = v;
                if (vStride != 1)
                {
                    vec = scratch;
                    for (int p = 0; p < k; p++) vec[p] = v[(long)p * vStride];
                }
                float* y = scratch + k;
                MatrixVector(len, k, xData + x.Offset, x.RowStride, x.ColStride, vec, y);
                float* dst = pc + c.Offset;
                if (accumulate)
                    for (int i = 0; i < len; i++) dst[(long)i * yStride] += y[i];
                else
                    for (int i = 0; i < len; i++) dst[(long)i * yStride] = y[i];
            }
        }

        /// <summary>y[i] = Σ_p X[i·rs + p·cs]·v[p] for i &lt; len, with contiguous v and y.</summary>
        private static void MatrixVector(int len, int k, float* x, int rs, int cs, float* v, float* y)
        {
            int vc = Vector<float>.Count;
            if (cs == 1)
            {
                // Rows contiguous: four dot products at a time.
                int i = 0;
                for (; i + 4 <= len; i += 4)
                {
                    float* r0 = x + (long)i * rs, r1 = r0 + rs, r2 = r1 + rs, r3 = r2 + rs;
                    Vector<float> s0 = default, s1 = default, s2 = default, s3 = default;
                    int p = 0;
                    for (; p + vc <= k; p += vc)
                    {
                        var vv = *(Vector<float>*)(v + p);
                        s0 += *(Vector<float>*)(r0 + p) * vv;
                        s1 += *(Vector<float>*)(r1 + p) * vv;
                        s2 += *(Vector<float>*)(r2 + p) * vv;
                        s3 += *(Vector<float>*)(r3 + p) * vv;
                    }
                    float t0 = Vector.Dot(s0, Vector<float>.One), t1 = Vector.Dot(s1, Vector<float>.One);
                    float t2 = Vector.Dot(s2, Vector<float>.One), t3 = Vector.Dot(s3, Vector<float>.One);
                    for (; p < k; p++)
                    {
                        t0 += r0[p] * v[p]; t1 += r1[p] * v[p]; t2 += r2[p] * v[p]; t3 += r3[p] * v[p];
                    }
                    y[i] = t0; y[i + 1] = t1; y[i + 2] = t2; y[i + 3] = t3;
                }
                for (; i < len; i++)
                {
                    float* r = x + (long)i * rs;
                    Vector<float> s = default;
                    int p = 0;
                    for (; p + vc <= k; p += vc) s += *(Vector<float>*)(r + p) * *(Vector<float>*)(v + p);
                    float t = Vector.Dot(s, Vector<float>.One);
                    for (; p < k; p++) t += r[p] * v[p];
                    y[i] = t;
                }
            }
            else if (rs == 1)
            {
                // Columns contiguous: y += v[p]·column p.
                for (int i = 0; i < len; i++) y[i] = 0f;
                for (int p = 0; p < k; p++)
                {
                    float* col = x + (long)p * cs;
                    var s = new Vector<float>(v[p]);
                    float sv = v[p];
                    int i = 0;
                    for (; i + vc <= len; i += vc) *(Vector<float>*)(y + i) += s * *(Vector<float>*)(col + i);
                    for (; i < len; i++) y[i] += sv * col[i];
                }
            }
            else
            {
                for (int i = 0; i < len; i++)
                {
                    float t = 0f;
                    float* r = x + (long)i * rs;
                    for (int p = 0; p < k; p++) t += r[(long)p * cs] * v[p];
                    y[i] = t;
                }
            }
        }
    }
}
