/**
 * Running scheduler commands (crm_simulate, `remora simulate`, crm_verify)
 * as child processes with a timeout, killing the whole process group.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';
import { performance } from 'node:perf_hooks';

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  /** Wall time in milliseconds. */
  readonly ms: number;
}

export interface RunOptions {
  /** Milliseconds; the process group gets SIGKILL after that. */
  readonly timeoutMs?: number;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** Run argv[0] with argv[1..]; never throws for a non-zero exit (spawn failures reject). */
export function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    const timer =
      options.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            try {
              process.kill(-child.pid!, 'SIGKILL');
            } catch {
              // already gone
            }
          }, options.timeoutMs)
        : undefined;
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`cannot run ${argv[0]}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        ms: performance.now() - t0,
      });
    });
  });
}

/**
 * Split a command line the way a POSIX shell would for simple cases:
 * white space separates words; single and double quotes group; backslash escapes.
 */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote in command: ${line}`);
  if (inWord) words.push(cur);
  if (words.length === 0) throw new Error('empty command');
  return words;
}

/** The path of an executable (a path with a slash is checked as is; else searched in PATH), or undefined. */
export function findExecutable(name: string, cwd = process.cwd()): string | undefined {
  const candidates = name.includes('/')
    ? [isAbsolute(name) ? name : join(cwd, name)]
    : (process.env['PATH'] ?? '')
        .split(delimiter)
        .concat(['/usr/sbin', '/sbin'])
        .filter(Boolean)
        .map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Check that a candidate command exists and works at all: it must print a
 * "Transition Summary:" for a one-node CIB (`CMD -x FILE -S`). Returns an
 * error message naming the command and what it said, or undefined.
 */
export async function checkCandidate(
  argv: readonly string[],
  cwd = process.cwd(),
  timeoutMs = 60000,
): Promise<string | undefined> {
  const exe = findExecutable(argv[0]!, cwd);
  if (!exe) return `command not found: ${argv[0]} (from "${argv.join(' ')}")`;
  const dir = mkdtempSync(join(tmpdir(), 'remora-check-'));
  try {
    const file = join(dir, 'cib.xml');
    writeFileSync(file, TRIVIAL_CIB);
    const r = await run([exe, ...argv.slice(1), '-x', file, '-S'], { timeoutMs, cwd });
    if (r.timedOut) return `"${argv.join(' ')}" timed out on a one-node CIB`;
    if (!/^Transition Summary:/m.test(r.stdout)) {
      const said = (r.stderr.trim() || r.stdout.trim()).split('\n')[0] ?? '';
      return `"${argv.join(' ')} -x CIB -S" does not work yet (exit ${r.code ?? r.signal}, no "Transition Summary:"): ${said}`;
    }
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const TRIVIAL_CIB = `<cib epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7" have-quorum="1">
  <configuration>
    <crm_config><cluster_property_set id="o"><nvpair id="o-s" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="node1"/></nodes>
    <resources><primitive id="r1" class="ocf" provider="heartbeat" type="Dummy"/></resources>
    <constraints/>
  </configuration>
  <status><node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/></status>
</cib>
`;

/** Bounded-parallel map preserving order. */
export async function mapPool<T, R>(
  items: readonly T[],
  jobs: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
  return out;
}
