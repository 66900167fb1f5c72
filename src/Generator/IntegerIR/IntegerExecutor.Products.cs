using System;

namespace NetQuantGen.IntegerIR
{
    /// <summary>The integer products of ONNX's ConvInteger/QLinearConv and MatMulInteger/QLinearMatMul, one plain loop nest each.</summary>
    public sealed partial class IntegerExecutor
    {
        /// <summary>acc = bias_c + Σ (w − z_w)·(x − z_x), as int32 or requantized in float.</summary>
        private void IntegerConvolution(QIntegerConvolution c)
        {
            var x = _buffers[c.Input];
            var w = c.Window;
            int batch = c.Input.Shape[0], inChannels = c.Input.Shape[1], inH = c.Input.Shape[2], inW = c.Input.Shape[3];
            int outChannels = c.OutputChannels, outH = c.Output.Shape[2], outW = c.Output.Shape[3];
            int groupIn = c.WeightShape[1], groupOut = outChannels / c.Group, kh = c.WeightShape[2], kw = c.WeightShape[3];
            int zIn = c.Input.ZeroPoint;
            for (int n = 0; n < batch; n++)
                for (int m = 0; m < outChannels; m++)
                    for (int oy = 0; oy < outH; oy++)
                        for (int ox = 0; ox < outW; ox++)
                        {
                            int acc = c.Bias[m];
                            for (int ci = 0; ci < groupIn; ci++)
                            {
                                int channel = m / groupOut * groupIn + ci;
                                for (int ky = 0; ky < kh; ky++)
                                {
                                    int iy = oy * w.Strides[0] - w.PadBegin(0) + ky * w.Dilations[0];
                                    if (iy < 0 || iy >= inH) continue; // padding holds x = z_x (ONNX pads the zero-point)
                                    for (int kx = 0; kx < kw; kx++)
                                    {
                                        int ix = ox * w.Strides[1] - w.PadBegin(1) + kx * w.Dilations[1];
                                        if (ix < 0 || ix >= inW) continue;
                                        acc += c.Weights[((m * groupIn + ci) * kh + ky) * kw + kx] * (x[((n * inChannels + channel) * inH + iy) * inW + ix] - zIn);
                                    }
                                }
                            }
                            Store(c.Output, ((n * outChannels + m) * outH + oy) * outW + ox, acc, m, c.Requantization);
                        }
        }

        /// <summary>Y[..., i, j] = Σ_k (a[..., i, k] − z_a)·B[..., k, j] over the broadcast batch dimensions.</summary>
        private void IntegerMatMul(QIntegerMatMul p)
        {
            var a = _buffers[p.Input];
            var aShape = p.Input.Shape;
            var bShape = p.WeightShape;
            var yShape = p.Output.Shape;
            int rows = aShape.Length > 1 ? aShape[aShape.Length - 2] : 1, k = aShape[aShape.Length - 1], columns = bShape[bShape.Length - 1];
            int batches = p.Output.Length / (rows * columns);
            int za = p.Input.ZeroPoint;
            for (int batch = 0; batch < batches; batch++)
            {
                int aOffset = BroadcastMatrix(batch, yShape, aShape) * rows * k;
                int bOffset = BroadcastMatrix(batch, yShape, bShape) * k * columns;
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < columns; j++)
                    {
                        int acc = 0;
                        for (int t = 0; t < k; t++) acc += (a[aOffset + i * k + t] - za) * p.Weights[bOffset + t * columns + j];
                        Store(p.Output, (batch * rows + i) * columns + j, acc, j, p.Requantization);
                    }
            }
        }

        /// <summary>The matrix of an operand of shape <paramref name="operand"/> that batch <paramref name="batch"/> of the output reads (numpy broadcasting; size-1 and missing dimensions repeat).</summary>
        private static int BroadcastMatrix(int batch, int[] output, int[] operand)
        {
            int index = 0, stride = 1;
            for (int d = output.Length - 3, e = operand.Length - 3; d >= 0; d--, e--)
            {
                int coordinate = batch % output[d];
                batch /= output[d];
                if (e < 0) continue;
                if (operand[e] != 1) index += coordinate * stride;
                stride *= operand[e];
            }
            return index;
        }

        private void Store(QTensor output, int index, int accumulator, int channel, ProductRequantization? requantization)
        {
            if (requantization == null) _accumulators[output][index] = accumulator;
            else _buffers[output][index] = (short)requantization.Apply(accumulator, channel, output.ZeroPoint);
        }
    }
}
