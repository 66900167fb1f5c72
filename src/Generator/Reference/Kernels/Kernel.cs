using System;

namespace NetQuantGen.Reference.Kernels
{
    /// <summary>
    /// One node of the plan, bound at construction to the buffers of its inputs and output (one buffer per
    /// value, fixed for the executor's life). <see cref="Run"/> reads the inputs and overwrites the output.
    /// </summary>
    internal abstract class Kernel
    {
        public abstract void Run();
    }

    /// <summary>
    /// Scratch memory shared by the kernels of one executor (they run one at a time). Kernels reserve what
    /// they need while the plan is built, so a run allocates nothing.
    /// </summary>
    internal sealed class Workspace
    {
        public float[] Columns { get; private set; } = Array.Empty<float>();

        public float[] PackA { get; private set; } = Array.Empty<float>();

        public float[] PackB { get; private set; } = Array.Empty<float>();

        /// <summary>One micro-kernel tile (MR × NR).</summary>
        public float[] Tile { get; private set; } = Array.Empty<float>();

        /// <summary>Matrix-vector scratch: a gathered vector and a result.</summary>
        public float[] Vector { get; private set; } = Array.Empty<float>();

        /// <summary>General scratch (e.g. a packed copy of a runtime weight).</summary>
        public float[] Scratch { get; private set; } = Array.Empty<float>();

        public void ReserveColumns(long floats) => Columns = Grow(Columns, floats);

        public void ReserveScratch(long floats) => Scratch = Grow(Scratch, floats);

        /// <summary>Space for <see cref="Sgemm.Multiply"/> with these dimensions.</summary>
        public void ReserveGemm(int m, int n, int k)
        {
            PackA = Grow(PackA, Sgemm.MC * (long)Sgemm.KC);
            PackB = Grow(PackB, Sgemm.KC * (long)Sgemm.NC);
            Tile = Grow(Tile, Sgemm.MR * (long)Sgemm.NR);
            Vector = Grow(Vector, (long)k + Math.Max(m, n));
        }

        private static float[] Grow(float[] current, long floats)
        {
            if (floats > int.MaxValue) throw new InvalidOperationException($"A scratch buffer of {floats} floats is too large.");
            return current.Length >= floats ? current : new float[floats];
        }
    }
}
