using LeNet.Kernels.Cpu;

namespace LeNet.Tests.Core;

/// <summary>
/// Bytes allocated so far by the threads that run the CPU kernels: the calling thread and every worker of
/// <see cref="Workers"/>. Each thread's own counter (<see cref="GC.GetAllocatedBytesForCurrentThread"/>) is read on
/// that thread, by a loop of one part per thread whose parts wait for each other, so no thread can run two parts.
/// Unlike a process-wide count, the test runner's own threads do not add to it.
/// </summary>
internal static unsafe class KernelThreadAllocations
{
    private struct Snapshot
    {
        public int Arrived;
        public long Total;
        public long Deadline;
    }

    // Each thread's counter at the last reading and at the one before, by managed thread id, for failure messages.
    private static readonly int[] Ids = new int[Workers.MaxThreadCount], PreviousIds = new int[Workers.MaxThreadCount];
    private static readonly long[] Bytes = new long[Workers.MaxThreadCount],
        PreviousBytes = new long[Workers.MaxThreadCount];
    private static int _read, _previousRead;

    /// <summary>The sum of the kernel threads' allocation counters; it allocates nothing itself.</summary>
    public static long Total()
    {
        var threads = Workers.ThreadCount;
        Array.Copy(Ids, PreviousIds, Ids.Length);
        Array.Copy(Bytes, PreviousBytes, Bytes.Length);
        (_previousRead, _read) = (_read, 0);
        var snapshot = new Snapshot { Deadline = Environment.TickCount64 + 30_000 };
        Workers.Run(threads, &snapshot, &ReadCounter);
        if (snapshot.Arrived != threads)
            throw new InvalidOperationException($"Only {snapshot.Arrived} of {threads} kernel threads took a part.");
        return snapshot.Total;
    }

    /// <summary>
    /// What each kernel thread allocated between the last two readings of <see cref="Total"/> ("thread 12 (the
    /// caller): 5,216 bytes; thread 15: 0 bytes"), for a failure message; it allocates.
    /// </summary>
    public static string LastInterval()
    {
        var parts = new List<string>();
        for (var i = 0; i < _read; i++)
        {
            var k = Array.IndexOf(PreviousIds, Ids[i], 0, _previousRead);
            var caller = Ids[i] == Environment.CurrentManagedThreadId ? " (the caller)" : "";
            parts.Add(k < 0 ? $"thread {Ids[i]}{caller}: not read before"
                : $"thread {Ids[i]}{caller}: {Bytes[i] - PreviousBytes[k]:N0} bytes");
        }
        return string.Join("; ", parts);
    }

    private static void ReadCounter(void* state, int part)
    {
        var snapshot = (Snapshot*)state;
        var bytes = GC.GetAllocatedBytesForCurrentThread();
        var slot = Interlocked.Increment(ref _read) - 1;
        (Ids[slot], Bytes[slot]) = (Environment.CurrentManagedThreadId, bytes);
        Interlocked.Add(ref snapshot->Total, bytes);
        Interlocked.Increment(ref snapshot->Arrived);
        // Hold this thread until every part has begun: each part then ran on a thread of its own.
        var threads = Workers.ThreadCount;
        while (Volatile.Read(ref snapshot->Arrived) < threads)
        {
            if (Environment.TickCount64 > snapshot->Deadline)
                throw new TimeoutException("A kernel worker thread did not take its part within 30 seconds.");
            Thread.Yield(); // more workers than cores must still get their turn
        }
    }

    private struct Turns
    {
        public int Arrived, Next;
        public long Deadline;
    }

    private static Action? _turnAction;

    /// <summary>
    /// Runs <paramref name="action"/> once on each kernel thread, one thread after another, every loop inside it on
    /// that thread: each thread's scratch is then sized for what the action does. (Left to the loops, a worker the
    /// operating system has not scheduled claims no part, and may first size its scratch many batches later.)
    /// </summary>
    public static void OnEveryThread(Action action)
    {
        var threads = Workers.ThreadCount;
        var turns = new Turns { Deadline = Environment.TickCount64 + 30_000 };
        _turnAction = action;
        try { Workers.Run(threads, &turns, &TakeTurn); }
        finally { _turnAction = null; }
        if (turns.Next != threads)
            throw new InvalidOperationException($"Only {turns.Next} of {threads} kernel threads ran.");
    }

    private static void TakeTurn(void* state, int part)
    {
        var turns = (Turns*)state;
        Interlocked.Increment(ref turns->Arrived);
        // Every part begun first (so each holds a thread of its own), then each in part order.
        WaitFor(turns, () => Volatile.Read(ref turns->Arrived) >= Workers.ThreadCount);
        WaitFor(turns, () => Volatile.Read(ref turns->Next) == part);
        _turnAction!();
        Volatile.Write(ref turns->Next, part + 1);
    }

    private static void WaitFor(Turns* turns, Func<bool> done)
    {
        while (!done())
        {
            if (Environment.TickCount64 > turns->Deadline)
                throw new TimeoutException("A kernel worker thread did not take its turn within 30 seconds.");
            Thread.Yield();
        }
    }
}
