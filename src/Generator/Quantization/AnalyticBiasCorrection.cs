using NetQuantGen.IR;

namespace NetQuantGen.Quantization
{
    /// <summary>
    /// Analytic bias correction (Nagel et al. 2019, §4.2): quantizing W to Ŵ shifts the layer's expected output by
    /// ε·E[x] with ε = Ŵ − W; subtracting that from the bias makes the quantized layer's expected output the float
    /// one's. E[x] per input channel comes from the BatchNormalization priors through the clipped normal
    /// (<see cref="PriorPropagation"/>). Zero padding is ignored, as in the paper.
    /// </summary>
    public static class AnalyticBiasCorrection
    {
        /// <param name="bias">Float bias per output channel.</param>
        /// <param name="weightData">Float weights [M, C/group, kh, kw].</param>
        /// <param name="quantized">The integer weights, same layout.</param>
        /// <param name="scales">The weight scale per output channel.</param>
        /// <param name="group">Convolution groups.</param>
        /// <param name="expected">E[x] per input channel; when its length is not the layer's input channel count, the bias is returned unchanged.</param>
        public static float[] Corrected(float[] bias, TensorData weightData, sbyte[] quantized, float[] scales, int group, double[] expected)
        {
            var w = weightData.Floats!;
            int m = weightData.Shape[0], perGroupIn = weightData.Shape[1];
            int taps = w.Length / (m * perGroupIn), perGroupOut = m / group;
            if (expected.Length != perGroupIn * group) return bias;
            var corrected = (float[])bias.Clone();
            for (int o = 0; o < m; o++)
            {
                double shift = 0;
                int firstChannel = o / perGroupOut * perGroupIn;
                for (int f = 0; f < perGroupIn; f++)
                {
                    double error = 0;
                    for (int t = 0; t < taps; t++)
                    {
                        int i = (o * perGroupIn + f) * taps + t;
                        error += quantized[i] * (double)scales[o] - w[i];
                    }
                    shift += error * expected[firstChannel + f];
                }
                corrected[o] = (float)(bias[o] - shift);
            }
            return corrected;
        }
    }
}
