using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using NetQuantGen.Runtime.Data;

namespace FashionMnist
{
    /// <summary>
    /// Evaluates the three sample models on the Fashion-MNIST test set: FP32 in ONNX Runtime (one thread) and the
    /// generated INT8 code, each timed over the same images, single-threaded.
    /// Usage: dotnet run -c Release --project samples/FashionMnist [-- --count N]
    /// With <c>--check N</c> it prints only what must not change between builds (JIT or NativeAOT): the kernel path,
    /// and per model the top-1 count and a SHA-256 of every logit's bits over the first N images.
    /// </summary>
    public static class Program
    {
        private delegate void Int8Model(ReadOnlySpan<float> input, Span<float> output);

        private sealed record SampleModel(string Name, string OnnxFile, int[] InputShape, Int8Model RunInt8, int OutputLength);

        public static int Main(string[] args)
        {
            if (args.Length == 2 && args[0] == "--check") return Check(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
            int count = args.Length == 2 && args[0] == "--count" ? int.Parse(args[1]) : 10_000;
            string folder = AppContext.BaseDirectory;
            var images = IdxFile.Read(Path.Combine(folder, "data", "t10k-images-idx3-ubyte.gz"));
            var labels = IdxFile.ReadLabels(Path.Combine(folder, "data", "t10k-labels-idx1-ubyte.gz"));
            count = Math.Min(count, images.Count);
            var pytorch = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "models", "accuracy.json"))).RootElement;

            var models = new[]
            {
                new SampleModel("SmallCnn", "small_cnn.onnx", SmallCnn.InputShape.ToArray(), SmallCnn.Run, SmallCnn.OutputLength),
                new SampleModel("MobileNetV2Small", "mobilenet_v2_small.onnx", MobileNetV2Small.InputShape.ToArray(), MobileNetV2Small.Run, MobileNetV2Small.OutputLength),
                new SampleModel("ResNet18", "resnet18.onnx", ResNet18.InputShape.ToArray(), ResNet18.Run, ResNet18.OutputLength),
            };

            Console.WriteLine($"Fashion-MNIST test set, {count} images; one thread each; FP32 = ONNX Runtime {OrtEnv.Instance().GetVersionString()}, INT8 = NetQuantGen generated code");
            Console.WriteLine($"{"model",-18} {"PyTorch FP32",12} {"ORT FP32",9} {"INT8",8} {"Δ points",9} {"FP32 ms",8} {"INT8 ms",8} {"INT8 speed-up",14}");
            foreach (var model in models)
            {
                var inputs = Enumerable.Range(0, count).Select(i => InputPreprocessing.FitImage(images.ItemBytes(i), model.InputShape)).ToArray();
                var (fp32Correct, fp32Seconds) = EvaluateOnnxRuntime(Path.Combine(folder, "models", model.OnnxFile), model.InputShape, inputs, labels);
                var (int8Correct, int8Seconds) = Evaluate(model, inputs, labels);
                double fp32 = 100.0 * fp32Correct / count, int8 = 100.0 * int8Correct / count;
                string recorded = pytorch.TryGetProperty(Path.GetFileNameWithoutExtension(model.OnnxFile), out var entry)
                    ? $"{100 * entry.GetProperty("fp32_top1").GetDouble():F2}%" : "n/a";
                Console.WriteLine($"{model.Name,-18} {recorded,12} {fp32,8:F2}% {int8,7:F2}% {int8 - fp32,9:+0.00;-0.00} {1000 * fp32Seconds / count,8:F3} {1000 * int8Seconds / count,8:F3} {fp32Seconds / int8Seconds,13:F2}x");
            }
            return 0;
        }

        private static int Check(int count)
        {
            string folder = AppContext.BaseDirectory;
            var images = IdxFile.Read(Path.Combine(folder, "data", "t10k-images-idx3-ubyte.gz"));
            var labels = IdxFile.ReadLabels(Path.Combine(folder, "data", "t10k-labels-idx1-ubyte.gz"));
            Console.WriteLine($"kernel path: {NetQuantGen.Runtime.Kernels.KernelPaths.Current}; AVX2: {System.Runtime.Intrinsics.X86.Avx2.IsSupported}; Vector256 accelerated: {System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated}");
            foreach (var (name, shape, run, length) in new (string, int[], Int8Model, int)[]
            {
                ("SmallCnn", SmallCnn.InputShape.ToArray(), SmallCnn.Run, SmallCnn.OutputLength),
                ("MobileNetV2Small", MobileNetV2Small.InputShape.ToArray(), MobileNetV2Small.Run, MobileNetV2Small.OutputLength),
                ("ResNet18", ResNet18.InputShape.ToArray(), ResNet18.Run, ResNet18.OutputLength),
            })
            {
                var output = new float[length];
                using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
                int correct = 0;
                for (int i = 0; i < count; i++)
                {
                    run(InputPreprocessing.FitImage(images.ItemBytes(i), shape), output);
                    if (ArgMax(output) == labels[i]) correct++;
                    hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(output.AsSpan()));
                }
                Console.WriteLine($"{name}: {correct}/{count} correct, logits SHA-256 {Convert.ToHexString(hash.GetHashAndReset())}");
            }
            return 0;
        }

        private static (int Correct, double Seconds) Evaluate(SampleModel model, float[][] inputs, byte[] labels)
        {
            var output = new float[model.OutputLength];
            model.RunInt8(inputs[0], output); // first call allocates the thread's arena and decodes weights
            int correct = 0;
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < inputs.Length; i++)
            {
                model.RunInt8(inputs[i], output);
                if (ArgMax(output) == labels[i]) correct++;
            }
            return (correct, clock.Elapsed.TotalSeconds);
        }

        private static (int Correct, double Seconds) EvaluateOnnxRuntime(string path, int[] shape, float[][] inputs, byte[] labels)
        {
            using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
            using var session = new InferenceSession(path, options);
            string inputName = session.InputMetadata.Keys.First();
            var tensor = new DenseTensor<float>(shape);
            var feed = new List<NamedOnnxValue> { NamedOnnxValue.CreateFromTensor(inputName, tensor) };
            session.Run(feed).Dispose();
            int correct = 0;
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < inputs.Length; i++)
            {
                inputs[i].CopyTo(tensor.Buffer.Span);
                using var results = session.Run(feed);
                var logits = results.First().AsEnumerable<float>().ToArray();
                if (ArgMax(logits) == labels[i]) correct++;
            }
            return (correct, clock.Elapsed.TotalSeconds);
        }

        private static int ArgMax(ReadOnlySpan<float> values)
        {
            int best = 0;
            for (int i = 1; i < values.Length; i++)
                if (values[i] > values[best]) best = i;
            return best;
        }
    }
}
