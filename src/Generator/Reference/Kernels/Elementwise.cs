using System;
using System.Collections.Generic;
using System.Numerics;
using NetQuantGen.IR;

namespace NetQuantGen.Reference.Kernels
{
    /// <summary>Relu, LeakyRelu, Sigmoid, HardSigmoid and HardSwish, vectorized where the formula allows.</summary>
    internal sealed unsafe class ActivationKernel : Kernel
    {
        private readonly Activation _op;
        private readonly float[] _x, _y;
        private readonly int _count;

        public ActivationKernel(Activation op, Value x, Value y, Func<Value, float[]> buffer)
        {
            _op = op;
            _x = buffer(x);
            _y = buffer(y);
            _count = (int)x.ElementCount;
        }

        public override void Run()
        {
            int vc = Vector<float>.Count, n = _count, i = 0;
            var zero = Vector<float>.Zero;
            var one = Vector<float>.One;
            fixed (float* px = _x, py = _y)
            {
                switch (_op.Kind)
                {
                    case ActivationKind.Relu:
                        for (; i + vc <= n; i += vc) *(Vector<float>*)(py + i) = Vector.Max(*(Vector<float>*)(px + i), zero);
                        for (; i < n; i++) py[i] = px[i] > 0f ? px[i] : 0f;
                        break;
                    case ActivationKind.LeakyRelu:
                    {
                        float alpha = _op.Alpha;
                        var va = new Vector<float>(alpha);
                        for (; i + vc <= n; i += vc)
                        {
                            var v = *(Vector<float>*)(px + i);
                            *(Vector<float>*)(py + i) = Vector.Max(v, zero) + va * Vector.Min(v, zero);
                        }
                        for (; i < n; i++) py[i] = px[i] >= 0f ? px[i] : alpha * px[i];
                        break;
                    }
                    case ActivationKind.HardSigmoid:
                    case ActivationKind.HardSwish:
                    {
                        bool swish = _op.Kind == ActivationKind.HardSwish;
                        // ONNX HardSwish is x·HardSigmoid(x) with alpha = 1/6, beta = 0.5.
                        float alpha = swish ? 1f / 6f : _op.Alpha, beta = swish ? 0.5f : _op.Beta;
                        var va = new Vector<float>(alpha);
                        var vb = new Vector<float>(beta);
                        for (; i + vc <= n; i += vc)
                        {
                            var v = *(Vector<float>*)(px + i);
                            var h = Vector.Max(zero, Vector.Min(one, va * v + vb));
                            *(Vector<float>*)(py + i) = swish ? v * h : h;
                        }
                        for (; i < n; i++)
                        {
                            float v = px[i];
                            float h = Math.Max(0f, Math.Min(1f, alpha * v + beta));
                            py[i] = swish ? v * h : h;
                        }
                        break;
                    }
                    case ActivationKind.Sigmoid:
                        for (; i < n; i++) py[i] = (float)(1.0 / (1.0 + Math.Exp(-(double)px[i])));
                        break;
                    default:
                        throw new NotSupportedException($"Activation {_op.Kind} has no kernel.");
                }
            }
        }
    }

    /// <summary>Clip to bounds that may be absent, constant or computed at run time (each a one-element tensor).</summary>
    internal sealed unsafe class ClipKernel : Kernel
    {
        private readonly float[] _x, _y;
        private readonly float[]? _min, _max;
        private readonly int _count;

        public ClipKernel(Value x, Value? min, Value? max, Value y, Func<Value, float[]> buffer)
        {
            _x = buffer(x);
            _y = buffer(y);
            _min = min == null ? null : buffer(min);
            _max = max == null ? null : buffer(max);
            _count = (int)x.ElementCount;
        }

        public override void Run()
        {
            float lo = _min?[0] ?? float.NegativeInfinity, hi = _max?[0] ?? float.PositiveInfinity;
            int vc = Vector<float>.Count, n = _count, i = 0;
            var vlo = new Vector<float>(lo);
            var vhi = new Vector<float>(hi);
            fixed (float* px = _x, py = _y)
            {
                // numpy.clip order: max with the lower bound, then min with the upper one.
                for (; i + vc <= n; i += vc) *(Vector<float>*)(py + i) = Vector.Min(Vector.Max(*(Vector<float>*)(px + i), vlo), vhi);
                for (; i < n; i++)
                {
                    float v = px[i];
                    if (v < lo) v = lo;
                    if (v > hi) v = hi;
                    py[i] = v;
                }
            }
        }
    }

    /// <summary>
    /// Add, Sub, Mul and Div with numpy broadcasting, then the fused activation clamp if any. The plan merges adjacent axes that broadcast alike, so
    /// the innermost loop is as long as possible and has unit or zero strides.
    /// </summary>
    internal sealed unsafe class BinaryKernel : Kernel
    {
        private readonly BinaryKind _kind;
        private readonly float[] _a, _b, _y;
        private readonly int[] _dims, _aStrides, _bStrides, _index;
        private readonly int _outer, _inner, _aInner, _bInner;
        private readonly FusedClamp? _fused;

        /// <param name="bShape">B's shape as broadcasting sees it (after the legacy axis alignment).</param>
        public BinaryKernel(Binary op, Value a, Value b, int[] bShape, Value y, Func<Value, float[]> buffer)
        {
            _kind = op.Kind;
            _fused = op.Fused;
            _a = buffer(a);
            _b = buffer(b);
            _y = buffer(y);
            int rank = y.Shape.Length;
            var dims = new List<int>();
            var aFull = new List<bool>();
            var bFull = new List<bool>();
            for (int i = 0; i < rank; i++)
            {
                int d = y.Shape[i];
                if (d == 1) continue;
                int da = i < rank - a.Shape.Length ? 1 : a.Shape[i - (rank - a.Shape.Length)];
                int db = i < rank - bShape.Length ? 1 : bShape[i - (rank - bShape.Length)];
                bool fa = da == d, fb = db == d;
                if (dims.Count > 0 && aFull[dims.Count - 1] == fa && bFull[dims.Count - 1] == fb)
                    dims[dims.Count - 1] *= d;
                else
                {
                    dims.Add(d);
                    aFull.Add(fa);
                    bFull.Add(fb);
                }
            }
            if (dims.Count == 0)
            {
                dims.Add(1);
                aFull.Add(true);
                bFull.Add(true);
            }
            _dims = dims.ToArray();
            _aStrides = new int[_dims.Length];
            _bStrides = new int[_dims.Length];
            int sa = 1, sb = 1;
            for (int i = _dims.Length - 1; i >= 0; i--)
            {
                if (aFull[i]) { _aStrides[i] = sa; sa *= _dims[i]; }
                if (bFull[i]) { _bStrides[i] = sb; sb *= _dims[i]; }
            }
            _inner = _dims[_dims.Length - 1];
            _outer = (int)(y.ElementCount / _inner);
            _aInner = _aStrides[_dims.Length - 1];
            _bInner = _bStrides[_dims.Length - 1];
            _index = new int[_dims.Length];
        }

        public override void Run()
        {
            int last = _dims.Length - 1;
            var index = _index;
            Array.Clear(index, 0, index.Length);
            fixed (float* pa = _a, pb = _b, py = _y)
            {
                long offA = 0, offB = 0;
                float* y = py;
                for (int outer = 0; outer < _outer; outer++, y += _inner)
                {
                    Apply(_kind, pa + offA, _aInner, pb + offB, _bInner, y, _inner);
                    for (int a = last - 1; a >= 0; a--)
                    {
                        offA += _aStrides[a];
                        offB += _bStrides[a];
                        if (++index[a] < _dims[a]) break;
                        offA -= (long)_aStrides[a] * _dims[a];
                        offB -= (long)_bStrides[a] * _dims[a];
                        index[a] = 0;
                    }
                }
            }
            VectorOps.Clamp(_y, _fused);
        }

        /// <summary>y[i] = a[i·sa] ∘ b[i·sb] with sa, sb in {0, 1}.</summary>
        private static void Apply(BinaryKind kind, float* a, int sa, float* b, int sb, float* y, int n)
        {
            int vc = Vector<float>.Count, i = 0;
            if (sa == 1 && sb == 1)
            {
                switch (kind)
                {
                    case BinaryKind.Add: for (; i + vc <= n; i += vc) *(Vector<float>*)(y + i) = *(Vector<float>*)(a + i) + *(Vector<float>*)(b + i); break;
                    case BinaryKind.Sub: for (; i + vc <= n; i += vc) *(Vector<float>*)(y + i) = *(Vector<float>*)(a + i) - *(Vector<float>*)(b + i); break;
                    case BinaryKind.Mul: for (; i + vc <= n; i += vc) *(Vector<float>*)(y + i) = *(Vector<float>*)(a + i) * *(Vector<float>*)(b + i); break;
                    case BinaryKind.Div: for (; i + vc <= n; i += vc) *(Vector<float>*)(y + i) = *(Vector<float>*)(a + i) / *(Vector<float>*)(b + i); break;
                }
            }
            else if (sa == 1 && sb == 0)
            {
                var vb = new Vector<float>(*b);
                switch (kind)
                {
                    case BinaryKind.Add: for (; i + vc <= n; i += vc) *(Vector<float>*)(y + i) = *(Vector<float>*)(a + i) + vb; break;
                    case BinaryKind.Sub: for (; i + vc <= n; i += vc) *(Vector<float>*)(y + i) = *(Vector<float>*)(a + i) - vb; break;
                    case BinaryKind.Mul: for (; i + vc <= n; i += vc) *(Vector<float>*)(y + i) = *(Vector<float>*)(a + i) * vb; break;
                    case BinaryKind.Div: for (; i + vc <= n; i += vc) *(Vector<float>*)(y + i) = *(Vector<float>*)(a + i) / vb; break;
                }
            }
            else if (sa == 0 && sb == 1)
            {
                var va = new Vector<float>(*a);
                switch (kind)
                {
                    case BinaryKind.Add: for (; i + vc <= n; i += vc) *(Vector<float>*)(y + i) = va + *(Vector<float>*)(b + i); break;
                    case BinaryKind.Sub: for (; i + vc <= n; i += vc) *(Vector<float>*)(y + i) = va - *(Vector<float>*)(b + i); break;
                    case BinaryKind.Mul: for (; i + vc <= n; i += vc) *(Vector<float>*)(y + i) = va * *(Vector<float>*)(b + i); break;
                    case BinaryKind.Div: for (; i + vc <= n; i += vc) *(Vector<float>*)(y + i) = va / *(Vector<float>*)(b + i); break;
                }
            }
            for (; i < n; i++)
            {
                float x = a[(long)i * sa], z = b[(long)i * sb];
                y[i] = kind switch
                {
                    BinaryKind.Add => x + z,
                    BinaryKind.Sub => x - z,
                    BinaryKind.Mul => x * z,
                    _ => x / z,
                };
            }
        }
    }
}
