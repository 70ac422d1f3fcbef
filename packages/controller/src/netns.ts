import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { ControllerError } from './errors';

/** Where the machines of a local cluster live on the network. */
export interface NetworkPlan {
  /** What the output says about it. */
  readonly description: string;
  /** An address this process can bind to when looking for free ports. */
  readonly bindCheckAddress: string;
  /** The machine's address (the controller reaches it there). */
  address(machine: string): string;
  /** The network namespace a machine's processes run in, if any. */
  namespace(machine: string): string | undefined;
  /**
   * Where a machine with its own network stack (a libvirt-LXC guest) plugs
   * in: the bridge, its address with prefix length, the gateway. Undefined
   * when the plan has no bridge (such machines then share the host's stack).
   */
  attachment(machine: string): NetworkAttachment | undefined;
  /**
   * Make the plan's network: `machines` get an address and a namespace of
   * their own; `attached` only an address (they plug into the bridge
   * themselves, see attachment()).
   */
  setUp(machines: readonly string[], attached?: readonly string[]): Promise<void>;
  tearDown(): Promise<void>;
  /** Cut (false) or restore (true) a machine's link; false when the plan has no links. */
  setLink(machine: string, up: boolean): Promise<boolean>;
}

export interface NetworkAttachment {
  readonly bridge: string;
  /** `address/prefix`. */
  readonly cidr: string;
  readonly gateway: string;
}

/** Everything on 127.0.0.1 in the host's network namespace. */
export const loopbackNetwork: NetworkPlan = {
  description: 'every machine on 127.0.0.1 (no network namespaces)',
  bindCheckAddress: '127.0.0.1',
  address: () => '127.0.0.1',
  namespace: () => undefined,
  attachment: () => undefined,
  setUp: async () => undefined,
  tearDown: async () => undefined,
  setLink: async () => false,
};

function sh(script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('sh', ['-ec', script], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new ControllerError(`network setup: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/**
 * One network namespace per machine, each with a veth link to a bridge in
 * the host's namespace (a private 10.x.0.0/16 subnet; the host has .0.1,
 * machine i has .(i / 250 + 1).(i % 250 + 2)). `setLink` cuts a machine
 * off (its host-side veth down), as a network partition does.
 */
export class NetnsNetwork implements NetworkPlan {
  readonly description: string;
  readonly bindCheckAddress: string;
  private readonly tag = randomBytes(2).toString('hex');
  private readonly bridge = `rmb${this.tag}`;
  private readonly index = new Map<string, number>();
  /** Machines that plug into the bridge themselves (no namespace or veth of ours). */
  private readonly attached = new Set<string>();
  private up = false;

  private constructor(private readonly subnet: number) {
    this.bindCheckAddress = `10.${subnet}.0.1`;
    this.description = `each machine in its own network namespace on bridge ${this.bridge} (10.${subnet}.0.0/16)`;
  }

  /** Whether `ip netns add` works here (root, kernel support). */
  static async available(): Promise<boolean> {
    const name = `rmprobe${randomBytes(3).toString('hex')}`;
    try {
      await sh(`ip netns add ${name}; ip netns del ${name}`);
      return true;
    } catch {
      return false;
    }
  }

  /** A plan on a 10.x.0.0/16 subnet nothing on this host uses yet. */
  static async create(): Promise<NetnsNetwork> {
    const used = await sh('ip -4 -o addr show');
    for (let i = 0; i < 50; i++) {
      const x = 100 + Math.floor(Math.random() * 150);
      if (!used.includes(` 10.${x}.`)) return new NetnsNetwork(x);
    }
    throw new ControllerError('network setup: no free 10.x.0.0/16 subnet');
  }

  private ns(machine: string): string {
    return `rm-${this.tag}-${machine}`;
  }

  private veth(machine: string): string {
    return `rm${this.tag}v${this.index.get(machine)}`;
  }

  address(machine: string): string {
    const i = this.index.get(machine);
    if (i === undefined) throw new ControllerError(`network: unknown machine ${machine}`);
    return `10.${this.subnet}.${Math.floor(i / 250) + 1}.${(i % 250) + 2}`;
  }

  namespace(machine: string): string | undefined {
    return this.index.has(machine) && !this.attached.has(machine) ? this.ns(machine) : undefined;
  }

  attachment(machine: string): NetworkAttachment {
    return {
      bridge: this.bridge,
      cidr: `${this.address(machine)}/16`,
      gateway: `10.${this.subnet}.0.1`,
    };
  }

  async setUp(machines: readonly string[], attached: readonly string[] = []): Promise<void> {
    [...machines, ...attached].forEach((m, i) => this.index.set(m, i));
    for (const m of attached) this.attached.add(m);
    const lines = [
      `ip link add ${this.bridge} type bridge`,
      `ip addr add 10.${this.subnet}.0.1/16 dev ${this.bridge}`,
      `ip link set ${this.bridge} up`,
    ];
    for (const m of machines) {
      const ns = this.ns(m);
      const v = this.veth(m);
      lines.push(
        `ip netns add ${ns}`,
        `ip link add ${v} type veth peer name ${v}p`,
        `ip link set ${v}p netns ${ns}`,
        `ip link set ${v} master ${this.bridge} up`,
        `ip -n ${ns} link set ${v}p name eth0`,
        `ip -n ${ns} addr add ${this.address(m)}/16 dev eth0`,
        `ip -n ${ns} link set eth0 up`,
        `ip -n ${ns} link set lo up`,
        `ip -n ${ns} route add default via 10.${this.subnet}.0.1`,
      );
    }
    this.up = true;
    await sh(lines.join('\n'));
  }

  async setLink(machine: string, up: boolean): Promise<boolean> {
    if (this.attached.has(machine)) return false;
    await sh(`ip link set ${this.veth(machine)} ${up ? 'up' : 'down'}`);
    return true;
  }

  async tearDown(): Promise<void> {
    if (!this.up) return;
    this.up = false;
    const lines = [...this.index.keys()]
      .filter((m) => !this.attached.has(m))
      .map((m) => `ip netns del ${this.ns(m)} 2>/dev/null || true`);
    lines.push(`ip link del ${this.bridge} 2>/dev/null || true`);
    await sh(lines.join('\n'));
  }
}
