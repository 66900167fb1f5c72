using System;

namespace NetQuantGen.Quantization
{
    /// <summary>Asymmetric int8 activation parameters from a real range (TFLite's ChooseQuantizationParams).</summary>
    public static class ActivationQuantizer
    {
        public const int QMin = -128;
        public const int QMax = 127;

        public static (float Scale, int ZeroPoint) Parameters(ActivationRange range)
        {
            // Real 0 must be exactly representable (zero padding, ReLU), so the range always covers it.
            double min = Math.Min(range.Min, 0.0);
            double max = Math.Max(range.Max, 0.0);
            if (max - min < 1e-30) return (1f, 0);
            float scale = (float)((max - min) / (QMax - QMin));
            double zeroFromMin = QMin - min / scale;
            int zeroPoint = (int)Math.Round(zeroFromMin, MidpointRounding.ToEven);
            return (scale, Math.Min(QMax, Math.Max(QMin, zeroPoint)));
        }

        /// <summary>The int8 value of a real bound, clamped to int8 (±∞ → the int8 limits).</summary>
        public static int Bound(float real, float scale, int zeroPoint)
        {
            if (float.IsPositiveInfinity(real)) return QMax;
            if (float.IsNegativeInfinity(real)) return QMin;
            double q = Math.Round(real / (double)scale, MidpointRounding.ToEven) + zeroPoint;
            return (int)Math.Min(QMax, Math.Max(QMin, q));
        }
    }
}
