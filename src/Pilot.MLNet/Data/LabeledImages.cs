using Microsoft.ML;

namespace Pilot.MLNet.Data;

/// <summary>
/// A data set of labelled images as an <see cref="IDataView"/>: a <c>Label</c> column (string class name) and an
/// <c>Image</c> column (fixed-size vector of bytes, <see cref="Shape"/> in CHW order), ready for
/// <c>MapValueToKey("Label")</c> and <c>mlContext.Pilot.ImageClassification</c> with <c>ImageShape = Shape</c>.
/// </summary>
/// <param name="Data">The rows.</param>
/// <param name="Shape">The shape of every image.</param>
/// <param name="ClassNames">Class names in label order (index = the label number in the source file).</param>
public sealed record LabeledImages(IDataView Data, ImageShape Shape, IReadOnlyList<string> ClassNames);
