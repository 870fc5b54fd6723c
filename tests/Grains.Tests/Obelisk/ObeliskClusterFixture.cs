using Pyralog.Grains.Tests.Hosting;

namespace Pyralog.Grains.Tests.Obelisk;

/// <summary>Two in-process silos hosting Pyralog, each with its own data directory and a short obelisk lease.</summary>
public sealed class ObeliskClusterFixture() : PyralogClusterFixture(2);
