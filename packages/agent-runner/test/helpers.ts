import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throw-away directory tree with OCF agents, init scripts and an initctl. */
export interface Sandbox {
  readonly dir: string;
  readonly ocfRoot: string;
  readonly lsbRoot: string;
  /** Write an executable script; returns its path. */
  script(path: string, body: string): Promise<string>;
  /** Write an OCF agent `ocf:test:<type>`. */
  ocfAgent(type: string, body: string): Promise<string>;
  remove(): Promise<void>;
}

export async function makeSandbox(): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'remora-ar-'));
  const ocfRoot = join(dir, 'ocf');
  const lsbRoot = join(dir, 'init.d');
  await mkdir(join(ocfRoot, 'resource.d', 'test'), { recursive: true });
  await mkdir(lsbRoot, { recursive: true });
  const script = async (path: string, body: string): Promise<string> => {
    const full = path.startsWith('/') ? path : join(dir, path);
    await writeFile(full, body);
    await chmod(full, 0o755);
    return full;
  };
  return {
    dir,
    ocfRoot,
    lsbRoot,
    script,
    ocfAgent: (type, body) => script(join(ocfRoot, 'resource.d', 'test', type), body),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Pids of live processes whose command line contains `marker`. */
export function processesWith(marker: string): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes(marker) && !line.includes('ps -eo'))
    .map((line) => Number.parseInt(line.trim(), 10))
    .filter((pid) => pid !== process.pid);
}
