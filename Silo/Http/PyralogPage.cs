using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Pyralog.Silo.Http;

/// <summary>
/// Pyralog's own page beside the Orleans dashboard: <c>/pyralog</c> (one HTML file embedded in this assembly, polling
/// <c>/pyralog/api/overview</c> every second, so it stays live without reloading).
/// </summary>
internal static class PyralogPage
{
    private const string Resource = "pyralog/index.html";

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var html = ReadPage();
        endpoints.MapGet("/pyralog", () => Results.Content(html, "text/html; charset=utf-8"));
        endpoints.MapGet("/pyralog/api/overview", async (ClusterOverview overview, CancellationToken cancellationToken) =>
        {
            try
            {
                return Results.Json(await overview.ReadAsync(cancellationToken).ConfigureAwait(false));
            }
            catch (Exception e) when (e is TimeoutException or OrleansException or InvalidOperationException)
            {
                return Results.Problem(e.Message, statusCode: StatusCodes.Status503ServiceUnavailable);
            }
        });
    }

    private static string ReadPage()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(Resource)
            ?? throw new InvalidOperationException($"the silo assembly lacks its embedded page {Resource}");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
