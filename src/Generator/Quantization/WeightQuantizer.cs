using System;

namespace NetQuantGen.Quantization
{
    /// <summary>Symmetric weight quantization in a restricted range [−(2^(b−1)−1), 2^(b−1)−1], per output channel or per tensor.</summary>
    public static class WeightQuantizer
    {
        /// <param name="weights">Row-major with the output channel as the outermost axis.</param>
        public static (sbyte[] Values, float[] Scales) Quantize(float[] weights, int outputChannels, int bits, WeightGranularity granularity,
            WeightRangeMethod range = WeightRangeMethod.MinMax)
        {
            int qmax = (1 << (bits - 1)) - 1;
            int perChannel = weights.Length / outputChannels;
            var scales = new float[outputChannels];
            if (granularity == WeightGranularity.PerTensor)
            {
                float scale = ScaleFor(weights, 0, weights.Length, qmax, range);
                for (int c = 0; c < outputChannels; c++) scales[c] = scale;
            }
            else
            {
                for (int c = 0; c < outputChannels; c++) scales[c] = ScaleFor(weights, c * perChannel, perChannel, qmax, range);
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

        private static float ScaleFor(float[] weights, int start, int count, int qmax, WeightRangeMethod range)
        {
            float maxAbs = 0;
            for (int i = start; i < start + count; i++) maxAbs = Math.Max(maxAbs, Math.Abs(weights[i]));
            if (!(maxAbs > 0)) return 1f;
            float scale = maxAbs / qmax;
            if (range == WeightRangeMethod.MinMax) return scale;
            // MSE-optimal clipping: the clip magnitude among 1.00·max, 0.99·max, … 0.40·max with the smallest squared
            // rounding-plus-clipping error (ties keep the wider range).
            double bestError = SquaredError(weights, start, count, scale, qmax);
            for (int step = 1; step <= 60; step++)
            {
                float candidate = (float)(maxAbs * (1 - 0.01 * step) / qmax);
                double error = SquaredError(weights, start, count, candidate, qmax);
                if (error < bestError)
                {
                    bestError = error;
                    scale = candidate;
                }
            }
            return scale;
        }

        /// <summary>Σ (w − s·clamp(round(w/s)))² over the block, as <see cref="Quantize"/> rounds.</summary>
        public static double SquaredError(float[] weights, int start, int count, float scale, int qmax)
        {
            double error = 0;
            for (int i = start; i < start + count; i++)
            {
                double q = Math.Min(qmax, Math.Max(-qmax, Math.Round(weights[i] / (double)scale, MidpointRounding.ToEven)));
                double e = weights[i] - q * scale;
                error += e * e;
            }
            return error;
        }
    }
}
