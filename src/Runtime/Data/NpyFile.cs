using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using System.Text.RegularExpressions;

namespace NetQuantGen.Runtime.Data
{
    /// <summary>The element types <see cref="NpyFile"/> reads.</summary>
    public enum NpyDataType { Float32, UInt8 }

    /// <summary>
    /// A NumPy .npy array (format versions 1–3) of float32 ('&lt;f4') or uint8 ('|u1') in C order, whose first
    /// axis counts the samples. The header is read at once; items are read from the file on demand, so an
    /// array larger than memory can still be enumerated. Unsupported or inconsistent files are an
    /// <see cref="InvalidDataException"/> naming the file and what is wrong.
    /// </summary>
    public sealed class NpyFile : IDataSet
    {
        private static readonly byte[] Magic = { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' };

        private readonly Stream _stream;
        private readonly long _dataOffset;
        private readonly byte[] _itemBuffer;

        private NpyFile(string name, Stream stream, NpyDataType type, int[] shape, long dataOffset)
        {
            Name = name;
            _stream = stream;
            DataType = type;
            Shape = shape;
            _dataOffset = dataOffset;
            long length = 1;
            for (int i = 1; i < shape.Length; i++) length *= shape[i];
            ItemLength = (int)length;
            _itemBuffer = new byte[ItemLength * ElementSize];
        }

        public string Name { get; }

        public NpyDataType DataType { get; }

        /// <summary>The array's shape, samples first.</summary>
        public int[] Shape { get; }

        public int Count => Shape[0];

        /// <summary>The shape of one sample (the array's shape without the first axis).</summary>
        public int[] ItemShape => Shape[1..];

        public int ItemLength { get; }

        public string Description =>
            $"{Name}: {Count} items of {(ItemShape.Length == 0 ? "scalar" : ShapeText.Format(ItemShape))} {DataType.ToString().ToLowerInvariant()} (npy)";

        private int ElementSize => DataType == NpyDataType.Float32 ? 4 : 1;

        /// <summary>Opens a file; the instance keeps it open until disposed.</summary>
        public static NpyFile Open(string path)
        {
            ArgumentNullException.ThrowIfNull(path);
            if (!File.Exists(path)) throw new FileNotFoundException($".npy file '{path}' does not exist.", path);
            var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.RandomAccess);
            try
            {
                return Create(Path.GetFileName(path), stream);
            }
            catch
            {
                stream.Dispose();
                throw;
            }
        }

        /// <summary>Parses a whole file held in memory.</summary>
        public static NpyFile FromBytes(byte[] bytes, string name) => Create(name, new MemoryStream(bytes ?? throw new ArgumentNullException(nameof(bytes)), writable: false));

        private static NpyFile Create(string name, Stream stream)
        {
            var prefix = new byte[12];
            int read = ReadFully(stream, prefix, 10);
            if (read < 10 || !prefix.AsSpan(0, 6).SequenceEqual(Magic))
                throw Error(name, "it does not start with the .npy magic \\x93NUMPY (is it a .npz archive or another format?)");
            byte major = prefix[6];
            long headerLength;
            int prefixLength;
            if (major == 1)
            {
                headerLength = BinaryPrimitives.ReadUInt16LittleEndian(prefix.AsSpan(8));
                prefixLength = 10;
            }
            else if (major == 2 || major == 3)
            {
                if (ReadFully(stream, prefix.AsSpan(10), 2) < 2) throw Error(name, "it is truncated inside the header");
                headerLength = BinaryPrimitives.ReadUInt32LittleEndian(prefix.AsSpan(8));
                prefixLength = 12;
            }
            else throw Error(name, $"it has .npy format version {major}.{prefix[7]}; versions 1 to 3 are supported");
            if (headerLength > 1 << 20) throw Error(name, $"its header claims {headerLength} bytes");

            var headerBytes = new byte[headerLength];
            if (ReadFully(stream, headerBytes, (int)headerLength) < headerLength) throw Error(name, "it is truncated inside the header");
            string header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(headerBytes);

            string descr = Field(name, header, "descr", @"'([^']*)'|""([^""]*)""");
            NpyDataType type = descr switch
            {
                "<f4" or "=f4" => NpyDataType.Float32,
                "|u1" or "<u1" or "=u1" or ">u1" => NpyDataType.UInt8,
                ">f4" => throw Error(name, "it holds big-endian float32 ('>f4'); save it little-endian (arr.astype('<f4'))"),
                _ => throw Error(name, $"it holds '{descr}' elements; float32 ('<f4') and uint8 ('|u1') are supported (convert with arr.astype(np.float32))"),
            };
            string fortran = Field(name, header, "fortran_order", @"(True|False)");
            if (fortran == "True") throw Error(name, "it is in Fortran order; save it in C order (np.ascontiguousarray)");
            string shapeText = Field(name, header, "shape", @"\(([^)]*)\)");
            var dims = new List<int>();
            long elements = 1;
            foreach (var part in shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!long.TryParse(part.TrimEnd('L'), NumberStyles.None, CultureInfo.InvariantCulture, out long d) || d > int.MaxValue)
                    throw Error(name, $"its shape ({shapeText}) is not a tuple of sizes");
                dims.Add((int)d);
                elements *= d;
                if (elements > int.MaxValue * 8L) throw Error(name, "it is too large");
            }
            if (dims.Count == 0) throw Error(name, "it holds a scalar; the first axis must count the samples");

            long dataOffset = prefixLength + headerLength;
            long expected = elements * (type == NpyDataType.Float32 ? 4 : 1);
            long actual = stream.Length - dataOffset;
            if (actual != expected)
                throw Error(name, $"its header says shape ({shapeText}) of '{descr}' ({expected} data bytes) but the file has {actual} ({(actual < expected ? "truncated" : "trailing bytes")})");
            long itemElements = dims[0] == 0 ? 0 : elements / dims[0];
            if (itemElements > int.MaxValue / 4) throw Error(name, "one sample is too large");
            return new NpyFile(name, stream, type, dims.ToArray(), dataOffset);
        }

        /// <summary>Item <paramref name="index"/> converted to float, values as stored (no scaling).</summary>
        public void CopyItem(int index, Span<float> destination)
        {
            if (index < 0 || index >= Count)
                throw new ArgumentOutOfRangeException(nameof(index), $"Item {index} is outside '{Name}', which has {Count}.");
            if (destination.Length < ItemLength)
                throw new ArgumentException($"The destination holds {destination.Length} floats; an item of '{Name}' has {ItemLength}.", nameof(destination));
            _stream.Position = _dataOffset + (long)index * _itemBuffer.Length;
            if (ReadFully(_stream, _itemBuffer, _itemBuffer.Length) < _itemBuffer.Length)
                throw Error(Name, $"item {index} could not be read: the file became shorter");
            if (DataType == NpyDataType.Float32)
                for (int i = 0; i < ItemLength; i++) destination[i] = BinaryPrimitives.ReadSingleLittleEndian(_itemBuffer.AsSpan(4 * i));
            else
                for (int i = 0; i < ItemLength; i++) destination[i] = _itemBuffer[i];
        }

        /// <summary>Item <paramref name="index"/> as a sample: uint8 values scaled by 1/255, float32 as stored.</summary>
        public DataItem Read(int index)
        {
            var values = new float[ItemLength];
            CopyItem(index, values);
            if (DataType == NpyDataType.UInt8)
                for (int i = 0; i < values.Length; i++) values[i] /= 255f;
            return new DataItem(values, ItemShape);
        }

        public void Dispose() => _stream.Dispose();

        private static string Field(string name, string header, string key, string valuePattern)
        {
            var match = Regex.Match(header, "['\"]" + key + "['\"]\\s*:\\s*(?:" + valuePattern + ")");
            if (!match.Success) throw Error(name, $"its header has no valid '{key}' ({header.Trim()})");
            for (int g = 1; g < match.Groups.Count; g++)
                if (match.Groups[g].Success) return match.Groups[g].Value;
            return "";
        }

        private static int ReadFully(Stream stream, Span<byte> buffer, int count)
        {
            int total = 0;
            while (total < count)
            {
                int n = stream.Read(buffer.Slice(total, count - total));
                if (n == 0) break;
                total += n;
            }
            return total;
        }

        private static InvalidDataException Error(string name, string detail) => new($".npy file '{name}': {detail}.");
    }
}
