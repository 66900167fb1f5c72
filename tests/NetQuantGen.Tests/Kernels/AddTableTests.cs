using System;
using NetQuantGen.Runtime.Kernels;
using Xunit;

namespace NetQuantGen.Tests.Kernels
{
    /// <summary>
    /// The table an add layer reads is its scalar definition: for random parameter sets, with the extreme multipliers
    /// (2^30 and 2^31 − 1), the extreme shifts of each input and of the output, no left shift and TFLite's 20, and clamps
    /// at and inside the int8 ends, every one of the 65,536 input pairs gives <see cref="AddParameters.Apply"/>.
    /// </summary>
    public class AddTableTests
    {
        [Fact]
        public void TableHoldsTheScalarDefinitionForEveryPairOfInputs()
        {
            var random = new Random(29);
            int Multiplier() => random.Next(3) switch { 0 => 1 << 30, 1 => int.MaxValue, _ => random.Next(1 << 30, int.MaxValue) };
            for (int trial = 0; trial < 24; trial++)
            {
                bool extreme = trial % 2 == 0;
                int clampMin = trial % 3 == 0 ? -128 : random.Next(-128, 0), clampMax = trial % 3 == 0 ? 127 : random.Next(0, 128);
                var p = new AddParameters(LeftShift: extreme ? (trial % 4 == 0 ? 0 : 20) : random.Next(0, 21),
                    ZeroPointA: extreme ? -128 : random.Next(-128, 128), MultiplierA: Multiplier(), ShiftA: extreme ? (trial % 4 == 0 ? 0 : -30) : -random.Next(0, 31),
                    ZeroPointB: extreme ? 127 : random.Next(-128, 128), MultiplierB: Multiplier(), ShiftB: extreme ? (trial % 4 == 0 ? -30 : 0) : -random.Next(0, 31),
                    OutputZeroPoint: random.Next(-128, 128), OutputMultiplier: Multiplier(), OutputShift: extreme ? (trial % 4 == 0 ? -31 : 1) : random.Next(-31, 2),
                    ClampMin: clampMin, ClampMax: clampMax);
                var table = new AddTable(p);
                Assert.Equal(p, table.Parameters);
                for (int a = -128; a < 128; a++)
                    for (int b = -128; b < 128; b++)
                        if (table.Apply(a, b) != p.Apply(a, b))
                            Assert.Fail($"table({a}, {b}) = {table.Apply(a, b)}, the scalar definition {p.Apply(a, b)}, with {p}");
            }
        }
    }
}
