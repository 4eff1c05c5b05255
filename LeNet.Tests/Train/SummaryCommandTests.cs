using LeNet.Core.Models;
using LeNet.Core.Serialization;
using LeNet.Train;

namespace LeNet.Tests.Train;

// The summary command run in-process: by variant name, by a model file (the architecture read from its metadata),
// and refusing what is neither in one sentence.
public class SummaryCommandTests
{
    [Fact]
    public void Summary_prints_lenet5s_table_by_default()
    {
        var (code, output, error) = Run("summary");
        Assert.Equal(0, code);
        Assert.Empty(error);
        var expected = new StringWriter();
        ModelSummary.Of(new LeNet5(), 1, 32, 32).WriteTable(expected);
        Assert.Equal(expected.ToString(), output);
        Assert.Contains("Total params: 61,750", output);
    }

    [Fact]
    public void Summary_of_a_saved_model_shows_the_architecture_its_metadata_names()
    {
        using var folder = new TemporaryFolder();
        var path = Path.Combine(folder.Path, "model.safetensors");
        SafeTensors.Save(path, ModelVariants.Create(LeNet1998.ModelName, seed: 3).StateDict(),
            new Dictionary<string, string>
            {
                ["format"] = "lenet-csharp", ["format_version"] = "1", ["model"] = LeNet1998.ModelName,
                ["classes"] = "10",
            });

        var byName = Run("summary", "--model", LeNet1998.ModelName);
        var byFile = Run("summary", "--model", path);
        var byFolder = Run("summary", "--model", folder.Path);
        Assert.Equal((0, ""), (byFile.Code, byFile.Error));
        Assert.Contains("LeNet1998", byFile.Output);
        Assert.Contains("features.1 (Tanh)", byFile.Output);
        Assert.Contains("Total params: 61,706", byFile.Output);
        Assert.Equal(byName, byFile);
        Assert.Equal(byName, byFolder);
    }

    [Fact]
    public void A_file_that_is_not_a_model_ends_in_one_sentence_and_exit_code_1()
    {
        using var folder = new TemporaryFolder();
        var notes = Path.Combine(folder.Path, "notes.txt");
        File.WriteAllText(notes, "not a model, just some notes\n");

        var (code, output, error) = Run("summary", "--model", notes);
        Assert.Equal(1, code);
        Assert.Empty(output);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Contains(notes, error);
        Assert.EndsWith(".", error.TrimEnd());
    }

    [Fact]
    public void A_name_that_is_neither_a_variant_nor_a_file_suggests_the_nearest_variant()
    {
        var (code, output, error) = Run("summary", "--model", "lenet6");
        Assert.Equal((1, ""), (code, output));
        Assert.Equal("--model lenet6 is neither a model variant nor a model file (did you mean lenet5?); name one of " +
            "lenet5, lenet5-table, lenet1998 or the model.safetensors that train wrote.", error.TrimEnd());
    }

    private static (int Code, string Output, string Error) Run(params string[] arguments)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var code = Cli.Run(arguments, error, output);
        return (code, output.ToString(), error.ToString());
    }
}
