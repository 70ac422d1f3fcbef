import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CibStore, setClusterProperty } from '@remora/cib';
import type { PrivateLibvirtd } from '@remora/libvirt-launcher';
import {
  lxcContainer,
  privateLibvirtdSupport,
  remotedInit,
  startPrivateLibvirtd,
} from '@remora/libvirt-launcher';
import { RemoteClient } from '@remora/remote-transport';
import { activeNodes } from './admin';
import { Controller } from './controller';
import type { ControllerOptions } from './controller';
import { ControllerError } from './errors';
import { RemoteNodeExecutor } from './executor';
import { parseTransitionGraph } from './graph';
import {
  FENCE_AGENT_DIR,
  clusterProcesses,
  freePort,
  killCluster,
  prepareOcfRoot,
  remoraBinary,
  machineInit,
  spawnRemoted,
} from './local';
import type { LocalDaemon } from './local';
import type { NetworkPlan } from './netns';
import { CrmSimulateScheduler } from './scheduler';
import type { Scheduler } from './scheduler';

export interface LocalClusterOptions {
  readonly nodes: number;
  readonly guests: number;
  readonly services: number;
  /** Fence cluster nodes through fence_remora (default true). */
  readonly fencing?: boolean;
  readonly scheduler?: Scheduler;
  /** Recurring monitor of each service (ocf:heartbeat:Dummy), ms (default 2000). */
  readonly serviceMonitorMs?: number;
  /** Recurring monitor of each guest's container resource, ms (default 2000). */
  readonly guestMonitorMs?: number;
  /** Addresses (and network namespaces) of the machines; default: everything on 127.0.0.1. */
  readonly network?: NetworkPlan;
  /** A cluster node killed or fenced boots again after this long, ms (default 300; negative: never). */
  readonly rebootDelayMs?: number;
  readonly onTransition?: ControllerOptions['onTransition'];
  /**
   * No heartbeat for this long = a cluster node's executor or a guest is gone,
   * ms (default 1,500). Raise it on a loaded host: a false loss means fencing.
   */
  readonly deadAfterMs?: number;
  /**
   * Actions in flight cluster-wide (the controller's actionLimit). Every
   * machine of a local cluster shares this host's CPUs: default 4 per CPU
   * (an agent action is mostly fork/exec and waiting).
   */
  readonly actionLimit?: number;
  /**
   * What a guest is: `process` (default) — a `remora remoted` process
   * started by `ocf:remora:guest-daemon` (in its own network namespace with
   * a netns network); `lxc` — a libvirt-LXC container whose init is `remora
   * remoted`, started by `ocf:remora:libvirt-guest` through a private
   * libvirtd per cluster node (each node's hypervisor; root only, see
   * `lxcGuestsSupport()`), plugged into the network's bridge.
   */
  readonly guestKind?: 'process' | 'lxc';
}

/** Whether libvirt-LXC guests can run here (`guestKind: 'lxc'`), and why not. */
export function lxcGuestsSupport(): { readonly ok: boolean; readonly reason: string } {
  const s = privateLibvirtdSupport();
  if (!s.ok) return { ok: false, reason: s.reason };
  if (!s.lxc) return { ok: false, reason: s.reason || 'the libvirt LXC driver is not installed' };
  return { ok: true, reason: '' };
}

/** Node names: node1..nodeN, guest1..guestG; resources vm1..vmG (guests), svc1..svcS (services). */
function names(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
}

function nv(owner: string, name: string, value: string): string {
  return `<nvpair id="${owner}-${name}" name="${name}" value="${value}"/>`;
}

/**
 * A whole remora cluster on one host, every machine a set of real
 * processes: N cluster nodes (each a `remora remoted` process as its
 * executor, booted again by a supervisor after being killed or fenced), G
 * guests (`ocf:remora:guest-daemon`: a `remora remoted` launched by the
 * cluster node that runs its container resource) and S services
 * (`ocf:heartbeat:Dummy`) placed on the guests only, one controller in this
 * process (embedded mode: the DC plays every cluster node's controller),
 * fencing of cluster nodes through `fence_remora`. Used by the seed
 * deployment demo, the chaos suite and tests.
 */
export class LocalCluster implements AsyncDisposable {
  /** Marks every process of this cluster (REMORA_CLUSTER). */
  readonly id = `local-${randomUUID()}`;
  readonly nodes: readonly string[];
  readonly guests: readonly string[];
  readonly services: readonly string[];
  readonly scheduler: Scheduler;
  /** Actions in flight cluster-wide (see LocalClusterOptions.actionLimit). */
  readonly actionLimit: number;
  private readonly daemons = new Map<string, LocalDaemon>();
  /** Each cluster node's hypervisor (guestKind lxc). */
  private readonly libvirtds = new Map<string, PrivateLibvirtd>();
  /** libvirt domains still defined when stop() tore the hypervisors down (should be 0). */
  domainsLeft = 0;
  readonly guestKind: 'process' | 'lxc';
  private readonly clients = new Map<string, RemoteClient>();
  private stopping = false;
  /** Transitions run by this cluster's controllers so far (across controller restarts). */
  transitions = 0;
  controller!: Controller;
  /** The controller's CIB store, journaled on `cibFile`. */
  store!: CibStore;

  private constructor(
    readonly dir: string,
    private readonly keyFile: string,
    private readonly key: Buffer,
    private readonly ocfRoot: string,
    private readonly options: LocalClusterOptions,
  ) {
    this.nodes = names('node', options.nodes);
    this.guests = names('guest', options.guests);
    this.services = names('svc', options.services);
    this.scheduler = options.scheduler ?? new CrmSimulateScheduler();
    this.actionLimit = options.actionLimit ?? 4 * availableParallelism();
    this.guestKind = options.guestKind ?? 'process';
  }

  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
    for (const k of ['nodes', 'guests', 'services'] as const)
      if (!Number.isInteger(options[k]) || options[k] < (k === 'nodes' ? 1 : 0))
        throw new ControllerError(`LocalCluster: ${k} must be a whole number (got ${options[k]})`);
    if (
      options.actionLimit !== undefined &&
      !(Number.isInteger(options.actionLimit) && options.actionLimit >= 1)
    )
      throw new ControllerError(
        `LocalCluster: actionLimit must be a whole number >= 1 (got ${options.actionLimit})`,
      );
    if (options.services > 0 && options.guests === 0)
      throw new ControllerError('LocalCluster: services run on guests: give at least one guest');
    if (options.guestKind !== undefined && !['process', 'lxc'].includes(options.guestKind))
      throw new ControllerError(
        `LocalCluster: guestKind must be 'process' or 'lxc' (got ${String(options.guestKind)})`,
      );
    if (options.guestKind === 'lxc') {
      const lxc = lxcGuestsSupport();
      if (!lxc.ok)
        throw new ControllerError(
          `LocalCluster: libvirt-LXC guests cannot run here: ${lxc.reason}`,
        );
    }
    const dir = await mkdtemp(join(tmpdir(), 'remora-cluster-'));
    const key = randomBytes(64);
    const keyFile = join(dir, 'authkey');
    await writeFile(keyFile, key, { mode: 0o400 });
    const ocf = await prepareOcfRoot(dir);
    await mkdir(join(dir, 'run'));
    const c = new LocalCluster(dir, keyFile, key, ocf, options);
    try {
      await c.boot();
    } catch (err) {
      await c.stop().catch(() => undefined);
      throw err;
    }
    return c;
  }

  /**
   * Where the controller keeps the CIB: `<dir>/cib.xml`, status updates
   * journaled in `cib.xml.journal` (read it with `CibStore.read` or
   * `remora status -x`, which replay the journal).
   */
  get cibFile(): string {
    return join(this.dir, 'cib.xml');
  }

  /** A machine's run directory (HA_RSCTMP: Dummy's state lives there). */
  runDir(machine: string): string {
    return join(this.dir, 'run', machine);
  }

  private address(machine: string, port: number): string {
    return `${this.options.network?.address(machine) ?? '127.0.0.1'}:${port}`;
  }

  private async bootNode(node: string, listen: string): Promise<void> {
    const d = await spawnRemoted({
      name: node,
      listen,
      keyFile: this.keyFile,
      stateDir: this.runDir(node),
      cluster: this.id,
      ocfRoot: this.ocfRoot,
      netns: this.options.network?.namespace(node),
      // The node's hypervisor: what ocf:remora:libvirt-guest uses when no URI is given.
      env: this.libvirtds.has(node)
        ? { LIBVIRT_DEFAULT_URI: this.libvirtds.get(node)!.uri('lxc') }
        : undefined,
    });
    this.daemons.set(node, d);
    void d.exited.then(async () => {
      const delay = this.options.rebootDelayMs ?? 300;
      if (this.stopping || delay < 0 || this.daemons.get(node) !== d) return;
      await this.reboot(node, listen, delay);
    });
  }

  /** Boot a node again after `delay`, retrying (a loaded host may be slow to start it). */
  private async reboot(node: string, listen: string, delay: number): Promise<void> {
    for (let attempt = 0; !this.stopping; attempt++) {
      await new Promise((r) => setTimeout(r, attempt === 0 ? delay : 1000));
      if (this.stopping) return;
      try {
        await this.bootNode(node, listen);
        return;
      } catch {
        // try again
      }
    }
  }

  private async boot(): Promise<void> {
    const lxc = this.guestKind === 'lxc';
    // LXC guests have their own network stack, plugged into the bridge by libvirt.
    await this.options.network?.setUp(
      lxc ? this.nodes : [...this.nodes, ...this.guests],
      lxc ? this.guests : [],
    );
    if (lxc)
      await Promise.all(
        this.nodes.map(async (n) => {
          const lv = await startPrivateLibvirtd({ network: false });
          this.libvirtds.set(n, lv);
          // Fencing the node powers its guests off too (fence_remora runs this first).
          await writeFile(
            join(this.dir, 'run', `${n}.poweroff`),
            `#!/bin/sh\nexport LIBVIRT_DEFAULT_URI='${lv.uri('lxc')}'\nfor d in $(virsh list --name); do virsh destroy "$d" >/dev/null || exit 1; done\n`,
            { mode: 0o755 },
          );
        }),
      );
    const executors = new Map<string, RemoteNodeExecutor>();
    const ports = new Map<string, number>();
    for (const m of [...this.nodes, ...this.guests])
      ports.set(m, await freePort(this.options.network?.bindCheckAddress ?? '127.0.0.1'));
    await Promise.all(this.nodes.map((n) => this.bootNode(n, this.address(n, ports.get(n)!))));
    for (const n of this.nodes) {
      const client = await RemoteClient.connect({
        address: this.address(n, ports.get(n)!),
        authKey: this.key,
        clientName: 'dc',
        deadAfterMs: this.options.deadAfterMs,
      });
      this.clients.set(n, client);
      executors.set(n, new RemoteNodeExecutor(client));
    }
    const fencing = this.options.fencing ?? true;
    // libvirt-guest is a Node.js agent: each run costs ~0.2 s of CPU (a dead guest is
    // noticed by its connection anyway).
    const guestMon = this.options.guestMonitorMs ?? (lxc ? 10_000 : 2000);
    const svcMon = this.options.serviceMonitorMs ?? 2000;
    const resources: string[] = [];
    const constraints: string[] = [];
    if (fencing)
      resources.push(
        `<primitive class="stonith" id="fence-local" type="fence_remora"><instance_attributes id="fence-local-ia">${nv('fence-local', 'run_dir', join(this.dir, 'run'))}${nv('fence-local', 'cluster', this.id)}${nv('fence-local', 'pcmk_host_list', this.nodes.join(' '))}</instance_attributes><operations><op id="fence-local-mon" name="monitor" interval="60s"/></operations></primitive>`,
      );
    if (lxc) await mkdir(join(this.dir, 'guests'));
    for (const [i, g] of this.guests.entries()) {
      const vm = `vm${i + 1}`;
      const port = ports.get(g)!;
      const listen = this.address(g, port);
      if (lxc) {
        resources.push(await this.lxcGuest(vm, g, listen, guestMon));
        continue;
      }
      const netns = this.options.network?.namespace(g);
      resources.push(
        `<primitive class="ocf" id="${vm}" provider="remora" type="guest-daemon"><instance_attributes id="${vm}-ia">${nv(vm, 'name', g)}${nv(vm, 'listen', listen)}${nv(vm, 'authkey', this.keyFile)}${nv(vm, 'remora', remoraBinary())}${nv(vm, 'rsctmp', this.runDir(g))}${netns ? nv(vm, 'netns', netns) : ''}</instance_attributes><meta_attributes id="${vm}-meta">${nv(vm, 'remote-node', g)}${nv(vm, 'remote-addr', listen.slice(0, listen.lastIndexOf(':')))}${nv(vm, 'remote-port', String(port))}${nv(vm, 'remote-connect-timeout', '20s')}</meta_attributes><operations><op id="${vm}-mon" name="monitor" interval="${guestMon}ms"/></operations></primitive>`,
      );
    }
    this.services.forEach((s, i) => {
      resources.push(
        `<primitive class="ocf" id="${s}" provider="heartbeat" type="Dummy"><operations><op id="${s}-mon" name="monitor" interval="${svcMon}ms"/></operations></primitive>`,
      );
      constraints.push(
        `<rsc_location id="prefer-${s}" rsc="${s}" node="${this.guests[i % this.guests.length]}" score="100"/>`,
        `<rsc_location id="guests-only-${s}" rsc="${s}" resource-discovery="never"><rule id="guests-only-${s}-r" score="-INFINITY"><expression id="guests-only-${s}-e" attribute="#kind" operation="ne" value="container"/></rule></rsc_location>`,
      );
    });
    const nodes = this.nodes.map((n, i) => `<node id="${i + 1}" uname="${n}"/>`).join('');
    const states = this.nodes
      .map(
        (n, i) =>
          `<node_state id="${i + 1}" uname="${n}" in_ccm="true" crmd="online" join="member" expected="member"/>`,
      )
      .join('');
    this.store = await CibStore.open(this.cibFile, {
      initial: `<cib epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1"><configuration><crm_config><cluster_property_set id="opts">${nv('opts', 'stonith-enabled', String(fencing))}${nv('opts', 'stonith-timeout', '20s')}</cluster_property_set></crm_config><nodes>${nodes}</nodes><resources>${resources.join('')}</resources><constraints>${constraints.join('')}</constraints><rsc_defaults><meta_attributes id="rsc-defaults">${nv('rsc-defaults', 'resource-stickiness', '100')}</meta_attributes></rsc_defaults></configuration><status>${states}</status></cib>\n`,
    });
    this.startController(executors);
  }

  /**
   * A libvirt-LXC guest: its domain XML (init `remora remoted`, booting with
   * an empty state directory as a guest's /run would be, marked as the
   * machine `guest` of this cluster, plugged into the bridge when there is
   * one) and its `ocf:remora:libvirt-guest` container resource.
   */
  private async lxcGuest(
    vm: string,
    g: string,
    listen: string,
    monitorMs: number,
  ): Promise<string> {
    const attachment = this.options.network?.attachment(g);
    const state = this.runDir(g);
    const init = remotedInit({
      nodeName: g,
      authKeyFile: this.keyFile,
      listen,
      localSocket: `${state}.sock`,
      stateDir: state,
      env: { REMORA_MACHINE: g, REMORA_CLUSTER: this.id },
    });
    const xml = lxcContainer({
      name: g,
      memoryMiB: 256,
      init: '/bin/sh',
      initArgs: [
        '-c',
        'mkdir -p "$0" && find "$0" -mindepth 1 -delete && exec "$@"',
        state,
        init.init,
        ...init.initArgs,
      ],
      initEnv: init.initEnv,
      interfaces: attachment
        ? [{ bridge: attachment.bridge, ip: attachment.cidr, gateway: attachment.gateway }]
        : [],
    });
    const config = join(this.dir, 'guests', `${g}.xml`);
    await writeFile(config, xml);
    const address = listen.slice(0, listen.lastIndexOf(':'));
    const port = listen.slice(listen.lastIndexOf(':') + 1);
    return `<primitive class="ocf" id="${vm}" provider="remora" type="libvirt-guest"><instance_attributes id="${vm}-ia">${nv(vm, 'config', config)}${nv(vm, 'remoted_address', listen)}${nv(vm, 'authkey', this.keyFile)}</instance_attributes><meta_attributes id="${vm}-meta">${nv(vm, 'remote-node', g)}${nv(vm, 'remote-addr', address)}${nv(vm, 'remote-port', port)}${nv(vm, 'remote-connect-timeout', '30s')}</meta_attributes><operations><op id="${vm}-start" name="start" interval="0" timeout="60s"/><op id="${vm}-stop" name="stop" interval="0" timeout="30s"/><op id="${vm}-mon" name="monitor" interval="${monitorMs}ms" timeout="30s"/></operations></primitive>`;
  }

  private startController(executors: Map<string, RemoteNodeExecutor>, startFresh = false): void {
    this.controller = Controller.start({
      startFresh,
      store: this.store,
      scheduler: this.scheduler,
      executors,
      authKey: this.key,
      fenceAgentDir: FENCE_AGENT_DIR,
      recheckIntervalMs: 5000,
      actionLimit: this.actionLimit,
      connectionDeadAfterMs: this.options.deadAfterMs,
      onTransition: (report, graph) => {
        this.transitions++;
        this.options.onTransition?.(report, graph);
      },
    });
  }

  /** Restart the controller (a DC restart): a new one takes over from the CIB on disk. */
  async restartController(): Promise<void> {
    await this.controller.close();
    await this.store.close();
    this.store = await CibStore.open(this.cibFile);
    const executors = new Map<string, RemoteNodeExecutor>();
    for (const [n, c] of this.clients) executors.set(n, new RemoteNodeExecutor(c));
    this.startController(executors, true);
  }

  /** The libvirt domains each cluster node's hypervisor runs (guestKind lxc; else empty). */
  async domains(): Promise<Map<string, string[]>> {
    const found = new Map<string, string[]>();
    for (const [n, lv] of this.libvirtds)
      found.set(
        n,
        (await lv.connection('lxc').list())
          .filter((d) => d.state !== 'shut off')
          .map((d) => d.name),
      );
    return found;
  }

  /** The processes of the cluster nodes' hypervisors (libvirtd, libvirt_lxc, guests). */
  hypervisorProcesses(): number[] {
    return [...this.libvirtds.values()].flatMap((lv) => lv.processes());
  }

  /** The cluster node executor processes (a node being rebooted has none). */
  daemon(node: string): LocalDaemon | undefined {
    return this.daemons.get(node);
  }

  /** The pid of a guest's daemon (its "container"; a libvirt-LXC guest's init), if it runs. */
  guestPid(guest: string): number | undefined {
    if (this.guestKind === 'lxc') return machineInit(this.id, guest);
    const file = `${this.runDir(guest)}.pid`;
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, 'utf8'));
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
  }

  /**
   * Where a service really runs: the guests whose machine exists (its daemon
   * alive or frozen) and hold the service's state file.
   */
  where(service: string): string[] {
    return this.guests.filter(
      (g) =>
        existsSync(join(this.runDir(g), `Dummy-${service}.state`)) &&
        this.guestPid(g) !== undefined,
    );
  }

  /** Every cluster node's executor and every guest's daemon process is up (none rebooting). */
  daemonsUp(): boolean {
    return (
      this.nodes.every((n) => {
        const d = this.daemons.get(n);
        return d !== undefined && d.child.exitCode === null && d.child.signalCode === null;
      }) && this.guests.every((g) => this.guestPid(g) !== undefined)
    );
  }

  /** Make a service fail behind the cluster's back (its Dummy state disappears). */
  failService(service: string): boolean {
    const g = this.where(service)[0];
    if (!g) return false;
    rmSync(join(this.runDir(g), `Dummy-${service}.state`), { force: true });
    return true;
  }

  /** Where the CIB status says a service is active. */
  recorded(service: string): string[] {
    return activeNodes(this.store.cib, service);
  }

  /** Resolves when the controller is idle and the scheduler has nothing left to do. */
  async converged(timeoutMs = 60_000): Promise<void> {
    const signal = AbortSignal.timeout(timeoutMs);
    for (;;) {
      await this.controller.idle(signal);
      const graph = parseTransitionGraph(await this.scheduler.schedule(this.store.xml, signal));
      if (graph.synapses.length === 0) return;
    }
  }

  /**
   * Stop everything through the cluster (stop-all-resources), close the
   * controller and the node executors, and kill whatever is left. Resolves
   * with the number of processes that had to be killed at the end.
   */
  async stop(timeoutMs = 60_000): Promise<number> {
    if (this.store && this.controller && !this.stopping) {
      await this.store
        .modify((doc) => setClusterProperty(doc, 'stop-all-resources', 'true'))
        .catch(() => undefined);
      await this.controller.idle(AbortSignal.timeout(timeoutMs)).catch(() => undefined);
    }
    this.stopping = true;
    await this.controller?.close().catch(() => undefined);
    for (const c of this.clients.values()) await c.close().catch(() => undefined);
    await Promise.all([...this.daemons.values()].map((d) => d.stop().catch(() => undefined)));
    // The hypervisors: whatever domain is still there was not stopped through the cluster.
    for (const lv of this.libvirtds.values()) {
      this.domainsLeft += await lv
        .connection('lxc')
        .list()
        .then((l) => l.length)
        .catch(() => 0);
      await lv.stop().catch(() => undefined);
    }
    this.libvirtds.clear();
    await this.store?.close().catch(() => undefined);
    // Give exiting processes a moment, then count and kill what is left.
    const deadline = Date.now() + 3000;
    while (clusterProcesses(this.id).length > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const leftovers = killCluster(this.id);
    await this.options.network?.tearDown();
    await rm(this.dir, { recursive: true, force: true });
    return leftovers;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}
