/**
 * bench:guests — libvirt-LXC guests running `remora remoted`, started
 * concurrently (1, 10, 50): time from the start call to the guest's daemon
 * answering an authenticated handshake, and from the stop request to the
 * guest being gone (libvirt reports it absent and its init has exited).
 *
 * References measured in the same run:
 *  - bare: the same `remora remoted` as a plain process (no container):
 *    spawn -> handshake, SIGTERM -> exit (what ocf:remora:guest-daemon does);
 *  - floor: libvirt alone through plain virsh commands, a container whose
 *    init is a shell exiting on SIGTERM (virsh create; virsh shutdown --mode
 *    signal, gone = no longer in virsh list).
 *
 * Needs root and libvirt-daemon-driver-lxc; run with
 * `npm run bench:guests [-- 1 10 50]`.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  findRemora,
  launchGuest,
  lxcContainer,
  privateLibvirtdSupport,
  startPrivateLibvirtd,
  stopGuest,
  waitForRemoted,
} from '../src';
import type { Domain, PrivateLibvirtd } from '../src';
import { initPid, remotedContainer, running } from '../test/guest-testbed';

const counts = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
const COUNTS = counts.length > 0 ? counts : [1, 10, 50];

interface Figures {
  readonly start: number[];
  readonly stop: number[];
  readonly startWall: number;
  readonly stopWall: number;
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x: number): string => `${x.toFixed(0)} ms`;

async function untilGone(pid: number): Promise<void> {
  while (running(pid)) await new Promise((r) => setTimeout(r, 10));
}

async function lxcGuests(
  lv: PrivateLibvirtd,
  n: number,
  dir: string,
  keyFile: string,
  key: Buffer,
): Promise<Figures> {
  const conn = lv.connection('lxc');
  const guests = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const name = `g${i + 1}`;
      const ip = `10.213.${1 + Math.floor(i / 200)}.${10 + (i % 200)}`;
      const xml = remotedContainer({
        name,
        dir,
        keyFile,
        ip: `${ip}/16`,
        limits: { memoryHardLimitMiB: 256, cpuShares: 1024 },
      });
      return { name, xml, address: await lv.forward(ip, 3121) };
    }),
  );
  const t0 = performance.now();
  const started = await Promise.all(
    guests.map(async (g) => {
      const t = performance.now();
      const { domain } = await launchGuest({
        connection: conn,
        xml: g.xml,
        persistent: false,
        remote: { address: g.address, authKey: key, connectTimeoutMs: 120_000 },
      });
      return {
        domain,
        ms: performance.now() - t,
        init: initPid((await domain.info()).id as number),
      };
    }),
  );
  const startWall = performance.now() - t0;
  const t1 = performance.now();
  const stops = await Promise.all(
    started.map(async (g: { domain: Domain; init: number }) => {
      const t = performance.now();
      await stopGuest(g.domain, { timeoutMs: 30_000 });
      await untilGone(g.init);
      return performance.now() - t;
    }),
  );
  return {
    start: started.map((s) => s.ms),
    stop: stops,
    startWall,
    stopWall: performance.now() - t1,
  };
}

async function bareDaemons(n: number, dir: string, keyFile: string, key: Buffer): Promise<Figures> {
  const remora = findRemora();
  const children: ReturnType<typeof spawn>[] = [];
  try {
    return await bareRun(n, dir, keyFile, key, remora, children);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  }
}

async function bareRun(
  n: number,
  dir: string,
  keyFile: string,
  key: Buffer,
  remora: string,
  children: ReturnType<typeof spawn>[],
): Promise<Figures> {
  const t0 = performance.now();
  const procs = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      // A Unix socket, as the LXC guests are reached (through the forwarder): no port to collide on.
      const address = `unix:${join(dir, `b${i}.grpc`)}`;
      const t = performance.now();
      const child = spawn(
        remora,
        [
          'remoted',
          '--listen',
          address,
          '--authkey',
          keyFile,
          '--name',
          `b${i}`,
          '--local-socket',
          join(dir, `b${i}.sock`),
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      children.push(child);
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const died = new Promise<never>((_, reject) =>
        child.once('exit', (code) =>
          reject(new Error(`bare remoted b${i} exited (${code}): ${stderr.trim()}`)),
        ),
      );
      await Promise.race([waitForRemoted({ address, authKey: key, timeoutMs: 120_000 }), died]);
      died.catch(() => undefined);
      return { child, ms: performance.now() - t };
    }),
  );
  const startWall = performance.now() - t0;
  const t1 = performance.now();
  const stops = await Promise.all(
    procs.map(async ({ child }) => {
      const t = performance.now();
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      return performance.now() - t;
    }),
  );
  return {
    start: procs.map((p) => p.ms),
    stop: stops,
    startWall,
    stopWall: performance.now() - t1,
  };
}

async function floorContainers(lv: PrivateLibvirtd, n: number): Promise<Figures> {
  // libvirt alone, through plain virsh commands (no readiness, no events):
  // a container whose init exits on SIGTERM; gone = no longer in `virsh list`.
  const conn = lv.connection('lxc');
  const init = { init: '/bin/sh', initArgs: ['-c', "trap 'exit 0' TERM; sleep 600 & wait"] };
  const names = Array.from({ length: n }, (_, i) => `f${i}`);
  const t0 = performance.now();
  const start = await Promise.all(
    names.map(async (name) => {
      const t = performance.now();
      await conn.create(lxcContainer({ name, memoryMiB: 64, ...init }));
      return performance.now() - t;
    }),
  );
  const startWall = performance.now() - t0;
  const t1 = performance.now();
  const requested = new Map<string, number>();
  // Requests in the background, gone-polling meanwhile: a guest libvirt refuses
  // to shut down for a while does not delay the others' figures.
  const requests = Promise.all(
    names.map(async (name) => {
      requested.set(name, performance.now());
      for (;;) {
        // libvirt-LXC refuses a shutdown until it knows the init's PID
        const ok = await conn.run(['shutdown', '--mode', 'signal', '--', name]).then(
          () => true,
          (err: Error) => {
            if (/Init process ID is not yet known/.test(err.message)) return false;
            throw err;
          },
        );
        if (ok) break;
        if (performance.now() - (requested.get(name) ?? t1) > 30_000) {
          await conn.domain(name).destroy(); // libvirt never learned the init's PID
          break;
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    }),
  );
  requests.catch(() => undefined);
  const stop: number[] = [];
  const left = new Set(names);
  while (left.size > 0) {
    const listed = new Set((await conn.list()).map((d) => d.name));
    for (const name of [...left]) {
      if (!listed.has(name)) {
        stop.push(performance.now() - (requested.get(name) ?? t1));
        left.delete(name);
      }
    }
    if (left.size > 0) await new Promise((r) => setTimeout(r, 20));
  }
  const stopWall = performance.now() - t1;
  await requests;
  return { start, stop, startWall, stopWall };
}

function row(label: string, f: Figures): string {
  return (
    `${label.padEnd(22)} start p50 ${ms(pct(f.start, 50)).padStart(8)}  max ${ms(Math.max(...f.start)).padStart(8)}  all ${ms(f.startWall).padStart(8)}` +
    ` | stop p50 ${ms(pct(f.stop, 50)).padStart(8)}  max ${ms(Math.max(...f.stop)).padStart(8)}  all ${ms(f.stopWall).padStart(8)}`
  );
}

async function main(): Promise<void> {
  const support = privateLibvirtdSupport();
  if (!support.ok || !support.lxc) {
    console.log(`bench:guests skipped: ${support.reason}`);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'remora-bench-'));
  const key = randomBytes(64);
  const keyFile = join(dir, 'authkey');
  await writeFile(keyFile, key, { mode: 0o400 });
  const t = performance.now();
  const lv = await startPrivateLibvirtd({ network: { address: '10.213.0.1/16' } });
  // Interrupted: still leave nothing behind.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      void lv.stop().finally(() => process.exit(130));
    });
  }
  console.log(
    `private libvirtd (own mount + network namespace, bridge br0) up in ${ms(performance.now() - t)}`,
  );
  console.log(
    `machine: ${cpus().length} cores, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} at start`,
  );
  console.log(
    'guests: libvirt-LXC, shared root, own netns on br0, init = remora remoted; ready = authenticated handshake',
  );
  try {
    for (const n of COUNTS) {
      console.log(`\n${n} guest${n > 1 ? 's' : ''} concurrently`);
      const lxc = await lxcGuests(lv, n, dir, keyFile, key);
      const bare = await bareDaemons(n, dir, keyFile, key);
      const floor = await floorContainers(lv, n);
      console.log(row('LXC + remoted', lxc));
      console.log(row('bare remoted (ref)', bare));
      console.log(row('LXC sh init (floor)', floor));
      console.log(
        `ratio LXC/bare: start p50 ${(pct(lxc.start, 50) / pct(bare.start, 50)).toFixed(2)}x, all ${(lxc.startWall / bare.startWall).toFixed(2)}x;` +
          ` stop p50 ${(pct(lxc.stop, 50) / pct(bare.stop, 50)).toFixed(2)}x, all ${(lxc.stopWall / bare.stopWall).toFixed(2)}x`,
      );
    }
  } finally {
    await lv.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
