/** Domain events from `virsh event --all --loop --timestamp`, as an AsyncIterable. */
import { errorFor, libvirtMessage } from './classify';
import { VirshNotFoundError } from './errors';
import type { VirshProcess } from './virsh';
import { spawnFailure, spawnVirshShell } from './virsh';

/** One event of one domain. */
export interface DomainEvent {
  /** Epoch ms (libvirt's timestamp). */
  readonly at: number;
  readonly domain: string;
  /** libvirt's event type: `lifecycle`, `reboot`, `rtc-change`, `watchdog`, `io-error`, ... */
  readonly type: string;
  /** For lifecycle events: `Defined`, `Undefined`, `Started`, `Suspended`, `Resumed`, `Stopped`, `Shutdown`, `PMSuspended`, `Crashed`. */
  readonly event?: string;
  /** For lifecycle events the reason (`Booted`, `Shutdown`, `Destroyed`, `Crashed`, `Migrated`, ...); otherwise the rest of the line. */
  readonly detail: string;
}

const LINE =
  /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?[+-]\d{4}): event '([^']+)' for domain '(.*?)'(?:: (.*))?$/;

/** Parse one line of `virsh event --timestamp`; undefined when it is not an event line. */
export function parseEventLine(line: string): DomainEvent | undefined {
  const m = LINE.exec(line.trim());
  if (!m) return undefined;
  const iso = m[1].replace(' ', 'T').replace(/([+-]\d\d)(\d\d)$/, '$1:$2');
  const at = Date.parse(iso);
  const type = m[2];
  const rest = (m[4] ?? '').trim();
  if (type === 'lifecycle') {
    const [event, ...detail] = rest.split(' ');
    return { at, domain: m[3], type, event, detail: detail.join(' ') };
  }
  return { at, domain: m[3], type, detail: rest };
}

const READY = '__remora_events_ready__';

/**
 * A live subscription to a connection's domain events. Iterate it with
 * `for await`; `ready` resolves once the subscription is in place (events
 * from then on are delivered); `close()` (or `await using`, or leaving the
 * loop) ends it. When libvirt goes away the iteration ends with an error.
 */
export class DomainEventStream implements AsyncIterable<DomainEvent>, AsyncDisposable {
  private process: VirshProcess | undefined;
  private readonly queue: DomainEvent[] = [];
  private waiting: (() => void) | undefined;
  private ended = false;
  private failure: Error | undefined;
  private closed = false;
  readonly ready: Promise<void>;

  constructor(
    virsh: string,
    uri: string,
    private readonly filter?: (event: DomainEvent) => boolean,
    signal?: AbortSignal,
  ) {
    let markReady!: () => void;
    let failReady!: (err: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    this.ready.catch(() => undefined);
    const onAbort = (): void => void this.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) {
      this.ended = true;
      failReady(new Error('aborted'));
      return;
    }
    void (async () => {
      let isReady = false;
      try {
        // Shell mode: `echo` prints only after virsh has connected, and the
        // next command subscribes at once.
        // virsh keeps looping after libvirtd goes away: end on its first error.
        let failed = false;
        this.process = await spawnVirshShell(
          virsh,
          uri,
          [`echo ${READY}`, 'event --all --loop --timestamp'],
          (text) => {
            if (!failed && /error:|Disconnected from/.test(text)) {
              failed = true;
              setTimeout(() => this.process?.kill(), 50);
            }
          },
        );
        if (this.closed) this.process.kill();
        for await (const line of this.process.lines) {
          // The marker is followed by virsh's next prompt on the same line.
          if (!isReady && line.startsWith(READY)) {
            isReady = true;
            markReady();
            continue;
          }
          const event = parseEventLine(line);
          if (event && (!this.filter || this.filter(event))) this.push(event);
        }
        const exit = await this.process.exited;
        if (exit.spawnError !== undefined) throw spawnFailure(virsh, exit.spawnError);
        if (exit.exitCode === 127) throw new VirshNotFoundError(virsh);
        if (!this.closed) {
          const libvirt = libvirtMessage(this.process.stderr());
          throw errorFor(
            {
              uri,
              args: ['event', '--all', '--loop'],
              exitCode: exit.exitCode,
              libvirtMessage: libvirt,
            },
            { kind: 'command' },
          );
        }
      } catch (err) {
        if (!this.closed) this.failure = err instanceof Error ? err : new Error(String(err));
      } finally {
        signal?.removeEventListener('abort', onAbort);
        this.ended = true;
        if (!isReady)
          failReady(this.failure ?? new Error('event stream closed before it was ready'));
        this.wake();
      }
    })();
  }

  private push(event: DomainEvent): void {
    this.queue.push(event);
    this.wake();
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<DomainEvent> {
    try {
      for (;;) {
        const next = this.queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (this.ended) {
          if (this.failure) throw this.failure;
          return;
        }
        await new Promise<void>((resolve) => (this.waiting = resolve));
      }
    } finally {
      await this.close();
    }
  }

  /** Stop listening (idempotent). Events already received can still be read. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.process?.kill();
    if (this.process) await this.process.exited;
    this.wake();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
