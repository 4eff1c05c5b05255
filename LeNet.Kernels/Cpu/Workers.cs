using System.Runtime.ExceptionServices;

namespace LeNet.Kernels.Cpu;

/// <summary>
/// Persistent worker threads for the CPU kernels: <see cref="Run"/> splits a loop into parts that the caller's
/// thread and the workers take in turn, and returns when all are done. A call allocates nothing.
/// Kernels that reduce (weight gradients, batch statistics) give each part its own partial buffer and add the
/// partials in part order afterwards, so results never depend on which thread ran which part.
/// </summary>
public static unsafe class Workers
{
    private static readonly object Gate = new();
    private static Thread[] _threads = [];
    private static int _threadCount;

    // The loop being run: state and body are published before the generation moves on.
    private static void* _state;
    private static delegate*<void*, int, void> _body;
    private static int _parts;
    private static int _nextPart;
    private static int _pending;
    private static long _generation;
    private static ExceptionDispatchInfo? _error;
    private static volatile bool _stopping;

    // Workers spin for a while after a loop (the next one usually follows within microseconds), then sleep here.
    private static readonly object Sleep = new();
    private static int _sleepers;
    private const int SpinIterations = 20_000;

    [ThreadStatic] private static bool _insideRun;

    static Workers() => SetThreadCount(DefaultThreadCount());

    /// <summary>Threads that run a loop, the caller's included: LENET_THREADS when set, else the processor count.</summary>
    public static int ThreadCount => _threadCount;

    /// <summary>Sets how many threads (the caller's included) run each loop; 1 runs everything on the caller's thread.</summary>
    public static void SetThreadCount(int count)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "The thread count must be at least 1.");
        lock (Gate)
        {
            if (count == _threadCount) return;
            StopThreads();
            _threadCount = count;
            _threads = new Thread[count - 1];
            for (var i = 0; i < _threads.Length; i++)
            {
                _threads[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"LeNet worker {i + 1}" };
                // The worker must wait for the generation after this one, even if it starts running late.
                _threads[i].Start(Volatile.Read(ref _generation));
            }
        }
    }

    /// <summary>
    /// Runs body(state, part) for part = 0 .. parts − 1, on this thread and the workers, and waits for all of them.
    /// Calls from inside a part, or while another thread's loop is running, run serially on the calling thread.
    /// </summary>
    public static void Run(int parts, void* state, delegate*<void*, int, void> body)
    {
        if (parts <= 0) return;
        if (parts == 1 || _threadCount == 1 || _insideRun || !Monitor.TryEnter(Gate))
        {
            RunSerially(parts, state, body);
            return;
        }
        try
        {
            _state = state;
            _body = body;
            _parts = parts;
            _nextPart = 0;
            _error = null;
            _pending = _threads.Length + 1;
            Interlocked.Increment(ref _generation);
            lock (Sleep) if (_sleepers > 0) Monitor.PulseAll(Sleep);
            TakeParts();
            var spin = new SpinWait();
            while (Volatile.Read(ref _pending) != 0) spin.SpinOnce(sleep1Threshold: -1);
            _error?.Throw();
        }
        finally
        {
            _state = null;
            Monitor.Exit(Gate);
        }
    }

    private static void RunSerially(int parts, void* state, delegate*<void*, int, void> body)
    {
        var outer = _insideRun;
        _insideRun = true;
        try { for (var part = 0; part < parts; part++) body(state, part); }
        finally { _insideRun = outer; }
    }

    /// <summary>Takes parts until none is left, then signs off.</summary>
    private static void TakeParts()
    {
        _insideRun = true;
        try
        {
            int part;
            while ((part = Interlocked.Increment(ref _nextPart) - 1) < _parts)
                _body(_state, part);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(e), null);
            Volatile.Write(ref _nextPart, int.MaxValue / 2);
        }
        finally
        {
            _insideRun = false;
            Interlocked.Decrement(ref _pending);
        }
    }

    private static void WorkerLoop(object? startGeneration)
    {
        var seen = (long)startGeneration!;
        while (true)
        {
            for (var spins = 0; Volatile.Read(ref _generation) == seen; spins++)
            {
                if (spins < SpinIterations) { Thread.SpinWait(20); continue; }
                lock (Sleep)
                {
                    _sleepers++;
                    while (Volatile.Read(ref _generation) == seen) Monitor.Wait(Sleep);
                    _sleepers--;
                }
            }
            seen = Volatile.Read(ref _generation);
            if (_stopping) return;
            TakeParts();
        }
    }

    private static void StopThreads()
    {
        if (_threads.Length == 0) return;
        _stopping = true;
        Interlocked.Increment(ref _generation);
        lock (Sleep) Monitor.PulseAll(Sleep);
        foreach (var thread in _threads) thread.Join();
        _stopping = false;
    }

    private static int DefaultThreadCount() =>
        int.TryParse(Environment.GetEnvironmentVariable("LENET_THREADS"), out var n) && n >= 1 ? n : Environment.ProcessorCount;
}
