using BenchmarkDotNet.Running;

namespace NetQuantGen.Benchmarks
{
    /// <summary>
    /// dotnet run -c Release --project benchmarks/NetQuantGen.Benchmarks -- --filter '*'
    /// One benchmark class per model, each with its own table (Ratio is against that model's ONNX Runtime FP32);
    /// see benchmarks/README.md.
    /// </summary>
    public static class Program
    {
        public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
