using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using TorchSharp;
using static TorchSharp.torch;

namespace Pilot.MLNet.Images;

/// <summary>How the image column stores an image.</summary>
internal enum ImageSourceKind
{
    /// <summary>Encoded image file bytes (PNG, JPEG, ...): a variable-size byte vector (<c>LoadRawImageBytes</c>, <c>byte[]</c>).</summary>
    Encoded,

    /// <summary>A decoded image (<see cref="MLImage"/>, from <c>LoadImages</c>).</summary>
    MLImage,

    /// <summary>Pixels: a fixed-size vector of bytes or floats in channel × height × width order.</summary>
    PixelVector,
}

/// <summary>The units of pixel values; the model's normalisation statistics are in these units. Saved with the model.</summary>
internal enum PixelDomain : byte
{
    /// <summary>Whole numbers 0–255: encoded images, <see cref="MLImage"/>s and byte pixel vectors.</summary>
    Bytes = 0,

    /// <summary>Arbitrary floats: float pixel vectors.</summary>
    Floats = 1,
}

/// <summary>What the image column holds, read from its type (and, for pixel vectors, the shape the user gave).</summary>
internal sealed record ImageColumnSpec(ImageSourceKind Kind, PixelDomain Domain, ImageShape? VectorShape)
{
    /// <summary>
    /// Classifies the image column of a data view. Throws <see cref="ArgumentOutOfRangeException"/> naming the column when
    /// its type cannot be an image or a pixel vector's size does not match <paramref name="vectorShape"/>, and
    /// <see cref="ArgumentException"/> when a pixel vector comes without a shape.
    /// </summary>
    public static ImageColumnSpec FromType(string columnName, DataViewType type, ImageShape? vectorShape, string what = "input")
    {
        switch (type)
        {
            case ImageDataViewType:
                return new(ImageSourceKind.MLImage, PixelDomain.Bytes, null);
            case VectorDataViewType { ItemType: var item } v when item == NumberDataViewType.Byte && !v.IsKnownSize:
                return new(ImageSourceKind.Encoded, PixelDomain.Bytes, null);
            case VectorDataViewType { ItemType: var item } v when item == NumberDataViewType.Byte || item == NumberDataViewType.Single:
                var domain = item == NumberDataViewType.Byte ? PixelDomain.Bytes : PixelDomain.Floats;
                if (!v.IsKnownSize)
                    throw new ArgumentOutOfRangeException(nameof(PilotImageClassificationTrainer.Options.ImageColumnName),
                        $"Image column '{columnName}' of the {what} data is a variable-size vector of {item}; pixel vectors need a known size " +
                        $"(channels × height × width), for example [VectorType({3 * 32 * 32})] or a fixed-size vector from the loader.");
                // Without ImageShape, a vector type with dimensions (channels, height, width) describes itself.
                if (vectorShape is null && v.Dimensions is [int c, int h, int w] && c is 1 or 3)
                    vectorShape = new ImageShape(c, h, w);
                if (vectorShape is not { } shape)
                    throw new ArgumentException(
                        $"Image column '{columnName}' holds pixel vectors of {v.Size} {item} values; set Options.ImageShape " +
                        $"(channels, height, width) so that channels × height × width = {v.Size}.",
                        nameof(PilotImageClassificationTrainer.Options.ImageShape));
                if (shape.Size != v.Size)
                    throw new ArgumentOutOfRangeException(nameof(PilotImageClassificationTrainer.Options.ImageColumnName),
                        $"Image column '{columnName}' of the {what} data has vectors of size {v.Size}, but ImageShape {shape} needs " +
                        $"{shape.Channels} × {shape.Height} × {shape.Width} = {shape.Size}.");
                return new(ImageSourceKind.PixelVector, domain, shape);
            default:
                throw new ArgumentOutOfRangeException(nameof(PilotImageClassificationTrainer.Options.ImageColumnName),
                    $"Image column '{columnName}' of the {what} data has type {type}; expected encoded image bytes (a variable-size " +
                    "Byte vector, as LoadRawImageBytes produces), an image (as LoadImages produces) or a fixed-size Single or Byte " +
                    "pixel vector with ImageShape.");
        }
    }

    /// <summary>The same check on a <see cref="SchemaShape"/> column (no vector sizes there, so sizes are checked in <c>Fit</c>).</summary>
    public static void CheckShape(string columnName, SchemaShape.Column column)
    {
        bool ok = column.ItemType is ImageDataViewType && column.Kind == SchemaShape.Column.VectorKind.Scalar
            || column.ItemType == NumberDataViewType.Byte && column.Kind != SchemaShape.Column.VectorKind.Scalar
            || column.ItemType == NumberDataViewType.Single && column.Kind == SchemaShape.Column.VectorKind.Vector;
        if (!ok || column.IsKey)
            throw new ArgumentOutOfRangeException(nameof(PilotImageClassificationTrainer.Options.ImageColumnName),
                $"Image column '{columnName}' has type {column.GetTypeString()}; expected encoded image bytes (a variable-size Byte " +
                "vector, as LoadRawImageBytes produces), an image (as LoadImages produces) or a fixed-size Single or Byte pixel " +
                "vector with ImageShape.");
    }
}

/// <summary>
/// Reads the image of the current row of a cursor and converts it to the network's input: channel × height × width values
/// in the column's <see cref="PixelDomain"/>, resized (bilinear) to the network size. Used for training data, validation
/// data and scoring alike, so the three see identical pixels. Not thread-safe: one per cursor. Disposing it releases the
/// last image it decoded (images from an <see cref="MLImage"/> column belong to that column's producer).
/// </summary>
internal sealed class ImagePixelReader : IDisposable
{
    private readonly string _columnName;
    private readonly ImageColumnSpec _spec;
    private readonly int _height, _width;
    private readonly ValueGetter<VBuffer<byte>>? _bytesGetter;
    private readonly ValueGetter<VBuffer<float>>? _floatsGetter;
    private readonly ValueGetter<MLImage>? _imageGetter;
    private VBuffer<byte> _bytes;
    private VBuffer<float> _floats;
    private MLImage? _image;
    private byte[] _encoded = [];
    private float[] _native = [];

    /// <param name="row">The row (cursor) to read from.</param>
    /// <param name="column">The image column of <paramref name="row"/>.</param>
    /// <param name="spec">What the column holds.</param>
    /// <param name="channels">Channels to produce for encoded images and <see cref="MLImage"/>s: 1 (gray), 3 (colour), or
    /// <see langword="null"/> for 3 channels plus <see cref="LastWasGray"/> (the training reader decides later).</param>
    /// <param name="height">Network input height.</param>
    /// <param name="width">Network input width.</param>
    public ImagePixelReader(DataViewRow row, DataViewSchema.Column column, ImageColumnSpec spec, int? channels, int height, int width)
    {
        _columnName = column.Name;
        _spec = spec;
        _height = height;
        _width = width;
        Channels = spec.Kind == ImageSourceKind.PixelVector ? spec.VectorShape!.Value.Channels : channels ?? 3;
        DecidesChannels = spec.Kind != ImageSourceKind.PixelVector && channels is null;
        switch (spec.Kind)
        {
            case ImageSourceKind.Encoded: _bytesGetter = row.GetGetter<VBuffer<byte>>(column); break;
            case ImageSourceKind.MLImage: _imageGetter = row.GetGetter<MLImage>(column); break;
            case ImageSourceKind.PixelVector when spec.Domain == PixelDomain.Bytes: _bytesGetter = row.GetGetter<VBuffer<byte>>(column); break;
            default: _floatsGetter = row.GetGetter<VBuffer<float>>(column); break;
        }
    }

    /// <summary>Channels of every image this reader produces.</summary>
    public int Channels { get; }

    /// <summary>True when the channel count is still to be decided from the data (3 channels are produced meanwhile).</summary>
    public bool DecidesChannels { get; }

    /// <summary>Values per produced image: channels × height × width.</summary>
    public int ImageSize => Channels * _height * _width;

    /// <summary>After a read of an encoded image or <see cref="MLImage"/>: whether every pixel had equal red, green and blue.</summary>
    public bool LastWasGray { get; private set; }

    /// <summary>Reads the current row's image into <paramref name="destination"/> (length <see cref="ImageSize"/>), in byte units.</summary>
    /// <param name="rowIndex">Index of the row in its data view, for error messages.</param>
    /// <param name="destination">Receives the pixels.</param>
    /// <exception cref="InvalidDataException">The image cannot be decoded or is missing; the message names the column and the row.</exception>
    public void ReadBytes(long rowIndex, Span<byte> destination)
    {
        if (_spec.Domain != PixelDomain.Bytes)
            throw new InvalidOperationException("Float pixel vectors are read with ReadFloats.");
        int nativeHeight, nativeWidth;
        if (_spec.Kind == ImageSourceKind.PixelVector)
        {
            _bytesGetter!(ref _bytes);
            var shape = _spec.VectorShape!.Value;
            (nativeHeight, nativeWidth) = (shape.Height, shape.Width);
            if (nativeHeight == _height && nativeWidth == _width)
            {
                _bytes.CopyTo(destination);
                return;
            }
            EnsureNative(shape.Size);
            for (int i = 0; i < shape.Size; i++)
                _native[i] = 0;
            var values = _bytes.GetValues();
            if (_bytes.IsDense)
                for (int i = 0; i < values.Length; i++) _native[i] = values[i];
            else
            {
                var indices = _bytes.GetIndices();
                for (int i = 0; i < values.Length; i++) _native[indices[i]] = values[i];
            }
        }
        else
        {
            var image = ReadImage(rowIndex);
            (nativeHeight, nativeWidth) = (image.Height, image.Width);
            EnsureNative(Channels * nativeHeight * nativeWidth);
            LastWasGray = ToPlanes(image, Channels, _native);
            if (nativeHeight == _height && nativeWidth == _width)
            {
                for (int i = 0; i < destination.Length; i++)
                    destination[i] = (byte)_native[i];
                return;
            }
        }
        Resize(nativeHeight, nativeWidth, roundToBytes: true, bytes: destination, floats: default);
    }

    /// <summary>Reads the current row's float pixel vector into <paramref name="destination"/> (length <see cref="ImageSize"/>).</summary>
    public void ReadFloats(long rowIndex, Span<float> destination)
    {
        if (_spec.Domain != PixelDomain.Floats)
            throw new InvalidOperationException("Byte images are read with ReadBytes.");
        _floatsGetter!(ref _floats);
        CheckFinite(rowIndex, _floats);
        var shape = _spec.VectorShape!.Value;
        if (shape.Height == _height && shape.Width == _width)
        {
            _floats.CopyTo(destination);
            return;
        }
        EnsureNative(shape.Size);
        _floats.CopyTo(_native.AsSpan(0, shape.Size));
        Resize(shape.Height, shape.Width, roundToBytes: false, bytes: default, floats: destination);
    }

    /// <summary>
    /// NaN or ±∞ pixels would make the normalisation statistics, the loss or the scores NaN without saying why: they are
    /// an error, in training, validation and scoring data alike.
    /// </summary>
    private void CheckFinite(long rowIndex, in VBuffer<float> pixels)
    {
        var values = pixels.GetValues();
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i]))
                throw new InvalidDataException(
                    $"Row {rowIndex}: column '{_columnName}' has the pixel value {values[i]} at position {(pixels.IsDense ? i : pixels.GetIndices()[i])}; " +
                    "pixels must be finite numbers. Remove or repair such rows first (NaN can be replaced with mlContext.Transforms.ReplaceMissingValues).");
    }

    private MLImage ReadImage(long rowIndex)
    {
        if (_spec.Kind == ImageSourceKind.MLImage)
        {
            _imageGetter!(ref _image!);
            if (_image is null)
                throw new InvalidDataException($"Row {rowIndex}: column '{_columnName}' has no image (null); check that the image file exists and can be decoded.");
            if ((long)_image.Width * _image.Height > EncodedImage.MaxPixels)
                throw new InvalidDataException(
                    $"Row {rowIndex}: the image in column '{_columnName}' is {_image.Width}×{_image.Height}; the largest image this trainer reads has " +
                    $"{EncodedImage.MaxPixels} pixels (8192×8192). Shrink the image first.");
            return _image;
        }

        _bytesGetter!(ref _bytes);
        int length = _bytes.Length;
        if (_encoded.Length < length)
            _encoded = new byte[Math.Max(length, 2 * _encoded.Length)];
        _bytes.CopyTo(_encoded.AsSpan(0, length));
        _image?.Dispose();
        _image = null;
        _image = EncodedImage.Decode(_encoded.AsSpan(0, length), rowIndex, _columnName);
        return _image;
    }

    /// <summary>
    /// Writes <paramref name="image"/> as <paramref name="channels"/> planes (RGB, or gray as round(0.299R + 0.587G + 0.114B),
    /// exact for gray pixels) into <paramref name="planes"/>; returns whether every pixel had R = G = B. Alpha is ignored.
    /// </summary>
    internal static bool ToPlanes(MLImage image, int channels, float[] planes)
    {
        var pixels = image.Pixels;
        int count = image.Width * image.Height;
        int r = image.PixelFormat == MLPixelFormat.Rgba32 ? 0 : 2, b = 2 - r;
        bool gray = true;
        for (int p = 0; p < count; p++)
        {
            int red = pixels[4 * p + r], green = pixels[4 * p + 1], blue = pixels[4 * p + b];
            gray &= red == green && green == blue;
            if (channels == 3)
            {
                planes[p] = red;
                planes[count + p] = green;
                planes[2 * count + p] = blue;
            }
            else
                planes[p] = (299 * red + 587 * green + 114 * blue + 500) / 1000;
        }
        return gray;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_spec.Kind == ImageSourceKind.Encoded)
            _image?.Dispose();
        _image = null;
    }

    private void EnsureNative(int size)
    {
        if (_native.Length != size)
            _native = new float[size];
    }

    /// <summary>Bilinear resize (antialiased when shrinking) of the planes in <c>_native</c> to the network size.</summary>
    private void Resize(int nativeHeight, int nativeWidth, bool roundToBytes, Span<byte> bytes, Span<float> floats)
    {
        using var scope = NewDisposeScope();
        using var source = torch.tensor(_native, [1, Channels, nativeHeight, nativeWidth]);
        bool shrinking = nativeHeight > _height || nativeWidth > _width;
        var resized = nn.functional.interpolate(source, [_height, _width], mode: InterpolationMode.Bilinear,
            align_corners: false, antialias: shrinking);
        if (roundToBytes)
            resized.round().clamp(0, 255).to(ScalarType.Byte).data<byte>().CopyTo(bytes);
        else
            resized.data<float>().CopyTo(floats);
    }
}
