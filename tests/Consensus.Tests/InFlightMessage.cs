using Pyralog.Consensus;

namespace Pyralog.Consensus.Tests;

/// <summary>A message on the simulated network, due at tick <see cref="DeliverAt"/>.</summary>
internal readonly record struct InFlightMessage(Message Message, long DeliverAt);
