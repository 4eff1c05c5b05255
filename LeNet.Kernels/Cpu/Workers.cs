using System.Runtime.ExceptionServices;

namespace LeNet.Kernels.Cpu;

/// <summary>
/// Persistent worker threads for the CPU kernels: <see cref="Run"/> splits a loop into parts that the caller's
/// thread and the workers claim in turn, and returns when every part is done. A call allocates nothing.
/// Kernels that reduce (weight gradients, batch statistics) give each part its own partial buffer and add the
/// partials in part order afterwards, so results never depend on which thread ran which part.
/// </summary>
/// <remarks>
/// Each thread first claims the parts of its own block (thread i of T: parts i·n/T to (i+1)·n/T), so that successive
/// loops over a batch give a thread the same images and their data stays in that core's cache; then it takes what is
/// left of the other blocks. The caller waits for parts, not for threads: a worker the operating system has not
/// scheduled yet claims nothing, and the others run its block. A block's claims go through its own 64-bit counter
/// (loop generation in the high half, next part in the low half), so a worker that wakes late can never claim a part
/// of a loop that has ended.
/// </remarks>
public static unsafe class Workers
{
    private static readonly object Gate = new();
    private static Thread[] _threads = [];
    private static int _threadCount;

    // The loop being run, published before its ticket (the generation, shifted left 32 bits, that wakes the workers).
    private static void* _state;
    private static delegate*<void*, int, void> _body;
    private static int _parts;
    private static int _completed;
    private static long _ticket;
    // Per thread (the caller's first), the claim counter of its block, 128 bytes apart so that claims in different
    // blocks do not share a cache line.
    private static long[] _counters = [];
    private const int CounterStride = 16;
    private static ExceptionDispatchInfo? _error;
    private static volatile bool _stopping;

    // Workers spin for a while after a loop (the next one usually follows within microseconds), then sleep here. They
    // and the caller poll at the finest grain (one SpinWait unit): a coarser one delays each loop's start and end.
    private static readonly object Sleep = new();
    private static int _sleepers;
    private const int FinePolls = 400_000;

    [ThreadStatic] private static bool _insideRun;

    static Workers() => SetThreadCount(DefaultThreadCount());

    /// <summary>Threads that run a loop, the caller's included: LENET_THREADS when set, else the processor
    /// count.</summary>
    public static int ThreadCount => _threadCount;

    public const string ThreadsVariable = "LENET_THREADS";

    /// <summary>The most threads a loop may use: 4 per core. More only adds switching (and 10,000 threads take a minute
    /// to start).</summary>
    public static int MaxThreadCount { get; } = 4 * Environment.ProcessorCount;

    /// <summary>Why <see cref="ThreadsVariable"/> cannot be used, in one sentence; null when it is unset or valid. An
    /// invalid value is not silently ignored: the kernels then use every core, and a program should refuse to
    /// run.</summary>
    public static string? ThreadsVariableProblem { get; } =
        Environment.GetEnvironmentVariable(ThreadsVariable) is { } text && ParseThreadCount(text) is null
            ? ThreadCountProblem(ThreadsVariable, text)
            : null;

    /// <summary>"NAME is VALUE; it must be a whole number from 1 to MAX (4 per core)".</summary>
    public static string ThreadCountProblem(string name, string value) =>
        $"{name} is {value}; it must be a whole number from 1 to {MaxThreadCount} (4 per core on this machine's " +
        $"{Environment.ProcessorCount}).";

    internal static int? ParseThreadCount(string text) =>
        int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture,
            out var n) && n >= 1 && n <= MaxThreadCount ? n : null;

    /// <summary>Sets how many threads (the caller's included) run each loop; 1 runs everything on the caller's
    /// thread.</summary>
    public static void SetThreadCount(int count)
    {
        if (count < 1 || count > MaxThreadCount)
            throw new ArgumentOutOfRangeException(nameof(count), count,
                ThreadCountProblem("The thread count", $"{count}"));
        lock (Gate)
        {
            if (count == _threadCount) return;
            StopThreads();
            _threadCount = count;
            _counters = new long[count * CounterStride];
            _threads = new Thread[count - 1];
            for (var i = 0; i < _threads.Length; i++)
            {
                _threads[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"LeNet worker {i + 1}" };
                // The worker waits for the loop after the current one, however late it starts running.
                _threads[i].Start((i + 1, Generation(Volatile.Read(ref _ticket))));
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
            // 32 bits of generation, wrapping (after 4·10⁹ loops, a day or two of training) as the ticket's half does.
            var generation = (Generation(_ticket) + 1) & 0xFFFF_FFFF;
            // Move every block counter to the new generation before touching the loop's fields (a late worker of the
            // last loop then claims nothing), publish the fields, then the ticket that wakes the workers.
            for (var i = 0; i < _threadCount; i++)
                Volatile.Write(ref _counters[i * CounterStride], generation << 32 | (uint)BlockStart(i, parts));
            _state = state;
            _body = body;
            _parts = parts;
            _completed = 0;
            _error = null;
            Volatile.Write(ref _ticket, generation << 32);
            lock (Sleep) if (_sleepers > 0) Monitor.PulseAll(Sleep);
            ClaimParts(generation, 0);
            // A part usually ends within microseconds: poll at the finest grain for a while (SpinWait's backoff polls
            // about a microsecond apart and soon yields the core), unless threads outnumber the cores; then back off.
            int polls = _threadCount <= Environment.ProcessorCount ? FinePolls : 0;
            while (Volatile.Read(ref _completed) != parts && polls-- > 0) Thread.SpinWait(1);
            var spin = new SpinWait();
            while (Volatile.Read(ref _completed) != parts) spin.SpinOnce(sleep1Threshold: -1);
            _error?.Throw();
        }
        finally
        {
            _state = null;
            Monitor.Exit(Gate);
        }
    }

    /// <summary>Runs <paramref name="body"/> with every loop inside it on the calling thread (as a loop's part does):
    /// for work too small to be worth waking the workers, such as a server's single image.</summary>
    public static void OnThisThread(Action body)
    {
        var outer = _insideRun;
        _insideRun = true;
        try { body(); }
        finally { _insideRun = outer; }
    }

    private static void RunSerially(int parts, void* state, delegate*<void*, int, void> body)
    {
        var outer = _insideRun;
        _insideRun = true;
        try { for (var part = 0; part < parts; part++) body(state, part); }
        finally { _insideRun = outer; }
    }

    /// <summary>The first part of thread <paramref name="thread"/>'s block (the end of the last block at
    /// ThreadCount).</summary>
    private static int BlockStart(int thread, int parts) => (int)((long)parts * thread / _threadCount);

    /// <summary>Claims and runs parts of loop <paramref name="generation"/>, its own block's first, until none is
    /// left.</summary>
    private static void ClaimParts(long generation, int self)
    {
        _insideRun = true;
        try
        {
            var threads = _threadCount;
            for (int k = 0, block = self; k < threads; k++, block = block + 1 == threads ? 0 : block + 1)
            {
                ref var counter = ref _counters[block * CounterStride];
                while (true)
                {
                    var claim = Volatile.Read(ref counter);
                    if (Generation(claim) != generation) return; // the loop has ended
                    // Read after the counter: if _parts is already the next loop's, the counter has moved on and the
                    // exchange below fails.
                    var part = (int)(claim & 0xFFFF_FFFF);
                    if (part >= BlockStart(block + 1, Volatile.Read(ref _parts))) break;
                    if (Interlocked.CompareExchange(ref counter, claim + 1, claim) != claim) continue;
                    // The claim succeeded, so this loop cannot end before the part is done: its fields are still ours.
                    try { _body(_state, part); }
                    catch (Exception e)
                    {
                        Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(e), null);
                    }
                    Interlocked.Increment(ref _completed);
                }
            }
        }
        finally { _insideRun = false; }
    }

    private static void WorkerLoop(object? start)
    {
        var (self, seen) = ((int, long))start!;
        while (true)
        {
            for (var spins = 0; Generation(Volatile.Read(ref _ticket)) == seen; spins++)
            {
                if (spins < FinePolls) { Thread.SpinWait(1); continue; }
                lock (Sleep)
                {
                    _sleepers++;
                    while (Generation(Volatile.Read(ref _ticket)) == seen) Monitor.Wait(Sleep);
                    _sleepers--;
                }
            }
            seen = Generation(Volatile.Read(ref _ticket));
            if (_stopping) return;
            ClaimParts(seen, self);
        }
    }

    private static long Generation(long ticket) => ticket >>> 32;

    private static void StopThreads()
    {
        if (_threads.Length == 0) return;
        _stopping = true;
        Volatile.Write(ref _ticket, ((Generation(_ticket) + 1) & 0xFFFF_FFFF) << 32);
        lock (Sleep) Monitor.PulseAll(Sleep);
        foreach (var thread in _threads) thread.Join();
        _stopping = false;
    }

    private static int DefaultThreadCount() =>
        ParseThreadCount(Environment.GetEnvironmentVariable(ThreadsVariable) ?? "") ?? Environment.ProcessorCount;
}
