using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Pyralog.Grains.Tests.Hosting;

/// <summary>
/// A silo's log written to one file (appended across restarts), for reading after a TestingHost test failed: the
/// fixtures add it when PYRALOG_TEST_LOGS names a directory. Pyralog's categories at Debug, Orleans' at Information.
/// </summary>
internal sealed class FileLogs(string path) : ILoggerProvider
{
    public const string DirectoryVariable = "PYRALOG_TEST_LOGS";

    private readonly StreamWriter _writer = new(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName,
        categoryName.StartsWith("Pyralog", StringComparison.Ordinal) ? LogLevel.Debug : LogLevel.Information);

    public void Dispose()
    {
        lock (_writer)
        {
            _writer.Dispose();
        }
    }

    private void Write(LogLevel level, string category, string message, Exception? exception)
    {
        var line = string.Create(CultureInfo.InvariantCulture,
            $"{DateTime.UtcNow:HH:mm:ss.fff} [{Environment.CurrentManagedThreadId}] {level} {category}: {message}{(exception is null ? "" : Environment.NewLine + exception)}");
        lock (_writer)
        {
            if (_writer.BaseStream.CanWrite)
            {
                _writer.WriteLine(line);
            }
        }
    }

    private sealed class Logger(FileLogs file, string category, LogLevel minimum) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                file.Write(logLevel, category, formatter(state, exception), exception);
            }
        }
    }
}
