// The seed deployment: N cluster nodes, G guests and S services on one machine,
// driven by the remora controller, every machine made of real processes:
//   - each cluster node is a `remora remoted` process (its executor);
//   - each guest is a libvirt-LXC container whose init is `remora remoted`, started by
//     ocf:remora:libvirt-guest through the private libvirtd of the cluster node that runs
//     its container resource (vmN) — where libvirtd and its LXC driver work (root);
//     otherwise (or with --guests-as process) a `remora remoted` process launched by the
//     ocf:remora:guest-daemon agent; the output says which and why;
//   - each machine in its own network namespace on a bridge when `ip netns add` works;
//   - services are ocf:heartbeat:Dummy, placed on the guests with constraints;
//   - cluster nodes are fenced through fence_remora (kills the machine's processes).
// The scheduler is remora's (@remora/scheduler, in a worker thread; --scheduler crm_simulate uses
// Pacemaker's own for comparison); `crm_mon` reads our CIB for the status.
// Prints the status, kills a guest (kill -9), shows detection and recovery times,
// and shuts down cleanly.
// Every machine shares this host's CPUs: at most --action-limit actions run at once
// (default 4 per CPU), and recurring monitors slow down with many guests (--monitor-ms).
// Run: npx ts-node examples/seed-deployment.ts [--nodes 3] [--guests 6] [--services 6] [--netns auto|on|off] [--guests-as auto|lxc|process] [--scheduler remora|crm_simulate] [--action-limit N] [--monitor-ms MS]
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  CrmSimulateScheduler,
  RemoraScheduler,
  LocalCluster,
  NetnsNetwork,
  lxcGuestsSupport,
  loopbackNetwork,
} from '@remora/controller';
import type { NetworkPlan, Scheduler } from '@remora/controller';

/** A scheduler, timed (the figures say how much of convergence is scheduling). */
class TimedScheduler implements Scheduler {
  constructor(private readonly inner: Scheduler) {}
  get name(): string {
    return this.inner.name;
  }
  runs = 0;
  totalMs = 0;
  lastMs = 0;
  async schedule(cib: string, signal?: AbortSignal): Promise<string> {
    const t = Date.now();
    try {
      return await this.inner.schedule(cib, signal);
    } finally {
      this.runs++;
      this.lastMs = Date.now() - t;
      this.totalMs += this.lastMs;
    }
  }
}

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    guests: { type: 'string', default: '6' },
    services: { type: 'string', default: '6' },
    netns: { type: 'string', default: 'auto' },
    'no-status': { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    'timeout-min': { type: 'string', default: '10' },
    'dead-after-ms': { type: 'string', default: '1500' },
    scheduler: { type: 'string', default: 'remora' },
    'action-limit': { type: 'string' },
    'monitor-ms': { type: 'string' },
    'guests-as': { type: 'string', default: 'auto' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (!['remora', 'crm_simulate'].includes(values.scheduler!)) {
  console.error(`--scheduler: expected remora or crm_simulate, got '${values.scheduler}'`);
  process.exit(2);
}
const scheduler = new TimedScheduler(
  values.scheduler === 'crm_simulate' ? new CrmSimulateScheduler() : new RemoraScheduler(),
);
if (values.help) {
  console.log(
    'usage: seed-deployment [--nodes N] [--guests G] [--services S] [--netns auto|on|off] [--no-status] [--verbose] [--timeout-min 10] [--dead-after-ms 1500] [--scheduler remora|crm_simulate] [--action-limit N] [--monitor-ms MS] [--guests-as auto|lxc|process]',
  );
  process.exit(0);
}

function count(
  name: 'nodes' | 'guests' | 'services' | 'action-limit' | 'monitor-ms',
  min: number,
): number {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name}: expected a whole number >= ${min}, got '${values[name]}'`);
    process.exit(2);
  }
  return n;
}

const ms = (t: number): string => `${Date.now() - t} ms`;
const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));
const limitMs = (): number => Number(values['timeout-min']) * 60_000;

async function main(): Promise<void> {
  const N = count('nodes', 1);
  const G = count('guests', 1);
  const S = count('services', 0);
  // Every machine shares this host's CPUs: recurring monitors of many guests and
  // services add up (default 2 s, longer from 16 guests on: 125 ms per guest).
  const monitorMs =
    values['monitor-ms'] !== undefined ? count('monitor-ms', 100) : Math.max(2000, G * 125);
  const actionLimit = values['action-limit'] !== undefined ? count('action-limit', 1) : undefined;
  if (!['auto', 'lxc', 'process'].includes(values['guests-as']!)) {
    console.error(`--guests-as: expected auto, lxc or process, got '${values['guests-as']}'`);
    process.exit(2);
  }
  // libvirt-LXC containers where libvirtd and its LXC driver work here, else processes.
  const lxc = lxcGuestsSupport();
  if (values['guests-as'] === 'lxc' && !lxc.ok) {
    console.error(`--guests-as lxc: libvirt-LXC guests cannot run here: ${lxc.reason}`);
    process.exit(2);
  }
  const guestKind =
    values['guests-as'] === 'process' || !lxc.ok ? ('process' as const) : ('lxc' as const);
  if (!['auto', 'on', 'off'].includes(values.netns!)) {
    console.error(`--netns: expected auto, on or off, got '${values.netns}'`);
    process.exit(2);
  }
  let network: NetworkPlan = loopbackNetwork;
  if (values.netns === 'on' || (values.netns === 'auto' && (await NetnsNetwork.available())))
    network = await NetnsNetwork.create();
  console.log(`seed deployment: ${N} cluster nodes, ${G} guests, ${S} services`);
  console.log(`network: ${network.description}`);
  console.log(
    guestKind === 'lxc'
      ? 'guests: libvirt-LXC containers (init: remora remoted) started by ocf:remora:libvirt-guest through a private libvirtd per cluster node'
      : `guests: remora remoted processes launched by ocf:remora:guest-daemon (${values['guests-as'] === 'process' ? 'as asked' : `libvirt-LXC unavailable: ${lxc.reason}`})`,
  );
  console.log(
    `scheduler: ${scheduler.name === 'remora' ? "remora's (@remora/scheduler, in a worker thread)" : "Pacemaker's crm_simulate"}; status: crm_mon reading our CIB\n`,
  );

  let t = Date.now();
  let transitions = 0;
  // How busy this process (the DC) was: a stalled event loop delays heartbeats.
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();
  const cluster = await LocalCluster.start({
    nodes: N,
    guests: G,
    services: S,
    network,
    scheduler,
    actionLimit,
    guestKind,
    serviceMonitorMs: monitorMs,
    // (libvirt-guest, a Node.js agent, is costlier to run: at least every 10 s)
    guestMonitorMs: guestKind === 'lxc' ? Math.max(monitorMs, 10_000) : monitorMs,
    deadAfterMs: Number(values['dead-after-ms']),
    onTransition: (r, g) => {
      transitions++;
      if (values.verbose)
        console.log(
          `  transition ${transitions}: ${r.status}, ${r.confirmed}/${g.actions.size} actions in ${r.elapsedMs} ms (scheduler ${scheduler.lastMs} ms)${r.failed.length ? ` (${r.failed[0]!.detail.slice(0, 120)})` : ''}`,
        );
    },
  });
  // Membership losses of cluster nodes (each one means fencing and re-probing).
  const losses: string[] = [];
  void (async () => {
    for await (const c of cluster.store.changes())
      for (const m of c.reason.matchAll(/controller: (node\d+) lost \(([^)]*)\)/g)) {
        losses.push(`${m[1]}: ${m[2]}`);
        if (values.verbose) console.log(`  ${m[1]} lost: ${m[2]}`);
      }
  })().catch(() => undefined);
  console.log(
    `actions in flight cluster-wide: at most ${cluster.actionLimit}; recurring monitors every ${monitorMs} ms`,
  );
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      const t0 = Date.now();
      const leftovers = await cluster.stop(limitMs());
      console.log(
        `  everything stopped and torn down in ${ms(t0)}; leftover processes killed: ${leftovers}${cluster.guestKind === 'lxc' ? `; libvirt domains left: ${cluster.domainsLeft}` : ''}`,
      );
    })());
  // A second Ctrl-C must not cut the teardown short (it would leave processes behind).
  process.on('SIGINT', () => {
    if (stopping) {
      console.log('still stopping the cluster (it kills what is left at the end)');
      return;
    }
    console.log('\ninterrupted: stopping the cluster');
    void stop()
      .catch((err: unknown) => console.error(err))
      .finally(() => process.exit(130));
  });
  try {
    console.log(`processes started in ${ms(t)}`);
    await cluster.converged(limitMs());
    const running = cluster.services.filter((s) => cluster.where(s).length === 1).length;
    console.log(
      `converged in ${ms(t)} (${transitions} transitions; ${scheduler.runs} scheduler runs took ${scheduler.totalMs} ms): ${running}/${S} services running, ${cluster.guests.filter((g) => cluster.guestPid(g)).length}/${G} guests up`,
    );
    console.log(
      `  cluster nodes lost meanwhile: ${losses.length}${losses.length ? ` (${losses.slice(0, 3).join('; ')})` : ''}; this process's event loop: max stall ${Math.round(loopDelay.max / 1e6)} ms, p99 ${Math.round(loopDelay.percentile(99) / 1e6)} ms`,
    );
    if (!values['no-status']) {
      const file = join(cluster.dir, 'status.xml');
      writeFileSync(file, cluster.store.xml);
      try {
        console.log(
          `\n${execFileSync('crm_mon', ['-1'], { env: { ...process.env, CIB_file: file }, timeout: 60_000 }).toString()}`,
        );
      } catch (err) {
        console.log(`(crm_mon unavailable: ${(err as Error).message})`);
      }
    }

    const victim = cluster.guests[0]!;
    const services = cluster.services.filter((s) => cluster.where(s).includes(victim));
    const pid = cluster.guestPid(victim);
    if (pid === undefined) throw new Error(`${victim} is not running: the cluster did not come up`);
    console.log(`kill -9 ${victim} (pid ${pid}, running ${services.join(', ') || 'no service'})`);
    // Detection: the guest's connection recorded as failed (a new failure record).
    // (Searched again only when the CIB changed: at 16/64/64 it is megabytes.)
    const pattern = new RegExp(`<lrm_rsc_op id="${victim}_last_failure_0"[^>]*>`);
    let seen: { snapshot: unknown; found: string } | undefined;
    const failure = (): string => {
      const snapshot = cluster.store.snapshot();
      if (seen?.snapshot !== snapshot)
        seen = { snapshot, found: pattern.exec(snapshot.xml)?.[0] ?? '' };
      return seen.found;
    };
    const before = failure();
    t = Date.now();
    process.kill(pid, 'SIGKILL');
    while (failure() === before) await sleep(2);
    console.log(`  detected in ${ms(t)}`);
    while (cluster.guestPid(victim) === undefined || cluster.guestPid(victim) === pid)
      await sleep(10);
    console.log(`  guest restarted (pid ${cluster.guestPid(victim)}) ${ms(t)} after the kill`);
    await cluster.converged(limitMs());
    const back = services.filter((s) => cluster.where(s).length === 1);
    console.log(
      `  recovered in ${ms(t)}: ${back.length}/${services.length} of its services running again (${back.map((s) => `${s} on ${cluster.where(s).join()}`).join(', ')})`,
    );
    console.log(`  cluster nodes lost in the whole run: ${losses.length}`);
    const twice = cluster.services.filter((s) => cluster.where(s).length > 1);
    if (twice.length > 0) throw new Error(`running twice: ${twice.join(', ')}`);

    console.log('\nshutting down: stopping every resource through the cluster');
    await stop();
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
