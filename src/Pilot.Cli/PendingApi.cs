// TEMPORARY: names the trainer branch provides; delete this file when that branch is merged.
namespace Pilot.MLNet
{
    public enum PilotOptimizerKind { Pilot, Adam, AdamW, Lion, AdaBelief }
}
