using System;
using System.Collections.Generic;
using System.IO;
using NetQuantGen.Runtime.Data;

namespace NetQuantGen.Cli
{
    /// <summary>Opens what --data names: a .npy array, an IDX file (gzip or not), or a folder of images.</summary>
    internal static class DataSources
    {
        public const string DataHelp =
            "Calibration samples: a .npy array (float32 or uint8, samples first), an IDX file (.gz or not, e.g. Fashion-MNIST images), or a folder of images (PNG, JPEG, BMP, WebP, GIF, PGM/PPM; read in sorted path order).";

        /// <summary>Opens the data; throws <see cref="IOException"/> / <see cref="InvalidDataException"/> with a message naming it.</summary>
        public static IDataSet Open(string path)
        {
            if (Directory.Exists(path)) return new ImageFolder(path, new SkiaImageDecoder());
            if (!File.Exists(path)) throw new FileNotFoundException($"'{path}' does not exist.", path);
            if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)) return NpyFile.Open(path);
            var idx = IdxFile.Read(path);
            if (idx.Dimensions.Length == 1)
                throw new InvalidDataException($"IDX file '{Path.GetFileName(path)}' is one-dimensional ({idx.Count} values): a labels file, not images; give the images file.");
            return idx;
        }

        /// <summary>
        /// The first <paramref name="count"/> samples fitted to <paramref name="inputShape"/>, lazily, in one
        /// buffer reused for every sample (the calibrator never keeps a sample).
        /// </summary>
        public static IEnumerable<float[]> Samples(IDataSet data, int count, int[] inputShape)
        {
            long length = 1;
            foreach (int d in inputShape) length *= d;
            var buffer = new float[length];
            for (int i = 0; i < count; i++)
            {
                DataItem item;
                try
                {
                    item = data.Read(i);
                    InputPreprocessing.Fit(item, inputShape, buffer);
                }
                catch (ArgumentException e)
                {
                    throw new InvalidDataException($"sample {i}: {e.Message}", e);
                }
                yield return buffer;
            }
        }
    }
}
