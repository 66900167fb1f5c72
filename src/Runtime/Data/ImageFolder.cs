using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace NetQuantGen.Runtime.Data
{
    /// <summary>A decoded 8-bit image, planar (channel-major, CHW): 1 channel for grey, 3 for RGB.</summary>
    public sealed class DecodedImage
    {
        public DecodedImage(byte[] pixels, int channels, int height, int width)
        {
            ArgumentNullException.ThrowIfNull(pixels);
            if (channels < 1 || height < 1 || width < 1 || (long)channels * height * width != pixels.Length)
                throw new ArgumentException($"{pixels.Length} pixels do not make a {channels}x{height}x{width} image.", nameof(pixels));
            Pixels = pixels;
            Channels = channels;
            Height = height;
            Width = width;
        }

        public byte[] Pixels { get; }

        public int Channels { get; }

        public int Height { get; }

        public int Width { get; }

        /// <summary>As a sample: pixel / 255, shape [C, H, W].</summary>
        public DataItem ToDataItem()
        {
            var values = new float[Pixels.Length];
            for (int i = 0; i < values.Length; i++) values[i] = Pixels[i] / 255f;
            return new DataItem(values, new[] { Channels, Height, Width });
        }
    }

    /// <summary>Decodes image formats the runtime does not read itself (the netquant tool plugs in PNG/JPEG this way).</summary>
    public interface IImageDecoder
    {
        /// <summary>File extensions it decodes, lowercase with the dot (".png").</summary>
        IReadOnlyCollection<string> Extensions { get; }

        /// <summary>Decodes a file; throws <see cref="InvalidDataException"/> naming it when it cannot.</summary>
        DecodedImage Decode(string path);
    }

    /// <summary>
    /// The images of a folder and its subfolders as a data set, in ordinal order of their relative paths (the
    /// same order on every machine). Netpbm files (.pgm, .ppm, .pnm: P2, P3, P5, P6) are read built in; an
    /// <see cref="IImageDecoder"/> adds other formats. Other files are ignored.
    /// </summary>
    public sealed class ImageFolder : IDataSet
    {
        private readonly string[] _files;
        private readonly IImageDecoder? _decoder;

        public ImageFolder(string path, IImageDecoder? decoder = null)
        {
            ArgumentNullException.ThrowIfNull(path);
            if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"Image folder '{path}' does not exist.");
            _decoder = decoder;
            var extensions = new HashSet<string>(Netpbm.Extensions, StringComparer.OrdinalIgnoreCase);
            if (decoder != null) extensions.UnionWith(decoder.Extensions);
            Extensions = extensions.OrderBy(e => e, StringComparer.Ordinal).ToArray();
            Root = path;
            _files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                .Where(f => extensions.Contains(Path.GetExtension(f)))
                .Select(f => Path.GetRelativePath(path, f).Replace('\\', '/'))
                .OrderBy(f => f, StringComparer.Ordinal)
                .ToArray();
            if (_files.Length == 0)
                throw new InvalidDataException(
                    $"Image folder '{path}' holds no images ({string.Join(", ", Extensions)}){(decoder == null ? "; only netpbm images are read without a decoder" : "")}.");
        }

        public string Root { get; }

        /// <summary>The extensions read, lowercase.</summary>
        public IReadOnlyList<string> Extensions { get; }

        /// <summary>The images' paths relative to <see cref="Root"/>, with '/' separators, in data set order.</summary>
        public IReadOnlyList<string> Files => _files;

        public int Count => _files.Length;

        public string Description =>
            $"{Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(Root)))}/: {Count} images ({string.Join(", ", _files.Select(Path.GetExtension).Select(e => e!.ToLowerInvariant()).Distinct().OrderBy(e => e, StringComparer.Ordinal))})";

        public DecodedImage Decode(int index)
        {
            if (index < 0 || index >= _files.Length)
                throw new ArgumentOutOfRangeException(nameof(index), $"Image {index} is outside the folder's {_files.Length}.");
            string full = Path.Combine(Root, _files[index]);
            if (Netpbm.Extensions.Contains(Path.GetExtension(full).ToLowerInvariant()))
                return Netpbm.Decode(File.ReadAllBytes(full), _files[index]);
            return _decoder!.Decode(full);
        }

        public DataItem Read(int index) => Decode(index).ToDataItem();

        public void Dispose()
        {
        }
    }

    /// <summary>Netpbm grey (PGM: P2, P5) and colour (PPM: P3, P6) images, 8 or 16 bits; 16-bit values are scaled to 8.</summary>
    public static class Netpbm
    {
        public static IReadOnlyList<string> Extensions { get; } = new[] { ".pgm", ".pnm", ".ppm" };

        public static DecodedImage Decode(byte[] bytes, string name)
        {
            ArgumentNullException.ThrowIfNull(bytes);
            int pos = 0;
            if (bytes.Length < 2 || bytes[0] != 'P' || bytes[1] < '1' || bytes[1] > '7')
                throw Error(name, "it does not start with a netpbm magic (P2, P3, P5 or P6)");
            char kind = (char)bytes[1];
            if (kind is '1' or '4') throw Error(name, "it is a PBM bitmap (P1/P4); save it as greyscale PGM");
            if (kind == '7') throw Error(name, "it is a PAM (P7) file; save it as PGM or PPM");
            pos = 2;
            int width = Number(bytes, ref pos, name, "width");
            int height = Number(bytes, ref pos, name, "height");
            int maxValue = Number(bytes, ref pos, name, "maximum value");
            if (width < 1 || height < 1 || (long)width * height > 1 << 28) throw Error(name, $"its size {width}x{height} is not supported");
            if (maxValue < 1 || maxValue > 65535) throw Error(name, $"its maximum value {maxValue} is outside 1..65535");
            int channels = kind is '3' or '6' ? 3 : 1;
            int count = width * height * channels;
            var samples = new int[count];
            if (kind is '2' or '3')
            {
                for (int i = 0; i < count; i++) samples[i] = Number(bytes, ref pos, name, "pixel value");
            }
            else
            {
                pos++; // the single whitespace after the maximum value
                int size = maxValue > 255 ? 2 : 1;
                if (bytes.Length - pos < (long)count * size)
                    throw Error(name, $"it is truncated: {width}x{height}x{channels} samples need {(long)count * size} bytes, the file has {Math.Max(0, bytes.Length - pos)}");
                for (int i = 0; i < count; i++)
                    samples[i] = size == 1 ? bytes[pos + i] : bytes[pos + 2 * i] << 8 | bytes[pos + 2 * i + 1];
            }
            // Interleaved (RGBRGB...) in the file → planar, scaled to 0..255.
            var pixels = new byte[count];
            int plane = width * height;
            for (int p = 0; p < plane; p++)
                for (int c = 0; c < channels; c++)
                {
                    int v = samples[p * channels + c];
                    if (v > maxValue) throw Error(name, $"pixel value {v} exceeds the maximum {maxValue}");
                    pixels[c * plane + p] = maxValue == 255 ? (byte)v : (byte)((v * 255 + maxValue / 2) / maxValue);
                }
            return new DecodedImage(pixels, channels, height, width);
        }

        /// <summary>Encodes a grey image as binary PGM (P5), e.g. to write test folders.</summary>
        public static byte[] EncodePgm(ReadOnlySpan<byte> pixels, int height, int width)
        {
            if (pixels.Length != height * width) throw new ArgumentException($"{pixels.Length} pixels are not {height}x{width}.", nameof(pixels));
            var header = System.Text.Encoding.ASCII.GetBytes($"P5\n{width} {height}\n255\n");
            var result = new byte[header.Length + pixels.Length];
            header.CopyTo(result, 0);
            pixels.CopyTo(result.AsSpan(header.Length));
            return result;
        }

        private static int Number(byte[] bytes, ref int pos, string name, string what)
        {
            while (pos < bytes.Length)
            {
                if (bytes[pos] == '#')
                    while (pos < bytes.Length && bytes[pos] != '\n' && bytes[pos] != '\r') pos++;
                else if (bytes[pos] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\v' or (byte)'\f') pos++;
                else break;
            }
            long value = 0;
            int start = pos;
            while (pos < bytes.Length && bytes[pos] >= '0' && bytes[pos] <= '9')
            {
                value = value * 10 + (bytes[pos] - '0');
                if (value > int.MaxValue) throw Error(name, $"its {what} is too large");
                pos++;
            }
            if (pos == start) throw Error(name, pos >= bytes.Length ? $"it ends before the {what}" : $"its {what} is not a number");
            return (int)value;
        }

        private static InvalidDataException Error(string name, string detail) => new($"Image '{name}': {detail}.");
    }
}
