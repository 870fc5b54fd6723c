namespace Pyralog.Cli.Output;

/// <summary>How <c>pyralog consume</c> prints records.</summary>
internal enum RecordFormat
{
    /// <summary>The value per line: printable UTF-8 as it is, anything else as <c>base64:</c> and its Base64.</summary>
    Text,

    /// <summary>One JSON object per line with the record's address, id, key, value, headers and append time.</summary>
    Json,
}
