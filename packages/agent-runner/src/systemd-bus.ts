/**
 * The only module that speaks D-Bus: a small client for systemd's manager
 * (`org.freedesktop.systemd1`) on the system bus, over @particle/dbus-next's
 * low-level API (explicit signatures, no introspection round trips).
 */
import type * as DbusNext from '@particle/dbus-next';

let dbusModule: typeof DbusNext | undefined;
/** Loaded on first use: it costs ~60 ms, and most processes never talk to systemd. */
function dbusNext(): typeof DbusNext {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  dbusModule ??= require('@particle/dbus-next') as typeof DbusNext;
  return dbusModule;
}

const SYSTEMD = 'org.freedesktop.systemd1';
const MANAGER_PATH = '/org/freedesktop/systemd1';
const MANAGER = 'org.freedesktop.systemd1.Manager';
const PROPERTIES = 'org.freedesktop.DBus.Properties';
export const UNIT_INTERFACE = 'org.freedesktop.systemd1.Unit';
const JOB_REMOVED_RULE = `type='signal',sender='${SYSTEMD}',path='${MANAGER_PATH}',interface='${MANAGER}',member='JobRemoved'`;

/** A D-Bus error reply or a broken connection. */
export class BusCallError extends Error {
  override readonly name = 'BusCallError';
  /** The D-Bus error name, e.g. `org.freedesktop.systemd1.NoSuchUnit`. */
  readonly type: string;

  constructor(type: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.type = type;
  }
}

export type JobMethod = 'StartUnit' | 'StopUnit' | 'ReloadUnit' | 'RestartUnit';

export class SystemdBus {
  private readonly bus: DbusNext.MessageBus;
  private ready: Promise<void> | undefined;
  private broken: Error | undefined;
  /** Jobs being waited for: job path → resolver of its result. */
  private readonly jobWaiters = new Map<string, (result: string) => void>();
  /** Jobs that ended while a StartUnit/StopUnit reply was still on its way. */
  private readonly endedJobs = new Map<string, string>();
  private jobCallsInFlight = 0;

  constructor(readonly address: string) {
    const dbus = dbusNext();
    this.bus = dbus.sessionBus({ busAddress: address, authMethods: ['EXTERNAL'] });
    this.bus.on('error', (err: unknown) => {
      this.broken = err instanceof Error ? err : new Error(String(err));
    });
    this.bus.on('message', (msg: DbusNext.Message) => {
      if (msg.type !== dbus.MessageType.SIGNAL || msg.member !== 'JobRemoved') return;
      if (msg.interface !== MANAGER) return;
      const [, job, , result] = msg.body as [number, string, string, string];
      const waiter = this.jobWaiters.get(job);
      if (waiter) {
        this.jobWaiters.delete(job);
        waiter(result);
      } else if (this.jobCallsInFlight > 0) {
        this.endedJobs.set(job, result);
      }
    });
  }

  /** Whether the connection failed (the owner should open a new one). */
  get isBroken(): boolean {
    return this.broken !== undefined;
  }

  private async call(
    path: string,
    iface: string,
    member: string,
    signature = '',
    body: unknown[] = [],
    destination = SYSTEMD,
  ): Promise<unknown[]> {
    if (this.broken) {
      throw new BusCallError(
        'remora.BusBroken',
        `D-Bus connection to ${this.address} failed: ${this.broken.message}`,
        {
          cause: this.broken,
        },
      );
    }
    try {
      const reply = await this.bus.call(
        new (dbusNext().Message)({ destination, path, interface: iface, member, signature, body }),
      );
      return reply?.body ?? [];
    } catch (err) {
      if (err instanceof dbusNext().DBusError)
        throw new BusCallError(err.type, err.text, { cause: err });
      throw new BusCallError(
        'remora.BusFailed',
        `D-Bus call ${member} on ${this.address} failed: ${String(err)}`,
        {
          cause: err,
        },
      );
    }
  }

  /** Subscribe to job signals once per connection. */
  private init(): Promise<void> {
    this.ready ??= (async () => {
      await this.call(
        '/org/freedesktop/DBus',
        'org.freedesktop.DBus',
        'AddMatch',
        's',
        [JOB_REMOVED_RULE],
        'org.freedesktop.DBus',
      );
      await this.call(MANAGER_PATH, MANAGER, 'Subscribe');
    })();
    return this.ready;
  }

  /** Load a unit (if needed) and return its object path. */
  async loadUnit(name: string): Promise<string> {
    const [path] = await this.call(MANAGER_PATH, MANAGER, 'LoadUnit', 's', [name]);
    return path as string;
  }

  async getProperty(path: string, iface: string, property: string): Promise<unknown> {
    const [variant] = await this.call(path, PROPERTIES, 'Get', 'ss', [iface, property]);
    return (variant as DbusNext.Variant).value;
  }

  /** `systemctl daemon-reload`; returns when the reload is done. */
  async reload(): Promise<void> {
    await this.call(MANAGER_PATH, MANAGER, 'Reload');
  }

  /**
   * Queue a job (`StartUnit`, `StopUnit`, `ReloadUnit`, `RestartUnit`) with
   * mode `replace` and return a promise for the job's result (`done`,
   * `failed`, `canceled`, `timeout`, `dependency`, `skipped`).
   */
  async queueJob(
    method: JobMethod,
    unit: string,
  ): Promise<{ readonly job: string; readonly result: Promise<string> }> {
    await this.init();
    this.jobCallsInFlight++;
    try {
      const [job] = (await this.call(MANAGER_PATH, MANAGER, method, 'ss', [unit, 'replace'])) as [
        string,
      ];
      const ended = this.endedJobs.get(job);
      if (ended !== undefined) {
        this.endedJobs.delete(job);
        return { job, result: Promise.resolve(ended) };
      }
      return { job, result: new Promise<string>((resolve) => this.jobWaiters.set(job, resolve)) };
    } finally {
      if (--this.jobCallsInFlight === 0) this.endedJobs.clear();
    }
  }

  /** Stop waiting for a job (the caller gave up: timeout or cancel). */
  forgetJob(job: string): void {
    this.jobWaiters.delete(job);
  }

  /** Unit files (`[path, state]`) and loaded units, as unit names. */
  async listUnitNames(): Promise<string[]> {
    const [files] = (await this.call(MANAGER_PATH, MANAGER, 'ListUnitFiles')) as [
      Array<[string, string]>,
    ];
    const [units] = (await this.call(MANAGER_PATH, MANAGER, 'ListUnits')) as [unknown[][]];
    const names = new Set<string>();
    for (const [file] of files) names.add(file.slice(file.lastIndexOf('/') + 1));
    for (const unit of units) names.add(String(unit[0]));
    return [...names];
  }

  close(): void {
    this.jobWaiters.clear();
    this.bus.disconnect();
  }
}
