using System;

namespace NetQuantGen.Runtime.Kernels
{
    /// <summary>The instruction-set paths of the int8 kernels. Every path gives bit-identical results.</summary>
    public enum KernelPath
    {
        Scalar = 0,

        /// <summary>128-bit vectors: SSE2 on x86, NEON on Arm64.</summary>
        Vector128 = 1,

        /// <summary>AVX2.</summary>
        Vector256 = 2,

        /// <summary>AVX-512 F and BW (512-bit vpmaddwd). .NET 10 exposes no AVX512-VNNI, so vpdpbusd is out of reach.</summary>
        Vector512 = 3,
    }

    /// <summary>
    /// Which path generated code runs. The best the machine supports by default (NETQUANTGEN_KERNEL_PATH=scalar|vector128|vector256|vector512
    /// overrides it for the process); tests pin one for their own thread with <see cref="UseOnThisThread"/> (all paths
    /// are exact integer arithmetic, so they must agree bit for bit).
    /// </summary>
    public static class KernelPaths
    {
        private static readonly KernelPath ProcessDefault = FromEnvironment() ?? Best;

        [ThreadStatic] private static KernelPath? t_pinned;

        public static KernelPath Best =>
            IsSupported(KernelPath.Vector512) ? KernelPath.Vector512
            : IsSupported(KernelPath.Vector256) ? KernelPath.Vector256
            : IsSupported(KernelPath.Vector128) ? KernelPath.Vector128
            : KernelPath.Scalar;

        public static KernelPath Current => t_pinned ?? ProcessDefault;

        /// <summary>Pins the path for calls on the current thread (null returns to the process default).</summary>
        public static void UseOnThisThread(KernelPath? path)
        {
            if (path is KernelPath p && !IsSupported(p)) throw new PlatformNotSupportedException($"Kernel path {p} is not supported on this machine.");
            t_pinned = path;
        }

        public static bool IsSupported(KernelPath path) => path switch
        {
            KernelPath.Vector512 => Lanes512.IsSupported,
            KernelPath.Vector256 => Lanes256.IsSupported,
            KernelPath.Vector128 => Lanes128.IsSupported,
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
