namespace NetQuantGen.Passes
{
    /// <summary>
    /// Which float passes run. Every switch has the default a user gets without naming it; the order the
    /// enabled passes run in is <see cref="PassPipeline.DefaultOrder"/>, not the order of these properties.
    /// </summary>
    public sealed class PassOptions
    {
        /// <summary>Drop Identity and inference-mode Dropout nodes ("remove-identity").</summary>
        public bool RemoveIdentities { get; set; } = true;

        /// <summary>Fold BatchNormalization into the Conv or Gemm before it ("fold-batchnorm").</summary>
        public bool FoldBatchNormalization { get; set; } = true;

        /// <summary>Fold Relu/ReLU6/Clip into the Conv, Gemm or Add before it ("fuse-activation").</summary>
        public bool FuseActivations { get; set; } = true;

        // Cross-layer equalization and high-bias absorption (the PTQ passes) get their switches here.

        /// <summary>Run <see cref="GraphVerifier"/> on the input graph and after every pass (tests turn this on).</summary>
        public bool VerifyBetweenPasses { get; set; }
    }
}
