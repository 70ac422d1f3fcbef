import type { OperationResult as WireResult } from './gen/remora/remote/v1/remote';

/**
 * The daemon's numbered log of operation results. A result stays until a
 * controller acknowledges it (or, bounded, until `capacity` newer
 * unacknowledged ones push it out: the resuming client is then told which
 * were lost). A client that reconnects asks for everything after the last
 * sequence number it has and gets each missing result exactly once.
 */
export class ResultLog {
  private readonly entries: WireResult[] = [];
  private seq = 0;
  private acked = 0;
  /** Sequence numbers dropped unacknowledged (capacity), highest first seen. */
  private droppedUpTo = 0;

  constructor(private readonly capacity = 10_000) {}

  get lastSequence(): number {
    return this.seq;
  }

  get acknowledgedSequence(): number {
    return this.acked;
  }

  /** Results held for replay now. */
  get size(): number {
    return this.entries.length;
  }

  append(make: (sequence: number) => WireResult): WireResult {
    const entry = make(++this.seq);
    this.entries.push(entry);
    if (this.entries.length > this.capacity) {
      const dropped = this.entries.shift()!;
      this.droppedUpTo = Math.max(this.droppedUpTo, dropped.sequence);
    }
    return entry;
  }

  /** Forget results up to `sequence` (a controller has recorded them). */
  acknowledge(sequence: number): void {
    if (sequence <= this.acked) return;
    this.acked = Math.min(sequence, this.seq);
    let n = 0;
    while (n < this.entries.length && this.entries[n]!.sequence <= this.acked) n++;
    if (n > 0) this.entries.splice(0, n);
  }

  /** Results after `sequence` still held (acknowledged ones are gone). */
  since(sequence: number): WireResult[] {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.entries[mid]!.sequence <= sequence) lo = mid + 1;
      else hi = mid;
    }
    return this.entries.slice(lo);
  }

  /** Unacknowledged results after `sequence` that were dropped for capacity: [first, last], or undefined. */
  lost(sequence: number): readonly [number, number] | undefined {
    const first = Math.max(sequence, this.acked) + 1;
    return this.droppedUpTo >= first ? [first, this.droppedUpTo] : undefined;
  }

  /** The latest result still held. */
  get latest(): WireResult | undefined {
    return this.entries[this.entries.length - 1];
  }
}
