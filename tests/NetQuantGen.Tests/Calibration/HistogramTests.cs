using System;
using System.Linq;
using NetQuantGen.Calibration;
using Xunit;

namespace NetQuantGen.Tests.Calibration
{
    public class HistogramTests
    {
        [Fact]
        public void BinsAreEqualWidthAndMaxFallsInTheLastBin()
        {
            var h = new Histogram(-1, 3, new ulong[4]);
            Assert.Equal(1.0, h.BinWidth);
            Assert.Equal(0, h.BinOf(-1));
            Assert.Equal(0, h.BinOf(-0.0001));
            Assert.Equal(1, h.BinOf(0));
            Assert.Equal(3, h.BinOf(2.5));
            Assert.Equal(3, h.BinOf(3));
            Assert.Equal(0, h.BinOf(-7)); // outside: clamped
            Assert.Equal(3, h.BinOf(9));
            Assert.Equal(2.0, h.BinLowerEdge(3));
            Assert.Equal(3.0, h.BinUpperEdge(3));
            Assert.Equal(-0.5, h.BinCenter(0));
        }

        [Fact]
        public void PercentilesInterpolateInsideBins()
        {
            var h = new Histogram(0, 10, new ulong[] { 10, 0, 0, 0, 0, 0, 0, 0, 0, 90 });
            Assert.Equal(100UL, h.Total);
            Assert.Equal(0.0, h.Percentile(0));
            Assert.Equal(10.0, h.Percentile(100));
            Assert.Equal(0.5, h.Percentile(5), 12);
            Assert.Equal(1.0, h.Percentile(10), 12);
            Assert.Equal(9.5, h.Percentile(55), 12);
            Assert.Equal(10UL, h.CumulativeCount(0));
            Assert.Equal(10UL, h.CumulativeCount(8));
            Assert.Equal(90UL, h.CountBetween(1, 9));
            Assert.Throws<ArgumentOutOfRangeException>(() => h.Percentile(101));
        }

        [Fact]
        public void AnEmptyRangePutsEverythingInBinZero()
        {
            var h = new Histogram(2, 2, new ulong[] { 5, 0, 0 });
            Assert.Equal(0, h.BinOf(2));
            Assert.Equal(2.0, h.Percentile(50));
            Assert.Equal(0.0, h.BinWidth);
        }

        [Fact]
        public void CountsAreCopiedAndReadOnly()
        {
            var counts = new ulong[] { 1, 2, 3 };
            var h = new Histogram(0, 1, counts);
            counts[0] = 100;
            Assert.Equal(1UL, h[0]);
            Assert.Equal(6UL, h.Total);
            Assert.False(h.Counts is ulong[]);
            Assert.Throws<ArgumentException>(() => new Histogram(1, 0, new ulong[1]));
            Assert.Throws<ArgumentException>(() => new Histogram(0, double.NaN, new ulong[1]));
            Assert.Throws<ArgumentException>(() => new Histogram(0, 1, Array.Empty<ulong>()));
        }
    }
}
