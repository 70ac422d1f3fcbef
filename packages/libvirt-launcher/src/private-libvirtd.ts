/**
 * A libvirtd of our own, for tests and demos: its own sockets, config and
 * state (a private mount namespace with /etc/libvirt, /var/lib/libvirt,
 * /var/log/libvirt bound to a folder and a tmpfs on /run/libvirt), no cgroup2
 * mount (libvirt-LXC fails on hybrid hosts otherwise), optionally its own
 * network namespace with a bridge, and tracking cgroups so that stop()
 * leaves no process behind. Needs root.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  rmdirSync,
} from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { LibvirtConnection } from './connection';
import type { LibvirtConnectionOptions } from './connection';
import { InvalidConfigError, PrivateLibvirtdError } from './errors';
import { checkIpv4, parseCidr } from './xml';

export interface PrivateNetwork {
  /** Bridge device inside the namespace (default `br0`). */
  readonly bridge?: string;
  /** The bridge's address (default `10.213.0.1/24`): the "bridge side" of the guests. */
  readonly address?: string;
}

export interface PrivateLibvirtdOptions {
  /** Folder for config, sockets, state and logs (default: a new temp folder, removed by stop()). */
  readonly dir?: string;
  /**
   * Own network namespace with a bridge (the default), or `false` to stay in
   * the current (or the joined) network namespace. With `joinNetns`, a bridge
   * is created in that namespace only when `network` is given.
   */
  readonly network?: PrivateNetwork | false;
  /**
   * Run libvirtd in an existing network namespace (`/run/netns/<name>` from
   * `ip netns add`, or `/proc/<pid>/ns/net`), e.g. a simulated host's: its
   * guests without an interface share it.
   */
  readonly joinNetns?: string;
  /** How long to wait for libvirtd to answer, ms (default 20,000). */
  readonly startTimeoutMs?: number;
  /** The libvirtd program (default `/usr/sbin/libvirtd`). */
  readonly libvirtd?: string;
}

/** Whether this machine can run a private libvirtd (and which drivers); the reason when not. */
export interface PrivateLibvirtdSupport {
  readonly ok: boolean;
  readonly reason: string;
  /** The LXC driver is installed (libvirt-daemon-driver-lxc). */
  readonly lxc: boolean;
}

const LIBVIRTD = '/usr/sbin/libvirtd';
const LXC_DRIVER = '/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_lxc.so';
const FORWARDER = resolve(__dirname, '..', 'helpers', 'netns-forward.js');
const TRACKED_HIERARCHIES = ['pids', 'systemd'];

function onPath(program: string): boolean {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin')
    .split(':')
    .concat(['/usr/sbin', '/sbin'])) {
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      // next
    }
  }
  return false;
}

function lxcDriverInstalled(): boolean {
  if (existsSync(LXC_DRIVER)) return true;
  try {
    return readdirSync('/usr/lib').some((d) =>
      existsSync(join('/usr/lib', d, 'libvirt', 'connection-driver', 'libvirt_driver_lxc.so')),
    );
  } catch {
    return false;
  }
}

/** Check the prerequisites of startPrivateLibvirtd (root, libvirtd, unshare, ip, the LXC driver). */
export function privateLibvirtdSupport(libvirtd = LIBVIRTD): PrivateLibvirtdSupport {
  const lxc = lxcDriverInstalled();
  const no = (reason: string): PrivateLibvirtdSupport => ({ ok: false, reason, lxc });
  if (process.platform !== 'linux') return no('needs Linux namespaces');
  if (process.getuid?.() !== 0) return no('needs root (mount and network namespaces, cgroups)');
  if (!existsSync(libvirtd))
    return no(`${libvirtd} missing: install the Debian package libvirt-daemon`);
  if (!onPath('virsh')) return no('virsh missing: install the Debian package libvirt-clients');
  for (const tool of ['unshare', 'nsenter', 'mount', 'umount']) {
    if (!onPath(tool)) return no(`${tool} missing: install the Debian package util-linux`);
  }
  if (!onPath('ip')) return no('ip missing: install the Debian package iproute2');
  const probe = spawnSync('unshare', ['--mount', '--net', 'true'], { stdio: 'ignore' });
  if (probe.status !== 0)
    return no('cannot create mount and network namespaces here (unshare --mount --net failed)');
  return {
    ok: true,
    reason: lxc ? '' : 'LXC driver missing: install libvirt-daemon-driver-lxc',
    lxc,
  };
}

interface TrackedCgroup {
  readonly path: string;
}

function trackingCgroups(id: string): TrackedCgroup[] {
  const out: TrackedCgroup[] = [];
  for (const h of TRACKED_HIERARCHIES) {
    const root = `/sys/fs/cgroup/${h}`;
    if (!existsSync(join(root, 'cgroup.procs'))) continue;
    const path = join(root, `remora-libvirtd-${id}`);
    try {
      mkdirSync(path);
      out.push({ path });
    } catch {
      // not writable: no tracking in this hierarchy
    }
  }
  return out;
}

function procsOf(cgroup: TrackedCgroup): number[] {
  const pids: number[] = [];
  const walk = (dir: string): void => {
    try {
      for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) {
        if (line.trim()) pids.push(Number(line));
      }
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(join(dir, entry.name));
      }
    } catch {
      // gone
    }
  };
  walk(cgroup.path);
  return pids;
}

function removeCgroup(dir: string): void {
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) removeCgroup(join(dir, entry.name));
    }
    rmdirSync(dir);
  } catch {
    // busy or gone
  }
}

/**
 * libvirt-LXC names a guest's cgroups `machine/lxc-<libvirt_lxc pid>-<name>.libvirt-lxc`
 * and removes them itself when it stops a guest; after a kill it cannot.
 */
function removeMachineCgroups(pids: readonly number[]): void {
  if (pids.length === 0) return;
  const prefixes = pids.map((pid) => `lxc-${pid}-`);
  let controllers: string[];
  try {
    controllers = readdirSync('/sys/fs/cgroup');
  } catch {
    return;
  }
  for (const controller of controllers) {
    const machine = join('/sys/fs/cgroup', controller, 'machine');
    try {
      for (const dir of readdirSync(machine)) {
        if (dir.endsWith('.libvirt-lxc') && prefixes.some((p) => dir.startsWith(p))) {
          removeCgroup(join(machine, dir));
        }
      }
    } catch {
      // no machine partition in this hierarchy
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Whether `promise` settled within `ms` (the timer does not outlive it). */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function startScript(o: {
  dir: string;
  cgroups: readonly TrackedCgroup[];
  network: Required<PrivateNetwork> | false;
  libvirtd: string;
  passwd: boolean;
}): string {
  const d = shellQuote(o.dir);
  const lines = [
    'set -e',
    // Our tracking cgroups first: everything libvirtd starts stays below them.
    ...o.cgroups.map((c) => `echo $$ > ${shellQuote(join(c.path, 'cgroup.procs'))}`),
    // libvirt-LXC cannot use a cgroup2 mount that lists controllers on hybrid hosts.
    'if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified; fi',
    'mkdir -p /etc/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt /run/libvirt',
    `mount --bind ${d}/etc /etc/libvirt`,
    `mount --bind ${d}/lib /var/lib/libvirt`,
    `mount --bind ${d}/log /var/log/libvirt`,
    `mount --bind ${d}/cache /var/cache/libvirt`,
    'mount -t tmpfs -o mode=0755 tmpfs /run/libvirt',
    ...(o.passwd
      ? [`mount --bind ${d}/passwd /etc/passwd`, `mount --bind ${d}/group /etc/group`]
      : []),
  ];
  if (o.network) {
    lines.push(
      'ip link set lo up',
      `ip link add ${o.network.bridge} type bridge`,
      `ip addr add ${o.network.address} dev ${o.network.bridge}`,
      `ip link set ${o.network.bridge} up`,
    );
  }
  lines.push(`exec ${shellQuote(o.libvirtd)} -f /etc/libvirt/libvirtd.conf -p ${d}/libvirtd.pid`);
  return lines.join('\n');
}

/**
 * A running private libvirtd. `uri('lxc')` / `uri('test')` name it;
 * `forward(host, port)` makes an address inside its network namespace
 * reachable from this process as a Unix socket; `stop()` destroys its
 * guests and removes every trace.
 */
export class PrivateLibvirtd implements AsyncDisposable {
  private forwarder: ChildProcess | undefined;
  private forwarderReplies = new Map<number, (msg: { ok?: boolean; error?: string }) => void>();
  private forwardSeq = 0;
  private readonly forwards = new Map<string, string>();
  private stopped = false;
  private readonly exitHook: () => void;

  private constructor(
    /** The folder holding config, sockets, logs (`log/lxc/<guest>.log`: each container's log). */
    readonly dir: string,
    private readonly ownsDir: boolean,
    private readonly child: ChildProcess,
    private readonly cgroups: readonly TrackedCgroup[],
    /** The bridge and its address, when the daemon made one. */
    readonly network: Required<PrivateNetwork> | false,
    /** Whether the daemon is in another network namespace than this process. */
    private readonly separateNetns: boolean,
  ) {
    // Last resort if the process exits without stop(): kill what we started.
    this.exitHook = () => {
      const pids = this.cgroups.flatMap(procsOf);
      for (const pid of pids) safeKill(pid, 'SIGKILL');
      if (this.child.pid) safeKill(this.child.pid, 'SIGKILL');
      // Give the kernel a moment to reap them, then drop libvirt's cgroups of killed guests.
      const until = Date.now() + 300;
      while (Date.now() < until && this.cgroups.some((c) => procsOf(c).length > 0)) {
        /* spin: no timers in an exit handler */
      }
      removeMachineCgroups(pids);
      for (const c of this.cgroups) removeCgroup(c.path);
      if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
    };
    process.once('exit', this.exitHook);
  }

  /** Start one (see the module comment). Throws PrivateLibvirtdError with the reason and libvirtd's log. */
  static async start(options: PrivateLibvirtdOptions = {}): Promise<PrivateLibvirtd> {
    const libvirtd = options.libvirtd ?? LIBVIRTD;
    const support = privateLibvirtdSupport(libvirtd);
    if (!support.ok)
      throw new PrivateLibvirtdError(`cannot start a private libvirtd: ${support.reason}`);
    if (options.joinNetns !== undefined && !existsSync(options.joinNetns)) {
      throw new InvalidConfigError(
        'joinNetns',
        `${options.joinNetns} does not exist (create it with ip netns add)`,
      );
    }
    const network: Required<PrivateNetwork> | false =
      options.network === false ||
      (options.joinNetns !== undefined && options.network === undefined)
        ? false
        : {
            bridge: options.network?.bridge ?? 'br0',
            address: options.network?.address ?? '10.213.0.1/24',
          };
    if (network) {
      if (!/^[A-Za-z0-9_.-]{1,15}$/.test(network.bridge))
        throw new InvalidConfigError(
          'network.bridge',
          `expected a device name, got ${JSON.stringify(network.bridge)}`,
        );
      parseCidr('network.address', network.address);
    }
    const ownsDir = options.dir === undefined;
    const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'remora-lv-')));
    if (join(dir, 'sock', 'libvirt-sock-ro').length > 100) {
      throw new InvalidConfigError(
        'dir',
        `${dir} is too long for a Unix socket path; use a shorter folder`,
      );
    }
    for (const sub of ['etc', 'lib', 'log', 'cache', 'sock', 'fwd'])
      await mkdir(join(dir, sub), { recursive: true });
    await writeFile(
      join(dir, 'etc', 'libvirtd.conf'),
      [
        `unix_sock_dir = "${join(dir, 'sock')}"`,
        'unix_sock_rw_perms = "0700"',
        'auth_unix_rw = "none"',
        'auth_unix_ro = "none"',
        'max_clients = 5000',
        'max_workers = 40',
        'max_client_requests = 20',
        'log_outputs = "3:stderr"',
        // Its own host identity: QEMU migration between two private daemons
        // on one machine is refused as "to the same host" when the UUIDs match.
        `host_uuid = "${randomUUID()}"`,
        '',
      ].join('\n'),
    );
    // QEMU guests run as root (no libvirt-qemu user needed), and write their
    // console and stderr to log/qemu/<name>.log themselves: no virtlogd here.
    await writeFile(
      join(dir, 'etc', 'qemu.conf'),
      'user = "root"\ngroup = "root"\nstdio_handler = "file"\n',
    );
    await writeFile(join(dir, 'etc', 'lxc.conf'), '');
    // The QEMU driver resolves its default user before reading qemu.conf:
    // give the namespace a passwd with it when the host has none.
    const passwdText = await readFile('/etc/passwd', 'utf8');
    const passwd = !/^libvirt-qemu:/m.test(passwdText);
    if (passwd) {
      const groupText = await readFile('/etc/group', 'utf8');
      await writeFile(
        join(dir, 'passwd'),
        `${passwdText.trimEnd()}\nlibvirt-qemu:x:64055:64055:libvirt-qemu:/var/lib/libvirt:/usr/sbin/nologin\n`,
      );
      await writeFile(
        join(dir, 'group'),
        `${groupText.trimEnd()}\n${/^libvirt-qemu:/m.test(groupText) ? '' : 'libvirt-qemu:x:64055:\n'}${/^kvm:/m.test(groupText) ? '' : 'kvm:x:64056:\n'}`,
      );
    }
    const id = randomBytes(4).toString('hex');
    const cgroups = trackingCgroups(id);
    const script = startScript({ dir, cgroups, network, libvirtd, passwd });
    const log = await open(join(dir, 'libvirtd.log'), 'a');
    const unshare = ['unshare', '--mount', '--propagation', 'private'];
    const argv =
      options.joinNetns !== undefined
        ? ['nsenter', `--net=${options.joinNetns}`, '--', ...unshare, 'sh', '-c', script]
        : [...unshare, ...(network ? ['--net'] : []), 'sh', '-c', script];
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ['ignore', log.fd, log.fd],
      detached: true,
    });
    await log.close();
    const lv = new PrivateLibvirtd(
      dir,
      ownsDir,
      child,
      cgroups,
      network,
      network !== false || options.joinNetns !== undefined,
    );
    try {
      await lv.waitAnswering(options.startTimeoutMs ?? 20_000);
    } catch (err) {
      const tail = lv.logTail();
      await lv.stop();
      throw new PrivateLibvirtdError(
        `private libvirtd did not start: ${(err as Error).message}`,
        tail,
        { cause: err },
      );
    }
    return lv;
  }

  private async waitAnswering(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited: string | undefined;
    this.child.once(
      'exit',
      (code, signal) => (exited = `libvirtd exited (${signal ?? `code ${code}`})`),
    );
    const conn = this.connection('test');
    let last = '';
    while (Date.now() < deadline) {
      if (exited) throw new Error(exited);
      if (existsSync(this.socket)) {
        try {
          await conn.check();
          return;
        } catch (err) {
          last = (err as Error).message;
        }
      }
      await sleep(25);
    }
    throw new Error(`no answer within ${timeoutMs} ms${last ? ` (${last})` : ''}`);
  }

  /** libvirtd's PID (in the host's PID namespace). */
  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** The read-write socket. */
  get socket(): string {
    return join(this.dir, 'sock', 'libvirt-sock');
  }

  /** `/proc/<pid>/ns/net`: enter it with `nsenter --net=...` to act on the bridge side. */
  get netnsPath(): string {
    return `/proc/${this.pid}/ns/net`;
  }

  /** The connection URI for a driver: `lxc:///system?socket=...`, `test+unix:///default?socket=...`, `qemu:///system?socket=...`. */
  uri(driver: 'lxc' | 'test' | 'qemu'): string {
    const q = `socket=${this.socket}`;
    switch (driver) {
      case 'lxc':
        return `lxc:///system?${q}`;
      case 'qemu':
        return `qemu:///system?${q}`;
      case 'test':
        return `test+unix:///default?${q}`;
    }
  }

  /** A connection to it (the test driver's state lives only while a connection is open: use LibvirtConnection.open for it). */
  connection(
    driver: 'lxc' | 'test' | 'qemu',
    options: Omit<LibvirtConnectionOptions, 'uri'> = {},
  ): LibvirtConnection {
    return new LibvirtConnection({ ...options, uri: this.uri(driver) });
  }

  /** The tail of libvirtd's own log. */
  logTail(lines = 20): string {
    try {
      return readFileSync(join(this.dir, 'libvirtd.log'), 'utf8')
        .trimEnd()
        .split('\n')
        .slice(-lines)
        .join('\n');
    } catch {
      return '';
    }
  }

  /**
   * The tail of a guest's log: a container's (`/var/log/libvirt/lxc/<name>.log`
   * inside the namespace) or a QEMU guest's (`.../qemu/<name>.log`: its command
   * line and QEMU's own messages).
   */
  guestLogTail(name: string, lines = 20): string {
    for (const driver of ['lxc', 'qemu']) {
      try {
        return readFileSync(join(this.dir, 'log', driver, `${name}.log`), 'utf8')
          .trimEnd()
          .split('\n')
          .slice(-lines)
          .join('\n');
      } catch {
        // not this driver's guest
      }
    }
    return '';
  }

  /**
   * Make `host:port` inside the daemon's network namespace reachable from
   * here: returns a `unix:/...` address (a forwarder runs on the bridge side).
   * In this process's own network namespace the address is returned unchanged.
   */
  async forward(host: string, port: number): Promise<string> {
    if (!this.separateNetns) return `${host}:${port}`;
    checkIpv4('host', host);
    const key = `${host}:${port}`;
    const known = this.forwards.get(key);
    if (known) return known;
    const fwd = this.startForwarder();
    const listen = join(this.dir, 'fwd', `${host}_${port}.sock`);
    const id = ++this.forwardSeq;
    const answer = new Promise<{ ok?: boolean; error?: string }>((res) =>
      this.forwarderReplies.set(id, res),
    );
    fwd.stdin?.write(`${JSON.stringify({ id, listen, host, port })}\n`);
    const msg = await answer;
    if (!msg.ok)
      throw new PrivateLibvirtdError(`forwarding ${key} failed: ${msg.error ?? 'forwarder gone'}`);
    const address = `unix:${listen}`;
    this.forwards.set(key, address);
    return address;
  }

  private startForwarder(): ChildProcess {
    if (this.forwarder) return this.forwarder;
    const fwd = spawn('nsenter', [`--net=${this.netnsPath}`, '--', process.execPath, FORWARDER], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.forwarder = fwd;
    createInterface({ input: fwd.stdout! }).on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { id: number; ok?: boolean; error?: string };
        this.forwarderReplies.get(msg.id)?.(msg);
        this.forwarderReplies.delete(msg.id);
      } catch {
        // not ours
      }
    });
    fwd.once('exit', () => {
      for (const [, res] of this.forwarderReplies) res({ error: 'forwarder exited' });
      this.forwarderReplies.clear();
      this.forwarder = undefined;
      this.forwards.clear();
    });
    fwd.stdin?.on('error', () => undefined);
    return fwd;
  }

  /** The cgroups (pids and name=systemd hierarchies) that hold libvirtd and everything it starts. */
  get trackingCgroups(): readonly string[] {
    return this.cgroups.map((c) => c.path);
  }

  /** PIDs of every process the daemon started that still runs (libvirtd, libvirt_lxc, guests). */
  processes(): number[] {
    const all = new Set<number>();
    for (const c of this.cgroups) for (const pid of procsOf(c)) all.add(pid);
    return [...all];
  }

  /**
   * Destroy every guest, stop libvirtd, kill anything left in its cgroups,
   * remove the cgroups and (when it made it) the folder. Never throws.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const alive = (): boolean => this.child.exitCode === null && this.child.signalCode === null;
    if (alive()) {
      for (const driver of ['lxc', 'qemu'] as const) {
        try {
          const conn = this.connection(driver, { commandTimeoutMs: 10_000 });
          const domains = await conn.list();
          await Promise.all(
            domains.map(async (d) => {
              const dom = conn.domain(d.name);
              await dom.destroy().catch(() => false);
              await dom.undefine().catch(() => false);
            }),
          );
        } catch {
          // driver absent or daemon gone
        }
      }
    }
    if (this.forwarder) {
      const fwd = this.forwarder;
      fwd.stdin?.end();
      if (fwd.exitCode === null && !(await within(new Promise((r) => fwd.once('exit', r)), 2000)))
        fwd.kill('SIGKILL');
    }
    if (alive()) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      if (!(await within(exited, 5000)) && alive()) {
        this.child.kill('SIGKILL');
        await exited;
      }
    }
    // Whatever is left (a libvirt_lxc or a guest of a crashed daemon): kill it,
    // and remove the cgroups libvirt made for guests it could not clean up.
    const killed: number[] = [];
    for (let i = 0; i < 100; i++) {
      const left = this.processes();
      if (left.length === 0) break;
      killed.push(...left);
      for (const pid of left) safeKill(pid, 'SIGKILL');
      await sleep(20);
    }
    removeMachineCgroups(killed);
    for (const c of this.cgroups) removeCgroup(c.path);
    process.removeListener('exit', this.exitHook);
    if (this.ownsDir) await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

function safeKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone
  }
}

/** Start a private libvirtd (see PrivateLibvirtd). */
export function startPrivateLibvirtd(
  options: PrivateLibvirtdOptions = {},
): Promise<PrivateLibvirtd> {
  return PrivateLibvirtd.start(options);
}
