import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ExecStatus, OcfRc } from '@remora/agent-runner';
import {
  AuthenticationError,
  DisconnectedError,
  RemoteClient,
  RemoteDaemon,
  TransportError,
  relayCommand,
} from '../src';
import type { ConnectionEvent, RemoteResult } from '../src';
import { CuttableProxy, KEY, tempDir, until } from './helpers';

let tmp: { dir: string; remove: () => Promise<void> };
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(() => tmp.remove());

describe('remote daemon and client over gRPC on loopback (real agents)', () => {
  test('handshake, then start / monitor / stop of ocf:heartbeat:Dummy on the remote node', async () => {
    await using daemon = await RemoteDaemon.start({
      listen: '127.0.0.1:0',
      authKey: KEY,
      nodeName: 'guest1',
    });
    await using client = await RemoteClient.connect({
      address: daemon.address,
      authKey: KEY,
      clientName: 'node1',
    });
    expect(client.nodeName).toBe('guest1');
    const params = { state: join(tmp.dir, 'd1.state') };
    const run = (action: string): Promise<RemoteResult> =>
      client.execute({ resourceId: 'd1', agent: 'ocf:heartbeat:Dummy', action, params });
    expect((await run('monitor')).rc).toBe(OcfRc.NOT_RUNNING);
    const start = await run('start');
    expect(start).toMatchObject({
      rc: OcfRc.SUCCESS,
      execStatus: ExecStatus.done,
      operationKey: 'd1_start_0',
    });
    expect(start.sequence).toBeGreaterThan(0);
    expect((await run('monitor')).rc).toBe(OcfRc.SUCCESS);
    expect((await run('stop')).rc).toBe(OcfRc.SUCCESS);
    expect(await client.listAgents('ocf', 'heartbeat')).toContain('Dummy');
    expect(await client.metaData('ocf:heartbeat:Dummy')).toMatch(/<resource-agent name="Dummy"/);
  });

  test('recurring monitors stream their results; cancel ends them', async () => {
    await using daemon = await RemoteDaemon.start({
      listen: '127.0.0.1:0',
      authKey: KEY,
      nodeName: 'guest2',
    });
    await using client = await RemoteClient.connect({ address: daemon.address, authKey: KEY });
    const params = { state: join(tmp.dir, 'rec.state') };
    await client.execute({
      resourceId: 'r',
      agent: 'ocf:heartbeat:Dummy',
      action: 'start',
      params,
    });
    const seen: RemoteResult[] = [];
    const reading = (async () => {
      for await (const r of client.results()) {
        if (r.interval > 0) seen.push(r);
        if (seen.length === 3) break;
      }
    })();
    await client.recur({
      resourceId: 'r',
      agent: 'ocf:heartbeat:Dummy',
      action: 'monitor',
      interval: 100,
      params,
    });
    await until('first monitor result', 5000, () => seen.length >= 1);
    await rm(params.state);
    await until('the failure', 5000, () => seen.length >= 2);
    expect(await client.cancel('r', 'monitor', 100)).toBe(true);
    await reading;
    expect(seen.map((r) => r.execStatus)).toEqual([
      ExecStatus.done,
      ExecStatus.done,
      ExecStatus.cancelled,
    ]);
    expect(seen.slice(0, 2).map((r) => r.rc)).toEqual([OcfRc.SUCCESS, OcfRc.NOT_RUNNING]);
  });

  test('a wrong authkey is refused with a clear error', async () => {
    await using daemon = await RemoteDaemon.start({ listen: '127.0.0.1:0', authKey: KEY });
    await expect(
      RemoteClient.connect({ address: daemon.address, authKey: randomBytes(64) }),
    ).rejects.toThrow(AuthenticationError);
    await expect(
      RemoteClient.connect({ address: daemon.address, authKey: randomBytes(64) }),
    ).rejects.toThrow(/wrong authkey/);
  });

  test('an unreachable daemon gives DisconnectedError after the connect timeout', async () => {
    const t = Date.now();
    await expect(
      RemoteClient.connect({ address: '127.0.0.1:1', authKey: KEY, connectTimeoutMs: 600 }),
    ).rejects.toThrow(DisconnectedError);
    expect(Date.now() - t).toBeLessThan(3000);
  });

  test('a malformed request is rejected with the runner’s message', async () => {
    await using daemon = await RemoteDaemon.start({ listen: '127.0.0.1:0', authKey: KEY });
    await using client = await RemoteClient.connect({ address: daemon.address, authKey: KEY });
    await expect(
      client.execute({ resourceId: 'bad id', agent: 'ocf:heartbeat:Dummy', action: 'start' }),
    ).rejects.toThrow(TransportError);
    await expect(
      client.execute({ resourceId: 'x', agent: 'ocf:Dummy', action: 'start' }),
    ).rejects.toThrow(/provider/);
  });

  test('a cut network is detected in under 2 s; monitors pause meanwhile; after healing, a result produced meanwhile is replayed exactly once and monitors resume', async () => {
    await using daemon = await RemoteDaemon.start({
      listen: '127.0.0.1:0',
      authKey: KEY,
      nodeName: 'guest3',
    });
    const proxy = new CuttableProxy({
      host: '127.0.0.1',
      port: Number(daemon.address.split(':')[1]),
    });
    await proxy.start();
    try {
      await using client = await RemoteClient.connect({
        address: `127.0.0.1:${proxy.port}`,
        authKey: KEY,
      });
      const states: ConnectionEvent[] = [];
      void (async () => {
        for await (const s of client.states()) states.push(s);
      })();
      const results: RemoteResult[] = [];
      void (async () => {
        for await (const r of client.results()) results.push(r);
      })();
      const params = { state: join(tmp.dir, 'cut.state') };
      await client.execute({
        resourceId: 'c',
        agent: 'ocf:heartbeat:Dummy',
        action: 'start',
        params,
      });
      await client.recur({
        resourceId: 'c',
        agent: 'ocf:heartbeat:Dummy',
        action: 'monitor',
        interval: 100,
        params,
      });
      await until('first monitor', 5000, () => results.some((r) => r.interval === 100));
      // Accepted at once; runs 600 ms later, while the network is cut.
      const late = await client.submit({
        resourceId: 'c2',
        agent: 'ocf:heartbeat:Dummy',
        action: 'start',
        startDelay: 600,
        params: { state: join(tmp.dir, 'cut2.state') },
      });
      expect(late.callId).toBeGreaterThan(0);

      const cutAt = Date.now();
      proxy.cut();
      await until('loss detected', 3000, () => states.some((s) => s.state === 'down'));
      const detection = states.find((s) => s.state === 'down')!.at - cutAt;
      expect(detection).toBeLessThan(2000);
      await until('monitors paused', 3000, () => daemon.monitorsPaused);
      await until('the late start ran', 5000, () => daemon.lastResult?.callId === late.callId);
      // The resource fails while nobody watches: no monitor runs, nothing is recorded.
      await rm(params.state);
      await new Promise((r) => setTimeout(r, 300));
      expect(daemon.lastResult?.callId).toBe(late.callId);

      proxy.heal();
      await until('reconnected', 8000, () => states.some((s) => s.state === 'connected'));
      await until('the missed start replayed', 5000, () =>
        results.some((r) => r.callId === late.callId),
      );
      expect(daemon.monitorsPaused).toBe(false);
      await until('the resumed monitor sees the failure', 5000, () =>
        results.some((r) => r.interval === 100 && r.rc === OcfRc.NOT_RUNNING),
      );
      expect(results.filter((r) => r.callId === late.callId)).toHaveLength(1);
      const seqs = results.map((r) => r.sequence);
      expect(new Set(seqs).size).toBe(seqs.length); // no duplicates
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs); // in order
      await client.cancel('c', 'monitor', 100);
      await until('acknowledged', 3000, () => daemon.unacknowledgedResults === 0);
    } finally {
      await proxy.close();
    }
  });

  test('CLI commands on the node are relayed to the cluster with the node name filled in', async () => {
    const socket = join(tmp.dir, 'remoted.sock');
    await using daemon = await RemoteDaemon.start({
      listen: '127.0.0.1:0',
      authKey: KEY,
      nodeName: 'guest4',
      localSocket: socket,
    });
    // Not connected to a cluster yet: a distinct exit code and a clear message.
    const alone = await relayCommand('status', {}, { socket });
    expect(alone).toMatchObject({ exitCode: 102 });
    expect(alone.stderr).toMatch(/guest4 is not connected to a cluster/);

    await using client = await RemoteClient.connect({ address: daemon.address, authKey: KEY });
    client.openRelay(async (call) => ({
      exitCode: 0,
      stdout: `${call.command} for ${call.nodeName}: ${call.argumentsJson}`,
      stderr: '',
    }));
    await until('relay open', 3000, () => daemon.relayConnected);
    const r = await relayCommand('standby', { on: true }, { socket });
    expect(r).toMatchObject({ exitCode: 0, stdout: 'standby for guest4: {"on":true}' });
    await expect(
      relayCommand('status', {}, { socket: join(tmp.dir, 'nobody.sock') }),
    ).rejects.toThrow(DisconnectedError);
  });
});
