using Microsoft.ML;
using Microsoft.ML.OnnxRuntime;

namespace Pilot.MLNet.Tests.Onnx;

/// <summary>
/// Scoring an exported model from a file, as a user without TorchSharp would: ONNX Runtime's <see cref="InferenceSession"/>
/// or ML.NET's <c>ApplyOnnxModel</c>. A file that is not a valid ONNX model gives an <see cref="InvalidDataException"/>
/// whose message names the file and carries ONNX Runtime's own message. (samples/score-onnx.cs does the same, on its own:
/// it references no project.)
/// </summary>
internal static class OnnxScoring
{
    /// <summary>Opens an ONNX Runtime session on <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">ONNX Runtime cannot load the file; the message names it.</exception>
    public static InferenceSession OpenSession(string path)
    {
        RequireFile(path);
        try
        {
            return new InferenceSession(path);
        }
        catch (OnnxRuntimeException e)
        {
            throw NotAModel(path, e);
        }
    }

    /// <summary>
    /// A fitted ML.NET transformer that applies the model in <paramref name="path"/> to the column
    /// <paramref name="inputColumn"/> (float vector of C·H·W pixel values in [0, 255]) and adds the float vector column
    /// <paramref name="outputColumn"/> (the class probabilities).
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">ONNX Runtime cannot load the file; the message names it.</exception>
    public static ITransformer LoadTransformer(MLContext mlContext, string path, IDataView input, string inputColumn, string outputColumn)
    {
        RequireFile(path);
        try
        {
            return mlContext.Transforms.ApplyOnnxModel(outputColumnName: outputColumn, inputColumnName: inputColumn, modelFile: path).Fit(input);
        }
        catch (Exception e) when (FindOnnxRuntimeError(e) is { } ort)
        {
            throw NotAModel(path, ort);
        }
    }

    private static void RequireFile(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"The ONNX model file '{path}' does not exist.", path);
    }

    private static InvalidDataException NotAModel(string path, Exception onnxRuntimeError) =>
        new($"'{path}' is not a valid ONNX model: {onnxRuntimeError.Message}", onnxRuntimeError);

    // ML.NET wraps ONNX Runtime's exception (in an InvalidOperationException); find the original for its message.
    private static OnnxRuntimeException? FindOnnxRuntimeError(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is OnnxRuntimeException ort)
                return ort;
        }
        return null;
    }
}
