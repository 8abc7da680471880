using Microsoft.ML.Data;

namespace Pilot.Cli.Reporting;

/// <summary>Precision, recall and F1 of one class, from the confusion matrix.</summary>
/// <param name="Name">Class name.</param>
/// <param name="Precision">Correct predictions of the class ÷ all predictions of it; 0 when the class is never predicted.</param>
/// <param name="Recall">Correct predictions of the class ÷ its rows; 0 when the class has no rows.</param>
/// <param name="F1">Harmonic mean of precision and recall; 0 when both are 0.</param>
/// <param name="Support">Number of rows whose true label is the class.</param>
internal sealed record ClassScores(string Name, double Precision, double Recall, double F1, long Support);

/// <summary>
/// The metrics <c>pilot train</c> and <c>pilot evaluate</c> print: accuracy, macro-F1, log-loss, per-class
/// precision/recall/F1 and the confusion matrix.
/// </summary>
/// <remarks>
/// Per-class figures and macro-F1 are computed from the confusion matrix (ML.NET's metrics report neither F1 nor
/// precision for a class that is never predicted in a usable form). Convention for empty denominators: 0, as
/// scikit-learn's <c>zero_division=0</c>. Macro-F1 is the unweighted mean of the per-class F1 over every class of
/// the model, including classes absent from the evaluated rows.
/// </remarks>
internal sealed record ClassificationReport
{
    /// <summary>Class names in key order (row/column order of <see cref="Confusion"/>).</summary>
    public required IReadOnlyList<string> ClassNames { get; init; }

    /// <summary>Confusion counts: <c>Confusion[actual][predicted]</c>.</summary>
    public required IReadOnlyList<IReadOnlyList<long>> Confusion { get; init; }

    /// <summary>Fraction of rows predicted correctly (micro accuracy), in [0, 1].</summary>
    public required double Accuracy { get; init; }

    /// <summary>Unweighted mean of the per-class F1, in [0, 1].</summary>
    public required double MacroF1 { get; init; }

    /// <summary>Mean negative log-likelihood of the true class (ML.NET's <c>LogLoss</c>, natural log).</summary>
    public required double LogLoss { get; init; }

    /// <summary>Per-class precision, recall, F1 and support, in key order.</summary>
    public required IReadOnlyList<ClassScores> PerClass { get; init; }

    /// <summary>Number of evaluated rows.</summary>
    public long Rows => Confusion.Sum(r => r.Sum());

    /// <summary>Builds the report from a confusion matrix (<c>counts[actual][predicted]</c>, non-negative whole numbers).</summary>
    /// <exception cref="ArgumentException">The matrix is not square, does not match <paramref name="classNames"/>, or holds a negative or fractional count.</exception>
    public static ClassificationReport FromConfusionMatrix(
        IReadOnlyList<IReadOnlyList<double>> counts, IReadOnlyList<string> classNames, double logLoss)
    {
        int k = classNames.Count;
        if (counts.Count != k)
            throw new ArgumentException($"The confusion matrix has {counts.Count} rows but there are {k} class names.", nameof(counts));
        var matrix = new long[k][];
        for (int i = 0; i < k; i++)
        {
            if (counts[i].Count != k)
                throw new ArgumentException($"Row {i} of the confusion matrix has {counts[i].Count} columns; expected {k}.", nameof(counts));
            matrix[i] = new long[k];
            for (int j = 0; j < k; j++)
            {
                double c = counts[i][j];
                if (c < 0 || c != Math.Floor(c))
                    throw new ArgumentException($"Confusion count [{i}][{j}] must be a non-negative whole number; got {c}.", nameof(counts));
                matrix[i][j] = (long)c;
            }
        }

        var perClass = new ClassScores[k];
        long correct = 0, total = 0;
        for (int c = 0; c < k; c++)
        {
            long truePositive = matrix[c][c];
            long support = matrix[c].Sum();
            long predicted = 0;
            for (int i = 0; i < k; i++)
                predicted += matrix[i][c];
            double precision = predicted == 0 ? 0 : (double)truePositive / predicted;
            double recall = support == 0 ? 0 : (double)truePositive / support;
            double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            perClass[c] = new ClassScores(classNames[c], precision, recall, f1, support);
            correct += truePositive;
            total += support;
        }

        return new ClassificationReport
        {
            ClassNames = classNames,
            Confusion = matrix,
            Accuracy = total == 0 ? 0 : (double)correct / total,
            MacroF1 = k == 0 ? 0 : perClass.Average(p => p.F1),
            LogLoss = logLoss,
            PerClass = perClass,
        };
    }

    /// <summary>Builds the report from ML.NET's multiclass metrics; <paramref name="classNames"/> in key order.</summary>
    public static ClassificationReport FromMetrics(MulticlassClassificationMetrics metrics, IReadOnlyList<string> classNames)
        => FromConfusionMatrix(metrics.ConfusionMatrix.Counts, classNames, metrics.LogLoss);
}
