using System;

namespace NetQuantGen.Quantization
{
    /// <summary>Symmetric weight quantization in a restricted range [−(2^(b−1)−1), 2^(b−1)−1], per output channel or per tensor.</summary>
    public static class WeightQuantizer
    {
        /// <param name="weights">Row-major with the output channel as the outermost axis.</param>
        public static (sbyte[] Values, float[] Scales) Quantize(float[] weights, int outputChannels, int bits, WeightGranularity granularity)
        {
            int qmax = (1 << (bits - 1)) - 1;
            int perChannel = weights.Length / outputChannels;
            var scales = new float[outputChannels];
            if (granularity == WeightGranularity.PerTensor)
            {
                float scale = ScaleFor(weights, 0, weights.Length, qmax);
                for (int c = 0; c < outputChannels; c++) scales[c] = scale;
            }
            else
            {
                for (int c = 0; c < outputChannels; c++) scales[c] = ScaleFor(weights, c * perChannel, perChannel, qmax);
            }
            var values = new sbyte[weights.Length];
            for (int c = 0; c < outputChannels; c++)
                for (int i = c * perChannel; i < (c + 1) * perChannel; i++)
                {
                    double q = Math.Round(weights[i] / (double)scales[c], MidpointRounding.ToEven);
                    values[i] = (sbyte)Math.Min(qmax, Math.Max(-qmax, q));
                }
            return (values, scales);
        }

        private static float ScaleFor(float[] weights, int start, int count, int qmax)
        {
            float maxAbs = 0;
            for (int i = start; i < start + count; i++) maxAbs = Math.Max(maxAbs, Math.Abs(weights[i]));
            return maxAbs > 0 ? maxAbs / qmax : 1f;
        }
    }
}
