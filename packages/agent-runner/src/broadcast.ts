/**
 * Fan-out of values to any number of async iterators. Each iterator gets the
 * values published after it was created (plus, with `replayLatest`, the last
 * one published before); `close()` ends every iterator after its buffered
 * values. An iterator whose consumer breaks out of `for await` unsubscribes.
 */
export class Broadcast<T> {
  private readonly subscribers = new Set<Subscriber<T>>();
  private latest: { value: T } | undefined;
  private closed = false;

  constructor(private readonly replayLatest = false) {}

  publish(value: T): void {
    if (this.closed) return;
    if (this.replayLatest) this.latest = { value };
    for (const s of this.subscribers) s.push(value);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.subscribers) s.end();
    this.subscribers.clear();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  subscribe(): AsyncIterableIterator<T> {
    const sub = new Subscriber<T>(() => this.subscribers.delete(sub));
    if (this.latest) sub.push(this.latest.value);
    if (this.closed) sub.end();
    else this.subscribers.add(sub);
    return sub;
  }
}

class Subscriber<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private waiting: ((r: IteratorResult<T>) => void) | undefined;
  private ended = false;

  constructor(private readonly unsubscribe: () => void) {}

  push(value: T): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w({ value, done: false });
    } else {
      this.buffer.push(value);
    }
  }

  end(): void {
    this.ended = true;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffer.length > 0) {
      return Promise.resolve({ value: this.buffer.shift() as T, done: false });
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.buffer.length = 0;
    this.unsubscribe();
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
