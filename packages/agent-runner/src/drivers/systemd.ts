import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DiscoveryError } from '../errors';
import { ExecStatus, OcfRc } from '../result-codes';
import { synthesizeMetadataXml } from '../synthesized-metadata';
import type { JobMethod } from '../systemd-bus';
import { SystemdBus, UNIT_INTERFACE } from '../systemd-bus';
import type { AgentDriver, DriverOutcome, DriverRequest } from './driver';
import { runnerOutcome } from './driver';

/** Where the systemd driver finds the service manager. */
export interface SystemdOptions {
  /**
   * Root of the system whose systemd is driven, default `/`. With
   * `/proc/<pid>/root` the runner drives the systemd of a container
   * (e.g. systemd-nspawn) through its bus socket and `/run`.
   */
  readonly rootDir?: string;
  /** D-Bus address; default `unix:path=<rootDir>/run/dbus/system_bus_socket` (or $DBUS_SYSTEM_BUS_ADDRESS). */
  readonly busAddress?: string;
  /** Units the drop-in orders the managed unit before (our daemons). */
  readonly daemonUnits?: readonly string[];
  /** How often pending states (`activating`, `deactivating`) are re-read, ms. Default 200. */
  readonly pollInterval?: number;
}

const UNIT_SUFFIX = /\.(service|socket|timer|mount|automount|swap|target|path|slice|scope|device)$/;
export const DROP_IN_NAME = '50-remora.conf';

/** `nginx` → `nginx.service`; names with a unit suffix stay. */
export function unitName(type: string): string {
  return UNIT_SUFFIX.test(type) ? type : `${type}.service`;
}

class Stop extends Error {
  constructor(readonly why: 'timed-out' | 'cancelled') {
    super(why);
  }
}

/**
 * systemd units over D-Bus. start: drop-in (`Restart=no`, ordered before our
 * daemon), daemon-reload if it changed, `StartUnit` and wait for its job,
 * then wait until `ActiveState` leaves `activating`. stop: `StopUnit`, wait,
 * remove the drop-in. monitor: `ActiveState` (`active`/`reloading` → 0,
 * pending states re-read until the timeout, anything else → 7).
 */
export class SystemdDriver implements AgentDriver {
  private connection: SystemdBus | undefined;
  private readonly rootDir: string;
  private readonly address: string;
  private readonly pollInterval: number;
  private readonly daemonUnits: readonly string[];

  constructor(options: SystemdOptions = {}) {
    this.rootDir = options.rootDir ?? '/';
    this.address =
      options.busAddress ??
      (options.rootDir === undefined ? process.env.DBUS_SYSTEM_BUS_ADDRESS : undefined) ??
      `unix:path=${path.join(this.rootDir, 'run/dbus/system_bus_socket')}`;
    this.pollInterval = options.pollInterval ?? 200;
    this.daemonUnits = options.daemonUnits ?? ['remora.service', 'remora-remoted.service'];
  }

  private bus(): SystemdBus {
    if (!this.connection || this.connection.isBroken) {
      this.connection?.close();
      this.connection = new SystemdBus(this.address);
    }
    return this.connection;
  }

  dropInPath(unit: string): string {
    return path.join(this.rootDir, 'run/systemd/system', `${unit}.d`, DROP_IN_NAME);
  }

  dropInContent(unit: string): string {
    return [
      '# Written by remora: this unit is managed by the cluster.',
      '[Unit]',
      `Description=Cluster Controlled ${unit}`,
      `Before=${this.daemonUnits.join(' ')}`,
      '',
      '[Service]',
      'Restart=no',
      '',
    ].join('\n');
  }

  async run(request: DriverRequest): Promise<DriverOutcome> {
    const unit = unitName(request.agent.type);
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new Stop('timed-out')), request.timeout);
    const onCancel = (): void => deadline.abort(new Stop('cancelled'));
    request.signal.addEventListener('abort', onCancel, { once: true });
    if (request.signal.aborted) onCancel();
    try {
      return await this.action(unit, request, deadline.signal);
    } catch (err) {
      if (err instanceof Stop) {
        return err.why === 'timed-out'
          ? runnerOutcome(ExecStatus.timedOut, `timed out after ${request.timeout}ms`)
          : runnerOutcome(ExecStatus.cancelled, 'cancelled');
      }
      return runnerOutcome(ExecStatus.error, `systemd: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
      request.signal.removeEventListener('abort', onCancel);
    }
  }

  private async action(
    unit: string,
    request: DriverRequest,
    signal: AbortSignal,
  ): Promise<DriverOutcome> {
    const until = <T>(promise: Promise<T>): Promise<T> => race(promise, signal);
    const bus = this.bus();
    const unitPath = await until(bus.loadUnit(unit));
    const loadState = String(await until(bus.getProperty(unitPath, UNIT_INTERFACE, 'LoadState')));
    const missing = loadState === 'not-found';
    switch (request.action) {
      case 'meta-data': {
        if (missing) return notFound(unit);
        const description = String(
          await until(bus.getProperty(unitPath, UNIT_INTERFACE, 'Description')),
        );
        return done(OcfRc.SUCCESS, '', this.metadataXml(unit, description));
      }
      case 'monitor':
      case 'status': {
        if (missing) return notFound(unit);
        const state = await this.settledState(unitPath, signal);
        return done(
          state === 'active' || state === 'reloading' ? OcfRc.SUCCESS : OcfRc.NOT_RUNNING,
          '',
          `${unit}: ${state}\n`,
        );
      }
      case 'start': {
        if (missing) return notFound(unit);
        if (await until(this.writeDropIn(unit))) await until(bus.reload());
        const result = await this.job(bus, 'StartUnit', unit, signal);
        if (result !== 'done')
          return done(OcfRc.ERR_GENERIC, `systemd start job for ${unit} ${result}`);
        const state = await this.settledState(unitPath, signal);
        if (state === 'active' || state === 'reloading')
          return done(OcfRc.SUCCESS, '', `${unit}: ${state}\n`);
        return done(OcfRc.ERR_GENERIC, `${unit} is ${state} after start`);
      }
      case 'stop': {
        if (missing) return done(OcfRc.SUCCESS, '', `${unit}: not found, so not running\n`);
        const result = await this.job(bus, 'StopUnit', unit, signal);
        if (result !== 'done')
          return done(OcfRc.ERR_GENERIC, `systemd stop job for ${unit} ${result}`);
        if (await until(this.removeDropIn(unit))) await until(bus.reload());
        const state = await this.settledState(unitPath, signal);
        if (state === 'inactive' || state === 'failed')
          return done(OcfRc.SUCCESS, '', `${unit}: ${state}\n`);
        return done(OcfRc.ERR_GENERIC, `${unit} is ${state} after stop`);
      }
      case 'reload':
      case 'restart': {
        if (missing) return notFound(unit);
        const result = await this.job(
          bus,
          request.action === 'reload' ? 'ReloadUnit' : 'RestartUnit',
          unit,
          signal,
        );
        return result === 'done'
          ? done(OcfRc.SUCCESS, '')
          : done(OcfRc.ERR_GENERIC, `systemd ${request.action} job for ${unit} ${result}`);
      }
      default:
        return runnerOutcome(
          ExecStatus.notSupported,
          `systemd units do not support action '${request.action}'`,
          OcfRc.ERR_UNIMPLEMENTED,
        );
    }
  }

  /** Queue a job and wait for its JobRemoved result. */
  private async job(
    bus: SystemdBus,
    method: JobMethod,
    unit: string,
    signal: AbortSignal,
  ): Promise<string> {
    const { job, result } = await race(bus.queueJob(method, unit), signal);
    try {
      return await race(result, signal);
    } finally {
      bus.forgetJob(job);
    }
  }

  /** ActiveState, re-read while it is `activating` or `deactivating`. */
  private async settledState(unitPath: string, signal: AbortSignal): Promise<string> {
    const bus = this.bus();
    for (;;) {
      const state = String(
        await race(bus.getProperty(unitPath, UNIT_INTERFACE, 'ActiveState'), signal),
      );
      if (state !== 'activating' && state !== 'deactivating') return state;
      await race(new Promise((r) => setTimeout(r, this.pollInterval)), signal);
    }
  }

  /** Write the drop-in; true when it changed (a daemon-reload is needed). */
  private async writeDropIn(unit: string): Promise<boolean> {
    const file = this.dropInPath(unit);
    const content = this.dropInContent(unit);
    const current = await readFile(file, 'utf8').catch(() => undefined);
    if (current === content) return false;
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
    return true;
  }

  /** Remove the drop-in; true when there was one. */
  private async removeDropIn(unit: string): Promise<boolean> {
    const file = this.dropInPath(unit);
    const existed = await readFile(file, 'utf8').then(
      () => true,
      () => false,
    );
    if (!existed) return false;
    await rm(file, { force: true });
    await rm(path.dirname(file), { recursive: false }).catch(() => undefined);
    return true;
  }

  private metadataXml(unit: string, description: string): string {
    return synthesizeMetadataXml({
      name: unit,
      shortdesc: description || unit,
      longdesc: `Cluster controlled systemd unit ${unit}: ${description || unit}`,
      actions: [
        { name: 'start', timeout: '100s' },
        { name: 'stop', timeout: '100s' },
        { name: 'status', timeout: '100s' },
        { name: 'monitor', timeout: '100s', interval: '60s' },
        { name: 'meta-data', timeout: '5s' },
      ],
    });
  }

  /** Service units (without `.service`) and other loaded or installed units. */
  async listAgents(): Promise<string[]> {
    let names: string[];
    try {
      names = await this.bus().listUnitNames();
    } catch (err) {
      throw new DiscoveryError(
        'systemd',
        `cannot reach systemd at ${this.address}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    return names
      .filter((n) => n.endsWith('.service') && !n.includes('@.'))
      .map((n) => n.slice(0, -'.service'.length))
      .sort();
  }

  close(): void {
    this.connection?.close();
    this.connection = undefined;
  }
}

function done(rc: OcfRc, exitReason: string, stdout = ''): DriverOutcome {
  return { ...runnerOutcome(ExecStatus.done, exitReason, rc), stdout };
}

function notFound(unit: string): DriverOutcome {
  return runnerOutcome(
    ExecStatus.notInstalled,
    `systemd unit not found: ${unit}`,
    OcfRc.ERR_INSTALLED,
  );
}

/** Settle with the promise, or reject with the signal's reason when it aborts first. */
function race<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}
