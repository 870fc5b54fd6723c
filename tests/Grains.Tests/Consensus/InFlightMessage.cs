using Pyralog.Grains.Consensus;

namespace Pyralog.Grains.Tests.Consensus;

/// <summary>A message on the simulated network, due at tick <see cref="DeliverAt"/>.</summary>
internal readonly record struct InFlightMessage(Message Message, long DeliverAt);
