import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { RemoteClient } from '../src';
import type { ConnectionEvent } from '../src';
import { KEY, ocfRootWithSleep, tempDir, until } from './helpers';

const remora = resolve(__dirname, '../../../node_modules/.bin/remora');

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

let tmp: { dir: string; remove: () => Promise<void> };
let keyFile: string;
let ocfRoot: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  tmp = await tempDir();
  keyFile = join(tmp.dir, 'authkey');
  await writeFile(keyFile, KEY, { mode: 0o400 });
  ocfRoot = await ocfRootWithSleep(tmp.dir);
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await tmp.remove();
});

const logs = new Map<ChildProcess, () => string>();

async function startDaemon(port: number, name: string): Promise<ChildProcess> {
  const child = spawn(
    remora,
    [
      'remoted',
      '-l',
      `127.0.0.1:${port}`,
      '-k',
      keyFile,
      '-n',
      name,
      '--local-socket',
      join(tmp.dir, `${name}.sock`),
      '--ocf-root',
      ocfRoot,
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  children.add(child);
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  logs.set(child, () => err);
  await until(`daemon ${name} listening (${err})`, 10_000, () => err.includes('serving'));
  return child;
}

function watch(client: RemoteClient): ConnectionEvent[] {
  const states: ConnectionEvent[] = [];
  void (async () => {
    for await (const s of client.states()) states.push(s);
  })();
  return states;
}

describe('a real `remora remoted` process', () => {
  test('kill -9 is detected in under 2 s; a restarted daemon is reconnected to and flagged as restarted', async () => {
    const port = await freePort();
    let daemon = await startDaemon(port, 'killme');
    await using client = await RemoteClient.connect({ address: `127.0.0.1:${port}`, authKey: KEY });
    const states = watch(client);
    // An operation in flight when the daemon dies: its outcome is unknown, and the result says so.
    const inFlight = client.execute({
      resourceId: 'slow',
      agent: 'ocf:test:Sleep',
      action: 'start',
      params: { seconds: '3', state: join(tmp.dir, 'slow.state') },
    });
    await new Promise((r) => setTimeout(r, 300));
    const killedAt = Date.now();
    daemon.kill('SIGKILL');
    await until('down', 3000, () => states.some((s) => s.state === 'down'));
    expect(states.find((s) => s.state === 'down')!.at - killedAt).toBeLessThan(2000);
    daemon = await startDaemon(port, 'killme');
    await until('reconnected', 10_000, () => states.some((s) => s.state === 'connected'));
    expect(states.find((s) => s.state === 'connected')!.restarted).toBe(true);
    expect(await inFlight).toMatchObject({
      execStatus: 'error',
      rc: 1,
      exitReason:
        'the remote daemon on killme restarted during the operation; its outcome is unknown',
    });
    const r = await client.execute({
      resourceId: 'x',
      agent: 'ocf:heartbeat:Dummy',
      action: 'monitor',
      params: { state: join(tmp.dir, 'x') },
    });
    expect(r.rc).toBe(7);
    daemon.kill('SIGTERM');
    await new Promise((r2) => daemon.once('exit', r2));
  }, 30_000);

  test('a frozen daemon (SIGSTOP) is detected in under 2 s and reconnected after SIGCONT', async () => {
    const port = await freePort();
    const daemon = await startDaemon(port, 'freezeme');
    await using client = await RemoteClient.connect({ address: `127.0.0.1:${port}`, authKey: KEY });
    const states = watch(client);
    expect(await client.ping(2000)).toBeGreaterThanOrEqual(0);
    const stoppedAt = Date.now();
    daemon.kill('SIGSTOP');
    try {
      // A ping (the controller's connection monitor) goes unanswered; the connection's state is its watchdog's.
      await expect(client.ping(300)).rejects.toThrow(/no answer to a ping within 300 ms/);
      await until('down', 3000, () => states.some((s) => s.state === 'down'));
      expect(states.find((s) => s.state === 'down')!.at - stoppedAt).toBeLessThan(2000);
    } finally {
      daemon.kill('SIGCONT');
    }
    await until('reconnected', 10_000, () => states.some((s) => s.state === 'connected'));
    expect(states.find((s) => s.state === 'connected')!.restarted).toBe(false);
    expect(await client.ping(2000)).toBeGreaterThanOrEqual(0);
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    expect(daemon.exitCode).toBe(0);
  }, 30_000);

  test('a live daemon is not declared dead because this process was busy (event loop blocked for twice the deadline, or stalled again and again)', async () => {
    const port = await freePort();
    const daemon = await startDaemon(port, 'busyhost');
    await using client = await RemoteClient.connect({ address: `127.0.0.1:${port}`, authKey: KEY });
    const states = watch(client);
    const block = (ms: number): void => {
      // Nothing else runs in this process meanwhile: the daemon's heartbeats wait unread.
      for (const end = Date.now() + ms; Date.now() < end;);
    };
    block(3000);
    await new Promise((r) => setTimeout(r, 500));
    // A loaded machine: the event loop gets a moment between long stalls.
    for (let i = 0; i < 6; i++) {
      block(700);
      await new Promise((r) => setTimeout(r, 30));
    }
    await new Promise((r) => setTimeout(r, 2000));
    expect(states).toEqual([]);
    expect(client.state).toBe('connected');
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
  }, 30_000);

  test('SIGTERM with a controller: the controller is asked to drain; the daemon exits when it disconnects', async () => {
    const port = await freePort();
    const daemon = await startDaemon(port, 'drainme');
    const client = await RemoteClient.connect({ address: `127.0.0.1:${port}`, authKey: KEY });
    client.onDrainRequest(() => {
      setTimeout(() => void client.close(), 300);
      return true;
    });
    const t = Date.now();
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    expect(Date.now() - t).toBeGreaterThanOrEqual(250);
    expect(daemon.exitCode).toBe(0);
    expect(logs.get(daemon)!()).toMatch(/stopped \(the controller drained this node\)/);
  }, 30_000);

  test('SIGTERM with an unmanaged controller (no drain handler): the daemon exits at once', async () => {
    const port = await freePort();
    const daemon = await startDaemon(port, 'unmanaged');
    await using client = await RemoteClient.connect({ address: `127.0.0.1:${port}`, authKey: KEY });
    expect(client.state).toBe('connected');
    const t = Date.now();
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    expect(Date.now() - t).toBeLessThan(1500);
    expect(daemon.exitCode).toBe(0);
    expect(logs.get(daemon)!()).toMatch(/stopped \(the controller does not manage this node\)/);
  }, 30_000);
});
