using System;

namespace NetQuantGen.IR
{
    /// <summary>
    /// The distribution a node's output has before its fused activation, per output channel, as the
    /// BatchNormalization folded into the node describes it: N(β[c], γ[c]²) (Nagel et al. 2019, §4). The data-free
    /// passes read it (high-bias absorption, analytic bias correction, data-free ranges); passes that rescale or
    /// shift a node's output channels replace it. Arrays are never mutated.
    /// </summary>
    public sealed class ChannelPrior
    {
        public ChannelPrior(double[] mean, double[] std)
        {
            if (mean.Length != std.Length) throw new ArgumentException("Mean and std need one entry per channel.");
            Mean = mean;
            Std = std;
        }

        public double[] Mean { get; }

        public double[] Std { get; }

        public int Channels => Mean.Length;

        /// <summary>The prior of the output after channel c is divided by scale[c] (scale &gt; 0).</summary>
        public ChannelPrior Divided(double[] scale)
        {
            var mean = new double[Channels];
            var std = new double[Channels];
            for (int c = 0; c < Channels; c++)
            {
                mean[c] = Mean[c] / scale[c];
                std[c] = Std[c] / scale[c];
            }
            return new ChannelPrior(mean, std);
        }

        /// <summary>The prior of the output after shift[c] is subtracted from channel c.</summary>
        public ChannelPrior Shifted(double[] shift)
        {
            var mean = new double[Channels];
            for (int c = 0; c < Channels; c++) mean[c] = Mean[c] - shift[c];
            return new ChannelPrior(mean, (double[])Std.Clone());
        }
    }
}
