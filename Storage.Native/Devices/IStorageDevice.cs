using System.IO.MemoryMappedFiles;

namespace Pyralog.Storage.Native.Devices;

/// <summary>
/// The engine's file system: every file it creates, writes, syncs, renames, deletes or maps goes through here,
/// so a test can stand in a device that loses power (drops what was not synced). Modelled on FASTER's
/// <c>IDevice</c>, but only the operations the engine uses. Paths are full paths.
/// </summary>
internal interface IStorageDevice
{
    /// <summary>Creates the directory and its missing parents; each new entry is durable after <see cref="SyncDirectory"/>
    /// of its parent.</summary>
    void CreateDirectory(string directory);

    /// <summary>Whether the directory exists. Every device keeps its files in the real file system, hence the default.</summary>
    bool DirectoryExists(string directory) => Directory.Exists(directory);

    /// <summary>Full paths of the files in <paramref name="directory"/>.</summary>
    IEnumerable<string> EnumerateFiles(string directory);

    bool Exists(string path);

    /// <summary>Length of the file at <paramref name="path"/>; <see cref="FileNotFoundException"/> if there is none.</summary>
    long GetLength(string path);

    /// <summary>Opens or creates a file for reading and writing (<see cref="FileMode.CreateNew"/>, <see cref="FileMode.Create"/>
    /// or <see cref="FileMode.Open"/>). A created file's name is durable only after <see cref="SyncDirectory"/>.</summary>
    DeviceFile Open(string path, FileMode mode);

    byte[] ReadAllBytes(string path);

    /// <summary>Removes the name (no error if absent); durable after <see cref="SyncDirectory"/>.</summary>
    void Delete(string path);

    /// <summary>Renames a file; durable after <see cref="SyncDirectory"/>.</summary>
    void Move(string source, string destination, bool overwrite);

    /// <summary>Makes the directory's entries (creates, renames, deletes) durable.</summary>
    void SyncDirectory(string directory);

    /// <summary>Maps the whole file read-only (segments and WAL recovery read through mappings).</summary>
    MemoryMappedFile MapReadOnly(string path);
}
