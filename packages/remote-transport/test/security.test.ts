import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  AuthenticationError,
  DisconnectedError,
  RemoteClient,
  RemoteDaemon,
  TransportError,
  derivePresharedKey,
  makeToken,
} from '../src';
import type { DaemonLogEntry, RemoteDaemonOptions, TlsOptions } from '../src';
import { ExecutorClient } from '../src/gen/remora/remote/v1/remote';
import { PresharedKeyCredentials } from '../src/tls';
import { KEY, StallingProxy, tempDir, until } from './helpers';

let tmp: { dir: string; remove: () => Promise<void> };
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(() => tmp.remove());

/** A daemon on loopback whose log lines are kept. */
async function daemonWithLog(
  options: Partial<RemoteDaemonOptions> = {},
): Promise<{ daemon: RemoteDaemon; log: DaemonLogEntry[]; port: number }> {
  const log: DaemonLogEntry[] = [];
  const daemon = await RemoteDaemon.start({
    listen: '127.0.0.1:0',
    authKey: KEY,
    nodeName: 'sec',
    log: (e) => log.push(e),
    ...options,
  });
  return { daemon, log, port: Number(daemon.address.split(':').pop()) };
}

function tokenMetadata(key = KEY): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('x-remora-auth', makeToken(key));
  return md;
}

function handshake(client: ExecutorClient, md: grpc.Metadata, version = 2): Promise<unknown> {
  return new Promise((resolve, reject) =>
    client.handshake(
      { protocolVersion: version, protocolMinor: 0, clientName: 'probe' },
      md,
      { deadline: Date.now() + 3000 },
      (err, res) => (err ? reject(err) : resolve(res)),
    ),
  );
}

/** Raw gRPC credentials proving the authkey's pre-shared key (what RemoteClient uses). */
function pskCredentials(key: Buffer): grpc.ChannelCredentials {
  return new PresharedKeyCredentials(derivePresharedKey(key));
}

const dummyStart = {
  resourceId: 'r1',
  agent: 'ocf:heartbeat:Dummy',
  action: 'start',
  params: {},
  meta: {},
  intervalMs: 0,
  startDelayMs: 0,
  timeoutMs: 0,
  requestId: '',
};

describe('TLS pre-shared key derived from the authkey', () => {
  it('is the same key for the same authkey and another one for another authkey', () => {
    const a = derivePresharedKey(Buffer.from(KEY));
    const b = derivePresharedKey(Buffer.from(KEY));
    expect(a.key.equals(b.key)).toBe(true);
    expect(a.key).toHaveLength(32);
    expect(a.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    const other = derivePresharedKey(randomBytes(64));
    expect(other.key.equals(a.key)).toBe(false);
    expect(other.fingerprint).not.toBe(a.fingerprint);
    expect(other.identity).toBe(a.identity); // one identity: the key, not the name, authenticates
    expect(KEY.includes(a.key.subarray(0, 8))).toBe(false);
  });
});

describe('nothing runs for a peer that has not authenticated', () => {
  it('refuses a plain-text gRPC client at the TLS layer, logs it, runs nothing', async () => {
    const { daemon, log, port } = await daemonWithLog();
    await using _d = daemon;
    const plain = new ExecutorClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    try {
      await expect(handshake(plain, tokenMetadata())).rejects.toMatchObject({
        code: grpc.status.UNAVAILABLE,
      });
    } finally {
      plain.close();
    }
    await until('failure logged', 2000, () => daemon.authenticationFailures > 0);
    expect(log.map((e) => e.message).join('\n')).toMatch(
      /authentication failed from 127\.0\.0\.1: not a TLS client/,
    );
    expect(daemon.operationsAccepted).toBe(0);
  });

  it('closes a connection that sends garbage bytes', async () => {
    const { daemon, log, port } = await daemonWithLog();
    await using _d = daemon;
    const closed = await new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write(randomBytes(512)));
      let got = '';
      s.on('data', (b: Buffer) => (got += b.toString('latin1')));
      s.on('error', () => undefined);
      s.on('close', () => resolve(got));
    });
    expect(closed).not.toMatch(/remora|grpc/i);
    await until('failure logged', 2000, () =>
      log.some((e) => /authentication failed/.test(e.message)),
    );
    expect(daemon.operationsAccepted).toBe(0);
  });

  it('refuses a client with another authkey inside the TLS handshake, naming the cause on both sides', async () => {
    const { daemon, log, port } = await daemonWithLog();
    await using _d = daemon;
    const t = Date.now();
    await expect(
      RemoteClient.connect({ address: `127.0.0.1:${port}`, authKey: randomBytes(64) }),
    ).rejects.toThrow(
      /TLS handshake refused: wrong authkey: the daemon could not verify our pre-shared key \(TLS alert/,
    );
    expect(Date.now() - t).toBeLessThan(3000); // not retried until the connect timeout
    await until('failure counted', 2000, () => daemon.authenticationFailures > 0);
    // A refusal inside TLS (the PSK binder check), not a connection the client dropped.
    expect(log.map((e) => e.message)).toContain(
      'authentication failed from 127.0.0.1: wrong authkey (its TLS pre-shared key does not match ours)',
    );
    // One connection attempt, one failure: nothing retried behind the caller's back.
    await new Promise((r) => setTimeout(r, 300));
    expect(daemon.authenticationFailures).toBe(1);
    expect(daemon.operationsAccepted).toBe(0);
  });

  it('refuses a TLS client that offers no pre-shared key (a certificate-only client)', async () => {
    const { daemon, log, port } = await daemonWithLog();
    await using _d = daemon;
    const c = new ExecutorClient(
      `127.0.0.1:${port}`,
      grpc.credentials.createSsl(null, null, null, { checkServerIdentity: () => undefined }),
    );
    try {
      await expect(handshake(c, tokenMetadata())).rejects.toMatchObject({
        code: grpc.status.UNAVAILABLE,
        details: expect.stringMatching(/alert handshake failure/),
      });
    } finally {
      c.close();
    }
    await until('failure logged', 2000, () =>
      log.some((e) => /no TLS pre-shared key offered/.test(e.message)),
    );
    expect(daemon.operationsAccepted).toBe(0);
  });

  it('refuses a call without a valid token even over TLS with the right key', async () => {
    const { daemon, log, port } = await daemonWithLog();
    await using _d = daemon;
    const c = new ExecutorClient(`127.0.0.1:${port}`, pskCredentials(KEY));
    try {
      await expect(handshake(c, new grpc.Metadata())).rejects.toMatchObject({
        code: grpc.status.UNAUTHENTICATED,
        details: 'no authentication token',
      });
      await expect(
        new Promise((resolve, reject) =>
          c.submit(dummyStart, tokenMetadata(randomBytes(64)), (err, res) =>
            err ? reject(err) : resolve(res),
          ),
        ),
      ).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: 'wrong authkey' });
    } finally {
      c.close();
    }
    expect(log.filter((e) => /authentication failed/.test(e.message))).toHaveLength(2);
    expect(daemon.operationsAccepted).toBe(0);
  });

  it('blocks a peer after repeated failures, logging once that it does', async () => {
    const { daemon, log, port } = await daemonWithLog({
      authLimits: { maxFailures: 3, blockMs: 60_000 },
    });
    await using _d = daemon;
    for (let i = 0; i < 3; i++) {
      await expect(
        RemoteClient.connect({ address: `127.0.0.1:${port}`, authKey: randomBytes(64) }),
      ).rejects.toThrow(/wrong authkey/);
    }
    await until('blocked', 2000, () => log.some((e) => /refusing its connections/.test(e.message)));
    expect(daemon.authenticationFailures).toBe(3);
    // Even the right key is refused from that address now (closed before TLS).
    await expect(
      RemoteClient.connect({ address: `127.0.0.1:${port}`, authKey: KEY, connectTimeoutMs: 800 }),
    ).rejects.toThrow(DisconnectedError);
    expect(log.filter((e) => /authentication failed/.test(e.message))).toHaveLength(3);
    expect(daemon.operationsAccepted).toBe(0);
  });

  it('does not hold stalled or interrupted handshakes of a legitimate client against its address', async () => {
    // A loaded host: the client's handshake stalls past the daemon's
    // handshake timeout, or the client gives up and drops the connection
    // mid-handshake. Neither says anything about its key.
    const { daemon, log, port } = await daemonWithLog({
      authLimits: { maxFailures: 2, blockMs: 60_000 },
      limits: { handshakeTimeoutMs: 300 },
    });
    await using _d = daemon;
    await using proxy = new StallingProxy({ host: '127.0.0.1', port }, [
      'stall',
      'stall',
      'drop',
      'drop',
    ]);
    await proxy.start();
    await using client = await RemoteClient.connect({
      address: `127.0.0.1:${proxy.port}`,
      authKey: KEY,
      reconnectDelayMs: 50,
      connectTimeoutMs: 20_000,
    });
    expect(client.state).toBe('connected');
    expect(proxy.handled).toBeGreaterThanOrEqual(5); // 4 spoiled attempts, then through
    const notCounted = log.filter((e) => /not counted as a failed authentication/.test(e.message));
    expect(notCounted.map((e) => e.message).join('\n')).toMatch(/TLS handshake timed out/);
    expect(notCounted.map((e) => e.message).join('\n')).toMatch(/ECONNRESET/);
    expect(notCounted.length).toBeGreaterThanOrEqual(4);
    expect(daemon.authenticationFailures).toBe(0);
    expect(log.some((e) => /refusing its connections/.test(e.message))).toBe(false);
    // The address was never blocked: a direct client is served too.
    await using direct = await RemoteClient.connect({ address: daemon.address, authKey: KEY });
    expect(direct.nodeName).toBe('sec');
  });

  it('rejects an incompatible protocol major version with a clear error', async () => {
    const { daemon, port } = await daemonWithLog();
    await using _d = daemon;
    const c = new ExecutorClient(`127.0.0.1:${port}`, pskCredentials(KEY));
    try {
      await expect(handshake(c, tokenMetadata(), 1)).rejects.toMatchObject({
        code: grpc.status.FAILED_PRECONDITION,
        details: expect.stringMatching(
          /incompatible protocol: sec runs remora remoted \S+ speaking protocol 2\.0, the client speaks 1\.0/,
        ),
      });
    } finally {
      c.close();
    }
  });

  it('refuses oversized and malformed messages before anything runs', async () => {
    const { daemon, port } = await daemonWithLog({ limits: { maxMessageBytes: 64 * 1024 } });
    await using _d = daemon;
    await using client = await RemoteClient.connect({ address: daemon.address, authKey: KEY });
    await expect(
      client.submit({
        resourceId: 'big',
        agent: 'ocf:heartbeat:Dummy',
        action: 'start',
        params: { fake: 'x'.repeat(100 * 1024) },
      }),
    ).rejects.toThrow(/Received message larger than max \(\d+ vs 65536\)/);
    const Generic = grpc.makeGenericClientConstructor(
      {
        submit: {
          path: '/remora.remote.v1.Executor/Submit',
          requestStream: false,
          responseStream: false,
          requestSerialize: (b: Buffer) => b,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (b: Buffer) => b,
          responseDeserialize: (b: Buffer) => b,
        },
      },
      'Executor',
    );
    const raw = new Generic(`127.0.0.1:${port}`, pskCredentials(KEY));
    try {
      const err = await new Promise<grpc.ServiceError>((resolve) =>
        (
          raw as unknown as {
            submit: (
              b: Buffer,
              md: grpc.Metadata,
              cb: (e: grpc.ServiceError | null) => void,
            ) => void;
          }
        ).submit(Buffer.from([0x0f, 0xff, 0xff]), tokenMetadata(), (e) => resolve(e!)),
      );
      expect(err.code).toBe(grpc.status.INTERNAL);
      expect(err.details).toMatch(/deserializ/i);
    } finally {
      raw.close();
    }
    expect(daemon.operationsAccepted).toBe(0);
  });

  it('validates resource ids and agent names: no path traversal, no shell metacharacters', async () => {
    const { daemon } = await daemonWithLog();
    await using _d = daemon;
    await using client = await RemoteClient.connect({ address: daemon.address, authKey: KEY });
    const bad: [string, string, RegExp][] = [
      ['../etc', 'ocf:heartbeat:Dummy', /resource id '\.\.\/etc' is not acceptable/],
      ['x;rm -rf /', 'ocf:heartbeat:Dummy', /resource id 'x;rm -rf \/' is not acceptable/],
      ['a$(id)', 'ocf:heartbeat:Dummy', /resource id 'a\$\(id\)'/],
      [
        'ok',
        'ocf:heartbeat:../../../bin/sh',
        /agent 'ocf:heartbeat:\.\.\/\.\.\/\.\.\/bin\/sh' is not acceptable/,
      ],
      ['ok', 'ocf:..:Dummy', /agent 'ocf:\.\.:Dummy'/],
      ['ok', 'lsb:`reboot`', /agent 'lsb:`reboot`'/],
    ];
    for (const [resourceId, agent, message] of bad) {
      await expect(client.submit({ resourceId, agent, action: 'start' })).rejects.toThrow(message);
    }
    await expect(client.metaData('ocf:heartbeat:../x')).rejects.toThrow(/not acceptable/);
    expect(daemon.operationsAccepted).toBe(0);
  });

  it('enforces the resource and queue limits with errors naming them', async () => {
    const { daemon } = await daemonWithLog({
      limits: { maxResources: 2, maxQueuedOperations: 1 },
    });
    await using _d = daemon;
    await using client = await RemoteClient.connect({ address: daemon.address, authKey: KEY });
    const op = (resourceId: string, startDelay = 0): Parameters<RemoteClient['submit']>[0] => ({
      resourceId,
      agent: 'ocf:heartbeat:Dummy',
      action: 'monitor',
      startDelay,
      params: { state: join(tmp.dir, `${resourceId}.state`) },
    });
    await client.execute(op('a'));
    await client.execute(op('b'));
    await expect(client.submit(op('c'))).rejects.toThrow(
      /cannot register resource 'c': 2 resources registered, the limit \(maxResources\) is 2/,
    );
    await client.submit(op('a', 2000));
    await expect(client.submit(op('b'))).rejects.toThrow(
      /1 operations queued or running, the limit \(maxQueuedOperations\) is 1/,
    );
    expect(await client.unregister('b')).toBe(true);
  });
});

describe('mutual TLS with a site PKI', () => {
  let pki: {
    ca: Buffer;
    serverCert: Buffer;
    serverKey: Buffer;
    clientCert: Buffer;
    clientKey: Buffer;
    strangerCert: Buffer;
    strangerKey: Buffer;
  };
  beforeAll(async () => {
    const d = join(tmp.dir, 'pki');
    execFileSync(
      'bash',
      [
        '-ec',
        `mkdir -p ${d}; cd ${d}
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
openssl req -x509 $ec -keyout ca.key -out ca.pem -subj /CN=site-ca -days 2 \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
for n in server client; do
  openssl req $ec -keyout $n.key -out $n.csr -subj /CN=$n 2>/dev/null
done
printf 'subjectAltName=DNS:guest1,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' >server.ext
printf 'extendedKeyUsage=clientAuth\\n' >client.ext
for n in server client; do
  openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.pem -days 2 -extfile $n.ext 2>/dev/null
done
openssl req -x509 $ec -keyout stranger.key -out stranger.pem -subj /CN=stranger -days 2 2>/dev/null`,
      ],
      { stdio: 'inherit' },
    );
    const r = (f: string): Promise<Buffer> => readFile(join(d, f));
    pki = {
      ca: await r('ca.pem'),
      serverCert: await r('server.pem'),
      serverKey: await r('server.key'),
      clientCert: await r('client.pem'),
      clientKey: await r('client.key'),
      strangerCert: await r('stranger.pem'),
      strangerKey: await r('stranger.key'),
    };
  });

  it('serves clients with a certificate of the site CA and refuses the others', async () => {
    const { daemon, log, port } = await daemonWithLog({
      tls: { ca: pki.ca, cert: pki.serverCert, key: pki.serverKey },
      // This test fails on purpose many times from one address: no blocking here.
      authLimits: { maxFailures: 1000 },
    });
    await using _d = daemon;
    const address = `127.0.0.1:${port}`;
    const clientTls: TlsOptions = { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey };
    await using ok = await RemoteClient.connect({ address, authKey: KEY, tls: clientTls });
    expect(ok.nodeName).toBe('sec');
    await using named = await RemoteClient.connect({
      address,
      authKey: KEY,
      tls: { ...clientTls, serverName: 'guest1' },
    });
    expect(named.daemon.protocol).toBe('2.0');
    // No client certificate; the authkey identity instead of the PKI; the wrong server name.
    await expect(
      RemoteClient.connect({ address, authKey: KEY, tls: { ca: pki.ca }, connectTimeoutMs: 1500 }),
    ).rejects.toThrow(TransportError);
    // Node checks certificates only after the handshake: the daemon does it
    // itself, and counts the refusal.
    expect(log.map((e) => e.message)).toContain(
      'authentication failed from 127.0.0.1: no client certificate',
    );
    const stranger = { ca: pki.ca, cert: pki.strangerCert, key: pki.strangerKey };
    await expect(
      RemoteClient.connect({ address, authKey: KEY, tls: stranger, connectTimeoutMs: 1500 }),
    ).rejects.toThrow(TransportError);
    expect(log.map((e) => e.message)).toContain(
      'authentication failed from 127.0.0.1: client certificate refused (DEPTH_ZERO_SELF_SIGNED_CERT)',
    );
    await expect(RemoteClient.connect({ address, authKey: KEY })).rejects.toThrow(
      /TLS handshake refused: the daemon presented a certificate instead of proving the authkey/,
    );
    await expect(
      RemoteClient.connect({ address, authKey: KEY, tls: { ...clientTls, serverName: 'evil' } }),
    ).rejects.toThrow(AuthenticationError);
    // The per-call HMAC still applies under the PKI.
    await expect(
      RemoteClient.connect({ address, authKey: randomBytes(64), tls: clientTls }),
    ).rejects.toThrow(/wrong authkey/);
  });
});

describe('listening on IPv6 and IPv4', () => {
  const hasV6 = ((): boolean => {
    try {
      const s = net.createServer();
      s.listen(0, '::1');
      s.close();
      return true;
    } catch {
      return false;
    }
  })();

  (hasV6 ? it : it.skip)('serves on ::1, and on both families with :0', async () => {
    await using v6 = await RemoteDaemon.start({ listen: '[::1]:0', authKey: KEY, log: () => {} });
    expect(v6.address).toMatch(/^\[::1\]:\d+$/);
    await using c6 = await RemoteClient.connect({ address: v6.address, authKey: KEY });
    expect(c6.state).toBe('connected');

    await using both = await RemoteDaemon.start({ listen: ':0', authKey: KEY, log: () => {} });
    const port = both.address.split(':').pop();
    expect(both.address).toBe(`[::]:${port}`);
    await using c4 = await RemoteClient.connect({ address: `127.0.0.1:${port}`, authKey: KEY });
    await using c6b = await RemoteClient.connect({ address: `[::1]:${port}`, authKey: KEY });
    expect([c4.state, c6b.state]).toEqual(['connected', 'connected']);
  });

  it('reports what it is in the handshake: versions, names, uptime, boot ids', async () => {
    await using d = await RemoteDaemon.start({
      listen: '127.0.0.1:0',
      authKey: KEY,
      nodeName: 'g',
      log: () => {},
    });
    await using c = await RemoteClient.connect({ address: d.address, authKey: KEY });
    expect(c.daemon).toMatchObject({
      nodeName: 'g',
      protocol: '2.0',
      bootId: d.bootId,
      daemonVersion: expect.stringMatching(/^\d+\.\d+\.\d+/),
      hostname: expect.any(String),
      hostBootId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      limits: { maxMessageBytes: 4 * 1024 * 1024, maxResources: 10_000, maxQueuedOperations: 1000 },
    });
    expect(c.daemon.uptimeMs).toBeGreaterThanOrEqual(0);
    expect(c.daemon.startedAt).toBe(d.startedAt);
  });

  it('refuses bad listen addresses with a clear error', async () => {
    await expect(RemoteDaemon.start({ listen: 'host:99999', authKey: KEY })).rejects.toThrow(
      /listen address 'host:99999': port '99999' is not a number 0-65535/,
    );
    await expect(RemoteDaemon.start({ listen: 'unix:rel/path', authKey: KEY })).rejects.toThrow(
      /must be absolute/,
    );
  });
});
