using System;

namespace NetQuantGen.Runtime.Kernels
{
    /// <summary>
    /// Opt-in intra-model parallelism: how many threads one convolution layer may use for one image. The default, 1, keeps
    /// every Run on the calling thread (and allocation-free). With more, large layers split their output pixels into runs
    /// of whole register tiles, one per thread; each output value is still computed by one thread exactly as on one, so
    /// the results are bit-identical for every count. Process-wide: set it once at start-up.
    /// </summary>
    public static class KernelThreads
    {
        /// <summary>Layers below this many multiply-accumulates run on one thread: handing work to other threads costs more.</summary>
        public const long MinimumMacs = 1 << 20;

        private static volatile int s_count = 1;

        public static int Count
        {
            get => s_count;
            set => s_count = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "At least one thread.");
        }
    }
}
