/**
 * The seed deployment's libvirt-LXC mode end to end: guests are libvirt-LXC
 * containers whose init is `remora remoted`, started by
 * ocf:remora:libvirt-guest through a private libvirtd per cluster node,
 * plugged into the network's bridge. Skipped (with the reason) where
 * libvirtd or its LXC driver cannot run.
 */
import { readFileSync } from 'node:fs';
import {
  LocalCluster,
  NetnsNetwork,
  RemoraScheduler,
  loopbackNetwork,
  lxcGuestsSupport,
} from '../src';
import type { NetworkPlan } from '../src';

const support = lxcGuestsSupport();
if (!support.ok) console.warn(`libvirt-LXC cluster test skipped: ${support.reason}`);
const testIf = support.ok ? test : test.skip;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** A process's identity: pid and start time (a pid alone may be reused). */
function identity(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? undefined : `${pid}@${fields[19]}`;
  } catch {
    return undefined;
  }
}
const alive = (pid: number): boolean => identity(pid) !== undefined;

async function until(what: string, ms: number, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

testIf(
  'libvirt-LXC guests: up with their services, kill -9 of a guest recovered, fencing its host powers its guests off, nothing left behind',
  async () => {
    const network: NetworkPlan = (await NetnsNetwork.available())
      ? await NetnsNetwork.create()
      : loopbackNetwork;
    const scheduler = new RemoraScheduler();
    const cluster = await LocalCluster.start({
      nodes: 2,
      guests: 2,
      services: 2,
      guestKind: 'lxc',
      network,
      scheduler,
    });
    let stopped = false;
    try {
      await cluster.converged(120_000);
      for (const s of cluster.services) expect(cluster.where(s)).toHaveLength(1);
      // Each guest's domain runs on the hypervisor of the node its container resource is on.
      const placed = await cluster.domains();
      for (const [i, g] of cluster.guests.entries()) {
        const on = [...placed].filter(([, d]) => d.includes(g)).map(([n]) => n);
        expect(on).toEqual(cluster.recorded(`vm${i + 1}`));
      }

      // kill -9 of guest1's init: detected by its connection, restarted, its service back.
      const pid = cluster.guestPid('guest1')!;
      const failure = (): boolean => /id="guest1_last_failure_0"/.test(cluster.store.xml);
      const t = Date.now();
      process.kill(pid, 'SIGKILL');
      await until('the failure record', 10_000, failure);
      expect(Date.now() - t).toBeLessThan(2000);
      await until('guest1 again', 60_000, () => (cluster.guestPid('guest1') ?? pid) !== pid);
      await cluster.converged(120_000);
      expect(cluster.where('svc1')).toEqual(['guest1']);

      // kill -9 of guest2's host executor: the host is fenced, which powers its guests off
      // (the poweroff hook), and guest2 comes back, running once.
      const host = cluster.recorded('vm2')[0]!;
      const before = cluster.guestPid('guest2')!;
      process.kill(cluster.daemon(host)!.pid, 'SIGKILL');
      await until('guest2 powered off with its host', 60_000, () => !alive(before));
      await until('guest2 again', 90_000, () => cluster.guestPid('guest2') !== undefined);
      await cluster.converged(120_000);
      const after = await cluster.domains();
      expect([...after.values()].flat().sort()).toEqual(['guest1', 'guest2']);
      for (const s of cluster.services) expect(cluster.where(s)).toHaveLength(1);

      const hypervisors = cluster
        .hypervisorProcesses()
        .map(identity)
        .filter((i) => i !== undefined);
      expect(hypervisors.length).toBeGreaterThan(0);
      stopped = true;
      expect(await cluster.stop()).toBe(0);
      expect(cluster.domainsLeft).toBe(0);
      // Not one of those processes is left (a zombie waiting to be reaped does not count).
      const left = (): string[] =>
        hypervisors.filter((i) => identity(Number(i.split('@')[0])) === i);
      await until('the hypervisors to be gone', 3000, () => left().length === 0).catch(
        () => undefined,
      );
      expect(left()).toEqual([]);
    } finally {
      if (!stopped) await cluster.stop();
      await scheduler.close();
    }
  },
  300_000,
);
