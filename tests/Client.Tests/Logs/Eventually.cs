namespace Pyralog.Client.Tests.Logs;

/// <summary>Waits for a condition that asynchronous continuations make true (polls; fails after 10 s naming it).</summary>
internal static class Eventually
{
    public static async Task TrueAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(1);
        }
    }
}
