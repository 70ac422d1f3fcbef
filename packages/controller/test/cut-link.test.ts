/**
 * A guest's network link cut silently (its host-side veth down: packets
 * dropped, no reset), as the chaos suite's "cut a guest network link" does:
 * a real `remora remoted` in its own network namespace. Skipped (saying so)
 * where network namespaces cannot be made.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CibStore } from '@remora/cib';
import {
  ActionKind,
  ConnectionManager,
  LocalCluster,
  NetnsNetwork,
  killCluster,
  spawnRemoted,
} from '../src';
import type { GraphAction, LocalDaemon } from '../src';

const namespaces = process.getuid?.() === 0 ? NetnsNetwork.available() : Promise.resolve(false);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ms: number, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** An action on guest1's connection resource, hosted on node1. */
function connectionAction(operation: string, interval = 0): GraphAction {
  return {
    id: 1,
    kind: ActionKind.rscOp,
    operation,
    operationKey: `guest1_${operation}_${interval}`,
    onNode: 'node1',
    resource: { id: 'guest1', class: 'ocf', provider: 'pacemaker', type: 'remote' },
    attributes: {},
    interval,
    timeout: 10_000,
    targetRc: 0,
    priority: 0,
    downed: [],
    maintenance: [],
  };
}

test('a cut link is reported once, within the heartbeat deadline, and the connection stays lost (monitor fails) until the scheduler recovers it', async () => {
  if (!(await namespaces)) {
    console.warn('cut-link test skipped: needs root and a working `ip netns add`');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'remora-cut-'));
  const network = await NetnsNetwork.create();
  const cluster = `cut-${randomUUID()}`;
  const key = randomBytes(64);
  let daemon: LocalDaemon | undefined;
  let manager: ConnectionManager | undefined;
  let store: CibStore | undefined;
  try {
    await network.setUp(['guest1']);
    const keyFile = join(dir, 'authkey');
    await writeFile(keyFile, key, { mode: 0o400 });
    const address = network.address('guest1');
    daemon = await spawnRemoted({
      name: 'guest1',
      listen: `${address}:3121`,
      keyFile,
      stateDir: join(dir, 'guest1'),
      cluster,
      netns: network.namespace('guest1'),
    });
    store = await CibStore.open(undefined, {
      initial: `<cib epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7"><configuration><crm_config/><nodes><node id="1" uname="node1"/></nodes><resources><primitive class="ocf" id="vm1" provider="heartbeat" type="Dummy"><meta_attributes id="vm1-meta"><nvpair id="vm1-rn" name="remote-node" value="guest1"/><nvpair id="vm1-ra" name="remote-addr" value="${address}"/><nvpair id="vm1-rp" name="remote-port" value="3121"/></meta_attributes></primitive></resources><constraints/></configuration><status/></cib>\n`,
    });
    const losses: { at: number; reason: string }[] = [];
    manager = new ConnectionManager(
      store,
      key,
      (_c, reason) => losses.push({ at: Date.now(), reason }),
      1500,
    );
    expect((await manager.run(connectionAction('start'))).rc).toBe(0);
    expect((await manager.run(connectionAction('monitor', 30_000))).rc).toBe(0);

    const cutAt = Date.now();
    await network.setLink('guest1', false);
    try {
      await until('the loss', 5000, () => losses.length > 0);
      // deadAfterMs (1.5 s) plus the watchdog's tick and the time `ip` took.
      expect(losses[0]!.at - cutAt).toBeLessThan(2000);
      expect(losses[0]!.reason).toMatch(/no heartbeat/);
    } finally {
      await network.setLink('guest1', true);
    }
    // The link is back and the daemon answers again, but the connection was lost: it is
    // not quietly re-established (that would hide the loss from the scheduler).
    const connection = manager.connections.get('guest1')!;
    for (const t = Date.now(); Date.now() - t < 5000; await sleep(250)) {
      expect(connection.executor.client.state).toBe('down');
      expect((await manager.run(connectionAction('monitor', 30_000))).rc).toBe(7);
    }
    expect(losses).toHaveLength(1);

    // The scheduler's recovery: stop, start. The new connection is watched in its turn.
    expect((await manager.run(connectionAction('stop'))).rc).toBe(0);
    expect(connection.executor.client.state).toBe('closed');
    expect((await manager.run(connectionAction('start'))).rc).toBe(0);
    expect((await manager.run(connectionAction('monitor', 30_000))).rc).toBe(0);
    const again = Date.now();
    await network.setLink('guest1', false);
    try {
      await until('the second loss', 5000, () => losses.length > 1);
      expect(losses[1]!.at - again).toBeLessThan(2000);
    } finally {
      await network.setLink('guest1', true);
    }
  } finally {
    await manager?.close();
    await daemon?.stop();
    await store?.close();
    killCluster(cluster);
    await network.tearDown();
    await rm(dir, { recursive: true, force: true });
  }
}, 60_000);

test('a guest whose link is cut is noticed by the controller within the heartbeat deadline and recovered, every time', async () => {
  if (!(await namespaces)) {
    console.warn('cut-link cluster test skipped: needs root and a working `ip netns add`');
    return;
  }
  const network = await NetnsNetwork.create();
  const cluster = await LocalCluster.start({
    nodes: 1,
    guests: 1,
    services: 1,
    fencing: false,
    network,
  });
  try {
    await cluster.converged(60_000);
    expect(cluster.where('svc1')).toEqual(['guest1']);
    // The connection's failed monitor, as the controller records a lost connection.
    const failure = (): string | undefined =>
      /<lrm_rsc_op [^>]*id="guest1_last_failure_0"[^>]*>/.exec(cluster.store.xml)?.[0];
    for (let round = 1; round <= 2; round++) {
      const before = cluster.guestPid('guest1');
      const recorded = failure();
      const transitions = cluster.transitions;
      const cutAt = Date.now();
      await network.setLink('guest1', false);
      try {
        await until(`the failure record (cut ${round})`, 10_000, () => failure() !== recorded);
        expect(Date.now() - cutAt).toBeLessThan(2000);
        expect(failure()).toMatch(/operation_key="guest1_monitor_30000"/);
      } finally {
        await network.setLink('guest1', true);
      }
      // Recovered as Pacemaker recovers a guest: its container restarted, then the connection.
      await until(`guest1 restarted (cut ${round})`, 60_000, () => {
        const pid = cluster.guestPid('guest1');
        return pid !== undefined && pid !== before;
      });
      await cluster.converged(60_000);
      expect(cluster.transitions).toBeGreaterThan(transitions);
      expect(cluster.where('svc1')).toEqual(['guest1']);
    }
  } finally {
    expect(await cluster.stop()).toBe(0);
  }
}, 150_000);
