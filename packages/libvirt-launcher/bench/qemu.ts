/**
 * bench:qemu — a software-emulated (TCG) QEMU guest through the launcher:
 * time from the start call to the guest's console saying it booted, a live
 * migration between two private libvirtds, and an ACPI shutdown.
 *
 * References measured in the same run:
 *  - bare QEMU: the same kernel and initramfs booted by `qemu-system-x86_64
 *    -accel tcg` directly (spawn -> the same console line);
 *  - QEMU's own migration: from "initiating migration" to "shutting down,
 *    reason=migrated" in the source QEMU's log (the rest of `virsh migrate`
 *    is libvirt starting and wiring the destination QEMU).
 *
 * Needs root and the Debian packages qemu-system-x86, linux-image-amd64,
 * busybox-static; run with `npm run bench:qemu [-- <runs>]` (default 1).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PrivateLibvirtd } from '../src';
import {
  launchGuest,
  privateLibvirtdSupport,
  qemuVm,
  startPrivateLibvirtd,
  stopGuest,
} from '../src';
import { waitConsole } from '../test/guest-testbed';
import type { GuestKernel } from '../test/qemu-guest';
import { GUEST_MODULES, guestScript, qemuPrerequisites, writeInitramfs } from '../test/qemu-guest';

const RUNS = Math.max(1, Number(process.argv[2] ?? 1) || 1);
const BOOTED = /REMORA-GUEST-BOOTED/;
const CMDLINE = 'console=ttyS0 quiet panic=-1';
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** Bare QEMU: spawn -> the console line; then kill it. */
async function bareBoot(kernel: GuestKernel, initrd: string): Promise<number> {
  const t0 = Date.now();
  const qemu = spawn(
    'qemu-system-x86_64',
    [
      '-accel',
      'tcg',
      '-m',
      '128',
      '-nodefaults',
      '-display',
      'none',
      '-no-reboot',
      '-serial',
      'stdio',
      '-kernel',
      kernel.kernel,
      '-initrd',
      initrd,
      '-append',
      CMDLINE,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    return await new Promise<number>((res, rej) => {
      let out = '';
      const timer = setTimeout(() => rej(new Error('bare QEMU did not boot in 180 s')), 180_000);
      qemu.stdout.on('data', (d: Buffer) => {
        out += d.toString('latin1');
        if (BOOTED.test(out)) {
          clearTimeout(timer);
          res(Date.now() - t0);
        }
      });
      qemu.once('exit', (code) => rej(new Error(`bare QEMU exited (${code}): ${out.slice(-500)}`)));
    });
  } finally {
    qemu.kill('SIGKILL');
  }
}

/** QEMU's own transfer time, from the source QEMU's log timestamps. */
async function qemuMigrationMs(lv: PrivateLibvirtd, name: string): Promise<number | undefined> {
  const log = await readFile(join(lv.dir, 'log', 'qemu', `${name}.log`), 'utf8').catch(() => '');
  const at = (re: RegExp): number | undefined => {
    const m = re.exec(log);
    return m ? Date.parse(m[1].replace(' ', 'T').replace(/\+0000$/, 'Z')) : undefined;
  };
  const start = at(/^(\S+ \S+): initiating migration$/m);
  const end = at(/^(\S+ \S+): shutting down, reason=migrated$/m);
  return start !== undefined && end !== undefined ? end - start : undefined;
}

async function main(): Promise<void> {
  const support = privateLibvirtdSupport();
  const pre = qemuPrerequisites();
  if (!support.ok || !pre.ok) {
    console.error(`bench:qemu cannot run here: ${support.ok ? pre.reason : support.reason}`);
    process.exitCode = 1;
    return;
  }
  const kernel = pre.kernel!;
  const dir = await mkdtemp(join(tmpdir(), 'remora-bq-'));
  const initrd = join(dir, 'initrd.gz');
  await writeInitramfs(initrd, { kernel, modules: GUEST_MODULES, script: guestScript() });
  console.log(
    `bench:qemu — ${cpus().length} CPUs, load average ${loadavg()[0].toFixed(1)}, kernel ${kernel.version}, TCG, ${RUNS} run(s)`,
  );
  const rows: Record<string, number[]> = {
    bare: [],
    libvirtd: [],
    start: [],
    boot: [],
    migrate: [],
    qemuMigrate: [],
    stop: [],
  };
  try {
    for (let run = 0; run < RUNS; run++) {
      rows.bare.push(await bareBoot(kernel, initrd));
      let t = Date.now();
      const [a, b] = await Promise.all([startPrivateLibvirtd(), startPrivateLibvirtd()]);
      rows.libvirtd.push(Date.now() - t);
      try {
        const name = `bq${run}`;
        const consoleLog = join(dir, `${name}.console.log`);
        const xml = qemuVm({
          name,
          type: 'qemu',
          memoryMiB: 128,
          boot: { kernel: kernel.kernel, initrd, cmdline: CMDLINE },
          interfaces: [{ bridge: 'br0' }],
          consoleLog,
        });
        t = Date.now();
        const { domain, startedMs } = await launchGuest({ connection: a.connection('qemu'), xml });
        rows.start.push(startedMs);
        await waitConsole(consoleLog, BOOTED, 180_000);
        rows.boot.push(Date.now() - t);
        await waitConsole(consoleLog, /REMORA-GUEST-TICK 2\b/, 30_000);
        t = Date.now();
        const moved = await domain.migrate(b.connection('qemu'), {
          migrateUri: `unix://${join(dir, `${name}.migrate.sock`)}`,
          timeoutMs: 180_000,
        });
        rows.migrate.push(Date.now() - t);
        const own = await qemuMigrationMs(a, name);
        if (own !== undefined) rows.qemuMigrate.push(own);
        const stop = await stopGuest(moved, { timeoutMs: 60_000 });
        if (stop.how !== 'shutdown') throw new Error(`guest was ${stop.how}, not shut down`);
        rows.stop.push(stop.elapsedMs);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const m = (k: string): number => median(rows[k]);
  const table: [string, string, string][] = [
    [`figure (median of ${RUNS})`, 'time', 'reference'],
    ['bare qemu-system-x86_64 -accel tcg: spawn -> booted', s(m('bare')), '(reference)'],
    ['two private libvirtds started (concurrently)', s(m('libvirtd')), ''],
    ['launchGuest (define + start through libvirt)', s(m('start')), ''],
    [
      'start call -> booted (console)',
      s(m('boot')),
      `${(m('boot') / m('bare')).toFixed(2)}x bare QEMU`,
    ],
    [
      'live migration, virsh migrate end to end',
      s(m('migrate')),
      rows.qemuMigrate.length
        ? `QEMU's own transfer ${s(m('qemuMigrate'))} (${(m('migrate') / m('qemuMigrate')).toFixed(1)}x)`
        : "QEMU's own: not in its log",
    ],
    ['ACPI shutdown -> gone', s(m('stop')), ''],
  ];
  const width = [0, 1, 2].map((c) => Math.max(...table.map((r) => r[c].length)));
  const line = (r: string[]): string => `| ${r.map((x, c) => x.padEnd(width[c])).join(' | ')} |`;
  console.log(line(table[0]));
  console.log(line(width.map((w) => '-'.repeat(w))));
  for (const r of table.slice(1)) console.log(line(r));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
