using System;
using System.Security.Cryptography;
using System.Text;

namespace NetQuantGen.Calibration
{
    /// <summary>The model fingerprint stored in statistics files: SHA-256 of the ONNX file's bytes.</summary>
    public static class ModelHash
    {
        /// <summary>SHA-256 of <paramref name="bytes"/> as 64 lowercase hex digits.</summary>
        public static string Sha256Hex(byte[] bytes)
        {
            if (bytes == null) throw new ArgumentNullException(nameof(bytes));
            byte[] hash;
            using (var sha = SHA256.Create())
                hash = sha.ComputeHash(bytes);
            var text = new StringBuilder(hash.Length * 2);
            foreach (byte b in hash) text.Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
            return text.ToString();
        }

        /// <summary>True for 64 hex digits (either case).</summary>
        public static bool IsSha256Hex(string? text)
        {
            if (text == null || text.Length != 64) return false;
            foreach (char c in text)
                if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F')) return false;
            return true;
        }
    }
}
