using System.CommandLine;
using System.Globalization;

namespace LeNet.Train;

/// <summary>
/// Parsers shared by the commands, each refusing a bad value with one sentence that names the option.
/// </summary>
public static class OptionParsers
{
    /// <summary>Makes an integer option accept only whole numbers of at least 1.</summary>
    public static Option<T> Positive<T>(Option<T> option)
    {
        option.CustomParser = r =>
        {
            var text = r.Tokens.Count == 1 ? r.Tokens[0].Value : "";
            if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= 1)
                return (T)(object)value;
            r.AddError($"{option.Name} must be a whole number of at least 1, not '{text}'.");
            return default!;
        };
        return option;
    }

    /// <summary>
    /// Accepts only one of <paramref name="choices"/>, refusing anything else in one sentence that lists them.
    /// </summary>
    public static Option<string> OneOf(Option<string> option, string what, params string[] choices)
    {
        option.HelpName = string.Join("|", choices);
        option.Validators.Add(r =>
        {
            var value = r.GetValueOrDefault<string>();
            if (!choices.Contains(value))
                r.AddError($"{option.Name} {value} is not {what}; choose one of {string.Join(", ", choices)}.");
        });
        option.CompletionSources.Add(choices);
        return option;
    }

    /// <summary>True when the user typed <paramref name="option"/> (rather than its default applying).</summary>
    public static bool IsExplicit(ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };
}
