using System.Collections.Generic;
using NetQuantGen.IntegerIR;

namespace NetQuantGen.Compiler
{
    public enum WeightGranularityOption { PerChannel = 0, PerTensor = 1 }

    public enum RangeMethodOption { MinMax = 0, Percentile = 1, Mse = 2, Entropy = 3 }

    public enum WeightRangeOption { MinMax = 0, Mse = 1 }

    public enum BiasCorrectionOption { None = 0, Analytic = 1, Empirical = 2 }

    /// <summary>Default: fixed point for our own quantization, float for a quantized (QDQ/QOperator) model.</summary>
    public enum RequantizationOption { Default = 0, FixedPoint = 1, Float = 2 }

    /// <summary>
    /// Every choice the attribute carries, as plain equatable data (the generator must not hold Roslyn
    /// symbols in its pipeline). Enum values mirror the public enums of NetQuantGen.Attributes.
    /// </summary>
    public sealed record CompilationOptions
    {
        public string? InputShape { get; init; }

        public int WeightBits { get; init; } = 8;

        public int ActivationBits { get; init; } = 8;

        public WeightGranularityOption WeightGranularity { get; init; } = WeightGranularityOption.PerChannel;

        public RangeMethodOption ActivationRange { get; init; } = RangeMethodOption.MinMax;

        public double Percentile { get; init; } = 99.99;

        /// <summary>
        /// The numeric options out of range, as (attribute argument, what is wrong): the attribute parser reports them at
        /// the argument, the compiler (for callers that bypass the attribute: netquant, the API) before it reads the model.
        /// </summary>
        public IEnumerable<(string Option, string Problem)> RangeProblems()
        {
            if (WeightBits < 2 || WeightBits > 8)
                yield return ("WeightBits", $"WeightBits is {WeightBits}; weights are 2 to 8 bits wide (narrower widths are restricted int8 ranges).");
            if (!Quantization.ActivationQuantizer.IsSupportedWidth(ActivationBits))
                yield return ("ActivationBits", $"ActivationBits is {ActivationBits}; activations are 8 bits (int8, asymmetric) or 16 bits (int16, symmetric) wide.");
            if (!(Percentile > 50 && Percentile <= 100))
                yield return ("Percentile", $"Percentile is {Percentile.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}; it must be above 50 and at most 100 (e.g. 99.99).");
        }

        public WeightRangeOption WeightRange { get; init; } = WeightRangeOption.MinMax;

        public BiasCorrectionOption BiasCorrection { get; init; } = BiasCorrectionOption.None;

        /// <summary>Per-layer weight bit-widths, "node=bits" comma-separated, or null.</summary>
        public string? LayerWeightBits { get; init; }

        /// <summary>Per-node output activation widths (8 or 16), "node=bits" comma-separated, or null.</summary>
        public string? LayerActivationBits { get; init; }

        /// <summary>Weight size budget in KiB for the automatic per-layer bit-width choice; 0 for none.</summary>
        public int SizeBudgetKiB { get; init; }

        /// <summary>Without statistics: quantize data-free from the BatchNormalization statistics when the model allows (true), or build FLOAT32.</summary>
        public bool DataFree { get; init; } = true;

        /// <summary>Bit flags, as NetQuantGen.QuantizationPasses.</summary>
        public int Passes { get; init; } = 7;

        /// <summary>The attribute's MaxTensorMegabytes: the import's byte limit for tensors (see ImportOptions.MaxTensorBytes).</summary>
        public int MaxTensorMegabytes { get; init; } = (int)(Import.ImportOptions.DefaultMaxTensorBytes >> 20);

        public RequantizationOption Requantization { get; init; } = RequantizationOption.Default;

        /// <summary>The arithmetic <see cref="Requantization"/> selects for a model quantized by us or (<paramref name="quantizedModel"/>) by its producer.</summary>
        public RequantizationArithmetic ArithmeticFor(bool quantizedModel) => Requantization switch
        {
            RequantizationOption.FixedPoint => RequantizationArithmetic.FixedPoint,
            RequantizationOption.Float => RequantizationArithmetic.Float,
            _ => quantizedModel ? RequantizationArithmetic.Float : RequantizationArithmetic.FixedPoint,
        };

        /// <summary>The float pass names these flags select, in pipeline order.</summary>
        public IReadOnlyList<string> PassNames()
        {
            var names = new List<string>();
            if ((Passes & 1) != 0) names.Add("remove-identity");
            if ((Passes & 2) != 0) names.Add("fold-batchnorm");
            if ((Passes & 4) != 0) names.Add("fuse-activation");
            if ((Passes & 8) != 0) names.Add("relu6-to-relu");
            if ((Passes & 16) != 0) names.Add("cross-layer-equalization");
            if ((Passes & 32) != 0) names.Add("high-bias-absorption");
            return names;
        }
    }
}
