using System;
using System.IO;
using System.Linq;
using System.Reflection;
using BenchmarkDotNet.Attributes;
using Microsoft.ML.OnnxRuntime;
using NetQuantGen.Compiler;
using NetQuantGen.Export;
using NetQuantGen.Runtime.Data;

namespace NetQuantGen.Benchmarks
{
    /// <summary>
    /// One model, three ways, on the same preprocessed Fashion-MNIST test image: ONNX Runtime FP32 (the baseline),
    /// ONNX Runtime INT8 (the QDQ export of exactly the quantization the generator compiled, which ONNX Runtime fuses
    /// into QLinearConv/QGemm/QLinearAdd) and the generated INT8 code. ONNX Runtime runs with one intra-op thread,
    /// sequentially, through an I/O binding of pre-allocated input and output OrtValues, so what it allocates per
    /// run is its own.
    /// </summary>
    [MemoryDiagnoser]
    [CategoriesColumn]
    public abstract class ModelBenchmarks
    {
        public const string Fp32 = "FP32";
        public const string OrtInt8 = "INT8-ORT";
        public const string Generated = "NetQuantGen";
        public const string GeneratedW4 = "NetQuantGen-W4";

        private float[] _input = Array.Empty<float>();
        private float[] _output = Array.Empty<float>();
        private InferenceSession? _fp32, _int8;
        private OrtIoBinding? _fp32Binding, _int8Binding;
        private OrtValue? _fp32In, _fp32Out, _int8In, _int8Out;
        private RunOptions? _runOptions;
        private SessionOptions? _sessionOptions;

        /// <summary>The model's file name in samples/models without extension (e.g. "small_cnn").</summary>
        protected abstract string Model { get; }

        /// <summary>The statistics file in samples/models, as the [QuantizedModel] attribute names it.</summary>
        protected virtual string Calibration => Model + ".calib";

        /// <summary>The attribute's InputShape argument (null when the model's input is static).</summary>
        protected virtual string? InputShapeOption => null;

        protected abstract int[] InputShape { get; }

        protected abstract int OutputLength { get; }

        /// <summary>The generated code: float in, float out.</summary>
        protected abstract void RunGenerated(ReadOnlySpan<float> input, Span<float> output);

        /// <summary>
        /// The same model built with WeightBits = 4: another quantization (less accurate, ACCURACY.md), in which the
        /// compiler proves the uint8 × int8 byte kernel exact for most layers: what choosing kernels from the weights buys.
        /// </summary>
        protected abstract void RunGeneratedW4(ReadOnlySpan<float> input, Span<float> output);

        public static string RepositoryRoot { get; } =
            typeof(ModelBenchmarks).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == "RepositoryRoot").Value!;

        private string ModelsFolder => Path.Combine(RepositoryRoot, "samples", "models");

        [GlobalSetup]
        public void Setup()
        {
            var images = IdxFile.Read(Path.Combine(RepositoryRoot, "samples", "data", "t10k-images-idx3-ubyte.gz"));
            _input = InputPreprocessing.FitImage(images.ItemBytes(0), InputShape);
            _output = new float[OutputLength];
            RunGenerated(_input, _output); // the first call on a thread sets up its arena
            RunGeneratedW4(_input, _output);

            _sessionOptions = new SessionOptions
            {
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
                ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
                IntraOpNumThreads = 1,
                InterOpNumThreads = 1,
                LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
            };
            _runOptions = new RunOptions();
            string onnx = Path.Combine(ModelsFolder, Model + ".onnx");
            _fp32 = new InferenceSession(onnx, _sessionOptions);
            _int8 = new InferenceSession(ExportQdq(onnx), _sessionOptions);
            (_fp32Binding, _fp32In, _fp32Out) = Bind(_fp32);
            (_int8Binding, _int8In, _int8Out) = Bind(_int8);

            // The three agree on this image (class); a benchmark of a broken export would be worthless.
            OnnxRuntimeFp32();
            OnnxRuntimeInt8();
            NetQuantGenInt8();
            int fp32 = ArgMax(_fp32Out!.GetTensorDataAsSpan<float>()), int8 = ArgMax(_int8Out!.GetTensorDataAsSpan<float>()), ours = ArgMax(_output);
            if (int8 != ours)
                throw new InvalidOperationException($"{Model}: ONNX Runtime INT8 says class {int8}, the generated code {ours}; the QDQ export does not match the build.");
            Console.WriteLine($"// {Model}: class {ours} (ONNX Runtime FP32: {fp32}); input {string.Join("x", InputShape)}; ORT {OrtEnv.Instance().GetVersionString()}");
        }

        /// <summary>The QDQ model of the very quantization the generator compiled (same files, same options).</summary>
        private byte[] ExportQdq(string onnx)
        {
            var input = new ModelInput(Model + ".onnx", File.ReadAllBytes(onnx), Calibration, File.ReadAllBytes(Path.Combine(ModelsFolder, Calibration)),
                new CompilationOptions { InputShape = InputShapeOption }, new TargetClass(null, "Model", "public", true));
            // uint8 activations (zero-point + 128): the same quantization in the form ONNX Runtime's x86 kernels run,
            // which it fuses everywhere (from int8 it converts only tensors with a single consumer).
            var result = QdqExporter.Export(input, new QdqExportOptions { Activations = QdqActivationType.UInt8 });
            if (!result.Succeeded)
                throw new InvalidOperationException($"{Model}: QDQ export failed:\n{string.Join("\n", result.Diagnostics)}");
            return result.Model!;
        }

        private (OrtIoBinding, OrtValue, OrtValue) Bind(InferenceSession session)
        {
            var input = OrtValue.CreateTensorValueFromMemory(new float[_input.Length], InputShape.Select(d => (long)d).ToArray());
            _input.AsSpan().CopyTo(input.GetTensorMutableDataAsSpan<float>());
            var outputShape = session.OutputMetadata.Values.Single().Dimensions.Select(d => (long)Math.Max(1, d)).ToArray();
            var output = OrtValue.CreateTensorValueFromMemory(new float[OutputLength], outputShape);
            var binding = session.CreateIoBinding();
            binding.BindInput(session.InputNames.Single(), input);
            binding.BindOutput(session.OutputNames.Single(), output);
            return (binding, input, output);
        }

        [Benchmark(Baseline = true, Description = "ONNX Runtime FP32")]
        [BenchmarkCategory(Fp32)]
        public void OnnxRuntimeFp32() => _fp32!.RunWithBinding(_runOptions!, _fp32Binding!);

        [Benchmark(Description = "ONNX Runtime INT8 (QDQ)")]
        [BenchmarkCategory(OrtInt8)]
        public void OnnxRuntimeInt8() => _int8!.RunWithBinding(_runOptions!, _int8Binding!);

        [Benchmark(Description = "NetQuantGen INT8")]
        [BenchmarkCategory(Generated)]
        public void NetQuantGenInt8() => RunGenerated(_input, _output);

        [Benchmark(Description = "NetQuantGen W4A8 (byte kernel where proven)")]
        [BenchmarkCategory(GeneratedW4)]
        public void NetQuantGenW4() => RunGeneratedW4(_input, _output);

        [GlobalCleanup]
        public void Cleanup()
        {
            _fp32Binding?.Dispose();
            _int8Binding?.Dispose();
            _fp32In?.Dispose();
            _fp32Out?.Dispose();
            _int8In?.Dispose();
            _int8Out?.Dispose();
            _fp32?.Dispose();
            _int8?.Dispose();
            _runOptions?.Dispose();
            _sessionOptions?.Dispose();
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
