namespace LeNet.Core.Serialization.Onnx;

/// <summary>A model the ONNX exporter cannot represent; the message is one sentence saying what and why.</summary>
public sealed class OnnxExportException(string message, Exception? inner = null) : Exception(message, inner);
