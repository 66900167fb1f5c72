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

        /// <summary>Replace fused ReLU6 by ReLU before equalization, as Nagel et al. 2019 do ("relu6-to-relu"; changes the float function).</summary>
        public bool ReplaceRelu6 { get; set; }

        /// <summary>Cross-layer equalization ("cross-layer-equalization").</summary>
        public bool CrossLayerEqualization { get; set; }

        /// <summary>High-bias absorption from the folded BatchNormalization statistics ("high-bias-absorption").</summary>
        public bool HighBiasAbsorption { get; set; }

        /// <summary>Run <see cref="GraphVerifier"/> on the input graph and after every pass (tests turn this on).</summary>
        public bool VerifyBetweenPasses { get; set; }
    }
}
