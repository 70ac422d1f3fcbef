import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { ControllerError } from './errors';

/**
 * Running remora "machines" as processes on one host, for demos, examples
 * and tests: free ports, an OCF root with remora's agents, `remora
 * remoted` daemons marked as machines (REMORA_MACHINE, see
 * agents/lib/machine.sh) and as members of one local cluster
 * (REMORA_CLUSTER), optionally inside a network namespace, and a search
 * for a cluster's leftover processes.
 */

/** remora's own agents shipped with this package. */
export const AGENTS_DIR = resolve(__dirname, '..', 'agents');
/** Where `fence_remora` lives (a Fencer's agent directory). */
export const FENCE_AGENT_DIR = join(AGENTS_DIR, 'fence');

/** A TCP port nobody listens on right now. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r, reject) => {
    server.once('error', reject);
    server.listen(0, host, r);
  });
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** The `remora` CLI: the nearest node_modules/.bin/remora above this package, else `remora` on PATH. */
export function remoraBinary(): string {
  for (let d = __dirname; ; d = dirname(d)) {
    const bin = join(d, 'node_modules', '.bin', 'remora');
    if (existsSync(bin)) return bin;
    if (dirname(d) === d) return 'remora';
  }
}

/** `@remora/libvirt-launcher`'s OCF agents (libvirt-guest). */
export const LIBVIRT_AGENTS_DIR = join(
  dirname(require.resolve('@remora/libvirt-launcher/package.json')),
  'agents',
  'remora',
);

/**
 * An OCF root under `dir` with the system's agents (`heartbeat`,
 * `pacemaker`) and remora's (`remora`: guest-daemon from this package,
 * libvirt-guest from @remora/libvirt-launcher). Returns its path.
 */
export async function prepareOcfRoot(dir: string, system = '/usr/lib/ocf'): Promise<string> {
  const ocf = join(dir, 'ocf');
  await mkdir(join(ocf, 'resource.d', 'remora'), { recursive: true });
  await symlink(join(system, 'lib'), join(ocf, 'lib'));
  for (const provider of ['heartbeat', 'pacemaker'])
    if (existsSync(join(system, 'resource.d', provider)))
      await symlink(join(system, 'resource.d', provider), join(ocf, 'resource.d', provider));
  for (const agents of [join(AGENTS_DIR, 'remora'), LIBVIRT_AGENTS_DIR])
    for (const agent of existsSync(agents) ? readdirSync(agents) : [])
      await symlink(join(agents, agent), join(ocf, 'resource.d', 'remora', agent));
  return ocf;
}

/**
 * The pid of a machine's init: the process marked as the machine (and the
 * cluster) whose parent is not (e.g. a libvirt-LXC guest's init, child of
 * libvirt_lxc). Undefined when it does not run.
 */
export function machineInit(cluster: string, machine: string): number | undefined {
  const marks = [`REMORA_CLUSTER=${cluster}`, `REMORA_MACHINE=${machine}`];
  const marked = (pid: string): boolean => {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
      return marks.every((m) => env.includes(m));
    } catch {
      return false;
    }
  };
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || !marked(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      if (!marked(fields[1]!)) return Number(entry);
    } catch {
      // gone
    }
  }
  return undefined;
}

export interface LocalDaemonOptions {
  /** Node name (also the machine name). */
  readonly name: string;
  /** `host:port` to listen on. */
  readonly listen: string;
  readonly keyFile: string;
  /** The machine's runtime directory (HA_RSCTMP: where Dummy keeps its state). */
  readonly stateDir: string;
  /** Marks every process of the machine (default: the name). */
  readonly machine?: string;
  /** Marks every process of the local cluster (for leftover checks). */
  readonly cluster?: string;
  /** OCF root for the machine's agents. */
  readonly ocfRoot?: string;
  /** Run inside this network namespace (`ip netns exec`). */
  readonly netns?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** How long to wait for "serving", ms (default 15,000). */
  readonly startTimeoutMs?: number;
  /** More `remora remoted` options (e.g. `['--log-capacity', '100']`). */
  readonly args?: readonly string[];
}

/** A `remora remoted` child process. */
export interface LocalDaemon {
  readonly name: string;
  readonly address: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Start `remora remoted` as its own machine; resolves once it serves. */
export async function spawnRemoted(options: LocalDaemonOptions): Promise<LocalDaemon> {
  await mkdir(options.stateDir, { recursive: true });
  const args = [
    'remoted',
    '-l',
    options.listen,
    '-k',
    options.keyFile,
    '-n',
    options.name,
    '--local-socket',
    `${options.stateDir}.sock`,
  ];
  if (options.ocfRoot) args.push('--ocf-root', options.ocfRoot);
  if (options.args) args.push(...options.args);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...options.env,
    HA_RSCTMP: options.stateDir,
    REMORA_MACHINE: options.machine ?? options.name,
  };
  if (options.cluster) env.REMORA_CLUSTER = options.cluster;
  const [cmd, argv] = options.netns
    ? ['ip', ['netns', 'exec', options.netns, remoraBinary(), ...args]]
    : [remoraBinary(), args];
  const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'], env });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let err = '';
  child.stderr!.on('data', (b: Buffer) => {
    if (err.length < 8192) err += b.toString();
  });
  const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
  while (!err.includes('serving')) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new ControllerError(
        `remora remoted for ${options.name} exited: ${err.trim().split('\n').pop() ?? ''}`,
      );
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new ControllerError(`remora remoted for ${options.name} did not start: ${err.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return {
    name: options.name,
    address: options.listen,
    child,
    pid: child.pid!,
    exited,
    async stop(graceMs = 3000): Promise<void> {
      if (gone()) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Pids of the processes carrying `REMORA_CLUSTER=<cluster>` (a local cluster's leftovers). */
export function clusterProcesses(cluster: string): number[] {
  const found: number[] = [];
  const marker = `REMORA_CLUSTER=${cluster}`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0');
      if (!env.includes(marker)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      found.push(Number(entry));
    } catch {
      // gone or not ours to read
    }
  }
  return found;
}

/** SIGKILL whatever is left of a local cluster; returns how many there were. */
export function killCluster(cluster: string): number {
  const pids = clusterProcesses(cluster);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  return pids.length;
}
