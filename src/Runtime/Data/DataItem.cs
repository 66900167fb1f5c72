using System;

namespace NetQuantGen.Runtime.Data
{
    /// <summary>
    /// One sample of a data set as floats, row-major, with its shape (without the sample axis). Byte data is
    /// already scaled by 1/255 (the pixel convention); float data is as stored.
    /// </summary>
    public sealed class DataItem
    {
        public DataItem(float[] values, int[] shape)
        {
            ArgumentNullException.ThrowIfNull(values);
            ArgumentNullException.ThrowIfNull(shape);
            long count = 1;
            foreach (int d in shape) count *= d;
            if (count != values.Length)
                throw new ArgumentException($"Shape {ShapeText.Format(shape)} holds {count} values, not {values.Length}.", nameof(values));
            Values = values;
            Shape = shape;
        }

        public float[] Values { get; }

        public int[] Shape { get; }
    }

    /// <summary>
    /// A sequence of samples read by index: an IDX file, a .npy array, a folder of images. Items are read on
    /// demand, so a data set can be enumerated several times without holding decoded samples.
    /// </summary>
    public interface IDataSet : IDisposable
    {
        /// <summary>What the data is, for reports and statistics files (file name, count, element type; no absolute paths).</summary>
        string Description { get; }

        int Count { get; }

        /// <summary>Reads sample <paramref name="index"/> (0 ≤ index &lt; <see cref="Count"/>).</summary>
        DataItem Read(int index);
    }

    internal static class ShapeText
    {
        public static string Format(ReadOnlySpan<int> shape)
        {
            var parts = new string[shape.Length];
            for (int i = 0; i < shape.Length; i++) parts[i] = shape[i].ToString(System.Globalization.CultureInfo.InvariantCulture);
            return string.Join("x", parts);
        }
    }
}
