import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A real systemd booted with systemd-nspawn on the host's root (volatile), with our test units. */
export interface SystemdContainer {
  /** `/proc/<container init>/root`: pass as `systemd.rootDir`. */
  readonly rootDir: string;
  readonly initPid: number;
  stop(): Promise<void>;
}

/** The container's init: the child of nspawn running `systemd` (nspawn forks helpers first). */
function initPidOf(nspawnPid: number): number | undefined {
  try {
    const out = execFileSync('ps', ['--ppid', String(nspawnPid), '-o', 'pid=,comm='], {
      encoding: 'utf8',
    });
    const line = out.split('\n').find((l) => l.trim().endsWith(' systemd'));
    return line === undefined ? undefined : Number.parseInt(line.trim(), 10);
  } catch {
    return undefined;
  }
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Boot a container; units are `name → unit file text`, installed in its /etc/systemd/system. */
export async function bootSystemd(
  units: Readonly<Record<string, string>>,
): Promise<SystemdContainer> {
  const dir = await mkdtemp(join(tmpdir(), 'remora-nspawn-'));
  const unitsDir = join(dir, 'units');
  await mkdir(unitsDir);
  for (const [name, text] of Object.entries(units)) await writeFile(join(unitsDir, name), text);
  const machineId = join(dir, 'machine-id');
  await writeFile(machineId, execFileSync('systemd-id128', ['new'], { encoding: 'utf8' }));
  const log = await open(join(dir, 'log'), 'w');
  const name = `remora-t${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  const nspawn: ChildProcess = spawn(
    'systemd-nspawn',
    [
      '-D',
      '/',
      '--volatile=yes',
      '--register=no',
      '--keep-unit',
      '-M',
      name,
      '--private-network',
      `--bind-ro=${machineId}:/etc/machine-id`,
      `--bind-ro=${unitsDir}:/etc/systemd/system`,
      '-b',
      'systemd.firstboot=off',
    ],
    { detached: true, stdio: ['ignore', log.fd, log.fd] },
  );
  await log.close();
  const exited = new Promise<void>((resolve) => nspawn.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (nspawn.exitCode === null && nspawn.signalCode === null) {
      nspawn.kill('SIGTERM'); // powers the container off
      const killer = setTimeout(() => {
        try {
          process.kill(-nspawn.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 10_000);
      await exited;
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const initPid = await waitFor('the container init', 10_000, () => initPidOf(nspawn.pid!));
    const rootDir = `/proc/${initPid}/root`;
    await waitFor('the container system bus', 20_000, () =>
      existsSync(join(rootDir, 'run/dbus/system_bus_socket')) ? true : undefined,
    );
    return { rootDir, initPid, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
