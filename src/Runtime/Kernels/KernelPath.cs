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
    /// Which path generated code runs. The best the machine supports by default (NETQUANTGEN_KERNEL_PATH=scalar|vector256
    /// overrides it for the process); tests pin one for their own thread with <see cref="UseOnThisThread"/> (all paths
    /// are exact integer arithmetic, so they must agree bit for bit).
    /// </summary>
    public static class KernelPaths
    {
        private static readonly KernelPath ProcessDefault = FromEnvironment() ?? Best;

        [ThreadStatic] private static KernelPath? t_pinned;

        public static KernelPath Best => Avx2.IsSupported ? KernelPath.Vector256 : KernelPath.Scalar;

        public static KernelPath Current => t_pinned ?? ProcessDefault;

        /// <summary>Pins the path for calls on the current thread (null returns to the process default).</summary>
        public static void UseOnThisThread(KernelPath? path)
        {
            if (path is KernelPath p && !IsSupported(p)) throw new PlatformNotSupportedException($"Kernel path {p} is not supported on this machine.");
            t_pinned = path;
        }

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
