using LeNet.Kernels.Cpu;

namespace LeNet.Tests.Kernels.Cpu;

public unsafe class WorkersTests
{
    private struct Counts
    {
        public int* Hits;
        public int* Threads;
    }

    private static void CountPart(void* state, int part)
    {
        var counts = (Counts*)state;
        Interlocked.Increment(ref counts->Hits[part]);
        counts->Threads[part] = Environment.CurrentManagedThreadId;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(1000)]
    public void Every_part_runs_exactly_once(int parts)
    {
        var hits = new int[parts];
        var threads = new int[parts];
        for (var repeat = 0; repeat < 50; repeat++)
        {
            Array.Clear(hits);
            fixed (int* h = hits, t = threads)
            {
                var counts = new Counts { Hits = h, Threads = t };
                Workers.Run(parts, &counts, &CountPart);
            }
            Assert.All(hits, count => Assert.Equal(1, count));
        }
    }

    private static void Throw(void* state, int part)
    {
        if (part == 3) throw new InvalidOperationException("part three failed");
    }

    [Fact]
    public void An_exception_in_a_part_reaches_the_caller_and_the_pool_still_works()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Workers.Run(8, null, &Throw));
        Assert.Equal("part three failed", error.Message);
        Every_part_runs_exactly_once(16);
    }

    private static void Nested(void* state, int part)
    {
        var total = (int*)state;
        var inner = 0;
        Workers.Run(4, &inner, &AddOne);
        Interlocked.Add(ref *total, inner);
    }

    private static void AddOne(void* state, int part) => Interlocked.Increment(ref *(int*)state);

    [Fact]
    public void A_loop_inside_a_part_runs_serially_and_completes()
    {
        var total = 0;
        Workers.Run(5, &total, &Nested);
        Assert.Equal(20, total);
    }

    [Fact]
    public void Loops_from_several_threads_at_once_all_complete()
    {
        Parallel.For(0, 8, _ =>
        {
            for (var repeat = 0; repeat < 100; repeat++)
            {
                var total = 0;
                Workers.Run(9, &total, &AddOne);
                Assert.Equal(9, total);
            }
        });
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("0")]
    [InlineData("-2")]
    [InlineData("1e3")]
    [InlineData(" 2")]
    [InlineData("10000")]
    [InlineData("99999999999")]
    public void A_thread_count_that_is_not_a_whole_number_within_four_per_core_is_refused(string text)
    {
        Assert.Null(Workers.ParseThreadCount(text));
        Assert.Equal($"LENET_THREADS is {text}; it must be a whole number from 1 to {4 * Environment.ProcessorCount} " +
            $"(4 per core on this machine's {Environment.ProcessorCount}).",
            Workers.ThreadCountProblem("LENET_THREADS", text));
    }

    [Fact]
    public void Four_threads_per_core_are_allowed_and_one_more_is_refused_before_any_thread_starts()
    {
        Assert.Equal(Workers.MaxThreadCount, Workers.ParseThreadCount($"{Workers.MaxThreadCount}"));
        Assert.Equal(1, Workers.ParseThreadCount("1"));
        var saved = Workers.ThreadCount;
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            Workers.SetThreadCount(Workers.MaxThreadCount + 1));
        Assert.Contains("it must be a whole number from 1 to", error.Message);
        Assert.Equal(saved, Workers.ThreadCount);
    }
}

/// <summary>Block claiming at other thread counts, and a worker that stalls: the others take its block.</summary>
[Collection(ElementwiseThreadCountCollection.Name)]
public unsafe class WorkersBlockTests
{
    private struct Record
    {
        public int* Hits;
        public int* Threads;
        public int Caller;
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(2, 3)]
    [InlineData(3, 2)]   // fewer parts than threads: some blocks are empty
    [InlineData(3, 64)]
    [InlineData(5, 7)]
    [InlineData(5, 1000)]
    public void Every_part_runs_exactly_once_at_any_thread_count(int threads, int parts) =>
        ElementwiseTestSupport.WithThreads(threads, () => new WorkersTests().Every_part_runs_exactly_once(parts));

    private static void StallOffTheCaller(void* state, int part)
    {
        var record = (Record*)state;
        // The first part a worker claims (from its own block) takes long: the caller must not wait for the rest.
        if (Environment.CurrentManagedThreadId != record->Caller && Interlocked.Increment(ref *record->Hits) == 1)
            Thread.Sleep(300);
        record->Threads[part] = Environment.CurrentManagedThreadId;
    }

    [Fact]
    public void The_caller_takes_over_the_block_of_a_worker_that_stalls()
    {
        const int parts = 64;
        ElementwiseTestSupport.WithThreads(2, () =>
        {
            var ran = new int[parts];
            var stalls = new int[1];
            fixed (int* t = ran, s = stalls)
            {
                var record = new Record { Hits = s, Threads = t, Caller = Environment.CurrentManagedThreadId };
                Workers.Run(parts, &record, &StallOffTheCaller);
            }
            Assert.All(ran, thread => Assert.NotEqual(0, thread));
            // The worker ran at most the part it stalled in (none if it woke after the caller had finished).
            Assert.True(ran.Count(thread => thread != Environment.CurrentManagedThreadId) <= 1,
                $"the worker ran {ran.Count(thread => thread != Environment.CurrentManagedThreadId)} parts");
        });
    }
}
