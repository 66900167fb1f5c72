using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using NetQuantGen.Import;
using NetQuantGen.Reference;
using Xunit;
using Xunit.Abstractions;

namespace NetQuantGen.Tests.Reference
{
    /// <summary>The float reference executor on the real sample models, against PyTorch's recorded results and ONNX Runtime.</summary>
    public class SampleModelTests
    {
        private readonly ITestOutputHelper _output;

        public SampleModelTests(ITestOutputHelper output) => _output = output;

        public static IEnumerable<object[]> Models => SampleData.Models.Select(m => new object[] { m });

        private static FloatExecutor Executor(string model)
        {
            var result = OnnxImporter.Import(System.IO.File.ReadAllBytes(SampleData.OnnxPath(model)), model + ".onnx", SampleData.ImportOptions(model));
            Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
            return new FloatExecutor(result.Graph!);
        }

        [Theory]
        [MemberData(nameof(Models))]
        public void FloatReferenceTop1EqualsPyTorchOnTheTestSet(string model)
        {
            const int count = 10_000;
            var inputs = SampleData.TestInputs(model, count);
            var labels = SampleData.TestLabels;
            int correct = 0;
            // Two executors (one per core); each is single-threaded.
            Parallel.For(0, 2, part =>
            {
                var executor = Executor(model);
                int mine = 0;
                for (int i = part; i < count; i += 2)
                    if (SampleData.ArgMax(executor.Run(inputs[i])) == labels[i]) mine++;
                System.Threading.Interlocked.Add(ref correct, mine);
            });
            double top1 = correct / (double)count;
            _output.WriteLine($"{model}: float reference top-1 {top1:P2}, PyTorch {SampleData.PyTorchTop1(model):P2}");
            // Float summation order differs from PyTorch's; at most a borderline image or two may flip.
            Assert.InRange(top1, SampleData.PyTorchTop1(model) - 0.0002, SampleData.PyTorchTop1(model) + 0.0002);
        }

        [Theory]
        [MemberData(nameof(Models))]
        public void FloatReferenceMatchesPyTorchLogits(string model)
        {
            var executor = Executor(model);
            var expected = SampleData.PyTorchLogits(model);
            var inputs = SampleData.TestInputs(model, expected.Length);
            for (int i = 0; i < expected.Length; i++)
                AssertClose(expected[i], executor.Run(inputs[i]), 1e-4, $"{model} image {i}");
        }

        [Theory]
        [MemberData(nameof(Models))]
        public void FloatReferenceMatchesOnnxRuntime(string model)
        {
            var executor = Executor(model);
            using var options = new SessionOptions { IntraOpNumThreads = 1 };
            using var session = new InferenceSession(SampleData.OnnxPath(model), options);
            var shape = SampleData.InputShape(model);
            foreach (var input in SampleData.TestInputs(model, 200))
            {
                var tensor = new DenseTensor<float>(input, shape);
                using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("input", tensor) });
                AssertClose(results.First().AsEnumerable<float>().ToArray(), executor.Run(input), 1e-4, model);
            }
        }

        /// <summary>|actual − expected| ≤ tolerance · max|expected| on every element (relative to the output's magnitude).</summary>
        private static void AssertClose(float[] expected, float[] actual, double tolerance, string what)
        {
            Assert.Equal(expected.Length, actual.Length);
            double magnitude = Math.Max(1e-6, expected.Max(v => Math.Abs((double)v)));
            double worst = expected.Zip(actual, (e, a) => Math.Abs((double)e - a)).Max();
            Assert.True(worst <= tolerance * magnitude, $"{what}: max abs difference {worst:G3} exceeds {tolerance:G1} × {magnitude:G3}");
        }
    }
}
