using System;

namespace NetQuantGen.Quantization
{
    /// <summary>
    /// Activation parameters from a real range: int8 asymmetric (TFLite's ChooseQuantizationParams), or int16
    /// symmetric with zero-point 0 (TFLite's 16x8 mode), so that x − z_in of an int16 input still fits int16.
    /// </summary>
    public static class ActivationQuantizer
    {
        public const int QMin = -128;
        public const int QMax = 127;

        /// <summary>Activation widths the integer path implements.</summary>
        public static bool IsSupportedWidth(int bits) => bits == 8 || bits == 16;

        public static (float Scale, int ZeroPoint) Parameters(ActivationRange range, int bits = 8)
        {
            // Real 0 must be exactly representable (zero padding, ReLU), so the range always covers it.
            double min = Math.Min(range.Min, 0.0);
            double max = Math.Max(range.Max, 0.0);
            if (max - min < 1e-30) return (1f, 0);
            if (bits == 16) return ((float)(Math.Max(-min, max) / short.MaxValue), 0);
            float scale = (float)((max - min) / (QMax - QMin));
            double zeroFromMin = QMin - min / scale;
            int zeroPoint = (int)Math.Round(zeroFromMin, MidpointRounding.ToEven);
            return (scale, Math.Min(QMax, Math.Max(QMin, zeroPoint)));
        }

        /// <summary>The integer value of a real bound, clamped to the tensor's range (±∞ → its limits).</summary>
        public static int Bound(float real, IntegerIR.QTensor tensor)
        {
            if (float.IsPositiveInfinity(real)) return tensor.QMax;
            if (float.IsNegativeInfinity(real)) return tensor.QMin;
            double q = Math.Round(real / (double)tensor.Scale, MidpointRounding.ToEven) + tensor.ZeroPoint;
            return (int)Math.Min(tensor.QMax, Math.Max(tensor.QMin, q));
        }
    }
}
