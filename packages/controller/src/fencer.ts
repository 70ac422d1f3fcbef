import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FencingError } from './errors';

/** A fence device registered on a cluster node (a started `stonith:` resource). */
export interface FenceDevice {
  readonly id: string;
  /** The fence agent (`fence_xxx`), an executable in the fencer's agent directory. */
  readonly agent: string;
  /** Device parameters (pcmk_* ones are the fencer's, the rest go to the agent). */
  readonly params: Readonly<Record<string, string>>;
  /** The cluster node the device was started on. */
  readonly node: string;
}

/** What running a fence agent came to. */
export interface FenceAgentResult {
  readonly rc: number;
  readonly output: string;
  readonly runTime: number;
}

/**
 * Runs fence agents the way Pacemaker's fencer does: the agent reads
 * `name=value` lines on stdin (`action`, `port`/`plug`, `nodename` and the
 * device's parameters); exit code 0 is success. Devices are registered when
 * their `stonith:` resource starts on a node and unregistered when it stops;
 * a device fences the hosts in its `pcmk_host_list` (every node when unset).
 */
export class Fencer {
  private readonly devices = new Map<string, FenceDevice>();

  constructor(private readonly agentDir = '/usr/sbin') {}

  private key(id: string, node: string): string {
    return `${node}\0${id}`;
  }

  register(device: FenceDevice): void {
    this.devices.set(this.key(device.id, device.node), device);
  }

  unregister(id: string, node: string): boolean {
    return this.devices.delete(this.key(id, node));
  }

  /** A node left or was fenced: the devices started there are gone. */
  unregisterNode(node: string): void {
    for (const [k, d] of this.devices) if (d.node === node) this.devices.delete(k);
  }

  isRegistered(id: string, node: string): boolean {
    return this.devices.has(this.key(id, node));
  }

  agentPath(agent: string): string {
    if (!/^fence_[A-Za-z0-9_.-]+$/.test(agent))
      throw new FencingError(agent, `'${agent}' is not a fence agent name (fence_*)`);
    return join(this.agentDir, agent);
  }

  /** Run one action of a device's agent. */
  run(
    device: Pick<FenceDevice, 'id' | 'agent' | 'params'>,
    action: string,
    target?: string,
    options: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {},
  ): Promise<FenceAgentResult> {
    const path = this.agentPath(device.agent);
    if (!existsSync(path))
      return Promise.resolve({ rc: 5, output: `${path} is not installed`, runTime: 0 });
    const lines = [`action=${action}`];
    for (const [k, v] of Object.entries(device.params))
      if (!k.startsWith('pcmk_') && !k.startsWith('CRM_meta_') && k !== 'crm_feature_set')
        lines.push(`${k}=${v}`);
    if (target !== undefined) {
      const arg = device.params.pcmk_host_argument ?? 'port';
      if (arg !== 'none') lines.push(`${arg}=${target}`);
      lines.push(`nodename=${target}`);
    }
    const started = Date.now();
    return new Promise((resolve) => {
      const child = spawn(path, [], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
      let output = '';
      const collect = (b: Buffer): void => {
        output = (output + b.toString()).slice(-4096);
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      const kill = (): void => {
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // gone
        }
      };
      const timer = setTimeout(kill, options.timeoutMs ?? 60_000);
      options.signal?.addEventListener('abort', kill, { once: true });
      child.on('error', (err) => {
        clearTimeout(timer);
        resolve({ rc: 1, output: err.message, runTime: Date.now() - started });
      });
      child.on('close', (code, sig) => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', kill);
        resolve({
          rc: code ?? 1,
          output: sig ? `${output}killed by ${sig}` : output,
          runTime: Date.now() - started,
        });
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(`${lines.join('\n')}\n`);
    });
  }

  /**
   * The devices able to fence `target` (pcmk_host_list, else any): from
   * `candidates` when given (as Pacemaker's fencers know every configured
   * device, wherever it is started), else the registered ones.
   */
  devicesFor(target: string, candidates?: readonly FenceDevice[]): FenceDevice[] {
    const seen = new Set<string>();
    const found: FenceDevice[] = [];
    for (const d of candidates ?? this.devices.values()) {
      if (seen.has(d.id)) continue;
      const list = d.params.pcmk_host_list;
      if (list !== undefined && !list.split(/[\s,;]+/).includes(target)) continue;
      seen.add(d.id);
      found.push(d);
    }
    return found;
  }

  /**
   * Fence `target` (action `reboot`, `off` or `on`): tries each device able
   * to fence it until one succeeds. Resolves with the device that did;
   * rejects with FencingError when none could.
   */
  async fence(
    target: string,
    action: string,
    options: {
      readonly timeoutMs?: number;
      readonly signal?: AbortSignal;
      /** The configured devices (default: the registered ones). */
      readonly devices?: readonly FenceDevice[];
    } = {},
  ): Promise<{ readonly device: string; readonly runTime: number }> {
    const devices = this.devicesFor(target, options.devices);
    if (devices.length === 0)
      throw new FencingError(target, 'no started fence device can fence this node');
    const failures: string[] = [];
    for (const d of devices) {
      const r = await this.run(d, action, target, options);
      if (r.rc === 0) return { device: d.id, runTime: r.runTime };
      failures.push(`${d.id}: rc ${r.rc} ${r.output.trim().split('\n').pop() ?? ''}`);
      if (options.signal?.aborted) break;
    }
    throw new FencingError(target, failures.join('; '));
  }
}
