import type { OcfRc } from '@remora/agent-runner';
import { isNotFoundMessage, isNotRunningMessage } from './classify';
import type { LibvirtConnection } from './connection';
import type { VirshCommandError } from './errors';
import { DomainNotFoundError, GuestTimeoutError, InvalidConfigError, LibvirtError } from './errors';
import type { DomainEventStream } from './events';
import type { GuestLimits } from './limits';
import { checkLimits, limitsCommands } from './limits';
import type { DomainState, DomainStatus } from './state';
import { DomainState as S, isActive, ocfRcForState, parseDomState } from './state';

/** How `virsh shutdown` asks the guest to stop. */
export const ShutdownMode = {
  /** SIGTERM to the container's init (LXC; the default there). */
  SIGNAL: 'signal',
  ACPI: 'acpi',
  AGENT: 'agent',
  INITCTL: 'initctl',
  PARAVIRT: 'paravirt',
} as const;
export type ShutdownMode = (typeof ShutdownMode)[keyof typeof ShutdownMode];

export interface ShutdownOptions {
  /** How long the guest gets to stop by itself, ms (default 30,000); then it is destroyed. */
  readonly timeoutMs?: number;
  /** Default: `signal` on LXC connections, libvirt's choice elsewhere. */
  readonly mode?: ShutdownMode;
  /** Destroy after the timeout (default true); false = throw GuestTimeoutError instead. */
  readonly destroyAfterTimeout?: boolean;
  readonly signal?: AbortSignal;
}

/** How a guest stopped. */
export interface StopOutcome {
  /** `already-stopped`, `shutdown` (stopped by itself when asked), `destroyed` (after the timeout, or crashed). */
  readonly how: 'already-stopped' | 'shutdown' | 'destroyed';
  readonly elapsedMs: number;
  /** The state afterwards: `shut off` (persistent) or `absent` (transient). */
  readonly state: DomainState;
}

export interface MigrateOptions {
  /** Live migration (default true). */
  readonly live?: boolean;
  /** Define the domain on the destination (default true). */
  readonly persistent?: boolean;
  /** Undefine it on the source (default true). */
  readonly undefineSource?: boolean;
  /** Migration data URI (`--migrateuri`, e.g. `tcp://10.0.0.2`), as VirtualDomain's `migrateuri`. */
  readonly migrateUri?: string;
  /** Bandwidth limit, MiB/s (VirtualDomain's `migration_speed`). */
  readonly bandwidthMiBs?: number;
  /** Maximum downtime, ms (VirtualDomain's `migration_downtime`: set with migrate-setmaxdowntime once migration runs). */
  readonly maxDowntimeMs?: number;
  /** More virsh migrate options (VirtualDomain's `migrate_options`). */
  readonly extraArgs?: readonly string[];
  /** Overall timeout, ms (default: the connection's command timeout). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** The parts of `virsh dominfo` worth having typed. */
export interface DomainInfo {
  readonly name: string;
  readonly uuid: string;
  /** Running domain's id (LXC: the init's host PID). */
  readonly id?: number;
  readonly state: DomainState;
  readonly osType: string;
  readonly cpus: number;
  readonly maxMemoryKiB: number;
  readonly usedMemoryKiB: number;
  readonly persistent: boolean;
  readonly autostart: boolean;
}

export interface WaitOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A domain (guest) on one connection. Methods map to virsh commands; the
 * stop path (`shutdown`) asks first and destroys after a timeout, as
 * `ocf:heartbeat:VirtualDomain` does.
 */
export class Domain {
  constructor(
    readonly connection: LibvirtConnection,
    readonly name: string,
  ) {
    if (typeof name !== 'string' || name === '' || name.startsWith('-')) {
      throw new InvalidConfigError('name', `expected a domain name, got ${JSON.stringify(name)}`);
    }
  }

  private run(args: readonly string[], signal?: AbortSignal, timeoutMs?: number): Promise<string> {
    return this.connection.run(args, {
      signal,
      timeoutMs,
      context: { kind: 'command', domain: this.name },
    });
  }

  /** State and reason; `absent` when the domain does not exist. */
  async state(signal?: AbortSignal): Promise<DomainStatus> {
    try {
      return parseDomState(await this.run(['domstate', '--reason', '--', this.name], signal));
    } catch (err) {
      if (err instanceof DomainNotFoundError) return { state: S.ABSENT, reason: '' };
      throw err;
    }
  }

  /**
   * The OCF monitor result: 0 running (also paused, idle, in shutdown), 7 not
   * running (shut off or undefined), 1 failed (crashed, or no state after
   * retries). libvirt being unreachable is an error, not a result: it throws.
   */
  async monitor(signal?: AbortSignal): Promise<OcfRc> {
    for (let attempt = 1; ; attempt++) {
      const { state } = await this.state(signal);
      if (state !== S.NO_STATE || attempt >= 3) return ocfRcForState(state);
      await sleep(200);
    }
  }

  async info(signal?: AbortSignal): Promise<DomainInfo> {
    const out = await this.runOnceInitKnown(
      ['dominfo', '--', this.name],
      Date.now() + 5_000,
      signal,
    );
    const fields = new Map<string, string>();
    for (const line of out.split('\n')) {
      const i = line.indexOf(':');
      if (i > 0) fields.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
    }
    const kib = (v: string | undefined): number => Number(/^(\d+)/.exec(v ?? '')?.[1] ?? 0);
    const id = fields.get('id');
    return {
      name: fields.get('name') ?? this.name,
      uuid: fields.get('uuid') ?? '',
      id: id && id !== '-' ? Number(id) : undefined,
      state: parseDomState(fields.get('state') ?? 'no state').state,
      osType: fields.get('os type') ?? '',
      cpus: Number(fields.get('cpu(s)') ?? 0),
      maxMemoryKiB: kib(fields.get('max memory')),
      usedMemoryKiB: kib(fields.get('used memory')),
      persistent: fields.get('persistent') === 'yes',
      autostart: fields.get('autostart') === 'enable',
    };
  }

  /** The domain XML (`inactive`: the persistent definition rather than the live one). */
  async xml(
    options: { readonly inactive?: boolean; readonly signal?: AbortSignal } = {},
  ): Promise<string> {
    return this.run(
      ['dumpxml', ...(options.inactive ? ['--inactive'] : []), '--', this.name],
      options.signal,
    );
  }

  /** Start a defined domain. Starting a running domain is not an error. */
  async start(signal?: AbortSignal): Promise<void> {
    try {
      await this.run(['start', '--', this.name], signal);
    } catch (err) {
      if (/already (running|active)/i.test((err as VirshCommandError).libvirtMessage ?? '')) return;
      throw err;
    }
  }

  /** Pause / resume the guest's CPUs. */
  async suspend(signal?: AbortSignal): Promise<void> {
    await this.run(['suspend', '--', this.name], signal);
  }

  async resume(signal?: AbortSignal): Promise<void> {
    await this.run(['resume', '--', this.name], signal);
  }

  /** Kill the guest at once. Returns false when it was not running (or does not exist). */
  async destroy(signal?: AbortSignal): Promise<boolean> {
    try {
      await this.run(['destroy', '--', this.name], signal);
      return true;
    } catch (err) {
      const msg = (err as VirshCommandError).libvirtMessage ?? '';
      if (isNotRunningMessage(msg) || isNotFoundMessage(msg)) return false;
      throw err;
    }
  }

  /** Remove the persistent definition. Returns false when there was none. */
  async undefine(signal?: AbortSignal): Promise<boolean> {
    try {
      await this.run(['undefine', '--', this.name], signal);
      return true;
    } catch (err) {
      const msg = (err as VirshCommandError).libvirtMessage ?? '';
      if (isNotFoundMessage(msg) || /transient domain/i.test(msg)) return false;
      throw err;
    }
  }

  /**
   * Stop the guest: ask it (`virsh shutdown`, signal mode on LXC: SIGTERM to
   * its init), wait up to `timeoutMs` for it to stop, then destroy it.
   * Watches lifecycle events, with a slow poll as a safety net.
   */
  async shutdown(options: ShutdownOptions = {}): Promise<StopOutcome> {
    const started = Date.now();
    const timeoutMs = options.timeoutMs ?? 30_000;
    const elapsed = (): number => Date.now() - started;
    const mode =
      options.mode ?? (this.connection.driver === 'lxc' ? ShutdownMode.SIGNAL : undefined);
    // Subscribe while asking: the wait below checks the state once the
    // subscription is in place, so a stop in between is not missed.
    const stream = this.connection.events({ domain: this.name, signal: options.signal });
    try {
      try {
        await this.requestShutdown(mode, started + timeoutMs, options.signal);
      } catch (err) {
        const msg = (err as VirshCommandError).libvirtMessage ?? '';
        if (!(isNotRunningMessage(msg) || isNotFoundMessage(msg))) throw err;
        const now = await this.state(options.signal);
        if (now.state === S.CRASHED) {
          await this.destroy(options.signal);
          return { how: 'destroyed', elapsedMs: elapsed(), state: (await this.state()).state };
        }
        if (!isActive(now.state))
          return { how: 'already-stopped', elapsedMs: elapsed(), state: now.state };
      }
      await stream.ready.catch(() => undefined);
      const stopped = await this.waitInactive(stream, timeoutMs, options.signal);
      if (stopped) return { how: 'shutdown', elapsedMs: elapsed(), state: stopped.state };
    } finally {
      await stream.close();
    }
    if (options.destroyAfterTimeout === false) {
      throw new GuestTimeoutError(
        this.name,
        elapsed(),
        `did not stop within ${timeoutMs} ms of shutdown${mode ? ` (mode ${mode})` : ''}`,
      );
    }
    await this.destroy(options.signal);
    return {
      how: 'destroyed',
      elapsedMs: elapsed(),
      state: (await this.state(options.signal)).state,
    };
  }

  /**
   * `virsh shutdown`, retried while libvirt-LXC has just started the guest
   * and does not know its init's PID yet ("Init process ID is not yet known").
   */
  private async requestShutdown(
    mode: ShutdownMode | undefined,
    deadline: number,
    signal?: AbortSignal,
  ): Promise<void> {
    await this.runOnceInitKnown(
      ['shutdown', ...(mode ? ['--mode', mode] : []), '--', this.name],
      deadline,
      signal,
    );
  }

  /**
   * A virsh command, retried until `deadline` while libvirt-LXC has just
   * started the guest and does not know its init's PID yet ("Init process ID
   * is not yet known", "Init pid is not yet available").
   */
  private async runOnceInitKnown(
    args: string[],
    deadline: number,
    signal?: AbortSignal,
  ): Promise<string> {
    for (;;) {
      try {
        return await this.run(args, signal);
      } catch (err) {
        const msg = (err as VirshCommandError).libvirtMessage ?? '';
        if (
          !/Init (process ID|pid) is not yet (known|available)/i.test(msg) ||
          Date.now() > deadline
        )
          throw err;
        await sleep(25);
      }
    }
  }

  /** The state once the domain is inactive within `timeoutMs` (events, and a poll every 500 ms), else undefined. */
  private async waitInactive(
    stream: DomainEventStream,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<DomainStatus | undefined> {
    return this.waitFor(
      (s) => !isActive(s) && s !== S.CRASHED,
      stream,
      timeoutMs,
      signal,
      (e) => ['Stopped', 'Undefined', 'Crashed'].includes(e ?? ''),
    );
  }

  private async waitFor(
    wanted: (state: DomainState) => boolean,
    stream: DomainEventStream,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    eventHint: (event: string | undefined) => boolean,
  ): Promise<DomainStatus | undefined> {
    const deadline = Date.now() + timeoutMs;
    const first = await this.state(signal);
    if (wanted(first.state)) return first;
    const iterator = stream[Symbol.asyncIterator]();
    let pending: Promise<IteratorResult<unknown>> | undefined;
    while (Date.now() < deadline) {
      if (signal?.aborted) throw new LibvirtError(`${this.name}: wait aborted`);
      pending ??= iterator.next();
      const left = deadline - Date.now();
      const tick = await Promise.race([
        pending.then(
          (r) => ({ kind: 'event' as const, r }),
          () => ({ kind: 'ended' as const }),
        ),
        sleep(Math.min(500, Math.max(0, left))).then(() => ({ kind: 'poll' as const })),
      ]);
      if (tick.kind === 'event') {
        pending = tick.r.done ? new Promise(() => undefined) : undefined;
        const ev = tick.r.value as { event?: string } | undefined;
        if (ev && !eventHint(ev.event)) continue;
      } else if (tick.kind === 'ended') {
        pending = new Promise(() => undefined);
      }
      const now = await this.state(signal);
      if (wanted(now.state)) return now;
    }
    return undefined;
  }

  /** Wait until the domain is in one of `states`; throws GuestTimeoutError after `timeoutMs`. */
  async waitForState(states: readonly DomainState[], options: WaitOptions): Promise<DomainStatus> {
    const started = Date.now();
    const stream = this.connection.events({ domain: this.name, signal: options.signal });
    try {
      await stream.ready.catch(() => undefined);
      const ok = await this.waitFor(
        (s) => states.includes(s),
        stream,
        options.timeoutMs,
        options.signal,
        () => true,
      );
      if (ok) return ok;
      const now = await this.state(options.signal);
      throw new GuestTimeoutError(
        this.name,
        Date.now() - started,
        `still ${now.state}, wanted ${states.join(' or ')}`,
      );
    } finally {
      await stream.close();
    }
  }

  /**
   * Change limits. `live` (default true) applies them to the running guest
   * (its cgroups), `config` (default false) to the persistent definition.
   */
  async setLimits(
    limits: GuestLimits,
    options: {
      readonly live?: boolean;
      readonly config?: boolean;
      readonly signal?: AbortSignal;
    } = {},
  ): Promise<void> {
    checkLimits('limits', limits);
    const scope = [
      ...((options.live ?? true) ? ['--live'] : []),
      ...(options.config ? ['--config'] : []),
    ];
    if (scope.length === 0) throw new InvalidConfigError('options', 'set live, config or both');
    for (const args of limitsCommands(this.name, limits, scope)) {
      await this.run(args, options.signal);
    }
  }

  /** The limits in force (live for a running guest): what memtune and schedinfo report. */
  async limits(signal?: AbortSignal): Promise<GuestLimits> {
    const mem = parseKeyValues(await this.run(['memtune', '--', this.name], signal));
    let sched = new Map<string, string>();
    try {
      sched = parseKeyValues(await this.run(['schedinfo', '--', this.name], signal));
    } catch (err) {
      if (err instanceof DomainNotFoundError) throw err;
      // some drivers have no scheduler parameters
    }
    const mib = (v: string | undefined): number | undefined =>
      v !== undefined && /^\d+$/.test(v) ? Math.round(Number(v) / 1024) : undefined;
    const num = (v: string | undefined): number | undefined =>
      v !== undefined && /^\d+$/.test(v) && Number(v) > 0 && Number(v) < 2 ** 53
        ? Number(v)
        : undefined;
    const out: Record<string, number> = {};
    const set = (k: keyof GuestLimits, v: number | undefined): void => {
      if (v !== undefined) out[k] = v;
    };
    set('memoryHardLimitMiB', mib(mem.get('hard_limit')));
    set('memorySoftLimitMiB', mib(mem.get('soft_limit')));
    set('memorySwapHardLimitMiB', mib(mem.get('swap_hard_limit')));
    set('cpuShares', num(sched.get('cpu_shares')));
    set('cpuPeriodUs', num(sched.get('vcpu_period')));
    set('cpuQuotaUs', num(sched.get('vcpu_quota')));
    return out as GuestLimits;
  }

  /**
   * Migrate to another connection (live by default). Throws
   * MigrationUnsupportedError when the driver cannot (LXC, test) — the
   * caller then stops here and starts there.
   */
  async migrate(destination: LibvirtConnection, options: MigrateOptions = {}): Promise<Domain> {
    const args = ['migrate'];
    if (options.live ?? true) args.push('--live');
    if (options.persistent ?? true) args.push('--persistent');
    if (options.undefineSource ?? true) args.push('--undefinesource');
    if (options.migrateUri !== undefined) args.push('--migrateuri', options.migrateUri);
    if (options.bandwidthMiBs !== undefined)
      args.push('--bandwidth', String(options.bandwidthMiBs));
    args.push(...(options.extraArgs ?? []), '--domain', this.name, '--desturi', destination.uri);
    let downtime: NodeJS.Timeout | undefined;
    if (options.maxDowntimeMs !== undefined) {
      // As VirtualDomain: set the downtime once the migration runs.
      downtime = setTimeout(() => {
        this.run(['migrate-setmaxdowntime', '--', this.name, String(options.maxDowntimeMs)]).catch(
          () => undefined,
        );
      }, 1000);
    }
    try {
      await this.connection.run(args, {
        signal: options.signal,
        timeoutMs: options.timeoutMs,
        context: { kind: 'migrate', domain: this.name, destination: destination.uri },
      });
    } finally {
      clearTimeout(downtime);
    }
    return destination.domain(this.name);
  }

  /** This domain's events (see LibvirtConnection.events). */
  events(signal?: AbortSignal): DomainEventStream {
    return this.connection.events({ domain: this.name, signal });
  }
}

function parseKeyValues(out: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of out.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) map.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return map;
}
