using LeNet.Train;

var parse = TrainCommand.Create().Parse(args);
if (parse.Errors.Count > 0)
{
    foreach (var error in parse.Errors) Console.Error.WriteLine(error.Message);
    Console.Error.WriteLine("Run with --help to see the options.");
    return 2;
}
return parse.Invoke();
