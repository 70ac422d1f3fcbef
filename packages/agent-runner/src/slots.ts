/** A counting semaphore with FIFO waiters: the cap on concurrently running actions. */
export class Slots {
  private used = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly capacity: number) {}

  get running(): number {
    return this.used;
  }

  acquire(): Promise<void> {
    if (this.used < this.capacity) {
      this.used++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.used--;
  }
}
