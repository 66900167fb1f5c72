using System;

namespace NetQuantGen.Cli.Optimization
{
    /// <summary>
    /// One Conv/Gemm layer to quantize from data: float weights W [M, K] (output channel outermost, K = the
    /// inputs one output sees), the symmetric grid (per-channel scales, bits), and P sampled input patches of
    /// the float network (X) and of the quantized network (X̃), stored per group column-wise: element (k, p) at
    /// k·P + p, so that column X_k (one input over all patches) is contiguous.
    /// </summary>
    public sealed class LayerProblem
    {
        public LayerProblem(float[] weights, int outputChannels, float[] scales, int bits, int groups, int patches,
            float[][] floatInputs, float[][] quantizedInputs, float[] bias, float clampMin, float clampMax)
        {
            Weights = weights;
            OutputChannels = outputChannels;
            Inputs = weights.Length / outputChannels;
            Scales = scales;
            Bits = bits;
            Groups = groups;
            Patches = patches;
            FloatInputs = floatInputs;
            QuantizedInputs = quantizedInputs;
            Bias = bias;
            ClampMin = clampMin;
            ClampMax = clampMax;
        }

        public float[] Weights { get; }

        public int OutputChannels { get; }

        /// <summary>K: weights per output channel.</summary>
        public int Inputs { get; }

        public float[] Scales { get; }

        public int Bits { get; }

        public int MaxLevel => (1 << (Bits - 1)) - 1;

        public int Groups { get; }

        public int Patches { get; }

        /// <summary>Per group, [K, P]: the float network's input patches.</summary>
        public float[][] FloatInputs { get; }

        /// <summary>Per group, [K, P]: the quantized network's input patches (dequantized).</summary>
        public float[][] QuantizedInputs { get; }

        /// <summary>The layer's float bias (for the activation-aware loss).</summary>
        public float[] Bias { get; }

        /// <summary>The fused activation as a clamp (±∞ when there is none).</summary>
        public float ClampMin { get; }

        public float ClampMax { get; }

        public int GroupOf(int channel) => channel / (OutputChannels / Groups);

        /// <summary>Round to nearest on the layer's grid: the baseline both optimizers must beat.</summary>
        public sbyte[] RoundToNearest()
        {
            var q = new sbyte[Weights.Length];
            for (int m = 0; m < OutputChannels; m++)
                for (int k = 0; k < Inputs; k++)
                    q[m * Inputs + k] = Level(Weights[m * Inputs + k] / Scales[m]);
            return q;
        }

        public sbyte Level(double x) => (sbyte)Math.Max(-MaxLevel, Math.Min(MaxLevel, Math.Round(x, MidpointRounding.ToEven)));

        /// <summary>Σ over channels and patches of (W·x − W̃·x̃)², pre-activation: the layer's reconstruction error.</summary>
        public double ReconstructionError(sbyte[] quantized)
        {
            double total = 0;
            var target = new float[Patches];
            for (int m = 0; m < OutputChannels; m++)
            {
                var x = FloatInputs[GroupOf(m)];
                var xq = QuantizedInputs[GroupOf(m)];
                Array.Clear(target, 0, Patches);
                for (int k = 0; k < Inputs; k++)
                {
                    VectorMath.AddScaled(target, Weights[m * Inputs + k], x.AsSpan(k * Patches, Patches));
                    VectorMath.AddScaled(target, -Scales[m] * quantized[m * Inputs + k], xq.AsSpan(k * Patches, Patches));
                }
                total += VectorMath.Dot(target, target);
            }
            return total;
        }

        /// <summary>Σ over channels and patches of (W·x)²: normalizes <see cref="ReconstructionError"/>.</summary>
        public double OutputEnergy()
        {
            double total = 0;
            var target = new float[Patches];
            for (int m = 0; m < OutputChannels; m++)
            {
                var x = FloatInputs[GroupOf(m)];
                Array.Clear(target, 0, Patches);
                for (int k = 0; k < Inputs; k++) VectorMath.AddScaled(target, Weights[m * Inputs + k], x.AsSpan(k * Patches, Patches));
                total += VectorMath.Dot(target, target);
            }
            return total;
        }
    }
}
