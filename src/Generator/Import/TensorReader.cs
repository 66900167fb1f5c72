using System;
using System.IO;
using System.Linq;
using NetQuantGen.Diagnostics;
using NetQuantGen.IR;
using NetQuantGen.Onnx.Proto;

namespace NetQuantGen.Import
{
    /// <summary>
    /// Turns an ONNX TensorProto into <see cref="TensorData"/>: raw little-endian bytes, the typed repeated
    /// fields, or an external-data file inside the model's folder.
    /// </summary>
    internal sealed class TensorReader
    {
        /// <summary>Largest tensor the importer will allocate, in elements.</summary>
        internal const long MaxElements = 1L << 28;

        private readonly string _modelName;
        private readonly ImportOptions _options;

        public TensorReader(string modelName, ImportOptions options)
        {
            _modelName = modelName;
            _options = options;
        }

        public static ElementType? ToElementType(int onnxType) => onnxType switch
        {
            (int)TensorProto.Types.DataType.Float => ElementType.Float32,
            (int)TensorProto.Types.DataType.Uint8 => ElementType.UInt8,
            (int)TensorProto.Types.DataType.Int8 => ElementType.Int8,
            (int)TensorProto.Types.DataType.Int32 => ElementType.Int32,
            (int)TensorProto.Types.DataType.Int64 => ElementType.Int64,
            (int)TensorProto.Types.DataType.Bool => ElementType.Bool,
            _ => null,
        };

        public TensorData Read(TensorProto tensor, string what)
        {
            var type = ToElementType(tensor.DataType)
                ?? throw new ModelException(DiagnosticCatalog.UnsupportedDataType,
                    $"Model '{_modelName}': {what} has ONNX data type {(TensorProto.Types.DataType)tensor.DataType}; NetQuantGen reads float32, int8, uint8, int32, int64 and bool tensors.");
            if (tensor.Dims.Any(d => d < 0))
                throw Malformed($"{what} has a negative dimension");
            long count = DeclaredElements(tensor) ?? throw new ModelException(DiagnosticCatalog.ResourceLimit,
                $"Model '{_modelName}': {what} declares {string.Join("x", tensor.Dims)} elements, more than the limit of {MaxElements}.");
            int[] shape = tensor.Dims.Select(d => (int)d).ToArray();
            int n = (int)count;

            if (tensor.DataLocation == TensorProto.Types.DataLocation.External)
                return FromBytes(type, shape, n, ReadExternal(tensor, what, n * ByteSize(type)), what);
            if (tensor.HasRawData)
                return FromBytes(type, shape, n, tensor.RawData.ToByteArray(), what);

            switch (type)
            {
                case ElementType.Float32:
                    if (tensor.FloatData.Count != n) throw Malformed($"{what} has {tensor.FloatData.Count} float values for {n} elements");
                    return TensorData.FromFloats(shape, tensor.FloatData.ToArray());
                case ElementType.Int64:
                    if (tensor.Int64Data.Count != n) throw Malformed($"{what} has {tensor.Int64Data.Count} int64 values for {n} elements");
                    return TensorData.FromIntegers(type, shape, tensor.Int64Data.ToArray());
                default:
                    // int8, uint8, int32 and bool are stored widened in int32_data.
                    if (tensor.Int32Data.Count != n) throw Malformed($"{what} has {tensor.Int32Data.Count} int32 values for {n} elements");
                    return TensorData.FromIntegers(type, shape, tensor.Int32Data.Select(v => (long)v).ToArray());
            }
        }

        /// <summary>
        /// The element count the dimensions declare, or null above <see cref="MaxElements"/> (checked before each
        /// multiplication, so 2^32 x 2^32 cannot wrap around to a small number). Dimensions must be non-negative.
        /// </summary>
        public static long? DeclaredElements(TensorProto tensor)
        {
            long count = 1;
            foreach (long d in tensor.Dims)
            {
                if (d == 0) return 0;
                if (d > MaxElements || count > MaxElements / d) return null;
                count *= d;
            }
            return count;
        }

        /// <summary>Bytes the tensor declares (elements × element size), or null when it is over the element limit or of an unknown type.</summary>
        public static long? DeclaredBytes(TensorProto tensor) =>
            tensor.Dims.Any(d => d < 0) || ToElementType(tensor.DataType) is not ElementType type ? 0 : DeclaredElements(tensor) * ByteSize(type);

        private static int ByteSize(ElementType type) => type switch
        {
            ElementType.Float32 => 4,
            ElementType.Int32 => 4,
            ElementType.Int64 => 8,
            _ => 1,
        };

        private TensorData FromBytes(ElementType type, int[] shape, int n, byte[] bytes, string what)
        {
            if (bytes.Length != (long)n * ByteSize(type))
                throw Malformed($"{what} has {bytes.Length} bytes of data for {n} elements of {type}");
            if (!BitConverter.IsLittleEndian)
                throw new ModelException(DiagnosticCatalog.InternalError, $"Model '{_modelName}': big-endian machines are not supported.");
            switch (type)
            {
                case ElementType.Float32:
                    var floats = new float[n];
                    Buffer.BlockCopy(bytes, 0, floats, 0, bytes.Length);
                    return TensorData.FromFloats(shape, floats);
                case ElementType.Int64:
                    var longs = new long[n];
                    Buffer.BlockCopy(bytes, 0, longs, 0, bytes.Length);
                    return TensorData.FromIntegers(type, shape, longs);
                case ElementType.Int32:
                    var ints = new int[n];
                    Buffer.BlockCopy(bytes, 0, ints, 0, bytes.Length);
                    return TensorData.FromIntegers(type, shape, ints.Select(v => (long)v).ToArray());
                case ElementType.Int8:
                    return TensorData.FromIntegers(type, shape, bytes.Select(b => (long)(sbyte)b).ToArray());
                default:
                    return TensorData.FromIntegers(type, shape, bytes.Select(b => (long)b).ToArray());
            }
        }

        private byte[] ReadExternal(TensorProto tensor, string what, long expectedBytes)
        {
            string? location = null;
            long offset = 0, length = expectedBytes;
            foreach (var entry in tensor.ExternalData)
            {
                switch (entry.Key)
                {
                    case "location": location = entry.Value; break;
                    case "offset" when !long.TryParse(entry.Value, out offset) || offset < 0:
                        throw Malformed($"{what} has an invalid external-data offset '{entry.Value}'");
                    case "length" when !long.TryParse(entry.Value, out length) || length < 0:
                        throw Malformed($"{what} has an invalid external-data length '{entry.Value}'");
                }
            }
            if (length != expectedBytes)
                throw Malformed($"{what} declares {expectedBytes} bytes but its external data claims {length}");
            if (string.IsNullOrEmpty(location))
                throw Malformed($"{what} is stored externally but names no location");
            if (_options.ModelDirectory == null || _options.ReadExternalData == null)
                throw new ModelException(DiagnosticCatalog.ExternalDataOutsideModelFolder,
                    $"Model '{_modelName}': {what} is stored in external file '{location}', but the model was given as bytes with no folder to read it from.");

            string folder = Path.GetFullPath(_options.ModelDirectory);
            string folderWithSeparator = folder.EndsWith(Path.DirectorySeparatorChar.ToString()) ? folder : folder + Path.DirectorySeparatorChar;
            string path = Path.GetFullPath(Path.Combine(folder, location));
            if (Path.IsPathRooted(location!) || !path.StartsWith(folderWithSeparator, StringComparison.Ordinal))
                throw new ModelException(DiagnosticCatalog.ExternalDataOutsideModelFolder,
                    $"Model '{_modelName}': {what} names external data '{location}', which is outside the model's folder; keep external data files beside the model.");
            try
            {
                return _options.ReadExternalData(path, offset, length);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException || e is ArgumentException)
            {
                throw new ModelException(DiagnosticCatalog.MissingFile,
                    $"Model '{_modelName}': cannot read external data '{location}' of {what}: {e.Message}");
            }
        }

        private ModelException Malformed(string detail) =>
            new(DiagnosticCatalog.MalformedModel, $"Model '{_modelName}': {detail}.");
    }
}
