using Microsoft.Extensions.Logging;

namespace Pyralog.Grains.Tests;

/// <summary>A <see cref="LogRecorder"/> for a component that asks for an <see cref="ILogger{TCategoryName}"/>.</summary>
internal sealed class LogRecorder<T> : LogRecorder, ILogger<T>;
