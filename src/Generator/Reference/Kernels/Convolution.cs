using System;
using NetQuantGen.IR;

namespace NetQuantGen.Reference.Kernels
{
    /// <summary>
    /// N-d convolution with groups, strides, dilations and explicit pads (ONNX Conv after shape inference).
    /// Per image and group: Y_g[Mg × O] = W_g[Mg × Cg·K] · col[Cg·K × O] (+ bias), where col is the im2col
    /// matrix (or the input itself for an unpadded 1×1 stride-1 convolution). Depthwise 1-D/2-D convolutions
    /// (one input channel per group) run a direct loop instead. Constant weights are packed once. A fused
    /// activation clamp (from the float passes) applies last.
    /// </summary>
    internal sealed unsafe class ConvolutionKernel : Kernel
    {
        private enum Method { Gemm, Pointwise, Depthwise }

        private readonly float[] _x, _w, _y;
        private readonly float[]? _bias;
        private readonly Workspace _ws;
        private readonly Method _method;
        private readonly bool _transposed;
        private readonly PackedMatrix?[]? _packed;
        private readonly FusedClamp? _fused;

        private readonly int _batch, _inChannels, _outChannels, _group, _cg, _mg, _rank;
        private readonly int _kernelSize, _depth, _inSpatial, _outSpatial;
        private readonly int[] _inDims, _outDims, _kernel, _strides, _dilations, _padBegin, _inStrides;

        // im2col tables: for every axis but the last, input index per (kernel index, output index), -1 in padding;
        // for the last axis the valid output range per kernel index.
        private readonly int[][] _axisIndex;
        private readonly int[] _lastLo, _lastHi;
        private readonly int[] _kernelIndex, _outIndex;

        public ConvolutionKernel(Conv op, Value x, Value w, Value? bias, Value y, Func<Value, float[]> buffer, Workspace ws)
        {
            _x = buffer(x);
            _w = buffer(w);
            _bias = bias == null ? null : buffer(bias);
            _y = buffer(y);
            _ws = ws;
            _fused = op.Fused;
            var window = op.Window;
            _rank = window.Rank;
            _batch = x.Shape[0];
            _inChannels = x.Shape[1];
            _outChannels = y.Shape[1];
            _group = op.Group;
            _cg = _inChannels / _group;
            _mg = _outChannels / _group;
            _inDims = Sub(x.Shape, 2);
            _outDims = Sub(y.Shape, 2);
            _kernel = window.KernelShape;
            _strides = window.Strides;
            _dilations = window.Dilations;
            _padBegin = Sub(window.Pads, 0, _rank);
            _inStrides = Shapes.Strides(_inDims);
            _kernelSize = (int)Shapes.ElementCount(_kernel);
            _depth = _cg * _kernelSize;
            _inSpatial = (int)Shapes.ElementCount(_inDims);
            _outSpatial = (int)Shapes.ElementCount(_outDims);

            bool unit = true;
            for (int i = 0; i < _rank; i++)
                unit &= _kernel[i] == 1 && _strides[i] == 1 && window.PadBegin(i) == 0 && window.PadEnd(i) == 0;
            if (_cg == 1 && _rank <= 2 && !unit)
                _method = Method.Depthwise;
            else if (unit)
                _method = Method.Pointwise;
            else
                _method = Method.Gemm;

            _axisIndex = new int[_rank][];
            _lastLo = new int[_kernel[_rank - 1]];
            _lastHi = new int[_kernel[_rank - 1]];
            _kernelIndex = new int[_rank];
            _outIndex = new int[_rank];
            BuildTables();

            if (_method == Method.Depthwise) return;
            if (_method == Method.Gemm) ws.ReserveColumns((long)_depth * _outSpatial);
            ws.ReserveGemm(_mg, _outSpatial, _depth);
            _transposed = Sgemm.PreferTransposed(_mg, _outSpatial);
            // Pack constant weights once, on the side of the product they take; matrix-vector products read them as they are.
            if (w.IsConstant && _mg > 1 && _outSpatial > 1)
            {
                _packed = new PackedMatrix?[_group];
                for (int g = 0; g < _group; g++)
                {
                    var wg = MatrixView.RowMajor(_w, g * _mg * _depth, _depth);
                    _packed[g] = _transposed ? PackedMatrix.PackB(wg.Transposed(), _depth, _mg) : PackedMatrix.PackA(wg, _mg, _depth);
                }
            }
        }

        private static int[] Sub(int[] a, int start, int count = -1)
        {
            int n = count < 0 ? a.Length - start : count;
            var r = new int[n];
            Array.Copy(a, start, r, 0, n);
            return r;
        }

        private void BuildTables()
        {
            for (int a = 0; a < _rank; a++)
            {
                int k = _kernel[a], o = _outDims[a], s = _strides[a], d = _dilations[a], p = _padBegin[a], size = _inDims[a];
                var table = new int[k * o];
                for (int kk = 0; kk < k; kk++)
                    for (int oo = 0; oo < o; oo++)
                    {
                        int i = oo * s - p + kk * d;
                        table[kk * o + oo] = i >= 0 && i < size ? i : -1;
                    }
                _axisIndex[a] = table;
                if (a == _rank - 1)
                    for (int kk = 0; kk < k; kk++)
                    {
                        int lo = 0, hi = o;
                        while (lo < o && table[kk * o + lo] < 0) lo++;
                        while (hi > lo && table[kk * o + hi - 1] < 0) hi--;
                        _lastLo[kk] = lo;
                        _lastHi[kk] = hi;
                    }
            }
        }

        public override void Run()
        {
            if (_method == Method.Depthwise)
                RunDepthwise();
            else
                RunGemm();
            VectorOps.Clamp(_y, _fused);
        }

        private void RunGemm()
        {
            for (int n = 0; n < _batch; n++)
                for (int g = 0; g < _group; g++)
                {
                    int inOffset = (n * _inChannels + g * _cg) * _inSpatial;
                    MatrixView col;
                    if (_method == Method.Pointwise)
                        col = MatrixView.RowMajor(_x, inOffset, _inSpatial);
                    else
                    {
                        fixed (float* px = _x, pcol = _ws.Columns)
                            Im2Col(px + inOffset, pcol);
                        col = MatrixView.RowMajor(_ws.Columns, 0, _outSpatial);
                    }
                    var weights = MatrixView.RowMajor(_w, g * _mg * _depth, _depth);
                    var output = MatrixView.RowMajor(_y, (n * _outChannels + g * _mg) * _outSpatial, _outSpatial);
                    var packed = _packed?[g];
                    if (_transposed)
                        Sgemm.Multiply(_outSpatial, _mg, _depth, col.Transposed(), weights.Transposed(), output.Transposed(), false, _ws, packedB: packed);
                    else
                        Sgemm.Multiply(_mg, _outSpatial, _depth, weights, col, output, false, _ws, packedA: packed);
                }
            if (_bias != null)
                fixed (float* py = _y, pb = _bias)
                    for (int n = 0; n < _batch; n++)
                        for (int m = 0; m < _outChannels; m++)
                            VectorOps.AddScalar(py + ((long)n * _outChannels + m) * _outSpatial, _outSpatial, pb[m]);
        }

        /// <summary>Writes the [Cg·K × O] im2col matrix of one image and group.</summary>
        private void Im2Col(float* x, float* col)
        {
            int last = _rank - 1;
            int outLast = _outDims[last], sLast = _strides[last], dLast = _dilations[last], pLast = _padBegin[last];
            int outerCount = _outSpatial / outLast;
            var k = _kernelIndex;
            var o = _outIndex;
            float* dst = col;
            for (int c = 0; c < _cg; c++)
            {
                float* plane = x + (long)c * _inSpatial;
                Array.Clear(k, 0, _rank);
                for (int kIndex = 0; kIndex < _kernelSize; kIndex++)
                {
                    int kl = k[last];
                    int lo = _lastLo[kl], hi = _lastHi[kl];
                    int shift = kl * dLast - pLast;
                    Array.Clear(o, 0, _rank);
                    for (int outer = 0; outer < outerCount; outer++, dst += outLast)
                    {
                        // Offset of the row in the input, or -1 when it falls into padding on an outer axis.
                        long offset = 0;
                        bool valid = true;
                        for (int a = 0; a < last; a++)
                        {
                            int i = _axisIndex[a][k[a] * _outDims[a] + o[a]];
                            if (i < 0) { valid = false; break; }
                            offset += (long)i * _inStrides[a];
                        }
                        if (!valid || lo >= hi)
                        {
                            VectorOps.Fill(dst, outLast, 0f);
                        }
                        else
                        {
                            for (int j = 0; j < lo; j++) dst[j] = 0f;
                            float* src = plane + offset + shift;
                            if (sLast == 1)
                                VectorOps.Copy(dst + lo, src + lo, hi - lo);
                            else
                                for (int j = lo; j < hi; j++) dst[j] = src[(long)j * sLast];
                            for (int j = hi; j < outLast; j++) dst[j] = 0f;
                        }
                        for (int a = last - 1; a >= 0; a--)
                        {
                            if (++o[a] < _outDims[a]) break;
                            o[a] = 0;
                        }
                    }
                    for (int a = last; a >= 0; a--)
                    {
                        if (++k[a] < _kernel[a]) break;
                        k[a] = 0;
                    }
                }
            }
        }

        /// <summary>One input channel per group, 1-D or 2-D: accumulate shifted input rows directly.</summary>
        private void RunDepthwise()
        {
            bool twoD = _rank == 2;
            int inH = twoD ? _inDims[0] : 1, inW = _inDims[_rank - 1];
            int outH = twoD ? _outDims[0] : 1, outW = _outDims[_rank - 1];
            int kh = twoD ? _kernel[0] : 1, kw = _kernel[_rank - 1];
            int sh = twoD ? _strides[0] : 1, sw = _strides[_rank - 1];
            int dh = twoD ? _dilations[0] : 1, dw = _dilations[_rank - 1];
            int ph = twoD ? _padBegin[0] : 0, pw = _padBegin[_rank - 1];
            fixed (float* px = _x, pw0 = _w, py = _y, pb = _bias)
            {
                for (int n = 0; n < _batch; n++)
                    for (int m = 0; m < _outChannels; m++)
                    {
                        int g = m / _mg;
                        float* input = px + ((long)n * _inChannels + g) * _inSpatial;
                        float* output = py + ((long)n * _outChannels + m) * _outSpatial;
                        float* weights = pw0 + (long)m * _kernelSize;
                        VectorOps.Fill(output, _outSpatial, pb == null ? 0f : pb[m]);
                        for (int oy = 0; oy < outH; oy++)
                        {
                            float* outRow = output + (long)oy * outW;
                            for (int ky = 0; ky < kh; ky++)
                            {
                                int iy = oy * sh - ph + ky * dh;
                                if (iy < 0 || iy >= inH) continue;
                                float* inRow = input + (long)iy * inW;
                                for (int kx = 0; kx < kw; kx++)
                                {
                                    int lo = _lastLo[kx], hi = _lastHi[kx];
                                    if (lo >= hi) continue;
                                    float wv = weights[ky * kw + kx];
                                    float* src = inRow + kx * dw - pw;
                                    if (sw == 1)
                                        VectorOps.Axpy(outRow + lo, src + lo, hi - lo, wv);
                                    else
                                        for (int ox = lo; ox < hi; ox++) outRow[ox] += wv * src[(long)ox * sw];
                                }
                            }
                        }
                    }
            }
        }
    }
}
