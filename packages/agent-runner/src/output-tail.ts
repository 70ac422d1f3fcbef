/** Keeps the last `limit` bytes written to it (an agent's stdout or stderr). */
export class OutputTail {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Bytes dropped from the front because the limit was exceeded. */
  dropped = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    if (this.limit <= 0) {
      this.dropped += chunk.length;
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size - this.chunks[0].length >= this.limit) {
      const first = this.chunks.shift() as Buffer;
      this.size -= first.length;
      this.dropped += first.length;
    }
  }

  /** The tail as text; a multi-byte character cut at the front is dropped. */
  text(): string {
    if (this.size === 0) return '';
    let buf = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size);
    if (buf.length > this.limit) buf = buf.subarray(buf.length - this.limit);
    let start = 0;
    if (this.dropped > 0 || buf.length < this.size) {
      // Skip UTF-8 continuation bytes of a character whose start was dropped.
      while (start < buf.length && start < 3 && (buf[start] & 0xc0) === 0x80) start++;
    }
    return buf.toString('utf8', start);
  }
}
