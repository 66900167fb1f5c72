using System;

namespace NetQuantGen.Quantization
{
    /// <summary>
    /// Moments of clamp(X, a, b) for X ~ N(μ, σ²): what a ReLU or ReLU6 makes of a BatchNormalization output
    /// (Nagel et al. 2019, §4.2, the clipped normal of analytic bias correction). Bounds may be infinite.
    /// </summary>
    public static class ClippedNormal
    {
        /// <summary>E[clamp(X, a, b)] and Var[clamp(X, a, b)].</summary>
        public static (double Mean, double Variance) Moments(double mu, double sigma, double a, double b)
        {
            if (!(sigma > 0))
            {
                double v = Math.Min(b, Math.Max(a, mu));
                return (v, 0);
            }
            double alpha = (a - mu) / sigma, beta = (b - mu) / sigma;
            double cdfA = Cdf(alpha), cdfB = Cdf(beta);
            double pdfA = Pdf(alpha), pdfB = Pdf(beta);
            double inside = cdfB - cdfA;
            double lowMass = double.IsNegativeInfinity(a) ? 0 : cdfA;
            double highMass = double.IsPositiveInfinity(b) ? 0 : 1 - cdfB;
            double lowTerm = lowMass == 0 ? 0 : a * lowMass, highTerm = highMass == 0 ? 0 : b * highMass;
            // ∫ over [α, β] of (μ + σz) φ(z) dz and of (μ + σz)² φ(z) dz; z·φ(z) vanishes at ±∞.
            double zpdfA = double.IsInfinity(alpha) ? 0 : alpha * pdfA, zpdfB = double.IsInfinity(beta) ? 0 : beta * pdfB;
            double mean = lowTerm + highTerm + mu * inside + sigma * (pdfA - pdfB);
            double second = (lowMass == 0 ? 0 : a * a * lowMass) + (highMass == 0 ? 0 : b * b * highMass)
                + (mu * mu + sigma * sigma) * inside + 2 * mu * sigma * (pdfA - pdfB) + sigma * sigma * (zpdfA - zpdfB);
            return (mean, Math.Max(0, second - mean * mean));
        }

        public static double Pdf(double z) => double.IsInfinity(z) ? 0 : Math.Exp(-0.5 * z * z) / Math.Sqrt(2 * Math.PI);

        public static double Cdf(double z) => 0.5 * Erfc(-z / Math.Sqrt(2));

        /// <summary>Complementary error function (Numerical Recipes' Chebyshev fit, relative error below 1.2·10⁻⁷).</summary>
        private static double Erfc(double x)
        {
            if (double.IsPositiveInfinity(x)) return 0;
            if (double.IsNegativeInfinity(x)) return 2;
            double z = Math.Abs(x);
            double t = 1 / (1 + 0.5 * z);
            double r = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
                + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
            return x >= 0 ? r : 2 - r;
        }
    }
}
