using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pyralog.Grains.Diagnostics;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Hosting;

/// <summary>
/// The silo's one <see cref="PyramidStore"/> (under <c>{DataDirectory}/store</c>): every partition replica and
/// metadata replica active on this silo keeps its Raft log as a log id inside it, so one fdatasync carries
/// the appends of them all. Opened in the silo lifecycle at <see cref="ServiceLifecycleStage.RuntimeStorageServices"/>,
/// before any grain can activate (recovery finishes before the silo accepts calls), and closed when that stage
/// stops, after the silo deactivated its grains. A store that stops accepting writes after a failure (a failed write
/// or fdatasync: it refuses every write until reopened) stops the silo, as a disk failure stops etcd or PostgreSQL:
/// its replicas could only fail and reactivate in a loop while the silo looked healthy, and a restart reopens the
/// store from what is on the disk.
/// </summary>
public sealed class SiloStore(IOptions<PyralogOptions> options, ILogger<SiloStore> logger, IServiceProvider services) : ILifecycleParticipant<ISiloLifecycle>
{
    private PyramidStore? _store;
    private StoreInstruments? _instruments;
    private Exception? _failure;
    private Exception? _openFailure;

    /// <summary>The open store.</summary>
    /// <exception cref="InvalidOperationException">Outside the silo's running stages.</exception>
    public PyramidStore Store => Volatile.Read(ref _store)
        ?? throw new InvalidOperationException("the silo's store is not open: it opens in the silo lifecycle before grains activate and closes after they deactivate");

    /// <summary>The failure after which the store stopped accepting writes, if one did (kept once the store is closed): the
    /// silo stops on it, and the silo host exits with its own code.</summary>
    public Exception? Failure => Volatile.Read(ref _failure);

    /// <summary>Why the store did not open at the silo's start, if it did not (the start fails on it: a file where its
    /// directory should be, a directory it cannot write, damaged files); the silo host exits with the store's code.</summary>
    public Exception? OpenFailure => Volatile.Read(ref _openFailure);

    /// <summary>Where the store lives for <paramref name="options"/>.</summary>
    public static string DirectoryFor(PyralogOptions options) => Path.Combine(Path.GetFullPath(options.DataDirectory), "store");

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(SiloStore), ServiceLifecycleStage.RuntimeStorageServices, OpenAsync, CloseAsync);

    internal async Task OpenAsync(CancellationToken cancellationToken)
    {
        var directory = DirectoryFor(options.Value);
        PyramidStore store;
        try
        {
            store = await Task.Run(() => PyramidStore.Open(directory, options.Value.Store), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Volatile.Write(ref _openFailure, e);
            throw;
        }

        var recovery = store.Recovery;
        logger.LogInformation(
            "Store {Directory} open: {Logs} logs, {Frames} WAL frames replayed in {Duration}",
            directory, store.GetLogIds().Count, recovery.FramesReplayed, recovery.Duration);
        if (recovery.DroppedBytes > 0)
        {
            logger.LogWarning(
                "Store {Directory}: dropped a torn WAL tail of {Bytes} bytes at byte {Position} of {File} (writes not yet synced: never acknowledged, or acknowledged unsynced by an os-cache log)",
                directory, recovery.DroppedBytes, recovery.TornAtByte, recovery.TornFile);
        }

        _instruments = new StoreInstruments(store);
        Volatile.Write(ref _store, store);
        _ = StopOnFailureAsync(store, directory);
    }

    private async Task StopOnFailureAsync(PyramidStore store, string directory)
    {
        var failure = await store.Failed.ConfigureAwait(false); // completes only if the store fails
        Volatile.Write(ref _failure, failure);
        logger.LogCritical(
            failure,
            "Store {Directory} stopped accepting writes after a failure; the silo stops so that a restart reopens the store (acknowledged data is intact on disk)",
            directory);
        (services.GetService(typeof(IHostApplicationLifetime)) as IHostApplicationLifetime)?.StopApplication();
    }

    internal async Task CloseAsync(CancellationToken cancellationToken)
    {
        Interlocked.Exchange(ref _instruments, null)?.Dispose();
        if (Interlocked.Exchange(ref _store, null) is { } store)
        {
            await store.DisposeAsync().ConfigureAwait(false);
        }
    }
}
