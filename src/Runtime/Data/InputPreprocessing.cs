using System;

namespace NetQuantGen.Runtime.Data
{
    /// <summary>
    /// The sample models' input convention, for every caller that turns an image into a model input:
    /// pixel / 255 as float32 (no mean/std normalisation); an image smaller than the input's H×W is
    /// zero-padded, centred (an odd remainder goes to the bottom/right); a one-channel image is replicated
    /// to the input's C channels, a three-channel image fed to a one-channel input becomes grey with the
    /// ITU-R BT.601 weights. Input shapes are NCHW with N = 1 (CHW and HW are accepted too). A 28×28
    /// Fashion-MNIST image thus becomes 1x1x28x28 as is, or 1x3x32x32 padded by 2 on each side.
    /// </summary>
    public static class InputPreprocessing
    {
        /// <summary>A square one-channel image of bytes (e.g. 28×28 = 784 pixels) → the input tensor.</summary>
        public static float[] FitImage(ReadOnlySpan<byte> pixels, int[] inputShape)
        {
            int side = SquareSide(pixels.Length);
            var image = new float[pixels.Length];
            for (int i = 0; i < image.Length; i++) image[i] = pixels[i] / 255f;
            return FitImage(image, new[] { 1, side, side }, inputShape);
        }

        /// <summary>A square one-channel float image (values already scaled, e.g. pixel/255) → the input tensor.</summary>
        public static float[] FitImage(float[] image, int[] inputShape)
        {
            ArgumentNullException.ThrowIfNull(image);
            int side = SquareSide(image.Length);
            return FitImage(image, new[] { 1, side, side }, inputShape);
        }

        /// <summary>
        /// A planar image of shape [H, W], [C, H, W] or [1, C, H, W] (values already scaled) → a new input tensor
        /// of <paramref name="inputShape"/>.
        /// </summary>
        public static float[] FitImage(ReadOnlySpan<float> image, ReadOnlySpan<int> imageShape, int[] inputShape)
        {
            ArgumentNullException.ThrowIfNull(inputShape);
            long length = 1;
            foreach (int d in inputShape) length *= d;
            var result = new float[length];
            FitImage(image, imageShape, inputShape, result);
            return result;
        }

        /// <summary>
        /// A data set item (already scaled) → a new input tensor: copied as is when it already has the input's
        /// shape (leading 1s aside), otherwise fitted as an image.
        /// </summary>
        public static float[] Fit(DataItem item, int[] inputShape)
        {
            ArgumentNullException.ThrowIfNull(inputShape);
            long length = 1;
            foreach (int d in inputShape) length *= d;
            var result = new float[length];
            Fit(item, inputShape, result);
            return result;
        }

        /// <summary>As <see cref="Fit(DataItem, int[])"/>, into <paramref name="destination"/> (exactly the input's elements).</summary>
        public static void Fit(DataItem item, ReadOnlySpan<int> inputShape, Span<float> destination)
        {
            ArgumentNullException.ThrowIfNull(item);
            if (StripLeadingOnes(item.Shape).SequenceEqual(StripLeadingOnes(inputShape)))
            {
                if (item.Values.Length != destination.Length)
                    throw new ArgumentException($"The destination holds {destination.Length} values; the input {ShapeText.Format(inputShape)} takes {item.Values.Length}.", nameof(destination));
                item.Values.CopyTo(destination);
                return;
            }
            FitImage(item.Values, item.Shape, inputShape, destination);
        }

        private static ReadOnlySpan<int> StripLeadingOnes(ReadOnlySpan<int> shape)
        {
            int i = 0;
            while (i < shape.Length && shape[i] == 1) i++;
            return shape.Slice(i);
        }

        /// <summary>Writes the fitted input into <paramref name="destination"/>, which must hold exactly the input's elements.</summary>
        public static void FitImage(ReadOnlySpan<float> image, ReadOnlySpan<int> imageShape, ReadOnlySpan<int> inputShape, Span<float> destination)
        {
            var (c, h, w) = ImageDims(imageShape, "image");
            var (dc, dh, dw) = ImageDims(inputShape, "input");
            if ((long)c * h * w != image.Length)
                throw new ArgumentException($"An image of shape {ShapeText.Format(imageShape)} has {(long)c * h * w} values, not {image.Length}.", nameof(image));
            if ((long)dc * dh * dw != destination.Length)
                throw new ArgumentException($"The input {ShapeText.Format(inputShape)} takes {(long)dc * dh * dw} values; the destination holds {destination.Length}.", nameof(destination));
            if (h > dh || w > dw)
                throw new ArgumentException(
                    $"The image is {h}x{w} but the model input {ShapeText.Format(inputShape)} is {dh}x{dw}: images are zero-padded to the input size, never scaled down; resize them first.", nameof(image));
            if (!(c == dc || c == 1 || c == 3 && dc == 1))
                throw new ArgumentException(
                    $"The image has {c} channels but the model input {ShapeText.Format(inputShape)} has {dc}: one channel is replicated, three become grey for a one-channel input; other combinations are not supported.", nameof(image));

            destination.Clear();
            int top = (dh - h) / 2, left = (dw - w) / 2;
            for (int ch = 0; ch < dc; ch++)
            {
                for (int y = 0; y < h; y++)
                {
                    var row = destination.Slice(ch * dh * dw + (top + y) * dw + left, w);
                    if (c == dc)
                        image.Slice(ch * h * w + y * w, w).CopyTo(row);
                    else if (c == 1)
                        image.Slice(y * w, w).CopyTo(row);
                    else
                    {
                        var r = image.Slice(y * w, w);
                        var g = image.Slice(h * w + y * w, w);
                        var b = image.Slice(2 * h * w + y * w, w);
                        for (int x = 0; x < w; x++) row[x] = 0.299f * r[x] + 0.587f * g[x] + 0.114f * b[x];
                    }
                }
            }
        }

        private static (int C, int H, int W) ImageDims(ReadOnlySpan<int> shape, string what)
        {
            switch (shape.Length)
            {
                case 2:
                    return (1, shape[0], shape[1]);
                case 3:
                    return (shape[0], shape[1], shape[2]);
                case 4 when shape[0] == 1:
                    return (shape[1], shape[2], shape[3]);
                default:
                    throw new ArgumentException(
                        $"The {what} shape {ShapeText.Format(shape)} is not an image: expected HxW, CxHxW or 1xCxHxW (NCHW with one sample).");
            }
        }

        private static int SquareSide(int length)
        {
            int side = (int)Math.Round(Math.Sqrt(length));
            if (side * side != length || length == 0)
                throw new ArgumentException($"{length} pixels are not a square one-channel image; give the image's shape.");
            return side;
        }
    }
}
