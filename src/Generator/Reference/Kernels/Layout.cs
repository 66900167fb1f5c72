using System;
using NetQuantGen.IR;

namespace NetQuantGen.Reference.Kernels
{
    /// <summary>Flatten, Reshape, Squeeze, Unsqueeze and Identity: the data is unchanged, so a copy.</summary>
    internal sealed class CopyKernel : Kernel
    {
        private readonly float[] _x, _y;

        public CopyKernel(Value x, Value y, Func<Value, float[]> buffer)
        {
            _x = buffer(x);
            _y = buffer(y);
        }

        public override void Run() => Array.Copy(_x, _y, _y.Length);
    }

    /// <summary>Transpose by an explicit permutation, walking the output in order.</summary>
    internal sealed unsafe class TransposeKernel : Kernel
    {
        private readonly float[] _x, _y;
        private readonly int[] _outDims, _srcStrides, _index;

        public TransposeKernel(Transpose op, Value x, Value y, Func<Value, float[]> buffer)
        {
            _x = buffer(x);
            _y = buffer(y);
            var perm = op.Perm ?? throw new InvalidOperationException("Transpose has no permutation; run shape inference first.");
            var inStrides = Shapes.Strides(x.Shape);
            _outDims = y.Shape.Length == 0 ? new[] { 1 } : y.Shape;
            _srcStrides = y.Shape.Length == 0 ? new[] { 1 } : new int[perm.Length];
            for (int a = 0; a < perm.Length; a++) _srcStrides[a] = inStrides[perm[a]];
            _index = new int[_outDims.Length];
        }

        public override void Run()
        {
            int last = _outDims.Length - 1;
            int inner = _outDims[last], stride = _srcStrides[last];
            if (inner == 0) return;
            int outer = _y.Length / inner;
            var index = _index;
            Array.Clear(index, 0, index.Length);
            fixed (float* px = _x, py = _y)
            {
                long src = 0;
                float* dst = py;
                for (int o = 0; o < outer; o++, dst += inner)
                {
                    float* s = px + src;
                    if (stride == 1)
                        VectorOps.Copy(dst, s, inner);
                    else
                        for (int j = 0; j < inner; j++) dst[j] = s[(long)j * stride];
                    for (int a = last - 1; a >= 0; a--)
                    {
                        src += _srcStrides[a];
                        if (++index[a] < _outDims[a]) break;
                        src -= (long)_srcStrides[a] * _outDims[a];
                        index[a] = 0;
                    }
                }
            }
        }
    }

    /// <summary>Concat along a non-negative axis: per outer index, each input's block in turn.</summary>
    internal sealed class ConcatKernel : Kernel
    {
        private readonly float[][] _inputs;
        private readonly int[] _blocks;
        private readonly float[] _y;
        private readonly int _outer, _outBlock;

        public ConcatKernel(Concat op, Node node, Func<Value, float[]> buffer)
        {
            int axis = op.Axis;
            var y = node.Output;
            _y = buffer(y);
            int inner = 1;
            for (int i = axis + 1; i < y.Shape.Length; i++) inner *= y.Shape[i];
            _outer = 1;
            for (int i = 0; i < axis; i++) _outer *= y.Shape[i];
            _outBlock = y.Shape[axis] * inner;
            _inputs = new float[node.Inputs.Count][];
            _blocks = new int[node.Inputs.Count];
            for (int i = 0; i < node.Inputs.Count; i++)
            {
                _inputs[i] = buffer(node.Input(i));
                _blocks[i] = node.Input(i).Shape[axis] * inner;
            }
        }

        public override void Run()
        {
            for (int o = 0; o < _outer; o++)
            {
                int offset = o * _outBlock;
                for (int i = 0; i < _inputs.Length; i++)
                {
                    int block = _blocks[i];
                    Array.Copy(_inputs[i], o * block, _y, offset, block);
                    offset += block;
                }
            }
        }
    }

    /// <summary>
    /// Pad in constant, reflect, edge or wrap mode. Negative pads crop first; the positive pads then extend the
    /// cropped tensor (as the ONNX reference does: slice, then numpy.pad). Each axis gets a table from output
    /// index to source index (−1 for the constant).
    /// </summary>
    internal sealed unsafe class PadKernel : Kernel
    {
        private readonly float[] _x, _y;
        private readonly float _value;
        private readonly int[][] _source;
        private readonly int[] _outDims, _inStrides, _index;

        public PadKernel(Pad op, Value x, Value y, Func<Value, float[]> buffer)
        {
            _x = buffer(x);
            _y = buffer(y);
            _value = op.ConstantValue;
            int rank = x.Shape.Length;
            _outDims = rank == 0 ? new[] { 1 } : y.Shape;
            _inStrides = rank == 0 ? new[] { 1 } : Shapes.Strides(x.Shape);
            _source = new int[Math.Max(rank, 1)][];
            if (rank == 0) _source[0] = new[] { 0 };
            for (int a = 0; a < rank; a++)
            {
                long begin = op.Pads[a], end = op.Pads[rank + a];
                int cropBegin = (int)Math.Max(0, -begin), cropEnd = (int)Math.Max(0, -end);
                int kept = x.Shape[a] - cropBegin - cropEnd;
                int before = (int)Math.Max(0, begin);
                var table = new int[y.Shape[a]];
                for (int o = 0; o < table.Length; o++)
                {
                    int j = o - before;
                    int s;
                    if (j >= 0 && j < kept) s = j;
                    else if (op.Mode == PadMode.Constant || kept <= 0) s = -1;
                    else if (op.Mode == PadMode.Edge) s = j < 0 ? 0 : kept - 1;
                    else if (op.Mode == PadMode.Wrap) s = ((j % kept) + kept) % kept;
                    else
                    {
                        // Reflect without repeating the edge, as often as the pad needs.
                        int period = 2 * (kept - 1);
                        if (period == 0) s = 0;
                        else
                        {
                            int m = ((j % period) + period) % period;
                            s = m < kept ? m : period - m;
                        }
                    }
                    table[o] = s < 0 ? -1 : s + cropBegin;
                }
                _source[a] = table;
            }
            _index = new int[_outDims.Length];
        }

        public override void Run()
        {
            int last = _outDims.Length - 1;
            int inner = _outDims[last];
            if (inner == 0) return;
            int outer = _y.Length / inner;
            var index = _index;
            Array.Clear(index, 0, index.Length);
            var lastTable = _source[last];
            int lastStride = _inStrides[last];
            fixed (float* px = _x, py = _y)
            fixed (int* table = lastTable)
            {
                float* dst = py;
                for (int o = 0; o < outer; o++, dst += inner)
                {
                    long offset = 0;
                    bool valid = true;
                    for (int a = 0; a < last; a++)
                    {
                        int s = _source[a][index[a]];
                        if (s < 0) { valid = false; break; }
                        offset += (long)s * _inStrides[a];
                    }
                    if (!valid)
                        VectorOps.Fill(dst, inner, _value);
                    else
                    {
                        float* src = px + offset;
                        for (int j = 0; j < inner; j++)
                        {
                            int s = table[j];
                            dst[j] = s < 0 ? _value : src[(long)s * lastStride];
                        }
                    }
                    for (int a = last - 1; a >= 0; a--)
                    {
                        if (++index[a] < _outDims[a]) break;
                        index[a] = 0;
                    }
                }
            }
        }
    }
}
