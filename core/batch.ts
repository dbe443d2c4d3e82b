/**
 * Gathers single requests made in the same turn of the event loop into one call
 * (DataLoader's trick): N deliveries arriving together cost one database round trip.
 */
export function createBatchLoader<K, V>(
  loadMany: (keys: K[]) => Promise<Map<K, V>>,
  maxBatch = 1000,
): (key: K) => Promise<V | undefined> {
  let queue: Array<{ key: K; resolve: (v: V | undefined) => void; reject: (e: unknown) => void }> =
    [];
  let scheduled = false;

  const run = async (batch: typeof queue) => {
    try {
      const found = await loadMany([...new Set(batch.map((b) => b.key))]);
      for (const b of batch) b.resolve(found.get(b.key));
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  };

  const flush = () => {
    scheduled = false;
    const all = queue;
    queue = [];
    for (let i = 0; i < all.length; i += maxBatch) void run(all.slice(i, i + maxBatch));
  };

  return (key: K) =>
    new Promise<V | undefined>((resolve, reject) => {
      queue.push({ key, resolve, reject });
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
}

/**
 * Gathers writes into one flush: callers await the flush that carries their write and get
 * their own item's result. At most one flush runs at a time; writes arriving meanwhile wait
 * for the next one, which is what makes batches grow with load.
 */
export function createResultBatcher<T, R>(write: (items: T[]) => Promise<R[]>, maxBatch = 2000) {
  let queue: Array<{ item: T; resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  let running: Promise<void> | null = null;

  const drain = async () => {
    while (queue.length > 0) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      try {
        const results = await write(batch.map((b) => b.item));
        for (const [i, b] of batch.entries()) b.resolve(results[i] as R);
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    running = null;
  };

  return {
    add(item: T): Promise<R> {
      return new Promise<R>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        if (!running) running = new Promise<void>((r) => setImmediate(r)).then(drain);
      });
    },
    /** Resolves when every write added so far has been flushed. */
    async idle(): Promise<void> {
      while (running) await running;
    },
  };
}

/** createResultBatcher for writes that return nothing. */
export function createWriteBatcher<T>(write: (items: T[]) => Promise<void>, maxBatch = 2000) {
  return createResultBatcher<T, void>(async (items) => {
    await write(items);
    return [];
  }, maxBatch);
}
