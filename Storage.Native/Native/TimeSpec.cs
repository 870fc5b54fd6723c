using System.Runtime.InteropServices;

namespace Pyralog.Storage.Native.Native;

/// <summary>Linux's <c>struct timespec</c> on a 64-bit process.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct TimeSpec
{
    public long Seconds;
    public long Nanoseconds;
}
