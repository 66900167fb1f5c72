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

        /// <summary>Activation bit-width (8).</summary>
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
        Default = RemoveIdentity | FoldBatchNorm | FuseActivation,
    }
}
