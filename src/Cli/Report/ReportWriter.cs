using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Text;

namespace NetQuantGen.Cli.Report
{
    /// <summary>Writes a <see cref="QuantizationReport"/> as text, and as an HTML page with PNG plots (ScottPlot) in one folder.</summary>
    public static class ReportWriter
    {
        public const string PageName = "report.html";
        public const string TextName = "report.txt";

        /// <summary>Writes report.txt, report.html and the plots into <paramref name="folder"/>; returns the text.</summary>
        public static string Write(QuantizationReport report, string folder)
        {
            Directory.CreateDirectory(folder);
            string text = Text(report);
            File.WriteAllText(Path.Combine(folder, TextName), text);
            var histogramFiles = report.Tensors.Select((t, i) => PlotHistogram(t, folder, i)).ToList();
            string before = PlotRanges(report.Before, "before", $"{report.Before.Node}: per-channel weight ranges after the build's passes", folder);
            string after = PlotRanges(report.After, "after", $"{report.After.Node}: per-channel weight ranges after {QuantizationReport.EqualizationPass}", folder);
            File.WriteAllText(Path.Combine(folder, PageName), Html(report, histogramFiles, before, after));
            return text;
        }

        public static string Text(QuantizationReport report)
        {
            var s = new StringBuilder();
            s.AppendLine($"Quantization report: {report.ModelName}");
            s.AppendLine($"Settings: {report.Settings}");
            if (report.Optimization.Length > 0) s.AppendLine($"Optimized weights/biases: {report.Optimization}");
            s.AppendLine(report.Images > 0 ? $"Activation SQNR over {report.Images} images (float vs integer reference executors)." : "No --data: activation SQNR not computed.");
            s.AppendLine();
            s.AppendLine("Layer SQNR (dB)");
            s.AppendLine(Row("node", "kind", "channels", "weights", "output"));
            foreach (var l in report.Layers) s.AppendLine(Row(l.Node, l.Kind, Num(l.OutputChannels), Db(l.WeightSqnr), Db(l.OutputSqnr)));
            s.AppendLine();
            s.AppendLine("Activation ranges (observed [min, max] -> chosen clipping range)");
            s.AppendLine(Row("tensor", "observed", "chosen", "clipped", "SQNR"));
            foreach (var t in report.Tensors)
                s.AppendLine(Row(t.Name, $"[{G(t.Statistics.Min)}, {G(t.Statistics.Max)}]", $"[{G(t.Chosen.Min)}, {G(t.Chosen.Max)}]",
                    (100 * ClippedFraction(t)).ToString("F3", CultureInfo.InvariantCulture) + "%", Db(t.Sqnr)));
            s.AppendLine();
            s.AppendLine($"Per-channel weight ranges of {report.Before.Node} (white paper Figure 5): widest/narrowest channel range {G(Spread(report.Before))} before" +
                $", {G(Spread(report.After))} after {QuantizationReport.EqualizationPass}.");
            return s.ToString();
        }

        /// <summary>Fraction of the calibration elements outside the chosen range (from the histogram).</summary>
        private static double ClippedFraction(TensorFigures t)
        {
            var h = t.Statistics.Histogram;
            if (h.Total == 0 || !(h.Max > h.Min)) return 0;
            double width = (h.Max - h.Min) / h.Counts.Count;
            double outside = 0;
            for (int i = 0; i < h.Counts.Count; i++)
            {
                double center = h.Min + (i + 0.5) * width;
                if (center < t.Chosen.Min || center > t.Chosen.Max) outside += h.Counts[i];
            }
            return outside / h.Total;
        }

        private static double Spread(ChannelRanges r)
        {
            var widths = r.Min.Zip(r.Max, (a, b) => (double)b - a).Where(w => w > 0).ToList();
            return widths.Count == 0 ? 1 : widths.Max() / widths.Min();
        }

        private static string PlotHistogram(TensorFigures t, string folder, int index)
        {
            var h = t.Statistics.Histogram;
            const int bars = 128; // the 2048 bins summed in groups, so bars stay visible
            int group = Math.Max(1, h.Counts.Count / bars);
            double width = (h.Max - h.Min) / h.Counts.Count * group;
            var positions = new List<double>();
            var heights = new List<double>();
            for (int i = 0; i < h.Counts.Count; i += group)
            {
                ulong sum = 0;
                for (int j = i; j < Math.Min(h.Counts.Count, i + group); j++) sum += h.Counts[j];
                positions.Add(h.Min + (i / group + 0.5) * width);
                heights.Add(Math.Log10(1 + sum));
            }
            var plot = new ScottPlot.Plot();
            var barPlot = plot.Add.Bars(positions.ToArray(), heights.ToArray());
            foreach (var bar in barPlot.Bars)
            {
                bar.Size = width > 0 ? width : 1;
                bar.LineWidth = 0;
            }
            var low = plot.Add.VerticalLine(t.Chosen.Min, 2, ScottPlot.Colors.Red);
            low.LegendText = "chosen range";
            plot.Add.VerticalLine(t.Chosen.Max, 2, ScottPlot.Colors.Red);
            plot.Title(Shorten(t.Name));
            plot.XLabel("value");
            plot.YLabel("log10(1 + count)");
            plot.ShowLegend();
            string file = $"histogram_{index:D3}.png";
            plot.SavePng(Path.Combine(folder, file), 520, 300);
            return file;
        }

        private static string PlotRanges(ChannelRanges r, string name, string title, string folder)
        {
            var plot = new ScottPlot.Plot();
            var bars = r.Min.Select((min, c) => new ScottPlot.Bar { Position = c, ValueBase = min, Value = r.Max[c], Size = 0.7 }).ToList();
            plot.Add.Bars(bars);
            plot.Add.HorizontalLine(0, 1, ScottPlot.Colors.Gray);
            plot.Title(title);
            plot.XLabel("output channel");
            plot.YLabel("weight range [min, max]");
            string file = $"channel_ranges_{name}.png";
            plot.SavePng(Path.Combine(folder, file), 1000, 320);
            return file;
        }

        private static string Html(QuantizationReport report, IReadOnlyList<string> histograms, string before, string after)
        {
            string E(string s) => WebUtility.HtmlEncode(s);
            var s = new StringBuilder();
            s.AppendLine("<!DOCTYPE html>");
            s.AppendLine("<html lang=\"en\"><head><meta charset=\"utf-8\">");
            s.AppendLine($"<title>Quantization report: {E(report.ModelName)}</title>");
            s.AppendLine("<style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #bbb;padding:3px 8px;font-size:13px}" +
                "td.n{text-align:right}.grid{display:flex;flex-wrap:wrap;gap:8px}.grid img{border:1px solid #ddd}</style></head><body>");
            s.AppendLine($"<h1>Quantization report: {E(report.ModelName)}</h1>");
            s.AppendLine($"<p>{E(report.Settings)}</p>");
            if (report.Optimization.Length > 0) s.AppendLine($"<p>Optimized weights/biases: {E(report.Optimization)}</p>");
            s.AppendLine($"<p>{(report.Images > 0 ? $"Activation SQNR over {report.Images} images (float vs integer reference executors)." : "No --data: activation SQNR not computed.")}</p>");
            s.AppendLine("<h2>Per-layer SQNR</h2><table><tr><th>node</th><th>kind</th><th>channels</th><th>weights (dB)</th><th>output (dB)</th></tr>");
            foreach (var l in report.Layers)
                s.AppendLine($"<tr><td>{E(l.Node)}</td><td>{E(l.Kind)}</td><td class=\"n\">{l.OutputChannels}</td><td class=\"n\">{Db(l.WeightSqnr)}</td><td class=\"n\">{Db(l.OutputSqnr)}</td></tr>");
            s.AppendLine("</table>");
            s.AppendLine("<h2>Per-channel weight ranges before and after cross-layer equalization</h2>");
            s.AppendLine($"<p><img src=\"{before}\" alt=\"before\"></p><p><img src=\"{after}\" alt=\"after\"></p>");
            s.AppendLine("<h2>Activation histograms and chosen clipping ranges</h2><table><tr><th>tensor</th><th>observed</th><th>chosen</th><th>clipped</th><th>SQNR (dB)</th></tr>");
            foreach (var t in report.Tensors)
                s.AppendLine($"<tr><td>{E(t.Name)}</td><td>[{G(t.Statistics.Min)}, {G(t.Statistics.Max)}]</td><td>[{G(t.Chosen.Min)}, {G(t.Chosen.Max)}]</td><td class=\"n\">{(100 * ClippedFraction(t)).ToString("F3", CultureInfo.InvariantCulture)}%</td><td class=\"n\">{Db(t.Sqnr)}</td></tr>");
            s.AppendLine("</table><div class=\"grid\">");
            foreach (var file in histograms) s.AppendLine($"<img src=\"{file}\" alt=\"{file}\">");
            s.AppendLine("</div></body></html>");
            return s.ToString();
        }

        private static string Row(params string[] cells) => string.Join("  ", cells.Select((c, i) => i == 0 ? c.PadRight(44) : c.PadLeft(i == 1 ? 24 : 12)));

        private static string Db(double? x) => x == null ? "n/a" : double.IsPositiveInfinity(x.Value) ? "inf" : x.Value.ToString("F1", CultureInfo.InvariantCulture);

        private static string Num(int x) => x.ToString(CultureInfo.InvariantCulture);

        private static string G(double x) => x.ToString("G5", CultureInfo.InvariantCulture);

        private static string Shorten(string name) => name.Length > 46 ? "..." + name.Substring(name.Length - 43) : name;
    }
}
