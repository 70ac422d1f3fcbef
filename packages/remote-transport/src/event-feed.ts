import type { EventEmitter } from 'node:events';
import { on } from 'node:events';

/**
 * The `name` events of an emitter as an async iterable, ending when `signal`
 * aborts or the emitter emits `closed` (how RemoteClient's result and state
 * feeds end, and those of anything standing in for a client).
 */
export function eventFeed<T>(
  events: EventEmitter,
  name: string,
  signal?: AbortSignal,
): AsyncIterable<T> {
  return {
    async *[Symbol.asyncIterator](): AsyncGenerator<T> {
      const ac = new AbortController();
      const stop = (): void => ac.abort();
      signal?.addEventListener('abort', stop, { once: true });
      events.once('closed', stop);
      try {
        for await (const [v] of on(events, name, { signal: ac.signal })) yield v as T;
      } catch (err) {
        if ((err as Error).name !== 'AbortError') throw err;
      } finally {
        events.off('closed', stop);
        signal?.removeEventListener('abort', stop);
      }
    },
  };
}
