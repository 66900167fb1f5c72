using System;
using System.Threading.Tasks;

namespace NetQuantGen.Cli.Optimization
{
    /// <summary>Settings of <see cref="AdaRound"/>; the defaults follow the paper / AIMET, with fewer iterations and a larger step.</summary>
    public sealed record AdaRoundSettings
    {
        public int Iterations { get; init; } = 500;

        /// <summary>Patches per Adam step (drawn from the layer's sampled patches).</summary>
        public int BatchSize { get; init; } = 128;

        public double LearningRate { get; init; } = 0.01;

        /// <summary>λ of the rounding regularizer.</summary>
        public double Regularization { get; init; } = 0.01;

        /// <summary>Fraction of the iterations without the regularizer (the reconstruction alone moves V first).</summary>
        public double WarmStart { get; init; } = 0.2;

        public double BetaStart { get; init; } = 20;

        public double BetaEnd { get; init; } = 2;

        /// <summary>Reconstruct the output after the fused activation (the paper's asymmetric reconstruction) instead of before it.</summary>
        public bool AfterActivation { get; init; } = true;

        public int Seed { get; init; } = 1;
    }

    /// <summary>
    /// AdaRound (Nagel et al. 2020, "Up or Down? Adaptive Rounding for Post-Training Quantization"): per layer,
    /// learn whether each weight rounds down or up. W̃ = s·clamp(⌊W/s⌋ + h(V), −n, n) with the rectified sigmoid
    /// h(V) = clip(σ(V)(ζ − γ) + γ, 0, 1), ζ = 1.1, γ = −0.1, minimizing
    ///   mean ‖f(W x + b) − f(W̃ x̃ + b)‖² + λ Σ (1 − |2h(V) − 1|^β)
    /// over the float (x) and quantized-network (x̃) inputs, f the fused activation (asymmetric reconstruction),
    /// β annealed from 20 to 2 after a warm start, with Adam. The loss separates by output channel, so channels
    /// are optimized independently (in parallel) on shared mini-batches. The result rounds up where h(V) ≥ ½.
    /// </summary>
    public static class AdaRound
    {
        private const double Zeta = 1.1, Gamma = -0.1;

        public static sbyte[] Quantize(LayerProblem layer, AdaRoundSettings settings, int threads = 2)
        {
            int m = layer.OutputChannels, k = layer.Inputs, p = layer.Patches;
            int batch = Math.Min(settings.BatchSize, p);
            int n = layer.MaxLevel;
            var floor = new float[m * k];
            var v = new double[m * k];
            for (int c = 0; c < m; c++)
                for (int i = c * k; i < (c + 1) * k; i++)
                {
                    double x = layer.Weights[i] / layer.Scales[c];
                    floor[i] = (float)Math.Floor(x);
                    double rest = Math.Min(0.999, Math.Max(0.001, x - floor[i]));
                    v[i] = -Math.Log((Zeta - Gamma) / (rest - Gamma) - 1); // h(V) starts at the fractional part: W̃ = W
                }

            // Targets f(W x + b) for every patch, per channel.
            var targets = new float[m * p];
            Parallel.For(0, m, new ParallelOptions { MaxDegreeOfParallelism = threads }, c =>
            {
                var x = layer.FloatInputs[layer.GroupOf(c)];
                var y = targets.AsSpan(c * p, p);
                y.Fill(layer.Bias[c]);
                for (int t = 0; t < k; t++) VectorMath.AddScaled(y, layer.Weights[c * k + t], x.AsSpan(t * p, p));
                if (settings.AfterActivation)
                    for (int i = 0; i < p; i++) y[i] = Math.Min(layer.ClampMax, Math.Max(layer.ClampMin, y[i]));
            });

            var firstMoment = new double[m * k];
            var secondMoment = new double[m * k];
            var random = new Random(settings.Seed);
            var picks = new int[batch];
            // The mini-batch of quantized-network patches, per group, laid out [batch, K] so one channel's pre-activation is K-long dot products.
            var rows = new float[layer.Groups][];
            for (int g = 0; g < layer.Groups; g++) rows[g] = new float[batch * k];
            int warm = (int)(settings.Iterations * settings.WarmStart);
            const double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
            for (int iteration = 0; iteration < settings.Iterations; iteration++)
            {
                for (int i = 0; i < batch; i++) picks[i] = random.Next(p);
                for (int g = 0; g < layer.Groups; g++)
                    for (int i = 0; i < batch; i++)
                        for (int t = 0; t < k; t++) rows[g][i * k + t] = layer.QuantizedInputs[g][t * p + picks[i]];
                bool regularize = iteration >= warm;
                double beta = regularize ? settings.BetaEnd + (settings.BetaStart - settings.BetaEnd) * (1 - (iteration - warm) / (double)Math.Max(1, settings.Iterations - warm)) : 0;
                double lr = settings.LearningRate * Math.Sqrt(1 - Math.Pow(beta2, iteration + 1)) / (1 - Math.Pow(beta1, iteration + 1));
                Parallel.For(0, m, new ParallelOptions { MaxDegreeOfParallelism = threads }, () => (new float[k], new float[k], new double[k]), (c, _, buffers) =>
                {
                    var (weights, gradient, h) = buffers;
                    float scale = layer.Scales[c];
                    for (int t = 0; t < k; t++)
                    {
                        h[t] = RectifiedSigmoid(v[c * k + t]);
                        weights[t] = scale * Math.Max(-n, Math.Min(n, floor[c * k + t] + (float)h[t]));
                    }
                    Array.Clear(gradient, 0, k);
                    var xq = rows[layer.GroupOf(c)];
                    float weight = 2f / (batch * m); // the mean over the layer's batch × channels outputs, as AIMET
                    for (int i = 0; i < batch; i++)
                    {
                        var row = xq.AsSpan(i * k, k);
                        float pre = VectorMath.Dot(weights, row) + layer.Bias[c];
                        float output = settings.AfterActivation ? Math.Min(layer.ClampMax, Math.Max(layer.ClampMin, pre)) : pre;
                        if (output != pre) continue; // clamped: no gradient
                        VectorMath.AddScaled(gradient, weight * (output - targets[c * p + picks[i]]), row);
                    }
                    for (int t = 0; t < k; t++)
                    {
                        int index = c * k + t;
                        double level = floor[index] + h[t];
                        double dh = RectifiedSigmoidDerivative(v[index]);
                        double g = level > -n && level < n ? gradient[t] * scale * dh : 0;
                        if (regularize)
                        {
                            double d = 2 * h[t] - 1;
                            g += -settings.Regularization * beta * Math.Pow(Math.Abs(d), beta - 1) * Math.Sign(d) * 2 * dh;
                        }
                        firstMoment[index] = beta1 * firstMoment[index] + (1 - beta1) * g;
                        secondMoment[index] = beta2 * secondMoment[index] + (1 - beta2) * g * g;
                        v[index] -= lr * firstMoment[index] / (Math.Sqrt(secondMoment[index]) + epsilon);
                    }
                    return buffers;
                }, _ => { });
            }

            var q = new sbyte[m * k];
            for (int i = 0; i < q.Length; i++)
                q[i] = (sbyte)Math.Max(-n, Math.Min(n, floor[i] + (RectifiedSigmoid(v[i]) >= 0.5 ? 1 : 0)));
            return q;
        }

        private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

        public static double RectifiedSigmoid(double v) => Math.Min(1, Math.Max(0, Sigmoid(v) * (Zeta - Gamma) + Gamma));

        private static double RectifiedSigmoidDerivative(double v)
        {
            double s = Sigmoid(v);
            double h = s * (Zeta - Gamma) + Gamma;
            return h <= 0 || h >= 1 ? 0 : s * (1 - s) * (Zeta - Gamma);
        }
    }
}
