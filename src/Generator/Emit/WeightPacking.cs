using System;
using NetQuantGen.IntegerIR;

namespace NetQuantGen.Emit
{
    /// <summary>
    /// Lays a convolution's int8 weights out the way the runtime kernels read them, at build time, so Run
    /// never packs anything. Mirrors NetQuantGen.Runtime.Kernels.ConvolutionGeometry.
    /// </summary>
    public static class WeightPacking
    {
        public const int BlockChannels = 16;

        public static int PaddedChannels(int channels) => (channels + BlockChannels - 1) / BlockChannels * BlockChannels;

        /// <summary>
        /// Dense: [block][tap][channel pair][16 output channels], each int32 = (w[k even] low, w[k odd] high) as int16,
        /// k the input channel. With <paramref name="patches"/> there is one tap and k = tap·C + channel runs over the whole window;
        /// with <paramref name="kernelRows"/> the taps are the kernel rows and k = kx·C + channel runs over one of them.
        /// </summary>
        public static int[] Dense(QConvolution c, bool patches, bool kernelRows = false)
        {
            int m = c.OutputChannels, channels = c.InputChannelsPerGroup, taps = c.KernelHeight * c.KernelWidth, kw = c.KernelWidth;
            int reduction = patches ? taps * channels : kernelRows ? kw * channels : channels, weightTaps = patches ? 1 : kernelRows ? c.KernelHeight : taps;
            int pairs = (reduction + 1) / 2, blocks = PaddedChannels(m) / BlockChannels;
            int WeightAt(int output, int t, int k) =>
                k >= reduction ? 0 : patches ? Weight(c, output, k % channels, k / channels)
                : kernelRows ? Weight(c, output, k % channels, t * kw + k / channels) : Weight(c, output, k, t);
            var packed = new int[blocks * weightTaps * pairs * BlockChannels];
            for (int block = 0; block < blocks; block++)
                for (int t = 0; t < weightTaps; t++)
                    for (int pair = 0; pair < pairs; pair++)
                        for (int lane = 0; lane < BlockChannels; lane++)
                        {
                            int output = block * BlockChannels + lane;
                            int low = WeightAt(output, t, 2 * pair), high = WeightAt(output, t, 2 * pair + 1);
                            packed[((block * weightTaps + t) * pairs + pair) * BlockChannels + lane] = (ushort)(short)low | high << 16;
                        }
            return packed;
        }

        /// <summary>
        /// The byte kernel: [block][tap][quad][16 output channels], each int32 = four int8 weights, byte j for reduction
        /// index k = 4·quad + j (little-endian, as the kernel's vector loads see them): the input channel, or with
        /// <paramref name="patches"/> one tap whose k = tap·C + channel runs over the whole window.
        /// </summary>
        public static int[] Bytes(QConvolution c, bool patches)
        {
            int m = c.OutputChannels, channels = c.InputChannelsPerGroup, taps = c.KernelHeight * c.KernelWidth;
            int reduction = patches ? taps * channels : channels, weightTaps = patches ? 1 : taps;
            int quads = (reduction + 3) / 4, blocks = PaddedChannels(m) / BlockChannels;
            int WeightAt(int output, int t, int k) =>
                k >= reduction ? 0 : patches ? Weight(c, output, k % channels, k / channels) : Weight(c, output, k, t);
            var packed = new int[blocks * weightTaps * quads * BlockChannels];
            for (int block = 0; block < blocks; block++)
                for (int t = 0; t < weightTaps; t++)
                    for (int quad = 0; quad < quads; quad++)
                        for (int lane = 0; lane < BlockChannels; lane++)
                        {
                            int output = block * BlockChannels + lane, word = 0;
                            for (int j = 0; j < 4; j++) word |= (byte)(sbyte)WeightAt(output, t, 4 * quad + j) << (8 * j);
                            packed[((block * weightTaps + t) * quads + quad) * BlockChannels + lane] = word;
                        }
            return packed;
        }

        /// <summary>
        /// Winograd F(2×2, 3×3): per input and output channel U' = G' g G'ᵀ, G' = 2·G = [[2,0,0],[1,1,1],[1,−1,1],[0,0,2]]
        /// (integer, |U'| ≤ 9·128), laid out [block][ξ][channel pair][16 output channels], ξ = 4·row + column of the 4×4
        /// transform, each int32 = (U'[k even] low, U'[k odd] high) as int16, k the input channel. Wide: the F(4×2, 3×3) tile's
        /// 24 positions of <see cref="WinogradProof.TransformedWeights"/> (|U'| ≤ 72·128).
        /// </summary>
        public static int[] Winograd(QConvolution c, bool wide = false)
        {
            int channels = c.InputChannelsPerGroup, pairs = (channels + 1) / 2, blocks = PaddedChannels(c.OutputChannels) / BlockChannels;
            int positions = WinogradProof.Positions(wide);
            var packed = new int[blocks * positions * pairs * BlockChannels];
            for (int output = 0; output < c.OutputChannels; output++)
                for (int channel = 0; channel < channels; channel++)
                {
                    var u = WinogradProof.TransformedWeights(c, output, channel, wide);
                    int block = output / BlockChannels, lane = output % BlockChannels;
                    for (int xi = 0; xi < positions; xi++)
                    {
                        ref int word = ref packed[((block * positions + xi) * pairs + channel / 2) * BlockChannels + lane];
                        word |= channel % 2 == 0 ? (ushort)(short)u[xi] : u[xi] << 16;
                    }
                }
            return packed;
        }

        /// <summary>
        /// The byte kernel's bias: it sums w·(x + 128) over every tap, so −(z_in + 128)·Σw moves into the bias at build
        /// time (int32 wrap-around is harmless: the sum the kernel completes is the exact accumulator, which fits).
        /// </summary>
        public static int[] ByteKernelBias(QConvolution c)
        {
            int channels = c.InputChannelsPerGroup, taps = c.KernelHeight * c.KernelWidth, offset = c.Input.ZeroPoint + 128;
            var bias = new int[c.OutputChannels];
            for (int m = 0; m < c.OutputChannels; m++)
            {
                int sum = 0;
                for (int k = 0; k < channels * taps; k++) sum += c.Weights[m * channels * taps + k];
                bias[m] = unchecked(c.Bias[m] - offset * sum);
            }
            return bias;
        }

        /// <summary>Depthwise: [tap][channel], channels padded to a whole block.</summary>
        public static int[] Depthwise(QConvolution c)
        {
            int m = c.OutputChannels, taps = c.KernelHeight * c.KernelWidth, padded = PaddedChannels(m);
            var packed = new int[taps * padded];
            for (int t = 0; t < taps; t++)
                for (int channel = 0; channel < m; channel++)
                    packed[t * padded + channel] = Weight(c, channel, 0, t);
            return packed;
        }

        /// <summary>Per-channel values padded with zeros to a whole block.</summary>
        public static T[] Padded<T>(T[] values)
        {
            var padded = new T[PaddedChannels(values.Length)];
            Array.Copy(values, padded, values.Length);
            return padded;
        }

        private static int Weight(QConvolution c, int output, int channel, int tap)
        {
            if (output >= c.OutputChannels || channel >= c.InputChannelsPerGroup) return 0;
            return c.Weights[(output * c.InputChannelsPerGroup + channel) * c.KernelHeight * c.KernelWidth + tap];
        }
    }
}
