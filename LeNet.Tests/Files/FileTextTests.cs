using LeNet.Core.Files;
using LeNet.Mnist;
using LeNet.Tests.Mnist;

namespace LeNet.Tests.Files;

/// <summary>Text from files before it reaches a terminal (issue 19, points 5 and 9).</summary>
public class FileTextTests
{
    public static TheoryData<string, string> BadNames => new()
    {
        { "\u001b[2J", "U+001B" },                   // clear screen
        { "seven\u001b]0;owned\u0007", "U+001B" },   // window title
        { "a\rb", "U+000D" },
        { "a\u2028b", "U+2028" },
        { "right\u202Eleft", "U+202E" },             // bidirectional override
        { new string('x', 65), "65 characters long, more than 64" },
        { new string('x', 30_000), "30,000 characters long" },
        { " padded", "white space" },
    };

    [Theory]
    [MemberData(nameof(BadNames))]
    public void Unprintable_or_overlong_class_names_are_refused_with_the_reason(string name, string reason) =>
        Assert.Contains(reason, FileText.ClassNameProblem(name));

    [Theory]
    [InlineData("T-shirt/top")]
    [InlineData("Ankle boot")]
    [InlineData("お")]
    [InlineData("😀 happy")]
    public void Printable_names_of_any_script_are_accepted(string name) => Assert.Null(FileText.ClassNameProblem(name));

    [Fact]
    public void Escape_writes_control_characters_as_code_points_and_leaves_printable_text_alone()
    {
        Assert.Equal("\\u001b[2Jdigit\\u000a7", FileText.Escape("\u001b[2Jdigit\n7"));
        Assert.Equal("😀 plain/path-1.png", FileText.Escape("😀 plain/path-1.png"));
        Assert.Equal("a\\ud800b", FileText.Escape("a\uD800b"));
    }

    [Fact]
    public void A_classes_file_with_an_escape_sequence_is_refused_naming_the_line()
    {
        using var folder = new TempDirectory();
        File.WriteAllLines(folder.Combine(ClassNamesFile.FileName),
            ["zero", "one", "two", "three", "four\u001b[2J", "five", "six", "seven", "eight", "nine"]);

        var error = Assert.Throws<MnistDataException>(() => ClassNamesFile.Load(folder.Path));

        Assert.Contains("the name on line 5 cannot be a class name (it holds the unprintable character U+001B)",
            error.Message);
        Assert.DoesNotContain("\u001b", error.Message);
    }

    [Fact]
    public void A_classes_file_with_a_30000_character_name_is_refused()
    {
        using var folder = new TempDirectory();
        File.WriteAllLines(folder.Combine(ClassNamesFile.FileName),
            ["zero", new string('1', 30_000), "two", "three", "four", "five", "six", "seven", "eight", "nine"]);

        var error = Assert.Throws<MnistDataException>(() => ClassNamesFile.Load(folder.Path));

        Assert.Contains("line 2", error.Message);
        Assert.Contains("30,000 characters long", error.Message);
    }
}
