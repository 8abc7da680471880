using System.Globalization;
using Spectre.Console;

namespace Pilot.Cli.Reporting;

/// <summary>Renders a <see cref="ClassificationReport"/> as tables: a summary, per-class scores, the confusion matrix.</summary>
internal static class MetricsTable
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Writes <paramref name="title"/> on a line of its own, then the three tables, to <paramref name="console"/>.</summary>
    public static void Write(IAnsiConsole console, ClassificationReport report, string title)
    {
        console.WriteLine();
        console.WriteLine(title);
        var summary = new Table()
            .AddColumn("metric").AddColumn(new TableColumn("value").RightAligned());
        summary.AddRow("accuracy", Percent(report.Accuracy));
        summary.AddRow("macro-F1", Fixed(report.MacroF1, 4));
        summary.AddRow("log-loss", Fixed(report.LogLoss, 4));
        summary.AddRow("rows", report.Rows.ToString("N0", Inv));
        console.Write(summary);

        var perClass = new Table()
            .AddColumn(new TableColumn("#").RightAligned()).AddColumn("class")
            .AddColumn(new TableColumn("precision").RightAligned()).AddColumn(new TableColumn("recall").RightAligned())
            .AddColumn(new TableColumn("F1").RightAligned()).AddColumn(new TableColumn("support").RightAligned());
        for (int c = 0; c < report.PerClass.Count; c++)
        {
            var s = report.PerClass[c];
            perClass.AddRow(c.ToString(Inv), Markup.Escape(s.Name), Fixed(s.Precision, 4), Fixed(s.Recall, 4), Fixed(s.F1, 4),
                s.Support.ToString("N0", Inv));
        }
        console.Write(perClass);

        // Columns are headed by class number so that ten classes fit in 80 columns; rows carry the names.
        var confusion = new Table { Caption = new TableTitle("rows: actual class, columns: predicted class") }
            .AddColumn("actual \\ predicted");
        for (int c = 0; c < report.ClassNames.Count; c++)
            confusion.AddColumn(new TableColumn(c.ToString(Inv)).RightAligned());
        for (int a = 0; a < report.ClassNames.Count; a++)
        {
            var cells = new List<string> { Markup.Escape($"{a} {report.ClassNames[a]}") };
            for (int p = 0; p < report.ClassNames.Count; p++)
            {
                string n = report.Confusion[a][p].ToString(Inv);
                cells.Add(a == p ? $"[bold]{n}[/]" : n);
            }
            confusion.AddRow(cells.ToArray());
        }
        console.Write(confusion);
    }

    /// <summary>Formats a fraction in [0, 1] as a percentage with two decimals, e.g. <c>91.23%</c>.</summary>
    public static string Percent(double fraction) => (100 * fraction).ToString("F2", Inv) + "%";

    private static string Fixed(double value, int decimals) => value.ToString("F" + decimals, Inv);
}
