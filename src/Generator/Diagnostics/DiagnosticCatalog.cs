using System.Collections.Generic;

namespace NetQuantGen.Diagnostics
{
    public enum DiagnosticLevel { Info, Warning, Error }

    /// <summary>One kind of problem the compiler reports: a stable ID, a title and the level.</summary>
    public sealed record DiagnosticKind(string Id, string Title, DiagnosticLevel Level);

    /// <summary>
    /// Every diagnostic the compiler can report, in one place. The generator turns these into Roslyn
    /// descriptors and the netquant tool prints them; the IDs are documented in the README.
    /// </summary>
    public static class DiagnosticCatalog
    {
        public static readonly DiagnosticKind MissingFile =
            new("NQG0001", "Model or statistics file not found", DiagnosticLevel.Error);
        public static readonly DiagnosticKind MalformedModel =
            new("NQG0002", "Malformed ONNX model", DiagnosticLevel.Error);
        public static readonly DiagnosticKind UnsupportedOperator =
            new("NQG0003", "Unsupported operator", DiagnosticLevel.Error);
        public static readonly DiagnosticKind UnsupportedAttribute =
            new("NQG0004", "Unsupported attribute or attribute value", DiagnosticLevel.Error);
        public static readonly DiagnosticKind UnpinnedDynamicDimension =
            new("NQG0005", "Dynamic dimension is not pinned", DiagnosticLevel.Error);
        public static readonly DiagnosticKind MissingStatistics =
            new("NQG0006", "No calibration statistics: the model is built in FLOAT32", DiagnosticLevel.Warning);
        public static readonly DiagnosticKind StaleStatistics =
            new("NQG0007", "Calibration statistics are stale", DiagnosticLevel.Error);
        public static readonly DiagnosticKind TensorNameMismatch =
            new("NQG0008", "Statistics do not match the model's tensors", DiagnosticLevel.Error);
        public static readonly DiagnosticKind AccumulatorOverflow =
            new("NQG0009", "int32 accumulator could overflow", DiagnosticLevel.Error);
        public static readonly DiagnosticKind ShapeMismatch =
            new("NQG0010", "Tensor shapes do not fit", DiagnosticLevel.Error);
        public static readonly DiagnosticKind GraphCycle =
            new("NQG0011", "Graph has a cycle", DiagnosticLevel.Error);
        public static readonly DiagnosticKind ExternalDataOutsideModelFolder =
            new("NQG0012", "External data outside the model's folder", DiagnosticLevel.Error);
        public static readonly DiagnosticKind UnsupportedDataType =
            new("NQG0013", "Unsupported data type", DiagnosticLevel.Error);
        public static readonly DiagnosticKind UnsupportedOpset =
            new("NQG0014", "Unsupported opset", DiagnosticLevel.Error);
        public static readonly DiagnosticKind InvalidOption =
            new("NQG0015", "Invalid attribute argument", DiagnosticLevel.Error);
        public static readonly DiagnosticKind ResourceLimit =
            new("NQG0016", "Model exceeds a resource limit", DiagnosticLevel.Error);
        public static readonly DiagnosticKind MalformedStatistics =
            new("NQG0017", "Malformed calibration statistics file", DiagnosticLevel.Error);
        public static readonly DiagnosticKind ClassNotPartial =
            new("NQG0018", "Class with [QuantizedModel] must be partial", DiagnosticLevel.Error);
        public static readonly DiagnosticKind UnsupportedTargetClass =
            new("NQG0019", "Unsupported target class (nested, generic or record)", DiagnosticLevel.Error);
        public static readonly DiagnosticKind AmbiguousFile =
            new("NQG0020", "File path matches several AdditionalFiles", DiagnosticLevel.Error);
        public static readonly DiagnosticKind DataFreeQuantization =
            new("NQG0030", "Quantized data-free: calibration would do better", DiagnosticLevel.Info);
        public static readonly DiagnosticKind UnknownLayer =
            new("NQG0031", "A per-layer option names no quantized layer", DiagnosticLevel.Error);
        public static readonly DiagnosticKind SizeBudgetUnreachable =
            new("NQG0032", "Weight size budget cannot be met", DiagnosticLevel.Warning);
        public static readonly DiagnosticKind SavedWeightsSettingsMismatch =
            new("NQG0040", "Saved optimized weights were made for other weight settings", DiagnosticLevel.Error);
        public static readonly DiagnosticKind SavedWeightsMismatch =
            new("NQG0041", "Saved optimized weights or bias corrections do not match the model", DiagnosticLevel.Error);
        public static readonly DiagnosticKind WideActivationUnsupported =
            new("NQG0042", "An operation has no 16-bit activation implementation", DiagnosticLevel.Error);
        public static readonly DiagnosticKind InvalidQuantizationParameters =
            new("NQG0050", "Invalid quantization parameters in a quantized model", DiagnosticLevel.Error);
        public static readonly DiagnosticKind InconsistentQuantization =
            new("NQG0051", "Inconsistent quantization parameters in a quantized model", DiagnosticLevel.Error);
        public static readonly DiagnosticKind UnsupportedQuantization =
            new("NQG0052", "Unsupported quantization in a quantized model", DiagnosticLevel.Error);
        public static readonly DiagnosticKind QuantizedModelIgnoresSettings =
            new("NQG0053", "A quantized model keeps its own quantization: statistics and weight-changing options are ignored", DiagnosticLevel.Warning);
        public static readonly DiagnosticKind ReferenceOnlyQuantization =
            new("NQG0054", "A quantized operator the generated int8 kernels cannot carry exactly", DiagnosticLevel.Error);
        public static readonly DiagnosticKind FloatArithmeticNotCovered =
            new("NQG0060", "Some operations keep the integer arithmetic under Requantization = Float", DiagnosticLevel.Info);
        public static readonly DiagnosticKind InternalError =
            new("NQG0099", "Internal compiler error", DiagnosticLevel.Error);

        public static IReadOnlyList<DiagnosticKind> All { get; } = new[]
        {
            MissingFile, MalformedModel, UnsupportedOperator, UnsupportedAttribute, UnpinnedDynamicDimension,
            MissingStatistics, StaleStatistics, TensorNameMismatch, AccumulatorOverflow, ShapeMismatch,
            GraphCycle, ExternalDataOutsideModelFolder, UnsupportedDataType, UnsupportedOpset, InvalidOption,
            ResourceLimit, MalformedStatistics, ClassNotPartial, UnsupportedTargetClass, AmbiguousFile,
            DataFreeQuantization, UnknownLayer, SizeBudgetUnreachable, SavedWeightsSettingsMismatch, SavedWeightsMismatch,
            WideActivationUnsupported, InvalidQuantizationParameters, InconsistentQuantization, UnsupportedQuantization, QuantizedModelIgnoresSettings,
            ReferenceOnlyQuantization, FloatArithmeticNotCovered, InternalError,
        };
    }

    /// <summary>A reported problem: its kind and a message naming the model, the node and what to do.</summary>
    public sealed record ModelDiagnostic(DiagnosticKind Kind, string Message)
    {
        public string Id => Kind.Id;
        public override string ToString() => $"{Kind.Id}: {Message}";
    }

    /// <summary>
    /// Thrown inside the compiler core and caught at its public entry points, which turn it into a
    /// <see cref="ModelDiagnostic"/>: no exception leaves the core.
    /// </summary>
    public sealed class ModelException : System.Exception
    {
        public ModelException(DiagnosticKind kind, string message) : base(message) => Kind = kind;

        public DiagnosticKind Kind { get; }

        public ModelDiagnostic ToDiagnostic() => new(Kind, Message);
    }
}
