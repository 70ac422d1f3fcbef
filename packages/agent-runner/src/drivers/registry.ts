import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import type { AgentId } from '../agent-id';
import { AgentClass } from '../agent-id';
import { DiscoveryError } from '../errors';
import type { AgentDriver } from './driver';
import { LsbDriver } from './lsb';
import { OcfDriver } from './ocf';
import type { SystemdOptions } from './systemd';
import { SystemdDriver } from './systemd';
import { UpstartDriver } from './upstart';

export interface DriverOptions {
  readonly ocfRoot: string;
  readonly lsbRoot: string;
  readonly initctl: string;
  readonly systemd: SystemdOptions;
  readonly baseEnv: NodeJS.ProcessEnv;
  readonly tailBytes: number;
}

/** The class drivers of one runner, and agent discovery across them. */
export class Drivers {
  readonly ocf: OcfDriver;
  readonly lsb: LsbDriver;
  readonly upstart: UpstartDriver;
  private systemdDriver: SystemdDriver | undefined;

  constructor(private readonly options: DriverOptions) {
    this.ocf = new OcfDriver(options);
    this.lsb = new LsbDriver(options);
    this.upstart = new UpstartDriver(options);
  }

  /** Connects to systemd on first use. */
  get systemd(): SystemdDriver {
    this.systemdDriver ??= new SystemdDriver(this.options.systemd);
    return this.systemdDriver;
  }

  /** `service:x` → `lsb:x` when `<lsbRoot>/x` exists, else `systemd:x`; others unchanged. */
  async resolve(agent: AgentId): Promise<AgentId> {
    if (agent.class !== AgentClass.service) return agent;
    const script = path.join(this.options.lsbRoot, agent.type);
    const isLsb = await stat(script).then(
      (s) => s.isFile(),
      () => false,
    );
    return { class: isLsb ? AgentClass.lsb : AgentClass.systemd, type: agent.type };
  }

  /** The driver of a resolved (non-`service`) class. */
  driverFor(agentClass: Exclude<AgentClass, 'service'>): AgentDriver {
    switch (agentClass) {
      case AgentClass.ocf:
        return this.ocf;
      case AgentClass.lsb:
        return this.lsb;
      case AgentClass.systemd:
        return this.systemd;
      case AgentClass.upstart:
        return this.upstart;
    }
  }

  /** Classes usable on this host: their agent directory, bus socket or initctl exists. */
  async listClasses(): Promise<AgentClass[]> {
    const exists = (p: string): Promise<boolean> =>
      access(p).then(
        () => true,
        () => false,
      );
    const systemdAddress = this.options.systemd.busAddress;
    const socket = systemdAddress?.startsWith('unix:path=')
      ? systemdAddress.slice('unix:path='.length).split(',')[0]
      : path.join(this.options.systemd.rootDir ?? '/', 'run/dbus/system_bus_socket');
    const [ocf, lsb, systemd, upstart] = await Promise.all([
      exists(path.join(this.options.ocfRoot, 'resource.d')),
      exists(this.options.lsbRoot),
      exists(socket).then(
        (s) => s && exists(path.join(this.options.systemd.rootDir ?? '/', 'run/systemd/system')),
      ),
      this.findInitctl(),
    ]);
    const classes: AgentClass[] = [];
    if (ocf) classes.push(AgentClass.ocf);
    if (lsb) classes.push(AgentClass.lsb);
    if (lsb || systemd) classes.push(AgentClass.service);
    if (systemd) classes.push(AgentClass.systemd);
    if (upstart) classes.push(AgentClass.upstart);
    return classes;
  }

  private async findInitctl(): Promise<boolean> {
    const cmd = this.options.initctl;
    const dirs = cmd.includes('/') ? [''] : (this.options.baseEnv.PATH ?? '').split(':');
    for (const dir of dirs) {
      try {
        const s = await stat(dir ? path.join(dir, cmd) : cmd);
        if (s.isFile() && (s.mode & 0o111) !== 0) return true;
      } catch {
        // not here
      }
    }
    return false;
  }

  /** Agents of a class (of one OCF provider if given), sorted. OCF without provider lists `provider:type`. */
  async listAgents(agentClass: AgentClass, provider?: string): Promise<string[]> {
    if (provider !== undefined && agentClass !== AgentClass.ocf) {
      throw new DiscoveryError(`${agentClass}:${provider}`, `only OCF agents have providers`);
    }
    if (agentClass === AgentClass.service) {
      const [lsb, systemd] = await Promise.all([
        this.lsb.listAgents(),
        this.systemd.listAgents().catch(() => [] as string[]),
      ]);
      return [...new Set([...lsb, ...systemd])].sort();
    }
    if (agentClass === AgentClass.ocf) return this.ocf.listAgents(provider);
    return this.driverFor(agentClass).listAgents();
  }

  close(): void {
    this.systemdDriver?.close();
    this.systemdDriver = undefined;
  }
}
