using System;
using NetQuantGen.Calibration;
using NetQuantGen.Compiler;

namespace NetQuantGen.Quantization
{
    /// <summary>
    /// Chooses the real range an int8 activation covers, from a tensor's calibration histogram:
    /// min-max, percentile, MSE-optimal clipping, or entropy (KL divergence, TensorRT-style).
    /// </summary>
    public static class RangeSetting
    {
        private const int Levels = 256;

        public static ActivationRange Choose(TensorStatistics statistics, RangeMethodOption method, double percentile)
        {
            var h = statistics.Histogram;
            var full = new ActivationRange((float)statistics.Min, (float)statistics.Max);
            if (h.Total == 0 || !(statistics.Max > statistics.Min)) return full;
            switch (method)
            {
                case RangeMethodOption.Percentile:
                    return new ActivationRange(
                        statistics.Min < 0 ? (float)h.Percentile(100 - percentile) : full.Min,
                        statistics.Max > 0 ? (float)h.Percentile(percentile) : full.Max);
                case RangeMethodOption.Mse:
                    return BestShrunkRange(h, full, MeanSquaredError);
                case RangeMethodOption.Entropy:
                    return BestShrunkRange(WithoutZeroSpike(h), full, KlDivergence);
                default:
                    return full;
            }
        }

        /// <summary>
        /// Grid search over ranges [r·min, r·max] (both ends shrunk by the same factor so real 0 keeps its
        /// place), scoring each with <paramref name="cost"/>; ties keep the wider range.
        /// </summary>
        private static ActivationRange BestShrunkRange(Histogram h, ActivationRange full, Func<Histogram, double, double, double> cost)
        {
            double lo = Math.Min(full.Min, 0), hi = Math.Max(full.Max, 0);
            double bestCost = double.PositiveInfinity, bestRatio = 1;
            for (int step = 0; step < 200; step++)
            {
                double ratio = 1.0 - step * 0.0045; // 1.0 down to ~0.1
                double c = cost(h, lo * ratio, hi * ratio);
                if (c < bestCost)
                {
                    bestCost = c;
                    bestRatio = ratio;
                }
            }
            return new ActivationRange((float)(full.Min * bestRatio), (float)(full.Max * bestRatio));
        }

        /// <summary>
        /// The histogram with the count of the bin holding real 0 replaced by its neighbours' (TensorRT's entropy calibrator
        /// does the same with bins[0] = bins[1]). After a ReLU or ReLU6 most elements are exactly 0, which the zero-point
        /// represents without error; left in, that spike dominates KL(P‖Q): Q spreads each level's mass evenly over its bins,
        /// so the spike's term grows with the bins per level and the divergence favours ranges a quarter of the observed
        /// maximum (measured on the MobileNetV2 sample: 88.9% top-1 against 92.5% with min-max).
        /// </summary>
        private static Histogram WithoutZeroSpike(Histogram h)
        {
            if (h.Min > 0 || h.Max < 0 || h.BinCount < 3) return h;
            int zero = h.BinOf(0);
            var counts = new ulong[h.BinCount];
            for (int i = 0; i < counts.Length; i++) counts[i] = h[i];
            ulong left = zero > 0 ? h[zero - 1] : h[zero + 1], right = zero < h.BinCount - 1 ? h[zero + 1] : h[zero - 1];
            counts[zero] = (left + right) / 2;
            return new Histogram(h.Min, h.Max, counts);
        }

        /// <summary>Expected squared error: uniform rounding noise Δ²/12 inside the range, squared clipping error outside.</summary>
        private static double MeanSquaredError(Histogram h, double lo, double hi)
        {
            double step = (hi - lo) / (Levels - 1);
            double error = 0;
            for (int i = 0; i < h.BinCount; i++)
            {
                if (h[i] == 0) continue;
                double x = h.BinCenter(i);
                double e = x < lo ? x - lo : x > hi ? x - hi : 0;
                error += h[i] * (e * e + (e == 0 ? step * step / 12 : 0));
            }
            return error / h.Total;
        }

        /// <summary>
        /// KL(P‖Q) as TensorRT's entropy calibration scores a clipping range: P is the histogram restricted to
        /// [lo, hi] with the clipped outliers folded into the edge bins; Q is the in-range histogram alone,
        /// quantized to 256 levels and spread back evenly over each level's non-empty bins. Outliers raise P at
        /// the edges where Q cannot follow, so clipping too much costs.
        /// </summary>
        private static double KlDivergence(Histogram h, double lo, double hi)
        {
            int first = Math.Max(0, h.BinOf(lo)), last = Math.Min(h.BinCount - 1, h.BinOf(hi));
            int bins = last - first + 1;
            if (bins <= Levels) return double.PositiveInfinity; // too few bins to tell; never preferred to the full range
            var inRange = new double[bins];
            for (int i = 0; i < bins; i++) inRange[i] = h[first + i];
            var p = (double[])inRange.Clone();
            for (int i = 0; i < first; i++) p[0] += h[i];
            for (int i = last + 1; i < h.BinCount; i++) p[bins - 1] += h[i];
            var q = new double[bins];
            for (int level = 0; level < Levels; level++)
            {
                int start = level * bins / Levels, end = (level + 1) * bins / Levels;
                double sum = 0;
                int nonEmpty = 0;
                for (int i = start; i < end; i++)
                {
                    sum += inRange[i];
                    if (inRange[i] > 0) nonEmpty++;
                }
                for (int i = start; i < end; i++)
                    if (inRange[i] > 0) q[i] = sum / nonEmpty;
            }
            double totalP = 0, totalQ = 0;
            for (int i = 0; i < bins; i++)
            {
                totalP += p[i];
                totalQ += q[i];
            }
            if (totalQ == 0) return double.PositiveInfinity;
            double kl = 0;
            for (int i = 0; i < bins; i++)
            {
                if (p[i] == 0) continue;
                double pi = p[i] / totalP, qi = Math.Max(q[i] / totalQ, 1e-12); // smoothing: P mass where Q has none
                kl += pi * Math.Log(pi / qi);
            }
            return kl;
        }
    }
}
