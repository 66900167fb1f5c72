using System;

namespace NetQuantGen
{
    /// <summary>
    /// Compiles an ONNX model into this partial class at build time: integer-only int8 code with baked
    /// weights, scales and zero-points. List the .onnx (and .calib) files as AdditionalFiles.
    /// </summary>
    /// <example><code>
    /// [QuantizedModel("models/resnet18.onnx", Calibration = "models/resnet18.calib", InputShape = "1,3,224,224")]
    /// public static partial class ResNet18 { }
    /// </code></example>
    [AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
    public sealed class QuantizedModelAttribute : Attribute
    {
        public QuantizedModelAttribute(string onnxPath) => OnnxPath = onnxPath;

        /// <summary>Path of the ONNX model, as listed in AdditionalFiles (relative to the project).</summary>
        public string OnnxPath { get; }

        /// <summary>
        /// Statistics file written by <c>netquant calibrate</c>. Without it the model still builds, in float,
        /// with a warning that says how to calibrate.
        /// </summary>
        public string? Calibration { get; set; }

        /// <summary>Pins dynamic input dimensions, e.g. "1,3,224,224".</summary>
        public string? InputShape { get; set; }

        /// <summary>Weight bit-width, 2 to 8 (narrower widths are restricted int8 ranges).</summary>
        public int WeightBits { get; set; } = 8;

        /// <summary>
        /// Activation bit-width: 8 (int8, asymmetric) or 16 (int16, symmetric with zero-point 0, int8 weights and
        /// exact int64 accumulation where int32 cannot be proven: TFLite's 16x8 mode).
        /// </summary>
        public int ActivationBits { get; set; } = 8;

        /// <summary>Per output channel (default) or one scale per weight tensor.</summary>
        public WeightGranularity WeightGranularity { get; set; } = WeightGranularity.PerChannel;

        /// <summary>How activation ranges are set from the calibration histograms.</summary>
        public RangeMethod ActivationRange { get; set; } = RangeMethod.MinMax;

        /// <summary>Percentile kept by <see cref="RangeMethod.Percentile"/>, e.g. 99.99.</summary>
        public double Percentile { get; set; } = 99.99;

        /// <summary>The float passes run before quantization.</summary>
        public QuantizationPasses Passes { get; set; } = QuantizationPasses.Default;

        /// <summary>
        /// Largest model accepted, in MiB: the initializers and constants together, and the float activations together
        /// (checked from the declared shapes before anything is allocated; NQG0016 above it).
        /// </summary>
        public int MaxTensorMegabytes { get; set; } = 1024;

        /// <summary>How weight ranges are set: the largest magnitude (min-max) or the MSE-optimal clipping.</summary>
        public WeightRangeMethod WeightRange { get; set; } = WeightRangeMethod.MinMax;

        /// <summary>
        /// Bias correction of the quantized weights' expected error: analytic (data-free, from the BatchNormalization
        /// statistics) or empirical (from the statistics file, computed by <c>netquant calibrate</c>).
        /// </summary>
        public BiasCorrection BiasCorrection { get; set; } = BiasCorrection.None;

        /// <summary>Per-layer weight bit-widths (2 to 8) by node name, overriding <see cref="WeightBits"/>, e.g. "conv1=4,fc=8".</summary>
        public string? LayerWeightBits { get; set; }

        /// <summary>Per-node output activation widths (8 or 16) by node name, overriding <see cref="ActivationBits"/>, e.g. "conv1=16".</summary>
        public string? LayerActivationBits { get; set; }

        /// <summary>
        /// Weight size budget in KiB (0: none). When set, the compiler chooses per-layer weight bit-widths from
        /// each layer's sensitivity so that the packed weights fit; <see cref="LayerWeightBits"/> entries stay fixed.
        /// </summary>
        public int SizeBudgetKiB { get; set; }

        /// <summary>
        /// Without <see cref="Calibration"/>: quantize to INT8 data-free (true, the default) when every activation range can be
        /// estimated from the model's BatchNormalization statistics (Nagel et al. 2019: with cross-layer equalization, high-bias
        /// absorption and analytic bias correction), else build FLOAT32; false always builds FLOAT32 without statistics.
        /// </summary>
        public bool DataFree { get; set; } = true;

        /// <summary>
        /// The requantization arithmetic: DESIGN §3's fixed point (the default for models we quantize) or ONNX Runtime's float
        /// (the default for quantized QDQ/QOperator models, whose meaning is float: generated code then matches ONNX Runtime bit for bit).
        /// </summary>
        public Requantization Requantization { get; set; } = Requantization.Default;
    }

    public enum Requantization
    {
        /// <summary><see cref="FixedPoint"/> for models quantized from statistics or data-free, <see cref="Float"/> for quantized models.</summary>
        Default = 0,

        /// <summary>Integer multiplier and shift with gemmlowp rounding (TFLite; DESIGN §3).</summary>
        FixedPoint = 1,

        /// <summary>ONNX Runtime's (MLAS) arithmetic: float32 scale, one rounding half to even; its QLinearAdd and QLinearGlobalAveragePool.</summary>
        Float = 2,
    }

    public enum WeightRangeMethod
    {
        /// <summary>The largest weight magnitude (per channel or per tensor).</summary>
        MinMax = 0,

        /// <summary>The clipping magnitude that minimizes the weights' mean squared quantization error.</summary>
        Mse = 1,
    }

    public enum BiasCorrection
    {
        None = 0,

        /// <summary>Expected input from the BatchNormalization statistics through the clipped normal (data-free).</summary>
        Analytic = 1,

        /// <summary>Expected output error measured on calibration data (saved by <c>netquant calibrate</c>).</summary>
        Empirical = 2,
    }

    public enum WeightGranularity
    {
        PerChannel = 0,
        PerTensor = 1,
    }

    public enum RangeMethod
    {
        /// <summary>The observed minimum and maximum.</summary>
        MinMax = 0,

        /// <summary>Clip to a percentile of the histogram on each side.</summary>
        Percentile = 1,

        /// <summary>The range that minimizes the mean squared quantization error over the histogram.</summary>
        Mse = 2,

        /// <summary>The range that minimizes the KL divergence (TensorRT-style entropy calibration).</summary>
        Entropy = 3,
    }

    [Flags]
    public enum QuantizationPasses
    {
        None = 0,
        RemoveIdentity = 1,
        FoldBatchNorm = 2,
        FuseActivation = 4,

        /// <summary>
        /// Replace ReLU6 (Clip 0..6) fused into a layer by ReLU, as Nagel et al. 2019 do before cross-layer
        /// equalization (ReLU6 is not positively homogeneous). This changes the float function slightly.
        /// </summary>
        ReplaceRelu6 = 8,

        /// <summary>Cross-layer equalization (Nagel et al. 2019) over Conv/Gemm chains through ReLU, depthwise included.</summary>
        CrossLayerEqualization = 16,

        /// <summary>High-bias absorption into the next layer, from the BatchNormalization β and γ.</summary>
        HighBiasAbsorption = 32,

        Default = RemoveIdentity | FoldBatchNorm | FuseActivation,
    }
}
