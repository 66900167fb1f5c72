using System;
using System.Globalization;
using System.Text;

namespace NetQuantGen.Emit
{
    /// <summary>An indented text writer; every number goes through the invariant culture so output never depends on the machine.</summary>
    public sealed class SourceWriter
    {
        private readonly StringBuilder _text = new();
        private int _indent;

        public SourceWriter Line(string line = "")
        {
            if (line.Length > 0) _text.Append(' ', 4 * _indent).Append(line);
            _text.Append('\n');
            return this;
        }

        public SourceWriter Open(string line)
        {
            Line(line);
            Line("{");
            _indent++;
            return this;
        }

        public SourceWriter Close(string suffix = "")
        {
            _indent--;
            return Line("}" + suffix);
        }

        public IDisposable Block(string line)
        {
            Open(line);
            return new Closer(this);
        }

        public override string ToString() => _text.ToString();

        public static string Int(long value) => value.ToString(CultureInfo.InvariantCulture);

        /// <summary>A float literal that round-trips exactly.</summary>
        public static string Float(float value)
        {
            if (float.IsPositiveInfinity(value)) return "float.PositiveInfinity";
            if (float.IsNegativeInfinity(value)) return "float.NegativeInfinity";
            if (float.IsNaN(value)) return "float.NaN";
            return value.ToString("R", CultureInfo.InvariantCulture) + "f";
        }

        public static string Ints(System.Collections.Generic.IEnumerable<int> values) =>
            string.Join(", ", System.Linq.Enumerable.Select(values, v => Int(v)));

        public static string Floats(System.Collections.Generic.IEnumerable<float> values) =>
            string.Join(", ", System.Linq.Enumerable.Select(values, Float));

        private sealed class Closer : IDisposable
        {
            private readonly SourceWriter _writer;

            public Closer(SourceWriter writer) => _writer = writer;

            public void Dispose() => _writer.Close();
        }
    }
}
