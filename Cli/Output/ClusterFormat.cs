namespace Pyralog.Cli.Output;

/// <summary>How <c>pyralog cluster status</c> prints.</summary>
internal enum ClusterFormat
{
    /// <summary>A table of silos, the balance verdict, notes.</summary>
    Text,

    /// <summary>One JSON object.</summary>
    Json,
}
