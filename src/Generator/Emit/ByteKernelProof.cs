using System;
using NetQuantGen.IntegerIR;

namespace NetQuantGen.Emit
{
    /// <summary>
    /// Decides from a dense convolution's baked weights whether the uint8 × int8 kernel is exact, and for how many
    /// input-channel quads it may sum in int16. The kernel feeds u = x + 128 ∈ [0, 255] and the int8 weights to vpmaddubsw,
    /// which adds two products into an int16 with saturation, and then adds such pairs in int16 (wrapping) over a run of
    /// quads. Per output channel and per int16 slot (input channels 4k, 4k+1 or 4k+2, 4k+3), the slot's value over a run
    /// lies in [−255·N, 255·P], P and N the sums of the run's positive weights and of the magnitudes of its negative ones;
    /// every pair and every running sum lies in the same interval, since u ≥ 0. So 255·P ≤ 32767 and 255·N ≤ 32768
    /// over every run make the kernel's int16 arithmetic exact for any input.
    /// </summary>
    public static class ByteKernelProof
    {
        /// <summary>Largest run tried: runs longer than this gain little (one widening per 16 quads) and cost the proof time.</summary>
        public const int MaximumGroup = 16;

        /// <summary>
        /// Runs of one quad still spend a widening multiply per multiply (no faster than the exact int16 kernel), so the byte
        /// kernel needs at least this many quads per run to pay off.
        /// </summary>
        public const int MinimumGroup = 2;

        /// <summary>
        /// The longest run length among 1, 2, 4, … up to <see cref="MaximumGroup"/> (and the quads of a tap) that the weights
        /// prove exact, or 0 when even single pairs could saturate. Power-of-two runs nest (a run of 2L is two runs of L),
        /// so once a length fails every longer one fails too.
        /// </summary>
        public static int GroupLength(QConvolution c, bool patches)
        {
            int quads = (Reduction(c, patches) + 3) / 4;
            int best = 0;
            for (int group = 1; ; group *= 2)
            {
                if (!Holds(c, group, patches)) return best;
                best = group;
                if (group >= quads || group >= MaximumGroup) return best;
            }
        }

        /// <summary>
        /// Whether every run of <paramref name="group"/> quads in every tap keeps each int16 slot of each output channel in
        /// range. With <paramref name="patches"/> the reduction is the whole window in one tap: k = tap·C + channel.
        /// </summary>
        public static bool Holds(QConvolution c, int group, bool patches)
        {
            int channels = c.InputChannelsPerGroup, taps = c.KernelHeight * c.KernelWidth;
            int reduction = Reduction(c, patches), quads = (reduction + 3) / 4;
            int Weight(int m, int t, int k) => c.Weights[patches ? (m * channels + k % channels) * taps + k / channels : (m * channels + k) * taps + t];
            for (int m = 0; m < c.OutputChannels; m++)
                for (int t = 0; t < (patches ? 1 : taps); t++)
                    for (int start = 0; start < quads; start += group)
                        for (int slot = 0; slot < 2; slot++)
                        {
                            int positive = 0, negative = 0;
                            for (int q = start; q < Math.Min(start + group, quads); q++)
                                for (int j = 0; j < 2; j++)
                                {
                                    int k = 4 * q + 2 * slot + j;
                                    if (k >= reduction) continue;
                                    int w = Weight(m, t, k);
                                    if (w > 0) positive += w; else negative -= w;
                                }
                            if (255 * positive > short.MaxValue || 255 * negative > -short.MinValue) return false;
                        }
            return true;
        }

        /// <summary>Weights summed per tap: the input channels, or the whole window with patches.</summary>
        private static int Reduction(QConvolution c, bool patches) =>
            patches ? c.KernelHeight * c.KernelWidth * c.InputChannelsPerGroup : c.InputChannelsPerGroup;
    }
}
