// The namespaces most files of this command-line project use.
global using System.CommandLine;
global using System.Globalization;
global using System.Text.Json;
global using LeNet.Core;
global using LeNet.Core.Serialization;
global using LeNet.Mnist;
