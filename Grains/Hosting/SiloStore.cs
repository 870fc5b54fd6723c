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
/// stops, after the silo deactivated its grains.
/// </summary>
public sealed class SiloStore(IOptions<PyralogOptions> options, ILogger<SiloStore> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private PyramidStore? _store;
    private StoreInstruments? _instruments;

    /// <summary>The open store.</summary>
    /// <exception cref="InvalidOperationException">Outside the silo's running stages.</exception>
    public PyramidStore Store => Volatile.Read(ref _store)
        ?? throw new InvalidOperationException("the silo's store is not open: it opens in the silo lifecycle before grains activate and closes after they deactivate");

    /// <summary>Where the store lives for <paramref name="options"/>.</summary>
    public static string DirectoryFor(PyralogOptions options) => Path.Combine(Path.GetFullPath(options.DataDirectory), "store");

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(SiloStore), ServiceLifecycleStage.RuntimeStorageServices, OpenAsync, CloseAsync);

    private async Task OpenAsync(CancellationToken cancellationToken)
    {
        var directory = DirectoryFor(options.Value);
        var store = await Task.Run(() => PyramidStore.Open(directory, options.Value.Store), cancellationToken).ConfigureAwait(false);
        var recovery = store.Recovery;
        logger.LogInformation(
            "Store {Directory} open: {Logs} logs, {Frames} WAL frames replayed in {Duration}",
            directory, store.GetLogIds().Count, recovery.FramesReplayed, recovery.Duration);
        if (recovery.DroppedBytes > 0)
        {
            logger.LogWarning(
                "Store {Directory}: dropped a torn WAL tail of {Bytes} bytes at byte {Position} of {File} (a write that was never acknowledged)",
                directory, recovery.DroppedBytes, recovery.TornAtByte, recovery.TornFile);
        }

        _instruments = new StoreInstruments(store);
        Volatile.Write(ref _store, store);
    }

    private async Task CloseAsync(CancellationToken cancellationToken)
    {
        Interlocked.Exchange(ref _instruments, null)?.Dispose();
        if (Interlocked.Exchange(ref _store, null) is { } store)
        {
            await store.DisposeAsync().ConfigureAwait(false);
        }
    }
}
