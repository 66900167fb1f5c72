using System;
using System.Collections.Generic;
using System.Globalization;

namespace NetQuantGen.Quantization
{
    /// <summary>
    /// The per-layer width options by node name: LayerWeightBits ("conv1=4,fc=8", 2 to 8 bits) and
    /// LayerActivationBits ("conv1=16", 8 or 16 bits for the node's output activation).
    /// </summary>
    public static class LayerBitWidths
    {
        public const int MinBits = 2;
        public const int MaxBits = 8;

        /// <summary>Parses LayerWeightBits; returns null on success, otherwise what is wrong (blank text is an empty map).</summary>
        public static string? TryParse(string text, out IReadOnlyDictionary<string, int> bits) =>
            TryParse(text, out bits, b => b >= MinBits && b <= MaxBits, $"weights are {MinBits} to {MaxBits} bits wide", "conv1=4,fc=8");

        /// <summary>Parses LayerActivationBits; returns null on success, otherwise what is wrong.</summary>
        public static string? TryParseActivations(string text, out IReadOnlyDictionary<string, int> bits) =>
            TryParse(text, out bits, ActivationQuantizer.IsSupportedWidth, "activations are 8 or 16 bits wide", "conv1=16,fc=8");

        private static string? TryParse(string text, out IReadOnlyDictionary<string, int> bits, Func<int, bool> allowed, string widths, string example)
        {
            var map = new Dictionary<string, int>(StringComparer.Ordinal);
            bits = map;
            if (string.IsNullOrWhiteSpace(text)) return null;
            foreach (var entry in text.Split(','))
            {
                int equals = entry.LastIndexOf('=');
                string name = equals < 0 ? "" : entry.Substring(0, equals).Trim();
                string width = equals < 0 ? "" : entry.Substring(equals + 1).Trim();
                if (name.Length == 0 || !int.TryParse(width, NumberStyles.None, CultureInfo.InvariantCulture, out int b))
                    return $"'{entry.Trim()}' is not of the form node=bits (e.g. \"{example}\").";
                if (!allowed(b))
                    return $"layer '{name}' has {b} bits; {widths}.";
                if (map.ContainsKey(name)) return $"layer '{name}' is given twice.";
                map[name] = b;
            }
            return null;
        }
    }
}
