using System;
using System.Numerics;
using NetQuantGen.IR;

namespace NetQuantGen.Reference.Kernels
{
    /// <summary>Inference-mode BatchNormalization: y = (x − mean) · scale / √(var + ε) + bias per channel (axis 1).</summary>
    internal sealed unsafe class BatchNormalizationKernel : Kernel
    {
        private readonly float[] _x, _scale, _bias, _mean, _variance, _y;
        private readonly float _epsilon;
        private readonly int _batch, _channels, _spatial;

        public BatchNormalizationKernel(BatchNormalization op, Node node, Func<Value, float[]> buffer)
        {
            var x = node.Input(0);
            _x = buffer(x);
            _scale = buffer(node.Input(1));
            _bias = buffer(node.Input(2));
            _mean = buffer(node.Input(3));
            _variance = buffer(node.Input(4));
            _y = buffer(node.Output);
            _epsilon = op.Epsilon;
            _batch = x.Shape[0];
            _channels = x.Shape[1];
            _spatial = _batch * _channels == 0 ? 0 : (int)(x.ElementCount / ((long)_batch * _channels));
        }

        public override void Run()
        {
            int vc = Vector<float>.Count;
            fixed (float* px = _x, py = _y)
            {
                for (int c = 0; c < _channels; c++)
                {
                    float factor = (float)(_scale[c] / Math.Sqrt((double)_variance[c] + _epsilon));
                    float mean = _mean[c], bias = _bias[c];
                    var vf = new Vector<float>(factor);
                    var vm = new Vector<float>(mean);
                    var vbias = new Vector<float>(bias);
                    for (int n = 0; n < _batch; n++)
                    {
                        long offset = ((long)n * _channels + c) * _spatial;
                        float* x = px + offset, y = py + offset;
                        int i = 0;
                        for (; i + vc <= _spatial; i += vc) *(Vector<float>*)(y + i) = (*(Vector<float>*)(x + i) - vm) * vf + vbias;
                        for (; i < _spatial; i++) y[i] = (x[i] - mean) * factor + bias;
                    }
                }
            }
        }
    }

    /// <summary>
    /// Softmax over one axis (opset 13+), or, with <see cref="Softmax.Coerce2D"/> (opsets before 13), over all
    /// dimensions from the axis on. Max-subtracted, exponentials and sums in double.
    /// </summary>
    internal sealed unsafe class SoftmaxKernel : Kernel
    {
        private readonly float[] _x, _y;
        private readonly int _outer, _length, _inner;

        public SoftmaxKernel(Softmax op, Value x, Value y, Func<Value, float[]> buffer)
        {
            _x = buffer(x);
            _y = buffer(y);
            var shape = x.Shape;
            int axis = op.Axis < 0 ? op.Axis + shape.Length : op.Axis;
            _outer = 1;
            for (int i = 0; i < axis; i++) _outer *= shape[i];
            if (op.Coerce2D)
            {
                _length = 1;
                for (int i = axis; i < shape.Length; i++) _length *= shape[i];
                _inner = 1;
            }
            else
            {
                _length = shape.Length == 0 ? 1 : shape[axis];
                _inner = 1;
                for (int i = axis + 1; i < shape.Length; i++) _inner *= shape[i];
            }
        }

        public override void Run()
        {
            fixed (float* px = _x, py = _y)
                for (int o = 0; o < _outer; o++)
                    for (int i = 0; i < _inner; i++)
                    {
                        long start = (long)o * _length * _inner + i;
                        float* x = px + start, y = py + start;
                        float max = float.NegativeInfinity;
                        for (int j = 0; j < _length; j++) max = Math.Max(max, x[(long)j * _inner]);
                        double sum = 0;
                        for (int j = 0; j < _length; j++)
                        {
                            double e = Math.Exp((double)x[(long)j * _inner] - max);
                            y[(long)j * _inner] = (float)e;
                            sum += e;
                        }
                        for (int j = 0; j < _length; j++) y[(long)j * _inner] = (float)(y[(long)j * _inner] / sum);
                    }
        }
    }
}
