using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.IR;

namespace NetQuantGen.Cli.Optimization
{
    /// <summary>
    /// The input patches one Conv/Gemm/MatMul node multiplies its weights with (im2col), for a fixed random
    /// choice of output positions over the samples, so that the float and the quantized network's patches come
    /// from the same places. Also accumulates the mean patch over every position (for bias correction).
    /// </summary>
    internal sealed class PatchSampler
    {
        private readonly int _channels, _height, _width, _kernelH, _kernelW, _outH, _outW;
        private readonly Window? _window;
        private readonly int[] _chosen; // sorted global position indices: sample·PositionsPerSample + position

        public PatchSampler(Node node, int samples, int patches, int seed)
        {
            Node = node;
            var x = node.Input(0).Shape;
            if (node.Op is Conv conv)
            {
                var w = node.Input(1).Constant!.Shape;
                Groups = conv.Group;
                _channels = x[1];
                _height = x[2];
                _width = x[3];
                _kernelH = w[2];
                _kernelW = w[3];
                _outH = node.Output.Shape[2];
                _outW = node.Output.Shape[3];
                _window = conv.Window;
                Inputs = _channels / Groups * _kernelH * _kernelW;
                PositionsPerSample = _outH * _outW;
            }
            else
            {
                // Gemm / MatMul on a [rows, K] activation: each row is a patch.
                Groups = 1;
                Inputs = x[1];
                PositionsPerSample = x[0];
            }
            long total = (long)samples * PositionsPerSample;
            var random = new Random(seed);
            if (total <= patches) _chosen = Enumerable.Range(0, (int)total).ToArray();
            else
            {
                var set = new HashSet<int>();
                while (set.Count < patches) set.Add((int)(random.NextDouble() * total));
                _chosen = set.OrderBy(i => i).ToArray();
            }
            Patches = _chosen.Length;
        }

        public Node Node { get; }

        public int Groups { get; }

        /// <summary>K: inputs per patch.</summary>
        public int Inputs { get; }

        public int PositionsPerSample { get; }

        public int Patches { get; }

        /// <summary>New storage: per group, [K, P].</summary>
        public float[][] NewStorage() => Enumerable.Range(0, Groups).Select(_ => new float[Inputs * Patches]).ToArray();

        public double[][] NewMeans() => Enumerable.Range(0, Groups).Select(_ => new double[Inputs]).ToArray();

        /// <summary>
        /// Writes the chosen patches of <paramref name="sample"/> (whose input tensor is <paramref name="input"/>) into
        /// <paramref name="storage"/> and adds every patch of it to <paramref name="sums"/>.
        /// </summary>
        public void Collect(int sample, float[] input, float[][] storage, double[][] sums)
        {
            int first = Array.BinarySearch(_chosen, sample * PositionsPerSample);
            if (first < 0) first = ~first;
            var patch = new float[Inputs];
            for (int position = 0, next = first; position < PositionsPerSample; position++)
            {
                bool chosen = next < _chosen.Length && _chosen[next] == sample * PositionsPerSample + position;
                for (int g = 0; g < Groups; g++)
                {
                    Extract(input, position, g, patch);
                    var sum = sums[g];
                    for (int t = 0; t < Inputs; t++) sum[t] += patch[t];
                    if (chosen)
                        for (int t = 0; t < Inputs; t++) storage[g][t * Patches + next] = patch[t];
                }
                if (chosen) next++;
            }
        }

        private void Extract(float[] input, int position, int group, float[] patch)
        {
            if (_window == null)
            {
                Array.Copy(input, position * Inputs, patch, 0, Inputs);
                return;
            }
            int oy = position / _outW, ox = position % _outW;
            int perGroup = _channels / Groups, t = 0;
            for (int ci = 0; ci < perGroup; ci++)
            {
                int channel = group * perGroup + ci;
                for (int ky = 0; ky < _kernelH; ky++)
                {
                    int iy = oy * _window.Strides[0] - _window.PadBegin(0) + ky * _window.Dilations[0];
                    for (int kx = 0; kx < _kernelW; kx++, t++)
                    {
                        int ix = ox * _window.Strides[1] - _window.PadBegin(1) + kx * _window.Dilations[1];
                        patch[t] = iy < 0 || iy >= _height || ix < 0 || ix >= _width ? 0 : input[(channel * _height + iy) * _width + ix];
                    }
                }
            }
        }
    }
}
