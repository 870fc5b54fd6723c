using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Pyralog.Silo.Http;

/// <summary>Writes a health report as JSON: overall status, then each check with its status and description.</summary>
internal static class HealthReportJson
{
    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        var checks = new Dictionary<string, object?>();
        foreach (var (name, entry) in report.Entries)
        {
            checks[name] = new { status = entry.Status.ToString(), description = entry.Description };
        }

        return JsonSerializer.SerializeAsync(context.Response.Body, new { status = report.Status.ToString(), checks }, cancellationToken: context.RequestAborted);
    }
}
