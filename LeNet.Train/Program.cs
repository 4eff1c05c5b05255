using LeNet.Train;

return Cli.Run(args);
