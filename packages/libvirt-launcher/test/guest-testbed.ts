/**
 * What the real-guest suites (lxc.test.ts, qemu.test.ts) and the guest
 * benchmarks share: skipping a suite with its reason, a per-suite testbed (a
 * temporary folder with an authkey, private libvirtds started before the
 * suite and stopped after it), LXC guests running remoted, process checks,
 * waiting for a line on a guest's console, and running one operation on a
 * guest's remoted.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// From source, not the package name: the benchmarks (ts-node, no jest mapping) use these too.
import type { PrivateLibvirtd, PrivateLibvirtdOptions } from '../src';
import { lxcContainer, remotedInit, startPrivateLibvirtd } from '../src';
import type { RemoteRequest, RemoteResult } from '@remora/remote-transport';
import { RemoteClient } from '@remora/remote-transport';

/** `describe`, or `describe.skip` with the reason printed, when the suites cannot run here. */
export function describeUnless(reason: string, what: string): jest.Describe {
  if (reason) console.warn(`${what} skipped: ${reason}`);
  return reason ? describe.skip : describe;
}

export interface Testbed {
  /** A temporary folder of the suite, removed after it. */
  readonly dir: string;
  /** The guests' authkey, and the file in `dir` holding it (mode 0400). */
  readonly key: Buffer;
  readonly keyFile: string;
  /** The private libvirtds started before the suite, in the order asked. */
  readonly daemons: readonly PrivateLibvirtd[];
  /** The first of them. */
  readonly lv: PrivateLibvirtd;
  /** Start one more private libvirtd, stopped after the suite with the others. */
  start(options?: PrivateLibvirtdOptions): Promise<PrivateLibvirtd>;
}

/**
 * Register the suite's testbed (call inside `describe`): before the suite,
 * a folder `remora-<prefix>-*` with the authkey, and one private libvirtd per
 * entry of `daemons` (default one with its own network namespace and
 * bridge), started together; after it, every daemon stopped (with its
 * guests, processes, cgroups and namespace) and the folder removed.
 */
export function useTestbed(
  prefix: string,
  daemons: readonly PrivateLibvirtdOptions[] = [{}],
): Testbed {
  const key = randomBytes(64);
  let dir = '';
  const started: PrivateLibvirtd[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `remora-${prefix}-`));
    await writeFile(join(dir, 'authkey'), key, { mode: 0o400 });
    const outcomes = await Promise.allSettled(daemons.map((o) => startPrivateLibvirtd(o)));
    for (const o of outcomes) if (o.status === 'fulfilled') started.push(o.value);
    const failed = outcomes.find((o) => o.status === 'rejected');
    if (failed) throw failed.reason; // the ones that did start are stopped after the suite
  });
  afterAll(async () => {
    await Promise.all(started.map((lv) => lv.stop()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      return dir;
    },
    key,
    get keyFile() {
      return join(dir, 'authkey');
    },
    daemons: started,
    get lv() {
      return started[0]!;
    },
    async start(options?: PrivateLibvirtdOptions) {
      const lv = await startPrivateLibvirtd(options);
      started.push(lv);
      return lv;
    },
  };
}

/**
 * An LXC guest (256 MiB unless `extra` says otherwise) whose init is `remora
 * remoted` serving as `name`, with the key in `keyFile` and its local socket
 * below `dir`; on the bridge br0 with `ip` (CIDR) when given.
 */
export function remotedContainer(
  options: {
    readonly name: string;
    readonly dir: string;
    readonly keyFile: string;
    readonly ip?: string;
    readonly listen?: string;
  } & Partial<Parameters<typeof lxcContainer>[0]>,
): string {
  const { name, dir, keyFile, ip, listen, ...extra } = options;
  return lxcContainer({
    name,
    memoryMiB: 256,
    ...remotedInit({
      nodeName: name,
      authKeyFile: keyFile,
      localSocket: join(dir, name, 'remoted.sock'),
      listen,
    }),
    ...(ip !== undefined && { interfaces: [{ bridge: 'br0', ip }] }),
    ...extra,
  });
}

/** Whether a process still runs (a zombie waiting for PID 1 to reap it does not). */
export function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** An LXC guest's init: the child of libvirt_lxc (whose PID libvirt reports as the domain id). */
export function initPid(controllerPid: number): number {
  const children = readFileSync(`/proc/${controllerPid}/task/${controllerPid}/children`, 'utf8');
  return Number(children.trim().split(' ')[0]);
}

/**
 * Wait until a guest's console log matches `pattern`. The error names the
 * pattern and the time, with the log's tail and whatever `detail` adds (for
 * example QEMU's own log).
 */
export async function waitConsole(
  file: string,
  pattern: RegExp,
  timeoutMs: number,
  detail?: () => string,
): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = await readFile(file, 'utf8').catch(() => '');
    const m = text.match(pattern);
    if (m) return m;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `console ${file} did not show ${pattern} within ${timeoutMs} ms\n--- console ---\n${text.slice(-2000)}` +
      (detail ? `\n${detail()}` : ''),
  );
}

/** Run one operation on a guest's remoted, over a connection of its own. */
export async function executeOnGuest(
  address: string,
  authKey: Buffer,
  request: RemoteRequest,
): Promise<RemoteResult> {
  const client = await RemoteClient.connect({ address, authKey, reconnect: false });
  try {
    return await client.execute(request);
  } finally {
    await client.close();
  }
}
