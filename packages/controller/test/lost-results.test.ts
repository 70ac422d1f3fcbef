/**
 * A daemon that dropped results before the controller saw them (its bounded
 * log overflowed while the connection was cut) tells the reconnecting
 * client; the controller then forgets the node's history and re-probes, so
 * failures among the dropped results are found and recovered. Real
 * processes: a `remora remoted` child with a one-result log, real Dummy
 * agents, and a TCP relay between controller and daemon that can swallow
 * traffic (a link that drops packets, without root).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CibStore } from '@remora/cib';
import { RemoteClient } from '@remora/remote-transport';
import { Controller, RemoraScheduler, RemoteNodeExecutor, freePort, spawnRemoted } from '../src';
import type { LocalDaemon } from '../src';

/** A TCP relay whose link can swallow everything (blackhole) and come back. */
class Relay {
  private blackholed = false;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  private constructor(private readonly server: net.Server) {}

  static async start(targetPort: number): Promise<Relay> {
    const server = net.createServer();
    const relay = new Relay(server);
    server.on('connection', (inbound) => {
      if (relay.blackholed) {
        inbound.destroy();
        return;
      }
      const outbound = net.connect(targetPort, '127.0.0.1');
      const pair: [net.Socket, net.Socket] = [inbound, outbound];
      relay.pairs.add(pair);
      inbound.pipe(outbound);
      outbound.pipe(inbound);
      const end = (): void => {
        inbound.destroy();
        outbound.destroy();
        relay.pairs.delete(pair);
      };
      inbound.on('error', end).on('close', end);
      outbound.on('error', end).on('close', end);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return relay;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Bytes in both directions vanish; new connections are refused. */
  blackhole(): void {
    this.blackholed = true;
    for (const [a, b] of this.pairs) {
      a.unpipe(b);
      b.unpipe(a);
      a.on('data', () => undefined);
      b.on('data', () => undefined);
    }
  }

  /** The link is back: the swallowed connections are gone, new ones pass. */
  restore(): void {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    this.blackholed = false;
  }

  async close(): Promise<void> {
    this.restore();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

const CIB = `<cib epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config><cluster_property_set id="opts"><nvpair id="opts-stonith" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/></nodes>
    <resources>${['d1', 'd2', 'd3']
      .map(
        (d) =>
          `<primitive class="ocf" id="${d}" provider="heartbeat" type="Dummy"><operations><op id="${d}-mon" name="monitor" interval="500ms"/></operations></primitive>`,
      )
      .join('')}</resources>
  </configuration>
  <status><node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/></status>
</cib>
`;

const until = async (what: string, ms: number, ok: () => boolean): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

test('after a lostResults notice the controller re-probes the node and recovers failures it never heard of', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'remora-lost-'));
  const key = randomBytes(64);
  const keyFile = join(dir, 'authkey');
  await writeFile(keyFile, key, { mode: 0o400 });
  const state = join(dir, 'node1');
  let daemon: LocalDaemon | undefined;
  let relay: Relay | undefined;
  let client: RemoteClient | undefined;
  let store: CibStore | undefined;
  let controller: Controller | undefined;
  const scheduler = new RemoraScheduler();
  try {
    daemon = await spawnRemoted({
      name: 'node1',
      listen: `127.0.0.1:${await freePort()}`,
      keyFile,
      stateDir: state,
      cluster: `lost-results-${process.pid}`,
      args: ['--log-capacity', '1'],
    });
    relay = await Relay.start(Number(daemon.address.split(':')[1]));
    client = await RemoteClient.connect({
      address: `127.0.0.1:${relay.port}`,
      authKey: key,
      deadAfterMs: 1000,
    });
    store = await CibStore.open(undefined, { initial: CIB });
    const reasons: string[] = [];
    void (async () => {
      for await (const c of store.changes()) reasons.push(c.reason);
    })().catch(() => undefined);
    // Membership is not the executor connection here (as in distributed mode): a cut
    // link is no node loss, so what the node reports after it is all we learn.
    controller = Controller.start({
      store,
      scheduler,
      executors: new Map([['node1', new RemoteNodeExecutor(client)]]),
      membershipFromExecutors: false,
    });
    await controller.idle(AbortSignal.timeout(30_000));
    const files = ['d1', 'd2', 'd3'].map((d) => join(state, `Dummy-${d}.state`));
    expect(files.every((f) => existsSync(f))).toBe(true);
    const callIds = (): number[] =>
      ['d1', 'd2', 'd3'].map((d) =>
        Number(new RegExp(`id="${d}_last_0"[^>]* call-id="(\\d+)"`).exec(store!.xml)?.[1]),
      );
    const before = callIds();

    // The link swallows everything; the three services fail meanwhile. Their monitors'
    // results (pushed only on change) go nowhere; the daemon keeps only the last one.
    relay.blackhole();
    for (const f of files) await unlink(f);
    await until('the client to see the daemon down', 10_000, () => client!.state === 'down');
    await new Promise((r) => setTimeout(r, 1500)); // every monitor has run (500 ms)
    relay.restore();
    await until('the reconnection', 15_000, () => client!.state === 'connected');
    await until('the lostResults notice', 5000, () => client!.lostResults !== undefined);
    expect(client.lostResults![1] - client.lostResults![0]).toBeGreaterThanOrEqual(1);

    // Two failures were in the dropped results: only a re-probe finds them.
    await until('every service running again', 20_000, () => files.every((f) => existsSync(f)));
    expect(reasons.some((r) => /node1 lost results \d+-\d+: re-probing/.test(r))).toBe(true);
    await controller.idle(AbortSignal.timeout(30_000));
    // Started again: each one's last operation is a newer call than before the cut.
    callIds().forEach((id, i) => expect(id).toBeGreaterThan(before[i]!));
  } finally {
    await controller?.close();
    await scheduler.close();
    await client?.close();
    await relay?.close();
    await store?.close();
    await daemon?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}, 90_000);
