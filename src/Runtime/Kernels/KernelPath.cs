using System;
using System.Runtime.Intrinsics.X86;

namespace NetQuantGen.Runtime.Kernels
{
    /// <summary>The instruction-set paths of the int8 kernels. Every path gives bit-identical results.</summary>
    public enum KernelPath
    {
        Scalar = 0,
        Vector256 = 2,
    }

    /// <summary>
    /// Which path generated code runs. The best the machine supports by default; tests pin one (all paths are
    /// exact integer arithmetic, so they must agree bit for bit). NETQUANTGEN_KERNEL_PATH=scalar|vector256 overrides it.
    /// </summary>
    public static class KernelPaths
    {
        public static KernelPath Best => Avx2.IsSupported ? KernelPath.Vector256 : KernelPath.Scalar;

        public static KernelPath Current { get; set; } = FromEnvironment() ?? Best;

        public static bool IsSupported(KernelPath path) => path switch
        {
            KernelPath.Vector256 => Avx2.IsSupported,
            _ => true,
        };

        private static KernelPath? FromEnvironment()
        {
            string? value = Environment.GetEnvironmentVariable("NETQUANTGEN_KERNEL_PATH");
            if (string.IsNullOrEmpty(value)) return null;
            if (!Enum.TryParse(value, ignoreCase: true, out KernelPath path) || !IsSupported(path))
                throw new InvalidOperationException($"NETQUANTGEN_KERNEL_PATH={value} is not a kernel path this machine supports ({string.Join(", ", Enum.GetNames<KernelPath>())}).");
            return path;
        }
    }
}
