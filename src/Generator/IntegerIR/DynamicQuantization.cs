using System;

namespace NetQuantGen.IntegerIR
{
    /// <summary>
    /// ONNX DynamicQuantizeLinear's run-time parameters for uint8: the range of the data extended to include 0,
    /// scale = (max − min) / 255, zero-point = round_half_even(saturate(0 − min / scale)), all in float32.
    /// </summary>
    public static class DynamicQuantization
    {
        public static (float Scale, int ZeroPoint) Parameters(float[] values)
        {
            float min = 0, max = 0;
            foreach (float v in values)
            {
                min = Math.Min(min, v);
                max = Math.Max(max, v);
            }
            // All zeros: any scale represents them; ONNX Runtime takes 1 (the spec would divide by zero).
            float scale = max == min ? 1f : (max - min) / 255f;
            float intermediate = 0f - min / scale;
            float saturated = Math.Min(255f, Math.Max(0f, intermediate));
            return (scale, (int)Math.Round(saturated, MidpointRounding.ToEven));
        }
    }
}
