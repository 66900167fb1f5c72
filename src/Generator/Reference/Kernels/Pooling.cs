using System;
using System.Collections.Generic;
using NetQuantGen.IR;

namespace NetQuantGen.Reference.Kernels
{
    /// <summary>
    /// N-d MaxPool and AveragePool with strides, dilations, explicit pads and ceil_mode. The window of every
    /// output position is planned once as a list of input offsets within a channel plane (padding left out),
    /// so a run only reduces over lists. AveragePool divides by the number of input elements in the window,
    /// or with count_include_pad by the number of window positions inside the explicitly padded input
    /// (positions that ceil_mode adds past the end padding never count).
    /// </summary>
    internal sealed unsafe class PoolingKernel : Kernel
    {
        private readonly float[] _x, _y;
        private readonly bool _max;
        private readonly int _planes, _inSpatial, _outSpatial;
        private readonly int[] _start, _offsets;
        private readonly float[] _divisor;

        public PoolingKernel(Window window, bool max, bool countIncludePad, Value x, Value y, Func<Value, float[]> buffer)
        {
            _x = buffer(x);
            _y = buffer(y);
            _max = max;
            int rank = window.Rank;
            _planes = x.Shape[0] * x.Shape[1];
            var inDims = new int[rank];
            var outDims = new int[rank];
            Array.Copy(x.Shape, 2, inDims, 0, rank);
            Array.Copy(y.Shape, 2, outDims, 0, rank);
            _inSpatial = (int)Shapes.ElementCount(inDims);
            _outSpatial = (int)Shapes.ElementCount(outDims);
            var inStrides = Shapes.Strides(inDims);

            // Per axis and output index: valid input indices, and how many positions lie inside the padded input.
            var valid = new List<int>[rank][];
            var inPadded = new int[rank][];
            for (int a = 0; a < rank; a++)
            {
                valid[a] = new List<int>[outDims[a]];
                inPadded[a] = new int[outDims[a]];
                for (int o = 0; o < outDims[a]; o++)
                {
                    valid[a][o] = new List<int>();
                    for (int k = 0; k < window.KernelShape[a]; k++)
                    {
                        int i = o * window.Strides[a] - window.PadBegin(a) + k * window.Dilations[a];
                        if (i >= 0 && i < inDims[a]) valid[a][o].Add(i);
                        if (i >= -window.PadBegin(a) && i < inDims[a] + window.PadEnd(a)) inPadded[a][o]++;
                    }
                }
            }

            _start = new int[_outSpatial + 1];
            _divisor = new float[_outSpatial];
            var offsets = new List<int>();
            var o2 = new int[rank];
            for (int p = 0; p < _outSpatial; p++)
            {
                _start[p] = offsets.Count;
                long padded = 1;
                for (int a = 0; a < rank; a++) padded *= inPadded[a][o2[a]];
                AddOffsets(valid, o2, inStrides, 0, 0, offsets);
                long count = offsets.Count - _start[p];
                _divisor[p] = countIncludePad ? padded : count;
                for (int a = rank - 1; a >= 0; a--)
                {
                    if (++o2[a] < outDims[a]) break;
                    o2[a] = 0;
                }
            }
            _start[_outSpatial] = offsets.Count;
            _offsets = offsets.ToArray();
        }

        private static void AddOffsets(List<int>[][] valid, int[] o, int[] strides, int axis, int offset, List<int> result)
        {
            if (axis == o.Length)
            {
                result.Add(offset);
                return;
            }
            foreach (int i in valid[axis][o[axis]])
                AddOffsets(valid, o, strides, axis + 1, offset + i * strides[axis], result);
        }

        public override void Run()
        {
            fixed (float* px = _x, py = _y)
            fixed (int* start = _start, offsets = _offsets)
            {
                for (int plane = 0; plane < _planes; plane++)
                {
                    float* input = px + (long)plane * _inSpatial;
                    float* output = py + (long)plane * _outSpatial;
                    for (int p = 0; p < _outSpatial; p++)
                    {
                        int begin = start[p], end = start[p + 1];
                        if (_max)
                        {
                            float m = float.NegativeInfinity;
                            for (int i = begin; i < end; i++)
                            {
                                float v = input[offsets[i]];
                                if (v > m || float.IsNaN(v)) m = v;
                            }
                            output[p] = m;
                        }
                        else
                        {
                            float s = 0f;
                            for (int i = begin; i < end; i++) s += input[offsets[i]];
                            output[p] = s / _divisor[p];
                        }
                    }
                }
            }
        }
    }

    /// <summary>Mean over all spatial positions of every channel.</summary>
    internal sealed unsafe class GlobalAveragePoolKernel : Kernel
    {
        private readonly float[] _x, _y;
        private readonly int _planes, _spatial;

        public GlobalAveragePoolKernel(Value x, Value y, Func<Value, float[]> buffer)
        {
            _x = buffer(x);
            _y = buffer(y);
            _planes = x.Shape[0] * x.Shape[1];
            _spatial = (int)(x.ElementCount / _planes);
        }

        public override void Run()
        {
            fixed (float* px = _x, py = _y)
                for (int plane = 0; plane < _planes; plane++)
                {
                    float* p = px + (long)plane * _spatial;
                    double s = 0;
                    for (int i = 0; i < _spatial; i++) s += p[i];
                    py[plane] = (float)(s / _spatial);
                }
        }
    }
}
