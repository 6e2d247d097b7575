namespace Hearth.Server;

/// <summary>
/// N generation slots and a bounded wait queue. <see cref="TryEnterAsync"/> returns null at once when the queue is
/// full (the caller answers 429), so memory never grows with the number of waiting clients.
/// </summary>
internal sealed class GenerationSlots(int slots, int queueLength) : IDisposable
{
    private readonly SemaphoreSlim _semaphore = new(Math.Max(1, slots), Math.Max(1, slots));
    private int _waiting;
    private int _running;

    public int Slots { get; } = Math.Max(1, slots);

    public int QueueLength { get; } = Math.Max(0, queueLength);

    public int Waiting => Volatile.Read(ref _waiting);

    public int Running => Volatile.Read(ref _running);

    /// <summary>A slot (dispose it to free), or null when the queue is full.</summary>
    public async Task<IDisposable?> TryEnterAsync(CancellationToken cancellationToken)
    {
        if (_semaphore.Wait(0, CancellationToken.None))
            return Enter();
        if (Interlocked.Increment(ref _waiting) > QueueLength)
        {
            Interlocked.Decrement(ref _waiting);
            return null;
        }

        try
        {
            await _semaphore.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }

        return Enter();
    }

    private Slot Enter()
    {
        Interlocked.Increment(ref _running);
        return new Slot(this);
    }

    public void Dispose() => _semaphore.Dispose();

    private sealed class Slot(GenerationSlots owner) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) != 0)
                return;
            Interlocked.Decrement(ref owner._running);
            owner._semaphore.Release();
        }
    }
}
