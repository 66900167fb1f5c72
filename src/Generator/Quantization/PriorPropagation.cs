using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.IR;
using NetQuantGen.Passes;

namespace NetQuantGen.Quantization
{
    /// <summary>What the BatchNormalization statistics say about one activation tensor, per channel (axis 1).</summary>
    public sealed class ChannelEstimate
    {
        public ChannelEstimate(double[] mean, double[] std, double[] min, double[] max)
        {
            Mean = mean;
            Std = std;
            Min = min;
            Max = max;
        }

        /// <summary>Expected value per channel: what analytic bias correction multiplies the weight error by.</summary>
        public double[] Mean { get; }

        public double[] Std { get; }

        /// <summary>The estimated range per channel (mean ± n·σ of the pre-activation, clamped by the activation).</summary>
        public double[] Min { get; }

        public double[] Max { get; }

        public int Channels => Mean.Length;

        /// <summary>The range of the whole tensor: the union of the channels' ranges.</summary>
        public ActivationRange Range => new((float)Min.Min(), (float)Max.Max());

        /// <summary>The same estimate with <paramref name="channels"/> channels: each channel repeated (a Flatten of [C, H, W] into C·H·W features) or groups pooled.</summary>
        public ChannelEstimate Regrouped(int channels)
        {
            if (channels == Channels) return this;
            if (channels % Channels == 0)
            {
                int k = channels / Channels;
                double[] Repeat(double[] a) => Enumerable.Range(0, channels).Select(i => a[i / k]).ToArray();
                return new ChannelEstimate(Repeat(Mean), Repeat(Std), Repeat(Min), Repeat(Max));
            }
            // Anything else: one pooled channel (mixture moments), broadcast.
            double mean = Mean.Average();
            double variance = Mean.Zip(Std, (m, s) => s * s + (m - mean) * (m - mean)).Average();
            return new ChannelEstimate(Fill(channels, mean), Fill(channels, Math.Sqrt(variance)), Fill(channels, Min.Min()), Fill(channels, Max.Max()));
        }

        internal static double[] Fill(int count, double value) => Enumerable.Repeat(value, count).ToArray();
    }

    /// <summary>
    /// Data-free activation statistics (Nagel et al. 2019, §4.2 and §5): each layer whose folded BatchNormalization left a
    /// <see cref="ChannelPrior"/> has pre-activations N(β, γ²) per channel; the fused activation clips them (clipped-normal
    /// moments), pooling keeps them, additions add means and variances (independence assumed), and a layer without a prior
    /// propagates mean W·E[x] + b and variance Σ w²·Var[x]. Ranges are mean ± <see cref="Sigmas"/>·σ clamped by the activation.
    /// The graph input comes from the first layer's BatchNormalization, inverted (<see cref="EstimateInput"/>).
    /// A value the rules cannot reach has no estimate.
    /// </summary>
    public static class PriorPropagation
    {
        /// <summary>Standard deviations each side of the mean that the data-free range covers.</summary>
        public const double Sigmas = 6;

        /// <summary>
        /// Standard deviations each side of the estimated input mean. Inputs (pixels) are bounded and far from normal,
        /// so fewer: for pixels in [0, 1] with Fashion-MNIST's mean 0.29 and σ 0.35, ±3σ covers [−0.77, 1.35].
        /// </summary>
        public const double InputSigmas = 3;

        /// <summary>
        /// The correlation assumed between the inputs of a layer that has no BatchNormalization (a classifier head).
        /// Its output variance is (1 − ρ)·Σw²σ² + ρ·(Σ|w|σ)²: independent inputs (ρ = 0) give ranges about 3× too narrow
        /// on small_cnn's two Gemm layers (their logits then clip), full correlation (ρ = 1) an upper bound 15–70× too
        /// wide. ρ = 0.01 makes those data-free ranges match the calibration ranges of the training images (not the
        /// test set) within about 30%.
        /// </summary>
        public const double Correlation = 0.01;

        public static Dictionary<Value, ChannelEstimate> Run(Graph graph)
        {
            var estimates = new Dictionary<Value, ChannelEstimate>();
            foreach (var input in graph.Inputs)
                if (EstimateInput(graph, input) is ChannelEstimate e) estimates[input] = e;
            foreach (var node in graph.Nodes)
            {
                var x = estimates.TryGetValue(node.Input(0), out var e) ? e : null;
                var y = Propagate(node, x, estimates);
                if (y != null) estimates[node.Output] = y;
            }
            return estimates;
        }

        private static ChannelEstimate? Propagate(Node node, ChannelEstimate? x, Dictionary<Value, ChannelEstimate> estimates)
        {
            int channels = node.Output.Shape.Length > 1 ? node.Output.Shape[1] : 1;
            switch (node.Op)
            {
                case Conv conv:
                    return Layer(node, x, conv.Fused);
                case Gemm gemm:
                    return Layer(node, x, gemm.Fused);
                case Binary { Kind: BinaryKind.Add } add:
                    var other = estimates.TryGetValue(node.Input(1), out var o) ? o : null;
                    if (x == null || other == null || x.Channels != other.Channels) return null;
                    return Normal(x.Mean.Zip(other.Mean, (a, b) => a + b).ToArray(),
                        x.Std.Zip(other.Std, (a, b) => Math.Sqrt(a * a + b * b)).ToArray(), add.Fused);
                case MaxPool:
                case AveragePool:
                case GlobalAveragePool:
                case Identity:
                    return x;
                case Flatten:
                case Reshape:
                case Squeeze:
                case Unsqueeze:
                    return x?.Regrouped(channels);
                case Pad { Mode: PadMode.Constant } pad:
                    if (x == null) return null;
                    return new ChannelEstimate(x.Mean, x.Std, x.Min.Select(v => Math.Min(v, pad.ConstantValue)).ToArray(), x.Max.Select(v => Math.Max(v, pad.ConstantValue)).ToArray());
                case Concat { Axis: 1 }:
                    var parts = node.Inputs.Select(v => v != null && estimates.TryGetValue(v, out var p) ? p : null).ToList();
                    if (parts.Any(p => p == null)) return null;
                    return new ChannelEstimate(parts.SelectMany(p => p!.Mean).ToArray(), parts.SelectMany(p => p!.Std).ToArray(),
                        parts.SelectMany(p => p!.Min).ToArray(), parts.SelectMany(p => p!.Max).ToArray());
                case Activation { Kind: ActivationKind.Relu }:
                    return x == null ? null : Clamped(x, FusedClamp.Relu);
                default:
                    return null;
            }
        }

        /// <summary>A Conv or Gemm: its BN prior when it has one, otherwise the linear propagation of its input.</summary>
        private static ChannelEstimate? Layer(Node node, ChannelEstimate? x, FusedClamp? fused)
        {
            if (node.OutputPrior is ChannelPrior prior) return Normal(prior.Mean, prior.Std, fused);
            var layer = ChannelLayer.From(node);
            if (x == null || layer == null) return null;
            var inputs = x.Regrouped(layer.InputFeatures);
            var mean = new double[layer.OutputChannels];
            var variance = new double[layer.OutputChannels];
            var bound = new double[layer.OutputChannels];
            var bias = layer.Bias();
            layer.ForEachWeight((o, c, weight) =>
            {
                mean[o] += weight * inputs.Mean[c];
                variance[o] += weight * weight * inputs.Std[c] * inputs.Std[c];
                bound[o] += Math.Abs(weight) * inputs.Std[c];
            });
            double rho = Correlation;
            for (int o = 0; o < variance.Length; o++) variance[o] = (1 - rho) * variance[o] + rho * bound[o] * bound[o];
            for (int o = 0; o < mean.Length; o++) mean[o] += bias?[o] ?? 0;
            return Normal(mean, variance.Select(Math.Sqrt).ToArray(), fused);
        }

        /// <summary>Pre-activations N(mean, std²) per channel through the fused clamp.</summary>
        private static ChannelEstimate Normal(double[] mean, double[] std, FusedClamp? fused)
        {
            double a = fused?.Min ?? double.NegativeInfinity, b = fused?.Max ?? double.PositiveInfinity;
            int n = mean.Length;
            var m = new double[n];
            var s = new double[n];
            var lo = new double[n];
            var hi = new double[n];
            for (int c = 0; c < n; c++)
            {
                var (cm, cv) = ClippedNormal.Moments(mean[c], std[c], a, b);
                m[c] = cm;
                s[c] = Math.Sqrt(cv);
                lo[c] = Math.Min(b, Math.Max(a, mean[c] - Sigmas * std[c]));
                hi[c] = Math.Min(b, Math.Max(a, mean[c] + Sigmas * std[c]));
            }
            return new ChannelEstimate(m, s, lo, hi);
        }

        /// <summary>A separate ReLU: clipped-normal moments of the input's, the range clamped.</summary>
        private static ChannelEstimate Clamped(ChannelEstimate x, FusedClamp clamp)
        {
            var moments = x.Mean.Zip(x.Std, (m, s) => ClippedNormal.Moments(m, s, clamp.Min, clamp.Max)).ToList();
            return new ChannelEstimate(moments.Select(p => p.Mean).ToArray(), moments.Select(p => Math.Sqrt(p.Variance)).ToArray(),
                x.Min.Select(v => Math.Min(clamp.Max, Math.Max(clamp.Min, v))).ToArray(), x.Max.Select(v => Math.Min(clamp.Max, Math.Max(clamp.Min, v))).ToArray());
        }

        /// <summary>
        /// The graph input's distribution, from the first layer reading it, when that layer has a BN prior: with y = W·x + b
        /// and every input channel c distributed with mean μ_c and a covariance σ²[(1−ρ)I + ρ11ᵀ] over each receptive field
        /// (pixels of natural images are strongly correlated), E[y_o] = β_o and Var[y_o] = γ_o² give least-squares equations
        /// for μ (one per input channel) and for σ²(1−ρ), σ²ρ. Null when there is no such layer or the fit is degenerate.
        /// </summary>
        public static ChannelEstimate? EstimateInput(Graph graph, Value input)
        {
            var reader = graph.ConsumersOf(input).FirstOrDefault();
            if (reader == null || reader.Input(0) != input || reader.OutputPrior is not ChannelPrior prior) return null;
            var layer = ChannelLayer.From(reader);
            if (layer == null || layer.OutputChannels != prior.Channels) return null;
            int channels = layer.InputFeatures, outputs = layer.OutputChannels;
            var bias = layer.Bias();
            // Means: Σ_c S[o, c]·μ_c = β_o − b_o, with S[o, c] the sum of the weights of output o over input channel c.
            var sums = new double[outputs, channels];
            var squares = new double[outputs];
            var totals = new double[outputs];
            layer.ForEachWeight((o, c, w) =>
            {
                sums[o, c] += w;
                squares[o] += w * w;
                totals[o] += w;
            });
            var normal = new double[channels, channels];
            var rhs = new double[channels];
            for (int o = 0; o < outputs; o++)
                for (int i = 0; i < channels; i++)
                {
                    rhs[i] += sums[o, i] * (prior.Mean[o] - (bias?[o] ?? 0));
                    for (int j = 0; j < channels; j++) normal[i, j] += sums[o, i] * sums[o, j];
                }
            var mu = Solve(normal, rhs);
            if (mu == null) return null;
            // Variances: γ_o² = u·Σw² + v·(Σw)², u = σ²(1−ρ), v = σ²ρ, both ≥ 0.
            double aa = 0, ab = 0, bb = 0, ay = 0, by = 0;
            for (int o = 0; o < outputs; o++)
            {
                double a = squares[o], b = totals[o] * totals[o], y = prior.Std[o] * prior.Std[o];
                aa += a * a; ab += a * b; bb += b * b; ay += a * y; by += b * y;
            }
            var uv = Solve(new[,] { { aa, ab }, { ab, bb } }, new[] { ay, by });
            double u, v;
            if (uv != null && uv[0] >= 0 && uv[1] >= 0) (u, v) = (uv[0], uv[1]);
            else if (aa > 0) (u, v) = (Math.Max(0, ay / aa), 0); // the two-term fit failed: independent pixels only
            else return null;
            double sigma = Math.Sqrt(u + v);
            if (!(sigma > 0) || mu.Any(m => double.IsNaN(m) || double.IsInfinity(m))) return null;
            return new ChannelEstimate(mu, ChannelEstimate.Fill(channels, sigma),
                mu.Select(m => m - InputSigmas * sigma).ToArray(), mu.Select(m => m + InputSigmas * sigma).ToArray());
        }

        /// <summary>Gaussian elimination with partial pivoting; null when singular.</summary>
        private static double[]? Solve(double[,] a, double[] b)
        {
            int n = b.Length;
            var m = (double[,])a.Clone();
            var x = (double[])b.Clone();
            for (int k = 0; k < n; k++)
            {
                int pivot = k;
                for (int i = k + 1; i < n; i++) if (Math.Abs(m[i, k]) > Math.Abs(m[pivot, k])) pivot = i;
                if (Math.Abs(m[pivot, k]) < 1e-12) return null;
                for (int j = 0; j < n; j++) (m[k, j], m[pivot, j]) = (m[pivot, j], m[k, j]);
                (x[k], x[pivot]) = (x[pivot], x[k]);
                for (int i = k + 1; i < n; i++)
                {
                    double f = m[i, k] / m[k, k];
                    for (int j = k; j < n; j++) m[i, j] -= f * m[k, j];
                    x[i] -= f * x[k];
                }
            }
            for (int k = n - 1; k >= 0; k--)
            {
                double s = x[k];
                for (int j = k + 1; j < n; j++) s -= m[k, j] * x[j];
                x[k] = s / m[k, k];
            }
            return x;
        }
    }
}
