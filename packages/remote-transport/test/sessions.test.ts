import { join } from 'node:path';
import { ExecStatus, OcfRc } from '@remora/agent-runner';
import { RemoteClient, RemoteDaemon } from '../src';
import type { RemoteDaemonOptions } from '../src';
import { KEY, ocfRootWithSleep, record, tempDir, until } from './helpers';

let tmp: { dir: string; remove: () => Promise<void> };
let ocfRoot: string;
beforeAll(async () => {
  tmp = await tempDir();
  ocfRoot = await ocfRootWithSleep(tmp.dir);
});
afterAll(() => tmp.remove());

function start(options: Partial<RemoteDaemonOptions> = {}): Promise<RemoteDaemon> {
  return RemoteDaemon.start({
    listen: '127.0.0.1:0',
    authKey: KEY,
    nodeName: 'sess',
    runner: { ocfRoot },
    log: () => {},
    ...options,
  });
}

const sleep = (resourceId: string, action: string, seconds: number) => ({
  resourceId,
  agent: 'ocf:test:Sleep',
  action,
  params: { seconds: String(seconds), state: join(tmp.dir, `${resourceId}.state`) },
});

describe('operations: acknowledged at once, results pushed later', () => {
  it('acknowledges a submit with a call id before the agent finishes, then pushes the full result', async () => {
    await using daemon = await start();
    await using client = await RemoteClient.connect({ address: daemon.address, authKey: KEY });
    const seen = record(client);
    const t = Date.now();
    const ack = await client.submit(sleep('s1', 'start', 1));
    // Acknowledged while the agent still sleeps: no result yet.
    expect(Date.now() - t).toBeLessThan(900);
    expect(seen.results.some((r) => r.callId === ack.callId)).toBe(false);
    expect(ack).toMatchObject({ operationKey: 's1_start_0', duplicate: false });
    expect(ack.callId).toBeGreaterThan(0);
    await until('result', 5000, () => seen.results.some((r) => r.callId === ack.callId));
    const r = seen.results.find((x) => x.callId === ack.callId)!;
    expect(r).toMatchObject({
      requestId: ack.requestId,
      rc: OcfRc.SUCCESS,
      execStatus: ExecStatus.done,
      exitReason: '',
      stdout: 'started\n',
    });
    expect(r.runTime).toBeGreaterThanOrEqual(950);
    expect(r.startTime).toBeGreaterThanOrEqual(t);
    expect(r.queueTime).toBeGreaterThanOrEqual(0);
    // A retry with the same request id runs nothing new.
    const again = await client.submit({ ...sleep('s1', 'start', 1), requestId: ack.requestId });
    expect(again).toMatchObject({ callId: ack.callId, duplicate: true });
  });

  it('runs one action at a time per resource, queueing the others (queue time reported)', async () => {
    await using daemon = await start();
    await using client = await RemoteClient.connect({ address: daemon.address, authKey: KEY });
    const seen = record(client);
    const a = await client.submit(sleep('q', 'start', 0.4));
    const b = await client.submit(sleep('q', 'stop', 0.1));
    const other = await client.submit(sleep('q2', 'start', 0.1));
    await until('all three', 5000, () => seen.results.length >= 3);
    const byId = new Map(seen.results.map((r) => [r.callId, r]));
    const ra = byId.get(a.callId)!;
    const rb = byId.get(b.callId)!;
    expect(rb.startTime).toBeGreaterThanOrEqual(ra.startTime + ra.runTime - 5);
    expect(rb.queueTime).toBeGreaterThanOrEqual(300);
    // Another resource did not wait for q.
    expect(byId.get(other.callId)!.queueTime).toBeLessThan(rb.queueTime);
  });

  it('cancels by call id: a queued one-shot, and a recurring monitor', async () => {
    await using daemon = await start();
    await using client = await RemoteClient.connect({ address: daemon.address, authKey: KEY });
    const seen = record(client);
    const delayed = await client.submit({ ...sleep('c', 'start', 0), startDelay: 5000 });
    expect(await client.cancelCall(delayed.callId)).toBe(true);
    await until('cancelled result', 3000, () =>
      seen.results.some((r) => r.callId === delayed.callId),
    );
    expect(seen.results.find((r) => r.callId === delayed.callId)!.execStatus).toBe(
      ExecStatus.cancelled,
    );
    const mon = await client.recur({ ...sleep('c', 'monitor', 0), interval: 200 });
    await until('first monitor', 3000, () => seen.results.some((r) => r.callId === mon.callId));
    expect(await client.cancelCall(mon.callId)).toBe(true);
    await until('monitor cancelled', 3000, () =>
      seen.results.some((r) => r.callId === mon.callId && r.execStatus === ExecStatus.cancelled),
    );
    expect(await client.cancelCall(999_999)).toBe(false);
  });

  it('merges duplicate recurring requests; a stop cancels the resource’s recurring operations first', async () => {
    await using daemon = await start();
    await using client = await RemoteClient.connect({ address: daemon.address, authKey: KEY });
    const seen = record(client);
    await client.execute(sleep('m', 'start', 0));
    const first = await client.recur({ ...sleep('m', 'monitor', 0), interval: 150 });
    const dup = await client.recur({ ...sleep('m', 'monitor', 0), interval: 150 });
    expect(dup.operationKey).toBe(first.operationKey);
    await new Promise((r) => setTimeout(r, 500));
    const stop = await client.execute(sleep('m', 'stop', 0));
    expect(stop.rc).toBe(OcfRc.SUCCESS);
    await until('monitor cancelled', 3000, () =>
      seen.results.some((r) => r.interval === 150 && r.execStatus === ExecStatus.cancelled),
    );
    const monitors = seen.results.filter((r) => r.interval === 150);
    // One recurring operation: its results (first, the merged duplicate's, cancellation), never two series.
    expect(monitors.filter((r) => r.execStatus === ExecStatus.cancelled)).toHaveLength(1);
    const cancelledAt = seen.results.findIndex((r) => r.execStatus === ExecStatus.cancelled);
    const stopAt = seen.results.findIndex((r) => r.action === 'stop');
    expect(cancelledAt).toBeLessThan(stopAt);
  });
});

describe('results are kept until acknowledged', () => {
  it('replays unacknowledged results to a new client resuming from its saved position, exactly once', async () => {
    await using daemon = await start();
    const first = await RemoteClient.connect({
      address: daemon.address,
      authKey: KEY,
      acknowledge: 'manual',
    });
    const seen1 = record(first);
    for (let i = 0; i < 4; i++) await first.execute(sleep(`a${i}`, 'monitor', 0));
    await until('4 results', 3000, () => seen1.results.length === 4);
    // The controller recorded the first two only, then went away.
    first.acknowledge(seen1.results[1]!.sequence);
    const saved = { bootId: daemon.bootId, sequence: seen1.results[1]!.sequence };
    await until('ack applied', 2000, () => daemon.unacknowledgedResults === 2);
    await first.close();
    // One more result while no controller is connected.
    await using tool = await RemoteClient.connect({
      address: daemon.address,
      authKey: KEY,
      role: 'tool',
    });
    await tool.execute(sleep('a4', 'monitor', 0));
    await tool.close();

    await using second = await RemoteClient.connect({
      address: daemon.address,
      authKey: KEY,
      resume: saved,
    });
    const seen2 = record(second);
    await until('replay', 3000, () => seen2.results.length >= 3);
    await new Promise((r) => setTimeout(r, 200));
    expect(seen2.results.map((r) => r.resourceId)).toEqual(['a2', 'a3', 'a4']);
    expect(second.position.sequence).toBe(seen2.results[2]!.sequence);
    await until('auto-acknowledged', 2000, () => daemon.unacknowledgedResults === 0);
  });

  it('tells a resuming client which results its bounded log dropped', async () => {
    await using daemon = await start({ logCapacity: 2 });
    const c = await RemoteClient.connect({
      address: daemon.address,
      authKey: KEY,
      acknowledge: 'manual',
    });
    for (let i = 0; i < 4; i++) await c.execute(sleep(`l${i}`, 'monitor', 0));
    await c.close();
    await using again = await RemoteClient.connect({
      address: daemon.address,
      authKey: KEY,
      resume: { bootId: daemon.bootId, sequence: 0 },
    });
    const seen = record(again);
    // Results 1 and 2 were pushed out unacknowledged: the client is told; 3 and 4 are replayed.
    await until('replay', 3000, () => seen.results.length === 2);
    expect(seen.results.map((r) => r.sequence)).toEqual([3, 4]);
    await until('notice', 2000, () => again.lostResults !== undefined);
    expect(again.lostResults).toEqual([1, 2]);
  });
});

describe('controllers come and go', () => {
  it('pauses recurring monitors when the last controller disconnects and resumes them on reconnect; resources keep running', async () => {
    await using daemon = await start();
    const c1 = await RemoteClient.connect({ address: daemon.address, authKey: KEY });
    const seen1 = record(c1);
    await c1.execute(sleep('p', 'start', 0));
    const mon = await c1.recur({ ...sleep('p', 'monitor', 0), interval: 100 });
    await until('monitor', 3000, () => seen1.results.some((r) => r.callId === mon.callId));
    await c1.close();
    await until('paused', 3000, () => daemon.monitorsPaused);
    const before = daemon.lastResult?.sequence;
    await new Promise((r) => setTimeout(r, 400));
    expect(daemon.lastResult?.sequence).toBe(before); // no cancelled result, no monitor run
    await using c2 = await RemoteClient.connect({ address: daemon.address, authKey: KEY });
    const seen2 = record(c2);
    expect(daemon.monitorsPaused).toBe(false);
    await until('monitor resumed', 3000, () =>
      seen2.results.some((r) => r.operationKey === 'p_monitor_100' && r.rc === OcfRc.SUCCESS),
    );
  });

  it('hands the daemon to the newest controller and tells the old one', async () => {
    await using daemon = await start();
    await using old = await RemoteClient.connect({
      address: daemon.address,
      authKey: KEY,
      clientName: 'node1',
    });
    const seenOld = record(old);
    await using newer = await RemoteClient.connect({
      address: daemon.address,
      authKey: KEY,
      clientName: 'node2',
    });
    const seenNew = record(newer);
    await until('old told', 3000, () => seenOld.states.some((s) => s.takenOver));
    expect(seenOld.states[0]).toMatchObject({
      state: 'down',
      takenOver: true,
      reason: 'node2 took over the connection',
    });
    expect(daemon.activeController).toBe('node2');
    await newer.execute(sleep('t', 'monitor', 0));
    await until('result to the new one', 2000, () => seenNew.results.length === 1);
    await new Promise((r) => setTimeout(r, 600));
    expect(old.state).toBe('down'); // no automatic fight back
    expect(seenOld.results).toHaveLength(0);
    await old.reconnect();
    expect(daemon.activeController).toBe('node1');
    await until('new one told', 3000, () => seenNew.states.some((s) => s.takenOver));
  });
});

describe('graceful shutdown', () => {
  it('exits at once with no controller', async () => {
    const daemon = await start();
    const t = Date.now();
    expect(await daemon.shutdown({ timeoutMs: 10_000 })).toBe('no-controller');
    expect(Date.now() - t).toBeLessThan(1000);
  });

  it('asks the controller to drain; closes when it disconnects; refuses new connections meanwhile', async () => {
    const daemon = await start();
    const address = daemon.address;
    const client = await RemoteClient.connect({ address, authKey: KEY, clientName: 'dc' });
    const asked: unknown[] = [];
    client.onDrainRequest((req) => {
      asked.push(req);
      setTimeout(() => void client.close(), 300); // the controller moved everything away
      return true;
    });
    const t = Date.now();
    const outcome = daemon.shutdown({ timeoutMs: 10_000 });
    await until('asked', 2000, () => asked.length === 1);
    expect(asked[0]).toMatchObject({ nodeName: 'sess', deadlineMs: 10_000 });
    await expect(
      RemoteClient.connect({ address, authKey: KEY, connectTimeoutMs: 300 }),
    ).rejects.toThrow();
    expect(await outcome).toBe('drained');
    expect(Date.now() - t).toBeGreaterThanOrEqual(250);
  });

  it('exits at once when the controller refuses (unmanaged) or has no drain handler', async () => {
    for (const handler of [() => false, undefined]) {
      const daemon = await start();
      await using client = await RemoteClient.connect({ address: daemon.address, authKey: KEY });
      if (handler) client.onDrainRequest(handler);
      const t = Date.now();
      expect(await daemon.shutdown({ timeoutMs: 10_000 })).toBe('refused');
      expect(Date.now() - t).toBeLessThan(1000);
    }
  });

  it('gives up after the timeout when the controller never disconnects', async () => {
    const daemon = await start();
    await using client = await RemoteClient.connect({ address: daemon.address, authKey: KEY });
    client.onDrainRequest(() => true);
    const t = Date.now();
    expect(await daemon.shutdown({ timeoutMs: 400 })).toBe('timeout');
    expect(Date.now() - t).toBeGreaterThanOrEqual(380);
  });
});
