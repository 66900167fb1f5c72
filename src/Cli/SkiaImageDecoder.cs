using System;
using System.Collections.Generic;
using System.IO;
using NetQuantGen.Runtime.Data;
using SkiaSharp;

namespace NetQuantGen.Cli
{
    /// <summary>
    /// PNG, JPEG, BMP, GIF (first frame) and WebP through SkiaSharp. Greyscale images decode to one channel,
    /// everything else to RGB (alpha ignored).
    /// </summary>
    internal sealed class SkiaImageDecoder : IImageDecoder
    {
        public IReadOnlyCollection<string> Extensions { get; } = new[] { ".bmp", ".gif", ".jpeg", ".jpg", ".png", ".webp" };

        public DecodedImage Decode(string path)
        {
            using var codec = SKCodec.Create(path, out var result)
                ?? throw new InvalidDataException($"Image '{Path.GetFileName(path)}' cannot be decoded ({result}).");
            bool grey = codec.Info.ColorType == SKColorType.Gray8;
            var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, grey ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Unpremul);
            using var bitmap = new SKBitmap(info);
            var status = codec.GetPixels(info, bitmap.GetPixels());
            if (status != SKCodecResult.Success && status != SKCodecResult.IncompleteInput)
                throw new InvalidDataException($"Image '{Path.GetFileName(path)}' cannot be decoded ({status}).");
            int width = info.Width, height = info.Height, plane = width * height;
            var source = bitmap.GetPixelSpan();
            int rowBytes = bitmap.RowBytes;
            if (grey)
            {
                var pixels = new byte[plane];
                for (int y = 0; y < height; y++)
                    source.Slice(y * rowBytes, width).CopyTo(pixels.AsSpan(y * width));
                return new DecodedImage(pixels, 1, height, width);
            }
            var rgb = new byte[3 * plane];
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                {
                    int s = y * rowBytes + 4 * x, d = y * width + x;
                    rgb[d] = source[s];
                    rgb[plane + d] = source[s + 1];
                    rgb[2 * plane + d] = source[s + 2];
                }
            return new DecodedImage(rgb, 3, height, width);
        }
    }
}
