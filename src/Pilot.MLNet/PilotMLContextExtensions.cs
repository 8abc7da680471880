using Pilot.MLNet;

namespace Microsoft.ML;

/// <summary>Adds <c>mlContext.Pilot</c>, the catalog of Pilot.MLNet's trainers, to <see cref="MLContext"/>.</summary>
public static class PilotMLContextExtensions
{
    /// <param name="mlContext">The ML.NET context.</param>
    extension(MLContext mlContext)
    {
        /// <summary>Pilot.MLNet's trainers: <c>mlContext.Pilot.ImageClassification(...)</c>.</summary>
        public PilotCatalog Pilot => new(mlContext ?? throw new ArgumentNullException(nameof(mlContext)));
    }
}
