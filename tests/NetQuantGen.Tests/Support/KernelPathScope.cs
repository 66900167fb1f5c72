using System;
using NetQuantGen.Runtime.Kernels;

namespace NetQuantGen.Tests
{
    /// <summary>
    /// Pins the kernel path generated code runs for the duration of a test. The setting is process-wide;
    /// tests running at the same time stay correct because every path gives the same bits.
    /// </summary>
    public sealed class KernelPathScope : IDisposable
    {
        private readonly KernelPath _previous;

        private KernelPathScope(KernelPath path)
        {
            _previous = KernelPaths.Current;
            KernelPaths.Current = path;
        }

        public static KernelPathScope Use(KernelPath path) => new(path);

        public void Dispose() => KernelPaths.Current = _previous;
    }
}
