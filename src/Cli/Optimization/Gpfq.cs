using System;
using System.Threading.Tasks;

namespace NetQuantGen.Cli.Optimization
{
    /// <summary>
    /// GPFQ, greedy path-following quantization (Lybrand &amp; Saab; Zhang, Zhou &amp; Saab, "Post-training
    /// quantization for neural networks with provable guarantees"). Per output channel w, walking its weights in
    /// order, with u_0 = 0:
    ///   q_t = Q(⟨X̃_t, u_{t−1} + w_t X_t⟩ / ‖X̃_t‖²),   u_t = u_{t−1} + w_t X_t − q_t X̃_t,
    /// where X_t / X̃_t are input t over the sampled patches in the float / quantized network and Q rounds to the
    /// nearest element of the alphabet scale·{−(2^(b−1)−1), …, 2^(b−1)−1}. So u_t = X w_{≤t} − X̃ q_{≤t}: each
    /// choice corrects the error the previous ones left. The sparsity-promoting variant soft-thresholds the
    /// numerator, q_t = Q(s_λ'(⟨X̃_t, u_{t−1} + w_t X_t⟩) / ‖X̃_t‖²), s_λ'(z) = sign(z)·max(|z| − λ', 0); we set
    /// λ' = λ·scale·mean_t ‖X̃_t‖² so that λ is in units of one quantization step for an input of average energy.
    /// </summary>
    public static class Gpfq
    {
        public static sbyte[] Quantize(LayerProblem layer, double sparsityLambda = 0, int threads = 2)
        {
            int m = layer.OutputChannels, k = layer.Inputs, p = layer.Patches;
            var q = new sbyte[layer.Weights.Length];
            var norms = new double[layer.Groups][];
            var cross = new double[layer.Groups][];
            var meanNorm = new double[layer.Groups];
            for (int g = 0; g < layer.Groups; g++)
            {
                norms[g] = new double[k];
                cross[g] = new double[k];
                for (int t = 0; t < k; t++)
                {
                    var xq = layer.QuantizedInputs[g].AsSpan(t * p, p);
                    norms[g][t] = VectorMath.Dot(xq, xq);
                    cross[g][t] = VectorMath.Dot(xq, layer.FloatInputs[g].AsSpan(t * p, p));
                    meanNorm[g] += norms[g][t] / k;
                }
            }
            Parallel.For(0, m, new ParallelOptions { MaxDegreeOfParallelism = threads }, () => new float[p], (c, _, u) =>
            {
                int g = layer.GroupOf(c);
                var x = layer.FloatInputs[g];
                var xq = layer.QuantizedInputs[g];
                float scale = layer.Scales[c];
                double threshold = sparsityLambda * scale * meanNorm[g];
                Array.Clear(u, 0, p);
                for (int t = 0; t < k; t++)
                {
                    float w = layer.Weights[c * k + t];
                    sbyte level;
                    if (norms[g][t] <= 0)
                        level = sparsityLambda > 0 ? (sbyte)0 : layer.Level(w / scale); // an input that is always 0 in the quantized network: its weight does not matter
                    else
                    {
                        double numerator = VectorMath.Dot(xq.AsSpan(t * p, p), u) + w * cross[g][t];
                        if (threshold > 0) numerator = Math.Sign(numerator) * Math.Max(Math.Abs(numerator) - threshold, 0);
                        level = layer.Level(numerator / norms[g][t] / scale);
                    }
                    q[c * k + t] = level;
                    VectorMath.AddScaled(u, w, x.AsSpan(t * p, p));
                    VectorMath.AddScaled(u, -scale * level, xq.AsSpan(t * p, p));
                }
                return u;
            }, _ => { });
            return q;
        }
    }
}
