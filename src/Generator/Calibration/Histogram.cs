using System;
using System.Collections.Generic;

namespace NetQuantGen.Calibration
{
    /// <summary>
    /// An immutable equal-width histogram over [<see cref="Min"/>, <see cref="Max"/>]. Bin i covers
    /// [Min + i·w, Min + (i+1)·w) with w = (Max − Min) / BinCount; the last bin also holds Max. When
    /// Min == Max every element is in bin 0. The binning rule (<see cref="BinIndex"/>) is the one the
    /// calibrator used to fill the counts, so range-setting methods can reason about exact bin contents.
    /// </summary>
    public sealed class Histogram
    {
        /// <summary>The number of bins the calibrator writes.</summary>
        public const int DefaultBinCount = 2048;

        private readonly ulong[] _counts;

        public Histogram(double min, double max, IReadOnlyList<ulong> counts)
        {
            if (counts == null) throw new ArgumentNullException(nameof(counts));
            if (counts.Count == 0) throw new ArgumentException("A histogram needs at least one bin.", nameof(counts));
            if (double.IsNaN(min) || double.IsNaN(max) || double.IsInfinity(min) || double.IsInfinity(max) || min > max)
                throw new ArgumentException($"Histogram range [{min}, {max}] is not a finite, ordered range.");
            Min = min;
            Max = max;
            _counts = new ulong[counts.Count];
            ulong total = 0;
            for (int i = 0; i < _counts.Length; i++)
            {
                _counts[i] = counts[i];
                total += counts[i];
            }
            Total = total;
            Counts = Array.AsReadOnly(_counts);
        }

        public double Min { get; }

        public double Max { get; }

        public int BinCount => _counts.Length;

        /// <summary>Width of one bin (0 when Min == Max).</summary>
        public double BinWidth => (Max - Min) / _counts.Length;

        /// <summary>The counts, one per bin (a read-only view).</summary>
        public IReadOnlyList<ulong> Counts { get; }

        /// <summary>Sum of all counts: the number of elements binned.</summary>
        public ulong Total { get; }

        public ulong this[int bin] => _counts[bin];

        public double BinLowerEdge(int bin) => Min + bin * BinWidth;

        public double BinUpperEdge(int bin) => bin == _counts.Length - 1 ? Max : Min + (bin + 1) * BinWidth;

        public double BinCenter(int bin) => Min + (bin + 0.5) * BinWidth;

        /// <summary>The bin an element x in [Min, Max] falls in.</summary>
        public int BinOf(double x) => BinIndex(x, Min, Scale(Min, Max, _counts.Length), _counts.Length);

        /// <summary>Elements in bins [0, bin], i.e. the cumulative count through <paramref name="bin"/>.</summary>
        public ulong CumulativeCount(int bin)
        {
            ulong sum = 0;
            for (int i = 0; i <= bin && i < _counts.Length; i++) sum += _counts[i];
            return sum;
        }

        /// <summary>Elements in the bins from <paramref name="firstBin"/> to <paramref name="lastBin"/> inclusive.</summary>
        public ulong CountBetween(int firstBin, int lastBin)
        {
            ulong sum = 0;
            for (int i = Math.Max(0, firstBin); i <= lastBin && i < _counts.Length; i++) sum += _counts[i];
            return sum;
        }

        /// <summary>
        /// The value below which <paramref name="percent"/>% of the elements lie, interpolating linearly
        /// inside the bin that crosses that fraction (elements assumed spread evenly in a bin). 0 gives
        /// <see cref="Min"/>, 100 gives <see cref="Max"/>; an empty histogram gives Min.
        /// </summary>
        public double Percentile(double percent)
        {
            if (double.IsNaN(percent) || percent < 0 || percent > 100)
                throw new ArgumentOutOfRangeException(nameof(percent), percent, "A percentile is between 0 and 100.");
            if (Total == 0 || percent <= 0) return Min;
            if (percent >= 100) return Max;
            double target = percent / 100.0 * Total;
            double before = 0;
            for (int i = 0; i < _counts.Length; i++)
            {
                double after = before + _counts[i];
                if (after >= target && _counts[i] > 0)
                {
                    double fraction = (target - before) / _counts[i];
                    double lower = BinLowerEdge(i), upper = BinUpperEdge(i);
                    return Math.Min(Max, lower + fraction * (upper - lower));
                }
                before = after;
            }
            return Max;
        }

        /// <summary>bins / (max − min), or 0 for an empty range (everything in bin 0).</summary>
        internal static double Scale(double min, double max, int bins) => max > min ? bins / (max - min) : 0.0;

        /// <summary>The binning rule of the file format: floor((x − min)·scale), clamped to [0, bins − 1].</summary>
        internal static int BinIndex(double x, double min, double scale, int bins)
        {
            double position = (x - min) * scale;
            if (!(position > 0)) return 0;
            if (position >= bins) return bins - 1;
            return (int)position;
        }
    }
}
