using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Pilot.MLNet.Images;
using Pilot.MLNet.Scoring;

namespace Pilot.MLNet;

public sealed partial class PilotImageClassificationTransformer
{
    /// <summary>The row mapper: reads the image of each row once and fills both output columns from one forward pass.</summary>
    private sealed class Mapper : MapperBase
    {
        private const int ScoreIndex = 0, PredictedLabelIndex = 1;
        private readonly PilotImageClassificationTransformer _parent;
        private readonly DataViewSchema.Column _image;
        private readonly ImageColumnSpec _spec;

        public Mapper(PilotImageClassificationTransformer parent, DataViewSchema inputSchema)
            : base(parent.Host.Register(nameof(Mapper)), inputSchema, parent)
        {
            _parent = parent;
            var model = parent._model;
            if (inputSchema.GetColumnOrNull(parent.ImageColumnName) is not { } image)
                throw new ArgumentOutOfRangeException(nameof(inputSchema),
                    $"Image column '{parent.ImageColumnName}' not found in the input; the model reads its images from that column.");
            _image = image;
            _spec = ImageColumnSpec.FromType(image.Name, image.Type, model.VectorShape ?? model.InputShape, "scoring");
            if (_spec.Domain != model.Domain)
                throw new ArgumentOutOfRangeException(nameof(inputSchema),
                    $"Image column '{image.Name}' holds {Describe(_spec.Domain)}, but the model was trained on {Describe(model.Domain)}; " +
                    "score it with images of the kind it was trained on.");
        }

        /// <summary>The image column of the input.</summary>
        public DataViewSchema.Column Image => _image;

        /// <summary>What the image column holds.</summary>
        public ImageColumnSpec Spec => _spec;

        private static string Describe(PixelDomain domain) => domain == PixelDomain.Bytes
            ? "byte pixels (0-255: encoded images, MLImages or byte vectors)"
            : "float pixel vectors";

        protected override DataViewSchema.DetachedColumn[] GetOutputColumnsCore()
        {
            int classCount = _parent._model.ClassCount;
            var keyValues = _parent._keyValues;
            uint scoreSetId = checked(InputSchema.GetMaxAnnotationKind(out _, AnnotationUtils.Kinds.ScoreColumnSetId) + 1);

            var score = new DataViewSchema.Annotations.Builder();
            if (keyValues is not null)
            {
                if (keyValues.Type.ItemType is TextDataViewType)
                    score.Add(AnnotationUtils.Kinds.SlotNames, keyValues.Type, keyValues.Getter);
                score.Add(AnnotationUtils.Kinds.TrainingLabelValues, keyValues.Type, keyValues.Getter);
            }
            AddTrainerOutputAnnotations(score, scoreSetId);

            var predicted = new DataViewSchema.Annotations.Builder();
            if (keyValues is not null)
                predicted.Add(AnnotationUtils.Kinds.KeyValues, keyValues.Type, keyValues.Getter);
            AddTrainerOutputAnnotations(predicted, scoreSetId);

            return
            [
                new DataViewSchema.DetachedColumn(_parent.ScoreColumnName, new VectorDataViewType(NumberDataViewType.Single, classCount), score.ToAnnotations()),
                new DataViewSchema.DetachedColumn(_parent.PredictedLabelColumnName, new KeyDataViewType(typeof(uint), classCount), predicted.ToAnnotations()),
            ];
        }

        /// <summary>The annotations ML.NET's trainers put on their outputs (<see cref="AnnotationUtils.GetTrainerOutputAnnotation"/>).</summary>
        private static void AddTrainerOutputAnnotations(DataViewSchema.Annotations.Builder builder, uint scoreSetId)
        {
            builder.Add(AnnotationUtils.Kinds.ScoreColumnSetId, AnnotationUtils.ScoreColumnSetIdType, (ref uint value) => value = scoreSetId);
            builder.Add(AnnotationUtils.Kinds.ScoreColumnKind, TextDataViewType.Instance,
                (ref ReadOnlyMemory<char> value) => value = AnnotationUtils.Const.ScoreColumnKind.MulticlassClassification.AsMemory());
            builder.Add(AnnotationUtils.Kinds.ScoreValueKind, TextDataViewType.Instance,
                (ref ReadOnlyMemory<char> value) => value = AnnotationUtils.Const.ScoreValueKind.Score.AsMemory());
        }

        public override Delegate[] CreateGetters(DataViewRow input, Func<int, bool> activeOutput, out Action disposer)
        {
            var result = new Delegate[OutputColumns.Value.Length];
            if (!activeOutput(ScoreIndex) && !activeOutput(PredictedLabelIndex))
            {
                disposer = null!;
                return result;
            }
            var scorer = new RowScorer(_parent._model, input, _image, _spec);
            disposer = scorer.Dispose;
            if (activeOutput(ScoreIndex))
                result[ScoreIndex] = (ValueGetter<VBuffer<float>>)((ref VBuffer<float> destination) =>
                {
                    scorer.EnsureScored();
                    var editor = VBufferEditor.Create(ref destination, scorer.Probabilities.Length);
                    scorer.Probabilities.CopyTo(editor.Values);
                    destination = editor.Commit();
                });
            if (activeOutput(PredictedLabelIndex))
                result[PredictedLabelIndex] = (ValueGetter<uint>)((ref uint destination) =>
                {
                    scorer.EnsureScored();
                    destination = scorer.PredictedKey;
                });
            return result;
        }

        protected override Delegate MakeGetter(DataViewRow input, int iinfo, Func<int, bool> activeOutput, out Action disposer)
            => throw new InvalidOperationException($"{nameof(CreateGetters)} makes the getters of this mapper.");

        protected override Func<int, bool> GetDependenciesCore(Func<int, bool> activeOutput)
        {
            bool any = activeOutput(ScoreIndex) || activeOutput(PredictedLabelIndex);
            return column => any && column == _image.Index;
        }

        protected override void SaveModel(ModelSaveContext ctx) => _parent.SaveModel(ctx);
    }

    /// <summary>Scores the current row of one cursor, once per row, for both output getters.</summary>
    private sealed class RowScorer(PilotImageModel model, DataViewRow input, DataViewSchema.Column image, ImageColumnSpec spec) : IDisposable
    {
        private readonly ImagePixelReader _reader = new(input, image, spec, model.InputShape.Channels, model.InputShape.Height, model.InputShape.Width);
        private readonly byte[]? _bytes = spec.Domain == PixelDomain.Bytes ? new byte[model.InputShape.Size] : null;
        private readonly float[]? _floats = spec.Domain == PixelDomain.Floats ? new float[model.InputShape.Size] : null;
        private long _position = -1;

        public float[] Probabilities { get; } = new float[model.ClassCount];

        /// <summary>The predicted class as a key value (class index + 1).</summary>
        public uint PredictedKey { get; private set; }

        public void EnsureScored()
        {
            if (input.Position == _position)
                return;
            if (_bytes is not null)
            {
                _reader.ReadBytes(input.Position, _bytes);
                model.Score(_bytes, Probabilities);
            }
            else
            {
                _reader.ReadFloats(input.Position, _floats!);
                model.Score(_floats!, Probabilities);
            }
            PredictedKey = PilotImageModel.PredictedKey(Probabilities);
            _position = input.Position;
        }

        public void Dispose() => _reader.Dispose();
    }
}
