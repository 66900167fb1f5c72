using System;
using NetQuantGen.Runtime.Kernels;

namespace NetQuantGen.Tests
{
    /// <summary>Pins the kernel path generated code runs on the test's own thread, for the duration of a test.</summary>
    public sealed class KernelPathScope : IDisposable
    {
        private KernelPathScope(KernelPath path) => KernelPaths.UseOnThisThread(path);

        public static KernelPathScope Use(KernelPath path) => new(path);

        public void Dispose() => KernelPaths.UseOnThisThread(null);
    }
}
