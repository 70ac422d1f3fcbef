import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionEvent, RemoteResult } from '../src';

export const KEY = randomBytes(64);

export async function tempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'remora-rt-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * A TCP proxy in front of a daemon, to cut the network without touching the
 * daemon: `cut()` drops every connection and refuses new ones, `heal()`
 * accepts again.
 */
export class CuttableProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private isCut = false;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      if (this.isCut) {
        client.destroy();
        return;
      }
      const upstream = net.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  cut(): void {
    this.isCut = true;
    for (const s of this.sockets) s.destroy();
  }

  heal(): void {
    this.isCut = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * What a proxy does to one connection's TLS handshake: `stall` forwards the
 * client's first flight and holds the rest (the daemon's handshake timeout
 * ends it), `drop` resets the connection to the daemon once the daemon
 * answered the first flight (a client giving up mid-handshake).
 */
export type HandshakeSpoiler = 'stall' | 'drop';

/**
 * A TCP proxy in front of a daemon that spoils the handshakes of its first
 * connections, one spoiler each, then forwards faithfully.
 */
export class StallingProxy implements AsyncDisposable {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  /** Connections accepted so far. */
  handled = 0;
  port = 0;

  constructor(
    private readonly target: { host: string; port: number },
    private readonly spoilers: readonly HandshakeSpoiler[],
  ) {
    this.server = net.createServer((client) => {
      const spoiler = this.spoilers[this.handled++];
      const upstream = net.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      if (!spoiler) {
        client.pipe(upstream).pipe(client);
        return;
      }
      client.once('data', (first: Buffer) => {
        upstream.write(first);
        if (spoiler === 'drop') upstream.once('data', () => upstream.resetAndDestroy());
        // 'stall': nothing more reaches the daemon.
      });
      upstream.on('data', (b: Buffer) => {
        if (spoiler === 'stall') client.write(b);
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Wait until `probe` returns true, or fail after `ms`. */
export async function until(what: string, ms: number, probe: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * An OCF root with the system's heartbeat agents and one fixture agent,
 * `ocf:test:Sleep` (a real script: sleeps `seconds`, keeps a state file).
 */
export async function ocfRootWithSleep(dir: string): Promise<string> {
  const { mkdir, symlink, writeFile } = await import('node:fs/promises');
  const root = join(dir, 'ocf');
  await mkdir(join(root, 'resource.d', 'test'), { recursive: true });
  await symlink('/usr/lib/ocf/lib', join(root, 'lib'));
  await symlink('/usr/lib/ocf/resource.d/heartbeat', join(root, 'resource.d', 'heartbeat'));
  await writeFile(
    join(root, 'resource.d', 'test', 'Sleep'),
    `#!/bin/sh
state="\${OCF_RESKEY_state:-/tmp/sleep-\${OCF_RESOURCE_INSTANCE}}"
case "$1" in
  meta-data) echo '<?xml version="1.0"?><resource-agent name="Sleep" version="1"><version>1.0</version><parameters/><actions><action name="start" timeout="20s"/><action name="stop" timeout="20s"/><action name="monitor" timeout="20s" interval="10s"/><action name="meta-data" timeout="5s"/></actions></resource-agent>'; exit 0 ;;
  start) sleep "\${OCF_RESKEY_seconds:-0}"; echo started; touch "$state"; exit 0 ;;
  stop) sleep "\${OCF_RESKEY_seconds:-0}"; rm -f "$state"; exit 0 ;;
  monitor) [ -e "$state" ] && exit 0; exit 7 ;;
  *) exit 3 ;;
esac
`,
    { mode: 0o755 },
  );
  return root;
}

/** Everything a client reports, collected for assertions. */
export function record(client: {
  states(): AsyncIterable<ConnectionEvent>;
  results(): AsyncIterable<RemoteResult>;
}): { states: ConnectionEvent[]; results: RemoteResult[] } {
  const states: ConnectionEvent[] = [];
  const results: RemoteResult[] = [];
  void (async () => {
    for await (const s of client.states()) states.push(s);
  })();
  void (async () => {
    for await (const r of client.results()) results.push(r);
  })();
  return { states, results };
}
