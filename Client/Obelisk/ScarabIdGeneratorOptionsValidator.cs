using Microsoft.Extensions.Options;

namespace Pyralog.Client.Obelisk;

/// <summary>Checks the data annotations of <see cref="ScarabIdGeneratorOptions"/> (source-generated).</summary>
[OptionsValidator]
internal sealed partial class ScarabIdGeneratorOptionsValidator : IValidateOptions<ScarabIdGeneratorOptions>;
