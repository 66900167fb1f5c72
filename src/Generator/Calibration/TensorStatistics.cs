using System;
using System.Collections.Generic;
using System.Linq;

namespace NetQuantGen.Calibration
{
    /// <summary>
    /// What calibration saw of one float tensor over all samples: range, moments and an equal-width
    /// histogram of its finite elements. Immutable.
    /// </summary>
    public sealed class TensorStatistics
    {
        private readonly int[] _shape;

        public TensorStatistics(string name, IReadOnlyList<int> shape, double min, double max, ulong count,
            double mean, double standardDeviation, ulong nonFiniteCount, Histogram histogram)
        {
            Name = name ?? throw new ArgumentNullException(nameof(name));
            _shape = (shape ?? throw new ArgumentNullException(nameof(shape))).ToArray();
            Shape = Array.AsReadOnly(_shape);
            Min = min;
            Max = max;
            Count = count;
            Mean = mean;
            StandardDeviation = standardDeviation;
            NonFiniteCount = nonFiniteCount;
            Histogram = histogram ?? throw new ArgumentNullException(nameof(histogram));
        }

        /// <summary>The Value name in the graph after the float passes.</summary>
        public string Name { get; }

        /// <summary>The tensor's static shape (per run, batch included).</summary>
        public IReadOnlyList<int> Shape { get; }

        /// <summary>Smallest finite element seen (a float32 value).</summary>
        public double Min { get; }

        /// <summary>Largest finite element seen (a float32 value).</summary>
        public double Max { get; }

        /// <summary>Finite elements observed: elements per run × samples, less non-finite ones.</summary>
        public ulong Count { get; }

        public double Mean { get; }

        /// <summary>Population standard deviation of the finite elements.</summary>
        public double StandardDeviation { get; }

        /// <summary>NaN and infinite elements seen (excluded from everything else).</summary>
        public ulong NonFiniteCount { get; }

        public Histogram Histogram { get; }

        internal int[] ShapeArray => _shape;

        public override string ToString() =>
            FormattableString.Invariant($"{Name}: [{Min:G6}, {Max:G6}] mean {Mean:G6} std {StandardDeviation:G6} ({Count} elements)");
    }
}
