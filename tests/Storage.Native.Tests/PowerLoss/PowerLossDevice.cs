using System.IO.MemoryMappedFiles;
using Microsoft.Win32.SafeHandles;
using Pyralog.Storage.Native.Devices;

namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>
/// A storage device that can lose power. It writes real files (so memory-mapped reads work) and remembers, per
/// file, the changes no fdatasync has covered yet, and per directory the names as of the last directory sync.
/// <see cref="CutPower"/> makes every later operation fail (as the engine would see a dead disk); the store is then
/// abandoned, and <see cref="RestoreDurableState"/> rewrites the directory to what a power loss leaves: each name as
/// of its directory's last sync, each file as of its last fdatasync, plus optionally a torn prefix of what was
/// written to the most recently written file since. <see cref="RestartAfterProcessCrash"/> ends such a stop as a process
/// crash instead: everything stays as written (the page cache outlives the process), durable or not. It can also fail
/// one write, writeback or sync on command. Directories are modelled only under a root named by
/// <see cref="TrackDirectoriesUnder"/>: a new one survives a power loss once its parent was synced.
/// </summary>
internal sealed class PowerLossDevice : IStorageDevice
{
    private readonly object _gate = new();
    // Invariant: every path here exists on disk and its file's CurrentPath is that path.
    private readonly Dictionary<string, SimulatedFile> _names = [];
    // Names as of the last directory sync (what a power loss leaves); their files may since be renamed or unlinked.
    private readonly Dictionary<string, SimulatedFile> _durableNames = [];
    private SimulatedFile? _lastWritten;
    private bool _powerOff;
    // Mutations (writes, length changes, syncs, creates, renames, deletes) left before power is cut; -1: no cut planned.
    private int _mutationsBeforeCut = -1;
    // Directory syncs left before power is cut at the next one; -1: no cut planned.
    private int _directorySyncsBeforeCut = -1;
    // Files deleted (not displaced by a rename) since their directory's last sync, under the name they had: a power loss
    // may keep such a delete while it drops the directory's other unsynced changes (see RestoreDurableState).
    private readonly List<(string Path, SimulatedFile File)> _unsyncedDeletes = [];
    // Directories under _directoryRoot whose entry a sync of their parent made durable (or that existed when tracking
    // began); null root: directories are not modelled, every one survives a power loss.
    private string? _directoryRoot;
    private readonly HashSet<string> _durableDirectories = [];
    private string? _failWriteOf;
    private string? _failWritebackOf;
    private string? _failSyncOf;
    private string? _failDeleteOf;
    private SyncHold? _hold;
    private readonly List<(string File, string? Thread)> _syncs = [];

    public bool PowerIsOff
    {
        get
        {
            lock (_gate)
            {
                return _powerOff;
            }
        }
    }

    /// <summary>Power goes just before the mutation after the next <paramref name="mutations"/> ones (a write,
    /// length change, sync, create, rename or delete): whatever the store is doing then fails. -1 cancels.</summary>
    public void CutPowerAfter(int mutations)
    {
        lock (_gate)
        {
            _mutationsBeforeCut = mutations;
        }
    }

    /// <summary>Power goes just before the directory sync after the next <paramref name="skipped"/> ones: that sync and
    /// everything after it fail. -1 cancels.</summary>
    public void CutPowerAtDirectorySync(int skipped = 0)
    {
        lock (_gate)
        {
            _directorySyncsBeforeCut = skipped;
        }
    }

    /// <summary>From now on a directory that comes into being under <paramref name="root"/> (by whatever means) survives a
    /// power loss only once a sync of its parent followed: <see cref="RestoreDurableState"/> removes the others, with all
    /// they hold. Those under it now are durable.</summary>
    public void TrackDirectoriesUnder(string root)
    {
        lock (_gate)
        {
            _directoryRoot = root;
            _durableDirectories.UnionWith(Directory.GetDirectories(root, "*", SearchOption.AllDirectories));
        }
    }

    /// <summary>The next write to a file whose name starts with <paramref name="namePrefix"/> fails without writing.</summary>
    public void FailNextWrite(string namePrefix)
    {
        lock (_gate)
        {
            _failWriteOf = namePrefix;
        }
    }

    /// <summary>
    /// The writeback of the next write to a file whose name starts with <paramref name="namePrefix"/> fails (a disk error
    /// after the write returned): the written bytes stay readable from the page cache, the disk keeps what it held there
    /// (see <see cref="SimulatedFile.FailedWritebacks"/>), and, as Linux does since 4.14, the error is reported once to
    /// each descriptor open on the file, by the first call on it that waits for writeback (a writeback step's wait or an
    /// fdatasync); later calls on that descriptor succeed.
    /// </summary>
    public void FailNextWriteback(string namePrefix)
    {
        lock (_gate)
        {
            _failWritebackOf = namePrefix;
        }
    }

    /// <summary>The next fdatasync of a file whose name starts with <paramref name="namePrefix"/> fails without syncing.</summary>
    public void FailNextSync(string namePrefix)
    {
        lock (_gate)
        {
            _failSyncOf = namePrefix;
        }
    }

    /// <summary>Whether a delete failure armed by <see cref="FailNextDelete"/> has not happened yet.</summary>
    public bool DeleteFailurePending
    {
        get
        {
            lock (_gate)
            {
                return _failDeleteOf is not null;
            }
        }
    }

    /// <summary>The next delete of a file whose name starts with <paramref name="namePrefix"/> fails (as on a directory that
    /// turned read-only), deleting nothing.</summary>
    public void FailNextDelete(string namePrefix)
    {
        lock (_gate)
        {
            _failDeleteOf = namePrefix;
        }
    }

    /// <summary>Power loss under <paramref name="store"/>: cuts power, abandons the store (its close fails on the dead
    /// device, syncing nothing) and leaves the files as the power loss did, with <paramref name="tornBytes"/> of the last
    /// unsynced writes kept (see <see cref="RestoreDurableState"/>).</summary>
    public static async Task LosePowerAsync(PyramidStore store, PowerLossDevice device, long tornBytes = 0, long lostBytes = 0)
    {
        device.CutPower();
        try
        {
            await store.DisposeAsync();
        }
        catch (IOException)
        {
            // The close found the device dead: nothing more reaches the disk, which is the point.
        }

        device.RestoreDurableState(tornBytes, lostBytes);
    }

    /// <summary>Process crash under <paramref name="store"/>: the process dies (<see cref="CrashProcess"/>: its close
    /// fails, syncing nothing), then starts again over the files as they are (see <see cref="RestartAfterProcessCrash"/>).</summary>
    public static async Task CrashProcessAsync(PyramidStore store, PowerLossDevice device)
    {
        device.CrashProcess();
        try
        {
            await store.DisposeAsync();
        }
        catch (IOException)
        {
            // The dead process's close did nothing, which is the point.
        }

        device.RestartAfterProcessCrash();
    }

    /// <summary>The process dies now: every later operation fails, as after <see cref="CutPower"/>, until
    /// <see cref="RestartAfterProcessCrash"/> (or <see cref="RestoreDurableState"/>, a power loss after all).</summary>
    public void CrashProcess() => CutPower();

    /// <summary>Ends a stop (<see cref="CrashProcess"/>, <see cref="CutPower"/>) as a process crash: the files, names and
    /// page cache stay as they are, written bytes readable and no more durable than before (a later power loss still
    /// drops what no sync covered), a writeback error no descriptor was told of still waiting for one.</summary>
    public void RestartAfterProcessCrash()
    {
        lock (_gate)
        {
            _mutationsBeforeCut = -1;
            _directorySyncsBeforeCut = -1;
            _failWriteOf = null;
            _failWritebackOf = null;
            _failSyncOf = null;
            _powerOff = false;
        }
    }

    /// <summary>From now on every operation fails with an <see cref="IOException"/>, until <see cref="RestoreDurableState"/>.</summary>
    public void CutPower()
    {
        lock (_gate)
        {
            _powerOff = true;
        }
    }

    /// <summary>Leaves the files as a power loss at <see cref="CutPower"/> would have, keeping the first
    /// <paramref name="tornBytes"/> bytes written to the most recently written file since its last sync, less the first
    /// <paramref name="lostBytes"/> of them (pages of a write reach the disk in any order); then power is back. With
    /// <paramref name="keepUnsyncedDeletes"/>, the deletes no directory sync covered reached the disk anyway, while the
    /// directory's other unsynced changes (creates, renames) did not: until a directory sync a file system may write a
    /// directory's changes back in any order.</summary>
    public void RestoreDurableState(long tornBytes = 0, long lostBytes = 0, bool keepUnsyncedDeletes = false)
    {
        lock (_gate)
        {
            var files = _names.Values.Concat(_durableNames.Values).Distinct().ToList();
            var contents = files.ToDictionary(f => f, f => f == _lastWritten ? f.ContentsAfterPowerLoss(tornBytes, lostBytes) : f.ContentsAfterPowerLoss(0));
            foreach (var path in _names.Keys)
            {
                File.Delete(path);
            }

            _names.Clear();
            foreach (var file in files)
            {
                file.CurrentPath = null;
                file.ContentsWhenUnlinked = null;
                file.Unsynced.Clear();
                file.FailedWritebacks.Clear(); // the disk's contents are the file's now
                file.WritebackErrors = 0; // the kernel's memory of them went with the power
                file.WritebackErrorSeen = false;
            }

            if (keepUnsyncedDeletes)
            {
                foreach (var (path, file) in _unsyncedDeletes)
                {
                    if (_durableNames.TryGetValue(path, out var durable) && durable == file)
                    {
                        _durableNames.Remove(path);
                    }
                }
            }

            _unsyncedDeletes.Clear();
            var lostDirectories = LostDirectories();
            foreach (var path in _durableNames.Keys.Where(p => lostDirectories.Any(d => p.StartsWith(d + Path.DirectorySeparatorChar, StringComparison.Ordinal))).ToList())
            {
                _durableNames.Remove(path);
            }

            foreach (var (path, file) in _durableNames)
            {
                File.WriteAllBytes(path, contents[file]);
                file.CurrentPath = path;
                _names[path] = file;
            }

            foreach (var directory in lostDirectories)
            {
                Directory.Delete(directory, recursive: true);
            }

            _lastWritten = null;
            _mutationsBeforeCut = -1;
            _directorySyncsBeforeCut = -1;
            _failWriteOf = null;
            _failWritebackOf = null;
            _failSyncOf = null;
            _powerOff = false;
        }
    }

    public void CreateDirectory(string directory)
    {
        lock (_gate)
        {
            BeginMutation();
            Directory.CreateDirectory(directory);
        }
    }

    public bool DirectoryExists(string directory)
    {
        lock (_gate)
        {
            ThrowIfPowerOff();
            return Directory.Exists(directory);
        }
    }

    public IEnumerable<string> EnumerateFiles(string directory)
    {
        lock (_gate)
        {
            ThrowIfPowerOff();
            var paths = Directory.GetFiles(directory);
            foreach (var path in paths)
            {
                Adopt(path);
            }

            return paths;
        }
    }

    public bool Exists(string path)
    {
        lock (_gate)
        {
            ThrowIfPowerOff();
            Adopt(path);
            return _names.ContainsKey(path);
        }
    }

    public long GetLength(string path)
    {
        lock (_gate)
        {
            ThrowIfPowerOff();
            return new FileInfo(path).Length;
        }
    }

    public DeviceFile Open(string path, FileMode mode)
    {
        lock (_gate)
        {
            ThrowIfPowerOff();
            Adopt(path);
            if (_names.TryGetValue(path, out var file))
            {
                if (mode == FileMode.CreateNew)
                {
                    throw new IOException($"'{path}' already exists");
                }

                var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
                if (mode == FileMode.Create)
                {
                    SetLength(file, handle, 0);
                }

                return new PowerLossFile(this, file, path, handle);
            }

            if (mode == FileMode.Open)
            {
                throw new FileNotFoundException($"'{path}' does not exist", path);
            }

            BeginMutation();
            var created = new SimulatedFile { CurrentPath = path };
            var newHandle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite);
            _names[path] = created;
            return new PowerLossFile(this, created, path, newHandle);
        }
    }

    public byte[] ReadAllBytes(string path)
    {
        lock (_gate)
        {
            ThrowIfPowerOff();
            return File.ReadAllBytes(path);
        }
    }

    public void Delete(string path)
    {
        lock (_gate)
        {
            if (_failDeleteOf is not null && Path.GetFileName(path).StartsWith(_failDeleteOf, StringComparison.Ordinal))
            {
                _failDeleteOf = null;
                throw new UnauthorizedAccessException($"Access to the path '{path}' is denied (an injected delete failure).");
            }

            BeginMutation();
            Adopt(path);
            if (_names.Remove(path, out var file))
            {
                Unlink(file);
                _unsyncedDeletes.Add((path, file));
            }
        }
    }

    public void Move(string source, string destination, bool overwrite)
    {
        lock (_gate)
        {
            BeginMutation();
            Adopt(source);
            Adopt(destination);
            if (_names.TryGetValue(destination, out var displaced))
            {
                if (!overwrite)
                {
                    throw new IOException($"'{destination}' already exists");
                }

                Unlink(displaced);
            }

            File.Move(source, destination, overwrite);
            var file = _names[source];
            _names.Remove(source);
            _names[destination] = file;
            file.CurrentPath = destination;
        }
    }

    public void SyncDirectory(string directory)
    {
        lock (_gate)
        {
            if (_directorySyncsBeforeCut == 0)
            {
                _powerOff = true;
                _directorySyncsBeforeCut = -1;
            }
            else if (_directorySyncsBeforeCut > 0)
            {
                _directorySyncsBeforeCut--;
            }

            BeginMutation();
            _unsyncedDeletes.RemoveAll(d => Path.GetDirectoryName(d.Path) == directory);
            if (_directoryRoot is not null && Directory.Exists(directory))
            {
                _durableDirectories.UnionWith(Directory.GetDirectories(directory));
            }

            foreach (var path in _durableNames.Keys.Where(p => Path.GetDirectoryName(p) == directory).ToList())
            {
                _durableNames.Remove(path);
            }

            foreach (var (path, file) in _names.Where(n => Path.GetDirectoryName(n.Key) == directory))
            {
                _durableNames[path] = file;
            }

        }
    }

    public MemoryMappedFile MapReadOnly(string path)
    {
        lock (_gate)
        {
            ThrowIfPowerOff();
            return MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        }
    }

    internal void Write(SimulatedFile file, SafeFileHandle handle, ReadOnlySpan<byte> data, long offset)
    {
        lock (_gate)
        {
            BeginMutation();
            if (_failWriteOf is not null && Path.GetFileName(file.CurrentPath ?? "").StartsWith(_failWriteOf, StringComparison.Ordinal))
            {
                _failWriteOf = null;
                throw new IOException($"injected write failure on '{file.CurrentPath}'");
            }

            var lengthBefore = RandomAccess.GetLength(handle);
            var replaced = new byte[Math.Clamp(lengthBefore - offset, 0, data.Length)];
            RandomAccess.Read(handle, replaced, offset);
            RandomAccess.Write(handle, data, offset);
            file.Unsynced.Add(new UnsyncedChange(offset, data.ToArray(), replaced, lengthBefore, IsLengthChange: false));
            _lastWritten = file;
            var writebackFails = _failWritebackOf is not null && Path.GetFileName(file.CurrentPath ?? "").StartsWith(_failWritebackOf, StringComparison.Ordinal);
            var onDisk = writebackFails ? file.OnDiskUnder(offset, replaced, data.Length) : null;
            file.Overwritten(offset, data.Length);
            if (onDisk is not null)
            {
                _failWritebackOf = null;
                file.FailedWritebacks.Add((offset, onDisk));
                file.WritebackErrors++;
                file.WritebackErrorSeen = false;
            }
        }
    }

    internal void SetLength(SimulatedFile file, SafeFileHandle handle, long length)
    {
        lock (_gate)
        {
            BeginMutation();
            var lengthBefore = RandomAccess.GetLength(handle);
            var replaced = new byte[Math.Max(0, lengthBefore - length)];
            RandomAccess.Read(handle, replaced, length);
            RandomAccess.SetLength(handle, length);
            file.Unsynced.Add(new UnsyncedChange(length, [], replaced, lengthBefore, IsLengthChange: true));
        }
    }

    /// <summary>
    /// The next fdatasync of a file whose name starts with <paramref name="namePrefix"/> (made by the thread named
    /// <paramref name="threadName"/>, when given) waits before it starts until the hold is released.
    /// </summary>
    public SyncHold HoldNextSync(string namePrefix, string? threadName = null)
    {
        lock (_gate)
        {
            _hold = new SyncHold(namePrefix, threadName);
            return _hold;
        }
    }

    /// <summary>A writeback step's wait (sync_file_range): reports a failed writeback of <paramref name="file"/> this
    /// descriptor was not told of yet (<paramref name="errorsSeen"/> is its cursor), once.</summary>
    internal void WaitForWriteback(SimulatedFile file, string path, ref int errorsSeen)
    {
        lock (_gate)
        {
            ReportWritebackError(file, path, ref errorsSeen, "sync_file_range");
        }
    }

    /// <summary>Linux's file_check_and_advance_wb_err: a failed writeback since the descriptor last looked is reported
    /// and the descriptor's cursor moves past it. Caller holds _gate.</summary>
    private static void ReportWritebackError(SimulatedFile file, string path, ref int errorsSeen, string call)
    {
        if (errorsSeen != file.WritebackErrors)
        {
            errorsSeen = file.WritebackErrors;
            file.WritebackErrorSeen = true;
            throw new IOException($"{call} failed on '{path}' (errno 5: injected writeback failure)");
        }
    }

    internal void SyncData(SimulatedFile file, string path, ref int errorsSeen)
    {
        SyncHold? hold = null;
        lock (_gate)
        {
            if (_hold is { } armed && armed.Matches(path))
            {
                (hold, _hold) = (armed, null);
            }
        }

        hold?.Wait();
        lock (_gate)
        {
            BeginMutation();
            if (_failSyncOf is not null && Path.GetFileName(path).StartsWith(_failSyncOf, StringComparison.Ordinal))
            {
                _failSyncOf = null;
                throw new IOException($"injected fdatasync failure on '{path}'");
            }

            ReportWritebackError(file, path, ref errorsSeen, "fdatasync"); // nothing made durable, as on Linux
            file.Unsynced.Clear();
            _syncs.Add((Path.GetFileName(path), Thread.CurrentThread.Name));
        }
    }

    private readonly List<(string File, bool Synced)> _drops = [];

    /// <summary>Every request to drop a file's cached pages so far: the file's name and whether everything written to it
    /// was synced at that moment.</summary>
    public IReadOnlyList<(string File, bool Synced)> Drops
    {
        get
        {
            lock (_gate)
            {
                return [.. _drops];
            }
        }
    }

    internal void DropCachedPages(SimulatedFile file, string path)
    {
        lock (_gate)
        {
            _drops.Add((Path.GetFileName(path), file.Unsynced.Count == 0));
        }
    }

    /// <summary>Every fdatasync that succeeded so far: the file's name and the name of the thread that ran it.</summary>
    public IReadOnlyList<(string File, string? Thread)> Syncs
    {
        get
        {
            lock (_gate)
            {
                return [.. _syncs];
            }
        }
    }

    /// <summary>The outermost directories under the tracked root whose entry no sync of their parent made durable.
    /// Caller holds _gate.</summary>
    private List<string> LostDirectories()
    {
        var lost = new List<string>();
        if (_directoryRoot is null || !Directory.Exists(_directoryRoot))
        {
            return lost;
        }

        foreach (var directory in Directory.GetDirectories(_directoryRoot, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            if (!_durableDirectories.Contains(directory) && !lost.Any(d => directory.StartsWith(d + Path.DirectorySeparatorChar, StringComparison.Ordinal)))
            {
                lost.Add(directory);
            }
        }

        return lost;
    }

    /// <summary>Starts tracking a file that existed before this device saw it: durable as it is.</summary>
    private void Adopt(string path)
    {
        if (!_names.ContainsKey(path) && File.Exists(path))
        {
            var file = new SimulatedFile { CurrentPath = path };
            _names[path] = file;
            _durableNames.TryAdd(path, file);
        }
    }

    private static void Unlink(SimulatedFile file)
    {
        file.ContentsWhenUnlinked = file.CurrentContents();
        File.Delete(file.CurrentPath!);
        file.CurrentPath = null;
    }

    private void BeginMutation()
    {
        if (_mutationsBeforeCut == 0)
        {
            _powerOff = true;
        }
        else if (_mutationsBeforeCut > 0)
        {
            _mutationsBeforeCut--;
        }

        ThrowIfPowerOff();
    }

    private void ThrowIfPowerOff()
    {
        if (_powerOff)
        {
            throw new IOException("the device lost power");
        }
    }
}
