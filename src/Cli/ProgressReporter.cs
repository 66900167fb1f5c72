using System;
using System.Diagnostics;
using System.Globalization;
using NetQuantGen.Calibration;

namespace NetQuantGen.Cli
{
    /// <summary>
    /// Calibration progress on stderr: a bar redrawn in place (at most ten times a second) when stderr is a
    /// terminal; otherwise a few plain lines (every quarter of each pass) that read well in CI logs.
    /// </summary>
    internal sealed class ProgressReporter
    {
        private const int BarWidth = 30;
        private static readonly string[] PassNames = { "ranges", "histograms" };

        private readonly Output _output;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private long _lastDraw = long.MinValue;
        private int _lastPass;
        private int _lastQuarter;
        private bool _barShown;

        public ProgressReporter(Output output) => _output = output;

        public void Report(CalibrationProgress p)
        {
            if (_output.ErrorIsTerminal) DrawBar(p);
            else WriteLine(p);
        }

        /// <summary>Ends the bar's line so that what follows starts on a fresh one.</summary>
        public void Finish()
        {
            if (_barShown) _output.Error.WriteLine();
            _barShown = false;
        }

        private void DrawBar(CalibrationProgress p)
        {
            long now = _clock.ElapsedMilliseconds;
            bool last = p.Total is long t && p.Done >= t;
            if (!last && now - _lastDraw < 100 && p.Pass == _lastPass) return;
            _lastDraw = now;
            _lastPass = p.Pass;
            double fraction = p.Fraction ?? 0;
            int filled = (int)Math.Round(fraction * BarWidth);
            string bar = new string('#', filled) + new string('-', BarWidth - filled);
            string total = p.Total is long n ? "/" + n.ToString(CultureInfo.InvariantCulture) : "";
            string eta = "";
            if (p.Fraction is double f && f > 0.02 && f < 1)
                eta = string.Format(CultureInfo.InvariantCulture, ", ~{0:F0} s left", _clock.Elapsed.TotalSeconds * (1 - f) / f);
            _output.Error.Write(string.Format(CultureInfo.InvariantCulture, "\r[{0}] {1,3:F0}% pass {2}/{3} ({4}) {5}{6} samples, {7:F1} s{8}   ",
                bar, fraction * 100, p.Pass, CalibrationProgress.PassCount, PassNames[p.Pass - 1], p.Done, total, _clock.Elapsed.TotalSeconds, eta));
            _output.Error.Flush();
            _barShown = true;
        }

        private void WriteLine(CalibrationProgress p)
        {
            if (p.Pass != _lastPass)
            {
                _lastPass = p.Pass;
                _lastQuarter = 0;
            }
            if (p.Total is not long total || total <= 0) return;
            int quarter = (int)(4 * p.Done / total);
            if (quarter <= _lastQuarter) return;
            _lastQuarter = quarter;
            _output.Error.WriteLine(string.Format(CultureInfo.InvariantCulture, "calibrate: pass {0}/{1} ({2}): {3}/{4} samples, {5:F1} s",
                p.Pass, CalibrationProgress.PassCount, PassNames[p.Pass - 1], p.Done, total, _clock.Elapsed.TotalSeconds));
        }
    }
}
