using System;
using NetQuantGen.IntegerIR;

namespace NetQuantGen.Emit
{
    /// <summary>
    /// Decides from a convolution's shape and baked weights whether the exact integer Winograd F(2×2, 3×3) kernel may run it,
    /// or its F(4×2, 3×3) tile ("wide": F(4, 3) along the width, G₄' = 24·G₄ integer, so Y = 48·Σ w·u and the bound is 48·255·Σ|w|).
    /// The kernel computes Y = Aᵀ[(G' g G'ᵀ) ⊙ (Bᵀ d B)]A = 4·Σ w·u with u = x − z_in (|u| ≤ 255) in wrapping int32: every step
    /// is a linear map with integer coefficients, so Y is right modulo 2^32, and it is the exact value when the true one
    /// fits, which 4·255·Σ|w| ≤ 2^31 − 1 per output channel guarantees for every input. Both GEMM operands must fit int16
    /// so that vpmaddwd's pairs are exact: |Bᵀ d B| ≤ 4·255 always, |G' g G'ᵀ| ≤ 9·max|w| is checked on the weights.
    /// </summary>
    public static class WinogradProof
    {
        /// <summary>ξ: the 4×4 positions of a transformed 2×2 tile, or the 4×6 of a 4×2 tile.</summary>
        public static int Positions(bool wide) => wide ? 24 : 16;

        /// <summary>Y over Σ w·u: 2 per F(2, 3) axis (G' = 2·G), 24 for the F(4, 3) one (G₄' = 24·G₄).</summary>
        public static int Scale(bool wide) => wide ? 48 : 4;

        /// <summary>|x − z_in| for int8 x and z_in.</summary>
        public const int MaximumInput = 255;

        /// <summary>Dense, 3×3, stride 1, dilation 1, int8 input and output (16-bit activations run the int16 kernels): the shape the kernel computes.</summary>
        public static bool Applies(QConvolution c) =>
            c.Group == 1 && !c.FromGemm && !c.TouchesWide && c.Input.Shape.Length == 4 && c.KernelHeight == 3 && c.KernelWidth == 3
            && c.Window.Strides[0] == 1 && c.Window.Strides[1] == 1 && c.Window.Dilations[0] == 1 && c.Window.Dilations[1] == 1;

        /// <summary>The largest scale·255·Σ|w| over the output channels: a bound on |Y| for every input.</summary>
        public static long Bound(QConvolution c, bool wide = false)
        {
            int perOutput = c.InputChannelsPerGroup * c.KernelHeight * c.KernelWidth;
            long bound = 0;
            for (int m = 0; m < c.OutputChannels; m++)
            {
                long magnitude = 0;
                for (int k = 0; k < perOutput; k++) magnitude += Math.Abs((int)c.Weights[m * perOutput + k]);
                bound = Math.Max(bound, (long)Scale(wide) * MaximumInput * magnitude);
            }
            return bound;
        }

        /// <summary>
        /// Whether the kernel is exact on this layer for every input: the bound fits int32, and the GEMM operands fit int16:
        /// a row of G' has absolute sum at most 3 (of G₄' 24), so |U'| ≤ 9·max|w| (72·max|w|), and a row of Bᵀ at most 2
        /// (of B₄ᵀ 10), so |V| ≤ 4·255 (20·255).
        /// </summary>
        public static bool Holds(QConvolution c, bool wide = false)
        {
            if (!Applies(c) || Bound(c, wide) > int.MaxValue) return false;
            int largest = 0;
            foreach (sbyte w in c.Weights) largest = Math.Max(largest, Math.Abs((int)w));
            int weightGain = wide ? 3 * 24 : 9, inputGain = wide ? 2 * 10 : 4;
            return weightGain * largest <= short.MaxValue && inputGain * MaximumInput <= short.MaxValue;
        }

        /// <summary>
        /// U' = G' g G'ᵀ of one 3×3 filter, G' = [[2,0,0],[1,1,1],[1,−1,1],[0,0,2]], row-major ξ = 4·row + column; or, wide,
        /// U' = G' g G₄'ᵀ with G₄' = [[6,0,0],[−4,−4,−4],[−4,4,−4],[1,2,4],[1,−2,4],[0,0,24]] across, ξ = 6·row + column.
        /// </summary>
        public static int[] TransformedWeights(QConvolution c, int output, int channel, bool wide = false)
        {
            int At(int row, int column) => c.Weights[((output * c.InputChannelsPerGroup + channel) * 3 + row) * 3 + column];
            var rows = new int[4, 3];
            for (int column = 0; column < 3; column++)
            {
                int g0 = At(0, column), g1 = At(1, column), g2 = At(2, column);
                rows[0, column] = 2 * g0; rows[1, column] = g0 + g1 + g2; rows[2, column] = g0 - g1 + g2; rows[3, column] = 2 * g2;
            }
            var u = new int[Positions(wide)];
            for (int row = 0; row < 4; row++)
            {
                int g0 = rows[row, 0], g1 = rows[row, 1], g2 = rows[row, 2];
                if (wide)
                {
                    u[6 * row] = 6 * g0; u[6 * row + 1] = -4 * (g0 + g1 + g2); u[6 * row + 2] = -4 * (g0 - g1 + g2);
                    u[6 * row + 3] = g0 + 2 * g1 + 4 * g2; u[6 * row + 4] = g0 - 2 * g1 + 4 * g2; u[6 * row + 5] = 24 * g2;
                    continue;
                }
                u[4 * row] = 2 * g0; u[4 * row + 1] = g0 + g1 + g2; u[4 * row + 2] = g0 - g1 + g2; u[4 * row + 3] = 2 * g2;
            }
            return u;
        }
    }
}
