using System;
using System.Buffers.Binary;
using System.IO;
using System.IO.Compression;

namespace NetQuantGen.Runtime.Data
{
    /// <summary>The element types of the IDX format (the third header byte).</summary>
    public enum IdxDataType : byte
    {
        UInt8 = 0x08,
        Int8 = 0x09,
        Int16 = 0x0B,
        Int32 = 0x0C,
        Float32 = 0x0D,
        Float64 = 0x0E,
    }

    /// <summary>
    /// An IDX file (the MNIST / Fashion-MNIST format), raw or gzip-compressed (detected from the bytes, not
    /// the name): a 4-byte magic (0, 0, type, rank), rank big-endian uint32 dimensions, then the data in
    /// row-major order, big-endian. The first dimension counts the items (images or labels).
    /// Every inconsistency is an <see cref="InvalidDataException"/> naming the file and what is wrong.
    /// </summary>
    public sealed class IdxFile : IDataSet
    {
        private readonly byte[] _data;
        private readonly int _dataOffset;

        private IdxFile(string name, IdxDataType type, int[] dimensions, byte[] data, int dataOffset)
        {
            Name = name;
            DataType = type;
            Dimensions = dimensions;
            _data = data;
            _dataOffset = dataOffset;
            long length = 1;
            for (int i = 1; i < dimensions.Length; i++) length *= dimensions[i];
            ItemLength = (int)length;
        }

        /// <summary>The file name (no folder), used in messages.</summary>
        public string Name { get; }

        public IdxDataType DataType { get; }

        /// <summary>All dimensions, items first (e.g. 1000, 28, 28 for images; 1000 for labels).</summary>
        public int[] Dimensions { get; }

        /// <summary>Number of items: the first dimension.</summary>
        public int Count => Dimensions[0];

        /// <summary>The dimensions of one item (empty for labels).</summary>
        public int[] ItemShape => Dimensions[1..];

        /// <summary>Elements per item.</summary>
        public int ItemLength { get; }

        public string Description =>
            $"{Name}: {Count} items of {(ItemShape.Length == 0 ? "scalar" : ShapeText.Format(ItemShape))} {DataType.ToString().ToLowerInvariant()} (IDX)";

        /// <summary>Reads a file, gzip-compressed or not.</summary>
        public static IdxFile Read(string path)
        {
            ArgumentNullException.ThrowIfNull(path);
            byte[] bytes;
            try
            {
                bytes = File.ReadAllBytes(path);
            }
            catch (FileNotFoundException)
            {
                throw new FileNotFoundException($"IDX file '{path}' does not exist.", path);
            }
            return FromBytes(bytes, Path.GetFileName(path));
        }

        /// <summary>Parses the bytes of a file (gzip-compressed or not); <paramref name="name"/> names it in messages.</summary>
        public static IdxFile FromBytes(byte[] bytes, string name)
        {
            ArgumentNullException.ThrowIfNull(bytes);
            if (bytes.Length >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B) bytes = Gunzip(bytes, name);
            if (bytes.Length < 4)
                throw Error(name, $"it has {bytes.Length} bytes, too few for the 4-byte IDX header");
            if (bytes[0] != 0 || bytes[1] != 0)
                throw Error(name, $"it does not start with the IDX magic (two zero bytes, then type and rank; found {bytes[0]:x2} {bytes[1]:x2} {bytes[2]:x2} {bytes[3]:x2})");
            var type = (IdxDataType)bytes[2];
            if (!Enum.IsDefined(type))
                throw Error(name, $"its element type code 0x{bytes[2]:x2} is not an IDX type (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64)");
            int rank = bytes[3];
            if (rank == 0) throw Error(name, "its rank is 0: an IDX file needs at least the item dimension");
            int headerLength = 4 + 4 * rank;
            if (bytes.Length < headerLength)
                throw Error(name, $"it is truncated inside the header ({bytes.Length} bytes; a rank-{rank} header takes {headerLength})");
            var dims = new int[rank];
            long elements = 1;
            for (int i = 0; i < rank; i++)
            {
                uint d = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(4 + 4 * i));
                if (d > int.MaxValue) throw Error(name, $"dimension {i} is {d}, too large");
                dims[i] = (int)d;
                elements *= d;
                if (elements > int.MaxValue) throw Error(name, "it holds more than 2^31 elements");
            }
            long expected = elements * ElementSize(type);
            long actual = bytes.Length - headerLength;
            if (actual != expected)
                throw Error(name, $"its header says {ShapeText.Format(dims)} {type} ({expected} data bytes) but the file has {actual} data bytes ({(actual < expected ? "truncated" : "trailing bytes")})");
            return new IdxFile(name, type, dims, bytes, headerLength);
        }

        /// <summary>Reads a labels file (rank 1, uint8) as its label values.</summary>
        public static byte[] ReadLabels(string path)
        {
            var file = Read(path);
            if (file.DataType != IdxDataType.UInt8 || file.Dimensions.Length != 1)
                throw Error(file.Name, $"a labels file must be 1-D uint8, but it is {ShapeText.Format(file.Dimensions)} {file.DataType}");
            return file.ItemBytes(0, file.Count).ToArray();
        }

        /// <summary>The raw bytes of items [first, first + count) of a uint8 or int8 file.</summary>
        public ReadOnlySpan<byte> ItemBytes(int first, int count = 1)
        {
            if (DataType != IdxDataType.UInt8 && DataType != IdxDataType.Int8)
                throw new InvalidOperationException($"'{Name}' holds {DataType} values, not bytes: use CopyItem.");
            CheckRange(first, count);
            return _data.AsSpan(_dataOffset + first * ItemLength, count * ItemLength);
        }

        /// <summary>Item <paramref name="index"/> converted to float, values as stored (no scaling).</summary>
        public void CopyItem(int index, Span<float> destination)
        {
            CheckRange(index, 1);
            if (destination.Length < ItemLength)
                throw new ArgumentException($"The destination holds {destination.Length} floats; an item of '{Name}' has {ItemLength}.", nameof(destination));
            int size = ElementSize(DataType);
            var src = _data.AsSpan(_dataOffset + index * ItemLength * size, ItemLength * size);
            for (int i = 0; i < ItemLength; i++)
            {
                destination[i] = DataType switch
                {
                    IdxDataType.UInt8 => src[i],
                    IdxDataType.Int8 => (sbyte)src[i],
                    IdxDataType.Int16 => BinaryPrimitives.ReadInt16BigEndian(src.Slice(2 * i)),
                    IdxDataType.Int32 => BinaryPrimitives.ReadInt32BigEndian(src.Slice(4 * i)),
                    IdxDataType.Float32 => BinaryPrimitives.ReadSingleBigEndian(src.Slice(4 * i)),
                    _ => (float)BinaryPrimitives.ReadDoubleBigEndian(src.Slice(8 * i)),
                };
            }
        }

        /// <summary>Item <paramref name="index"/> as a sample: uint8 pixels scaled by 1/255, other types as stored.</summary>
        public DataItem Read(int index)
        {
            var values = new float[ItemLength];
            CopyItem(index, values);
            if (DataType == IdxDataType.UInt8)
                for (int i = 0; i < values.Length; i++) values[i] /= 255f;
            return new DataItem(values, ItemShape);
        }

        public void Dispose()
        {
        }

        private void CheckRange(int first, int count)
        {
            if (first < 0 || count < 0 || (long)first + count > Count)
                throw new ArgumentOutOfRangeException(nameof(first), $"Items [{first}, {first + count}) are outside '{Name}', which has {Count}.");
        }

        private static int ElementSize(IdxDataType type) => type switch
        {
            IdxDataType.UInt8 or IdxDataType.Int8 => 1,
            IdxDataType.Int16 => 2,
            IdxDataType.Int32 or IdxDataType.Float32 => 4,
            _ => 8,
        };

        private static byte[] Gunzip(byte[] bytes, string name)
        {
            try
            {
                using var input = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
                using var output = new MemoryStream();
                input.CopyTo(output);
                if (output.Length == 0) throw Error(name, "it is gzip-compressed but decompresses to nothing; the download is probably truncated");
                return output.ToArray();
            }
            catch (InvalidDataException e)
            {
                throw Error(name, $"it starts like gzip but does not decompress ({e.Message}); the download is probably truncated");
            }
            catch (EndOfStreamException e)
            {
                throw Error(name, $"its gzip stream ends early ({e.Message}); the download is probably truncated");
            }
        }

        private static InvalidDataException Error(string name, string detail) => new($"IDX file '{name}': {detail}.");
    }
}
