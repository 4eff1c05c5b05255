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

    /// <summary>The sum of the kernel threads' allocation counters; it allocates nothing itself.</summary>
    public static long Total()
    {
        var threads = Workers.ThreadCount;
        var snapshot = new Snapshot { Deadline = Environment.TickCount64 + 30_000 };
        Workers.Run(threads, &snapshot, &ReadCounter);
        if (snapshot.Arrived != threads)
            throw new InvalidOperationException($"Only {snapshot.Arrived} of {threads} kernel threads took a part.");
        return snapshot.Total;
    }

    private static void ReadCounter(void* state, int part)
    {
        var snapshot = (Snapshot*)state;
        Interlocked.Add(ref snapshot->Total, GC.GetAllocatedBytesForCurrentThread());
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
}
