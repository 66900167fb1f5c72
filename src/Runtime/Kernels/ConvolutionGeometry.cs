namespace NetQuantGen.Runtime.Kernels
{
    /// <summary>
    /// The build-time constants of one int8 convolution, channels-last (NHWC). Generated code passes them as
    /// literals. Weights, bias and requantization arrays are padded to <see cref="ChannelBlocks"/>·16 channels.
    /// <see cref="Patches"/> (dense only, for few input channels) makes the whole kh×kw×C window the reduction,
    /// packed in pairs across taps, so a 3-channel first layer does not pad every tap to whole pairs.
    /// <see cref="KernelRows"/> (dense, int16 kernel, few input channels, dilation 1 across) reads the window straight from
    /// a zero-padded widened copy of the input, no im2col: a kernel row of a window is kw·C consecutive cells there, so
    /// each kernel row is one weight tap of (kw·C + 1) / 2 pairs (an odd row's last pair reads the next cell, with weight 0).
    /// <see cref="ByteGroup"/> &gt; 0 (dense only, set where the compiler proved it exact from the weights) selects the
    /// uint8 × int8 kernel: inputs offset to x + 128, weights in quads of input channels, int16 sums of that many quads.
    /// </summary>
    public readonly record struct ConvolutionGeometry(
        int InHeight, int InWidth, int InChannels,
        int OutHeight, int OutWidth, int OutChannels,
        int KernelHeight, int KernelWidth,
        int StrideHeight, int StrideWidth, int DilationHeight, int DilationWidth,
        int PadTop, int PadLeft,
        int InputZeroPoint, int OutputZeroPoint, int ClampMin, int ClampMax, bool Patches = false, int ByteGroup = 0, bool KernelRows = false)
    {
        /// <summary>Output channels are computed sixteen at a time (two AVX2 vectors of int32).</summary>
        public const int BlockChannels = 16;

        public int ChannelBlocks => (OutChannels + BlockChannels - 1) / BlockChannels;

        public int Taps => KernelHeight * KernelWidth;

        /// <summary>Input channels taken two at a time (int16 pairs for the multiply-add of adjacent pairs).</summary>
        public int ChannelPairs => (InChannels + 1) / 2;

        public int OutputPixels => OutHeight * OutWidth;

        /// <summary>Taps in the dense weight layout: one when the whole window is the reduction, the kernel rows with <see cref="KernelRows"/>.</summary>
        public int WeightTaps => Patches ? 1 : KernelRows ? KernelHeight : Taps;

        /// <summary>int16 pairs reduced per weight tap: the input channels, the whole window with <see cref="Patches"/>, a kernel row with <see cref="KernelRows"/>.</summary>
        public int ReductionPairs => Patches ? (Taps * InChannels + 1) / 2 : KernelRows ? (KernelWidth * InChannels + 1) / 2 : ChannelPairs;

        /// <summary>Rows of the padded input that <see cref="KernelRows"/> windows read: from −PadTop to the last window's bottom row.</summary>
        public int PaddedHeight => (OutHeight - 1) * StrideHeight + (KernelHeight - 1) * DilationHeight + 1;

        /// <summary>
        /// int16 cells per row of the padded input of <see cref="KernelRows"/>: from column −PadLeft to the last window's right
        /// column, plus the one cell an odd kernel row's last pair reads past it.
        /// </summary>
        public int PaddedRowCells => ((OutWidth - 1) * StrideWidth + KernelWidth) * InChannels + 1;

        /// <summary>Packed weights of a dense convolution: [block][weight tap][reduction pair][16 channels] int32 pairs.</summary>
        public int DenseWeightLength => ChannelBlocks * WeightTaps * ReductionPairs * BlockChannels;

        /// <summary>Packed weights of a depthwise convolution: [tap][channel] int32, channels padded to blocks.</summary>
        public int DepthwiseWeightLength => Taps * ChannelBlocks * BlockChannels;

        /// <summary>Input channels taken four at a time (uint8 quads, two pairs per int32 lane, for the byte kernel).</summary>
        public int ChannelQuads => (InChannels + 3) / 4;

        /// <summary>The whole kh×kw×C window taken four at a time (the byte kernel's reduction with <see cref="Patches"/>).</summary>
        public int WindowQuads => (Taps * InChannels + 3) / 4;

        /// <summary>Packed weights of the byte kernel: [block][tap][quad][16 channels] int32 words of four int8 (one tap of window quads with patches).</summary>
        public int ByteWeightLength => ChannelBlocks * (Patches ? WindowQuads : Taps * ChannelQuads) * BlockChannels;

        /// <summary>int16 elements per pixel in the widened input: even for dense, a whole block for depthwise.</summary>
        public int WideStride(bool depthwise) => depthwise ? ChannelBlocks * BlockChannels : 2 * ChannelPairs;

        /// <summary>Scratch int16 elements: the widened input plus one zero pixel that padding taps read (with patches: the window rows plus a zero row; with the byte kernel: the offset bytes plus a zero-point pixel; with kernel rows: the padded input).</summary>
        public int ScratchLength(bool depthwise) =>
            KernelRows ? PaddedHeight * PaddedRowCells
            : ByteGroup > 0 ? ((Patches ? (OutputPixels + 1) * WindowQuads : (InHeight * InWidth + 1) * ChannelQuads) * 4 + 1) / 2
            : Patches ? (OutputPixels + 1) * 2 * ReductionPairs : (InHeight * InWidth + 1) * WideStride(depthwise);

        /// <summary>With patches, the 1×1 convolution over the output plane whose input channels are the window rows.</summary>
        public ConvolutionGeometry AsPatchGemm() => this with
        {
            InHeight = OutHeight, InWidth = OutWidth, InChannels = ByteGroup > 0 ? 4 * WindowQuads : 2 * ReductionPairs, KernelHeight = 1, KernelWidth = 1,
            StrideHeight = 1, StrideWidth = 1, DilationHeight = 1, DilationWidth = 1, PadTop = 0, PadLeft = 0, InputZeroPoint = 0, Patches = false,
        };
    }
}
