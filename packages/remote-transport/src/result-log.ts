import { EventEmitter } from 'node:events';
import type { OperationResult as WireResult } from './gen/remora/remote/v1/remote';

/**
 * The daemon's numbered log of operation results: the last `capacity`
 * results are kept so a client that reconnects can ask for everything after
 * the last sequence number it saw — no result is lost to a disconnect.
 */
export class ResultLog {
  private readonly entries: WireResult[] = [];
  private seq = 0;
  private readonly events = new EventEmitter();

  constructor(private readonly capacity = 10_000) {
    this.events.setMaxListeners(0);
  }

  get lastSequence(): number {
    return this.seq;
  }

  append(make: (sequence: number) => WireResult): WireResult {
    const entry = make(++this.seq);
    this.entries.push(entry);
    if (this.entries.length > this.capacity) this.entries.shift();
    this.events.emit('result', entry);
    return entry;
  }

  /** Results after a sequence number still in the log (the oldest kept is `lastSequence - capacity + 1`). */
  since(sequence: number): WireResult[] {
    const first = this.entries[0]?.sequence ?? this.seq + 1;
    const from = Math.max(0, sequence + 1 - first);
    return this.entries.slice(from);
  }

  /** Whether results after `sequence` were dropped (the client was away too long). */
  lost(sequence: number): boolean {
    const first = this.entries[0]?.sequence ?? this.seq + 1;
    return sequence + 1 < first && sequence < this.seq;
  }

  subscribe(listener: (r: WireResult) => void): () => void {
    this.events.on('result', listener);
    return () => this.events.off('result', listener);
  }
}
