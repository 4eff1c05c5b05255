namespace LeNet.Train;

/// <summary>Options and parsers of the commands; a bad value is refused in one sentence naming the option.</summary>
public static class OptionParsers
{
    public static Option<T> Described<T>(string name, string description) => new(name) { Description = description };

    public static Option<T> Described<T>(string name, string description, T defaultValue) =>
        new(name) { Description = description, DefaultValueFactory = _ => defaultValue };

    /// <summary>Help shows <c>--lr &lt;RATE&gt;</c>, saying what goes there, rather than the option's name.</summary>
    public static Option<T> Placeholder<T>(Option<T> option, string helpName)
    {
        option.HelpName = helpName;
        return option;
    }

    /// <summary>Makes an integer option accept only whole numbers of at least 1.</summary>
    public static Option<T> Positive<T>(Option<T> option) => Parsed(option, "a whole number of at least 1",
        text => int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= 1
            ? value : null);

    /// <summary>Parses with <paramref name="parse"/>, null meaning the text is not <paramref name="rule"/>.</summary>
    public static Option<T> Parsed<T>(Option<T> option, string rule, Func<string, object?> parse)
    {
        option.CustomParser = r =>
        {
            var text = r.Tokens.Count == 1 ? r.Tokens[0].Value : "";
            if (parse(text) is T value) return value;
            r.AddError($"{option.Name} must be {rule}, not '{text}'.");
            return default!;
        };
        return option;
    }

    /// <summary>Accepts only one of <paramref name="choices"/>, which the help and completions list.</summary>
    public static Option<string> OneOf(Option<string> option, string what, params string[] choices)
    {
        option.HelpName = string.Join("|", choices);
        option.CompletionSources.Add(choices);
        return Allowing(option, what, choices);
    }

    /// <summary>Refuses a value not among <paramref name="choices"/> in one sentence that lists them.</summary>
    public static Option<string> Allowing(Option<string> option, string what, IReadOnlyList<string> choices)
    {
        option.Validators.Add(r =>
        {
            var value = r.GetValueOrDefault<string>();
            if (!choices.Contains(value))
                r.AddError($"{option.Name} {value} is not {what}; choose one of {string.Join(", ", choices)}.");
        });
        return option;
    }

    /// <summary>Refuses an empty path (<c>--output ""</c>), which names no <paramref name="what"/> (file or
    /// folder).</summary>
    public static Option<T> NamingAPath<T>(Option<T> option, string what)
    {
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<T>() is string path && string.IsNullOrWhiteSpace(path))
                r.AddError($"{option.Name} is empty; name the {what} to write to.");
        });
        return option;
    }

    /// <summary>True when the user typed <paramref name="option"/> (rather than its default applying).</summary>
    public static bool IsExplicit(ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };
}
