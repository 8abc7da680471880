using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Data.IO;
using Microsoft.ML.Runtime;

namespace Pilot.MLNet.ModelFile;

/// <summary>
/// The key values (class names) of the training label column: the <see cref="AnnotationUtils.Kinds.KeyValues"/> annotation's
/// type and value, kept so the model can annotate <c>PredictedLabel</c> and <c>Score</c> without the training data.
/// </summary>
internal sealed class LabelKeyValues
{
    private readonly object _value; // VBuffer<T> of Type.ItemType.RawType

    private LabelKeyValues(VectorDataViewType type, object value)
    {
        Type = type;
        _value = value;
    }

    /// <summary>Type of the key values: a known-size vector, one value per class.</summary>
    public VectorDataViewType Type { get; }

    /// <summary>The key values of a key-typed column, or <see langword="null"/> when it has none.</summary>
    public static LabelKeyValues? FromColumn(DataViewSchema.Column column)
    {
        var annotation = column.Annotations.Schema.GetColumnOrNull(AnnotationUtils.Kinds.KeyValues);
        if (annotation is not { Type: VectorDataViewType { IsKnownSize: true } type })
            return null;
        var read = typeof(LabelKeyValues).GetMethod(nameof(ReadAnnotation), BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(type.ItemType.RawType);
        return new LabelKeyValues(type, read.Invoke(null, [column.Annotations, annotation.Value])!);
    }

    private static object ReadAnnotation<T>(DataViewSchema.Annotations annotations, DataViewSchema.Column annotation)
    {
        VBuffer<T> value = default;
        annotations.GetGetter<VBuffer<T>>(annotation)(ref value);
        VBuffer<T> copy = default;
        value.CopyTo(ref copy);
        return copy;
    }

    /// <summary>A <c>ValueGetter&lt;VBuffer&lt;T&gt;&gt;</c> returning a copy of the values, for annotation builders.</summary>
    public Delegate Getter =>
        typeof(LabelKeyValues).GetMethod(nameof(MakeGetter), BindingFlags.NonPublic | BindingFlags.Instance)!
            .MakeGenericMethod(Type.ItemType.RawType).Invoke(this, null) as Delegate ?? throw new InvalidOperationException();

    private ValueGetter<VBuffer<T>> MakeGetter<T>()
    {
        var value = (VBuffer<T>)_value;
        return (ref VBuffer<T> destination) => value.CopyTo(ref destination);
    }

    /// <summary>The key values as strings (class i = key value i + 1).</summary>
    public IReadOnlyList<string> ToStrings()
    {
        var method = typeof(LabelKeyValues).GetMethod(nameof(ToStringsCore), BindingFlags.NonPublic | BindingFlags.Instance)!
            .MakeGenericMethod(Type.ItemType.RawType);
        return (IReadOnlyList<string>)method.Invoke(this, null)!;
    }

    private IReadOnlyList<string> ToStringsCore<T>() =>
        ((VBuffer<T>)_value).DenseValues().Select(v => v?.ToString() ?? "").ToArray();

    /// <summary>Writes the type and value with ML.NET's <see cref="BinarySaver"/> (the format ML.NET's own transformers use).</summary>
    public void Save(IHostEnvironment env, Stream stream)
    {
        var method = typeof(LabelKeyValues).GetMethod(nameof(SaveCore), BindingFlags.NonPublic | BindingFlags.Instance)!
            .MakeGenericMethod(Type.ItemType.RawType);
        try
        {
            method.Invoke(this, [env, stream]);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw e.InnerException;
        }
    }

    private void SaveCore<T>(IHostEnvironment env, Stream stream)
    {
        var saver = new BinarySaver(env, new BinarySaver.Arguments());
        var value = (VBuffer<T>)_value;
        if (!saver.TryWriteTypeAndValue(stream, Type, ref value, out _))
            throw new NotSupportedException($"Label key values of type {Type.ItemType} cannot be saved in a model.");
    }

    /// <summary>Reads what <see cref="Save"/> wrote, checking there is one value per class.</summary>
    /// <exception cref="InvalidDataException">The stored values are unreadable or their count is not <paramref name="classCount"/>.</exception>
    public static LabelKeyValues Load(IHostEnvironment env, Stream stream, int classCount)
    {
        var saver = new BinarySaver(env, new BinarySaver.Arguments());
        if (!saver.TryLoadTypeAndValue(stream, out var type, out var value) || type is not VectorDataViewType vector || value is null)
            throw new InvalidDataException("The model's label key values are unreadable.");
        if (!vector.IsKnownSize || vector.Size != classCount)
            throw new InvalidDataException($"The model stores {vector.Size} label key values for {classCount} classes.");
        return new LabelKeyValues(vector, value);
    }
}
