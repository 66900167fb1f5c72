using System;
using System.Collections.Generic;
using System.Globalization;

namespace NetQuantGen.Quantization
{
    /// <summary>The LayerWeightBits option, "conv1=4,fc=8": weight bit-widths by node name.</summary>
    public static class LayerBitWidths
    {
        public const int MinBits = 2;
        public const int MaxBits = 8;

        /// <summary>Parses the option; returns null on success, otherwise what is wrong (blank text is an empty map).</summary>
        public static string? TryParse(string text, out IReadOnlyDictionary<string, int> bits)
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
                    return $"'{entry.Trim()}' is not of the form node=bits (e.g. \"conv1=4,fc=8\").";
                if (b < MinBits || b > MaxBits)
                    return $"layer '{name}' has {b} bits; weights are {MinBits} to {MaxBits} bits wide.";
                if (map.ContainsKey(name)) return $"layer '{name}' is given twice.";
                map[name] = b;
            }
            return null;
        }
    }
}
