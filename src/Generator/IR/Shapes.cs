using System.Linq;

namespace NetQuantGen.IR
{
    /// <summary>Small helpers over static shapes (row-major, outermost dimension first).</summary>
    public static class Shapes
    {
        public static long ElementCount(int[] shape)
        {
            long count = 1;
            foreach (int d in shape) count *= d;
            return count;
        }

        /// <summary>Row-major strides in elements.</summary>
        public static int[] Strides(int[] shape)
        {
            var strides = new int[shape.Length];
            int stride = 1;
            for (int i = shape.Length - 1; i >= 0; i--)
            {
                strides[i] = stride;
                stride *= shape[i];
            }
            return strides;
        }

        public static string Format(int[] shape) => "[" + string.Join("x", shape.Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";

        public static bool Equal(int[] a, int[] b) => a.SequenceEqual(b);

        /// <summary>Numpy-style multidirectional broadcasting; null when the shapes do not broadcast.</summary>
        public static int[]? Broadcast(int[] a, int[] b)
        {
            int rank = System.Math.Max(a.Length, b.Length);
            var result = new int[rank];
            for (int i = 0; i < rank; i++)
            {
                int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
                int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
                if (da == db || db == 1) result[i] = da;
                else if (da == 1) result[i] = db;
                else return null;
            }
            return result;
        }

        /// <summary>Normalizes a possibly negative axis against a rank; -1 when out of range.</summary>
        public static int NormalizeAxis(long axis, int rank)
        {
            long a = axis < 0 ? axis + rank : axis;
            return a < 0 || a >= rank ? -1 : (int)a;
        }
    }
}
