using System.Runtime.InteropServices;

namespace LeNet.Train;

/// <summary>
/// Turns the first SIGINT (Ctrl-C) or SIGTERM into a request to stop: the process is not terminated, the token is
/// cancelled, and the training loop, which checks it between steps, saves a checkpoint of the last completed step and
/// ends. A second signal is left to its default action, ending the process at once (every file is written
/// atomically, so even then none is left half-written).
/// </summary>
public sealed class StopSignals : IDisposable
{
    /// <summary>128 + the signal's number, as shells report a process it ended.</summary>
    public const int SigintExitCode = 130, SigtermExitCode = 143;

    private readonly CancellationTokenSource _source = new();
    private readonly PosixSignalRegistration[] _registrations;
    private int _received;

    public StopSignals() => _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle),
        PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle)];

    public CancellationToken Token => _source.Token;
    public int ExitCode => _received == (int)PosixSignal.SIGTERM ? SigtermExitCode : SigintExitCode;

    private void Handle(PosixSignalContext context)
    {
        if (Interlocked.CompareExchange(ref _received, (int)context.Signal, 0) != 0) return;
        context.Cancel = true;
        _source.Cancel();
    }

    public void Dispose()
    {
        foreach (var registration in _registrations) registration.Dispose();
        _source.Dispose();
    }
}
