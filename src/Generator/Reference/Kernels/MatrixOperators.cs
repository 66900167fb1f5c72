using System;
using NetQuantGen.IR;

namespace NetQuantGen.Reference.Kernels
{
    /// <summary>Gemm: Y = alpha·A'·B' + beta·C with optional transposes, C broadcast to [M, N], then the fused clamp if any.</summary>
    internal sealed unsafe class GemmKernel : Kernel
    {
        private readonly IR.Gemm _op;
        private readonly float[] _a, _b, _y;
        private readonly float[]? _c;
        private readonly int _m, _n, _k, _cRowStride, _cColStride;
        private readonly Workspace _ws;

        public GemmKernel(IR.Gemm op, Value a, Value b, Value? c, Value y, Func<Value, float[]> buffer, Workspace ws)
        {
            _op = op;
            _a = buffer(a);
            _b = buffer(b);
            _c = c == null ? null : buffer(c);
            _y = buffer(y);
            _ws = ws;
            _m = y.Shape[0];
            _n = y.Shape[1];
            _k = op.TransA ? a.Shape[0] : a.Shape[1];
            if (c != null)
            {
                int cm = c.Shape.Length >= 2 ? c.Shape[c.Shape.Length - 2] : 1;
                int cn = c.Shape.Length >= 1 ? c.Shape[c.Shape.Length - 1] : 1;
                _cRowStride = cm == 1 ? 0 : cn;
                _cColStride = cn == 1 ? 0 : 1;
            }
            ws.ReserveGemm(_m, _n, _k);
        }

        public override void Run()
        {
            int kA = _op.TransA ? _m : _k, kB = _op.TransB ? _k : _n;
            var a = MatrixView.RowMajor(_a, 0, kA);
            var b = MatrixView.RowMajor(_b, 0, kB);
            if (_op.TransA) a = a.Transposed();
            if (_op.TransB) b = b.Transposed();
            var y = MatrixView.RowMajor(_y, 0, _n);
            if (Sgemm.PreferTransposed(_m, _n))
                Sgemm.Multiply(_n, _m, _k, b.Transposed(), a.Transposed(), y.Transposed(), false, _ws);
            else
                Sgemm.Multiply(_m, _n, _k, a, b, y, false, _ws);

            float alpha = _op.Alpha, beta = _op.Beta;
            bool addC = _c != null && beta != 0f;
            if (alpha != 1f || addC)
                Scale(alpha, beta, addC);
            VectorOps.Clamp(_y, _op.Fused);
        }

        private void Scale(float alpha, float beta, bool addC)
        {
            fixed (float* py = _y, pc = _c)
                for (int i = 0; i < _m; i++)
                {
                    float* row = py + (long)i * _n;
                    if (alpha != 1f)
                        for (int j = 0; j < _n; j++) row[j] *= alpha;
                    if (addC)
                    {
                        float* c = pc + (long)i * _cRowStride;
                        for (int j = 0; j < _n; j++) row[j] += beta * c[(long)j * _cColStride];
                    }
                }
        }
    }

    /// <summary>MatMul with numpy semantics: batch broadcasting and promotion of 1-D operands.</summary>
    internal sealed class MatMulKernel : Kernel
    {
        private readonly float[] _a, _b, _y;
        private readonly int _m, _n, _k;
        private readonly int[] _aOffsets, _bOffsets;
        private readonly Workspace _ws;

        public MatMulKernel(Value a, Value b, Value y, Func<Value, float[]> buffer, Workspace ws)
        {
            _a = buffer(a);
            _b = buffer(b);
            _y = buffer(y);
            _ws = ws;
            var a2 = a.Shape.Length == 1 ? new[] { 1, a.Shape[0] } : a.Shape;
            var b2 = b.Shape.Length == 1 ? new[] { b.Shape[0], 1 } : b.Shape;
            _m = a2[a2.Length - 2];
            _k = a2[a2.Length - 1];
            _n = b2[b2.Length - 1];

            // Broadcast the batch dimensions and list every batch's matrix offset in A and B.
            int rank = Math.Max(a2.Length, b2.Length) - 2;
            var dims = new int[rank];
            var aStrides = new long[rank];
            var bStrides = new long[rank];
            long sa = (long)_m * _k, sb = (long)_k * _n;
            for (int i = rank - 1; i >= 0; i--)
            {
                int ia = i - (rank - (a2.Length - 2)), ib = i - (rank - (b2.Length - 2));
                int da = ia >= 0 ? a2[ia] : 1, db = ib >= 0 ? b2[ib] : 1;
                dims[i] = Math.Max(da, db);
                aStrides[i] = da == 1 ? 0 : sa;
                bStrides[i] = db == 1 ? 0 : sb;
                sa *= da;
                sb *= db;
            }
            int count = (int)Shapes.ElementCount(dims);
            _aOffsets = new int[count];
            _bOffsets = new int[count];
            var index = new int[rank];
            for (int t = 0; t < count; t++)
            {
                long oa = 0, ob = 0;
                for (int i = 0; i < rank; i++)
                {
                    oa += index[i] * aStrides[i];
                    ob += index[i] * bStrides[i];
                }
                _aOffsets[t] = (int)oa;
                _bOffsets[t] = (int)ob;
                for (int i = rank - 1; i >= 0; i--)
                {
                    if (++index[i] < dims[i]) break;
                    index[i] = 0;
                }
            }
            ws.ReserveGemm(_m, _n, _k);
        }

        public override void Run()
        {
            bool transposed = Sgemm.PreferTransposed(_m, _n);
            for (int t = 0; t < _aOffsets.Length; t++)
            {
                var a = MatrixView.RowMajor(_a, _aOffsets[t], _k);
                var b = MatrixView.RowMajor(_b, _bOffsets[t], _n);
                var y = MatrixView.RowMajor(_y, t * _m * _n, _n);
                if (transposed)
                    Sgemm.Multiply(_n, _m, _k, b.Transposed(), a.Transposed(), y.Transposed(), false, _ws);
                else
                    Sgemm.Multiply(_m, _n, _k, a, b, y, false, _ws);
            }
        }
    }
}
