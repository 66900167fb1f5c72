namespace NetQuantGen.IR
{
    /// <summary>
    /// The typed operators of the IR, with their ONNX attributes parsed and validated. Inputs that ONNX
    /// passes as tensors but that must be constant for static shapes (Reshape's shape, Pad's pads,
    /// Squeeze's axes, ...) are lifted into fields by the importer.
    /// </summary>
    public abstract record Operator
    {
        /// <summary>The ONNX operator name.</summary>
        public abstract string OpType { get; }
    }

    public enum AutoPad { NotSet, SameUpper, SameLower, Valid }

    /// <summary>
    /// The sliding-window geometry shared by Conv and the pooling operators. Arrays may be empty right
    /// after import (ONNX defaults); shape inference fills them to the spatial rank and resolves auto_pad
    /// into explicit <see cref="Pads"/> (all begins, then all ends), after which <see cref="AutoPad"/> is NotSet.
    /// </summary>
    public sealed record Window(int[] KernelShape, int[] Strides, int[] Dilations, int[] Pads, AutoPad AutoPad, bool CeilMode)
    {
        public int Rank => KernelShape.Length;

        public int PadBegin(int axis) => Pads[axis];

        public int PadEnd(int axis) => Pads[Rank + axis];
    }

    /// <summary>
    /// A Relu or Clip folded into the operator that feeds it: the output is clamped to [Min, Max]
    /// (infinite bounds for an open side). Quantized code folds it into the requantization clamp.
    /// </summary>
    public sealed record FusedClamp(float Min, float Max)
    {
        public static FusedClamp Relu { get; } = new(0f, float.PositiveInfinity);
    }

    /// <summary>Inputs: X, W, optional B. <see cref="Fused"/> is set by activation fusion.</summary>
    public sealed record Conv(Window Window, int Group, FusedClamp? Fused = null) : Operator
    {
        public override string OpType => "Conv";
    }

    /// <summary>Inference-mode batch normalization. Inputs: X, scale, B, mean, var.</summary>
    public sealed record BatchNormalization(float Epsilon) : Operator
    {
        public override string OpType => "BatchNormalization";
    }

    public enum ActivationKind { Relu, LeakyRelu, Sigmoid, HardSigmoid, HardSwish }

    /// <summary>Element-wise activations without tensor inputs beyond X.</summary>
    public sealed record Activation(ActivationKind Kind, float Alpha = 0f, float Beta = 0f) : Operator
    {
        public override string OpType => Kind.ToString();
    }

    /// <summary>Inputs: X, optional min, optional max (the attribute form of old opsets becomes constant inputs).</summary>
    public sealed record Clip : Operator
    {
        public override string OpType => "Clip";
    }

    public enum BinaryKind { Add, Sub, Mul, Div }

    /// <summary>
    /// Element-wise binary operator with numpy broadcasting. <see cref="LegacyAxis"/> is set for opset 6's
    /// broadcast=1 form, where B aligns with A starting at that axis.
    /// </summary>
    public sealed record Binary(BinaryKind Kind, int? LegacyAxis = null, FusedClamp? Fused = null) : Operator
    {
        public override string OpType => Kind.ToString();
    }

    public sealed record Concat(int Axis) : Operator
    {
        public override string OpType => "Concat";
    }

    public sealed record MaxPool(Window Window) : Operator
    {
        public override string OpType => "MaxPool";
    }

    public sealed record AveragePool(Window Window, bool CountIncludePad) : Operator
    {
        public override string OpType => "AveragePool";
    }

    public sealed record GlobalAveragePool : Operator
    {
        public override string OpType => "GlobalAveragePool";
    }

    /// <summary>Y = alpha·A'·B' + beta·C. Inputs: A, B, optional C.</summary>
    public sealed record Gemm(float Alpha, float Beta, bool TransA, bool TransB, FusedClamp? Fused = null) : Operator
    {
        public override string OpType => "Gemm";
    }

    /// <summary>Numpy matmul with batch broadcasting.</summary>
    public sealed record MatMul : Operator
    {
        public override string OpType => "MatMul";
    }

    public sealed record Flatten(int Axis) : Operator
    {
        public override string OpType => "Flatten";
    }

    /// <summary>Target shape as ONNX gives it (0 copies a dimension unless AllowZero, -1 is inferred).</summary>
    public sealed record Reshape(long[] TargetShape, bool AllowZero) : Operator
    {
        public override string OpType => "Reshape";
    }

    /// <summary>Perm is null for the default (reverse the axes).</summary>
    public sealed record Transpose(int[]? Perm) : Operator
    {
        public override string OpType => "Transpose";
    }

    /// <summary>Axes is null to drop every dimension of size 1.</summary>
    public sealed record Squeeze(long[]? Axes) : Operator
    {
        public override string OpType => "Squeeze";
    }

    public sealed record Unsqueeze(long[] Axes) : Operator
    {
        public override string OpType => "Unsqueeze";
    }

    public enum PadMode { Constant, Reflect, Edge, Wrap }

    /// <summary>Pads holds begins then ends for every axis (axes not listed in ONNX's axes input get 0).</summary>
    public sealed record Pad(PadMode Mode, long[] Pads, float ConstantValue) : Operator
    {
        public override string OpType => "Pad";
    }

    /// <summary>Identity; Dropout in inference mode imports as this too.</summary>
    public sealed record Identity : Operator
    {
        public override string OpType => "Identity";
    }

    /// <summary>
    /// Softmax over <see cref="Axis"/>. Before opset 13 the input is coerced to 2-D at the axis and the
    /// softmax runs over all trailing dimensions (<see cref="Coerce2D"/>).
    /// </summary>
    public sealed record Softmax(int Axis, bool Coerce2D) : Operator
    {
        public override string OpType => "Softmax";
    }
}
