namespace NetQuantGen.IR
{
    /// <summary>Element types the IR carries; the numbers are ONNX's TensorProto.DataType codes.</summary>
    public enum ElementType
    {
        Float32 = 1,
        UInt8 = 2,
        Int8 = 3,
        Int32 = 6,
        Int64 = 7,
        Bool = 9,
    }
}
