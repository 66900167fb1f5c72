using System.Collections.Generic;
using NetQuantGen.IR;

namespace NetQuantGen.Import
{
    /// <summary>
    /// The quantization an ONNX file carries for one tensor: scale and zero-point per tensor (one entry) or
    /// per slice along <see cref="Axis"/>, in the integer type <see cref="Type"/> (Int8, UInt8 or Int32).
    /// </summary>
    public sealed record GivenQuantization(float[] Scales, long[] ZeroPoints, int Axis, ElementType Type)
    {
        public bool PerAxis => Scales.Length > 1 || Axis >= 0;
    }

    /// <summary>
    /// The quantization of an activation that is not one static scale and zero-point: per axis (<see cref="PerAxis"/>,
    /// its axis as the model gives it, possibly negative) or, when PerAxis is null, computed at run time by a
    /// DynamicQuantizeLinear. The integer path carries such a tensor only from a graph input to graph outputs.
    /// </summary>
    public sealed record BoundaryQuantization(GivenQuantization? PerAxis)
    {
        public bool IsDynamic => PerAxis == null;
    }

    /// <summary>A constant (weights, bias) stored as integers behind a DequantizeLinear.</summary>
    public sealed record QuantizedConstant(string Name, int[] Shape, long[] Values, GivenQuantization Quantization);

    /// <summary>
    /// A quantized ONNX model (QDQ or QOperator form) rewritten as the float model it describes, plus the
    /// quantization it prescribes: per activation tensor (by name) its scale and zero-point, and per
    /// dequantized constant its integer values. uint8 activations are recorded as the int8 values they map
    /// onto one to one: (q_u8 − z_u8) = (q_u8 − 128) − (z_u8 − 128), so the zero-point is z_u8 − 128.
    /// </summary>
    public sealed class QdqModel
    {
        public QdqModel(byte[] floatModel, IReadOnlyDictionary<string, (float Scale, int ZeroPoint)> activations,
            IReadOnlyDictionary<string, QuantizedConstant> constants, IReadOnlyList<string> activationTypes,
            IReadOnlyCollection<string> accumulators, IReadOnlyDictionary<string, BoundaryQuantization> boundaryActivations)
        {
            BoundaryActivations = boundaryActivations;
            FloatModel = floatModel;
            Activations = activations;
            Accumulators = accumulators;
            Constants = constants;
            ActivationTypes = activationTypes;
        }

        /// <summary>The ONNX model with every Q/DQ pair removed and every dequantized constant a float initializer.</summary>
        public byte[] FloatModel { get; }

        /// <summary>int8 scale and zero-point of each activation tensor (uint8 ones shifted by −128).</summary>
        public IReadOnlyDictionary<string, (float Scale, int ZeroPoint)> Activations { get; }

        /// <summary>Activations quantized per axis or at run time, by name.</summary>
        public IReadOnlyDictionary<string, BoundaryQuantization> BoundaryActivations { get; }

        /// <summary>
        /// The int32 outputs of ConvInteger/MatMulInteger by name: raw accumulators Σ (x − z_x)·(w − z_w), which the
        /// float model computes exactly as the product of the operands dequantized with scale 1.
        /// </summary>
        public IReadOnlyCollection<string> Accumulators { get; }

        /// <summary>Integer constants by the name of the float initializer that replaced their DequantizeLinear.</summary>
        public IReadOnlyDictionary<string, QuantizedConstant> Constants { get; }

        /// <summary>The distinct element types of the model's activations ("int8", "uint8"), for the generated header.</summary>
        public IReadOnlyList<string> ActivationTypes { get; }
    }
}
