/**
 * The only module that runs `virsh` (through execa, an ESM-only library
 * loaded with a dynamic import). Every command runs with `LC_ALL=C` so
 * libvirt's messages can be recognised, and with a timeout and an optional
 * AbortSignal.
 */
import type * as ExecaModule from 'execa';
import type { ResultPromise } from 'execa';
import { VirshNotFoundError } from './errors';

type Execa = typeof ExecaModule;
let execaModule: Promise<Execa> | undefined;
function loadExeca(): Promise<Execa> {
  execaModule ??= import('execa');
  return execaModule;
}

export interface VirshRunOptions {
  /** Path or name of virsh (default `virsh`). */
  readonly virsh: string;
  /** Connection URI (`-c`). */
  readonly uri: string;
  readonly args: readonly string[];
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Text given on stdin. */
  readonly input?: string;
}

/** How a virsh command ended. Never an exception, except when virsh cannot be started at all. */
export interface VirshOutput {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly aborted: boolean;
}

const ENV = { LC_ALL: 'C', LANG: 'C' } as const;

function isNotFound(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return code === 'ENOENT' || code === 'EACCES';
}

/** Run one virsh command to its end. Throws VirshNotFoundError when virsh cannot be started. */
export async function runVirsh(options: VirshRunOptions): Promise<VirshOutput> {
  const { execa } = await loadExeca();
  const result = await execa(options.virsh, ['-q', '-c', options.uri, ...options.args], {
    reject: false,
    timeout: options.timeoutMs,
    cancelSignal: options.signal,
    input: options.input,
    stdin: options.input === undefined ? 'ignore' : 'pipe',
    env: ENV,
    extendEnv: true,
    stripFinalNewline: true,
  });
  if (result.failed && result.exitCode === undefined && !result.timedOut && !result.isCanceled) {
    if (isNotFound(result.cause) || isNotFound(result)) {
      throw new VirshNotFoundError(options.virsh, { cause: result.cause });
    }
  }
  return {
    exitCode: result.exitCode ?? null,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    timedOut: result.timedOut,
    aborted: result.isCanceled,
  };
}

/** A long-running virsh (interactive shell reading commands from stdin). */
export interface VirshProcess {
  /** stdout, line by line. */
  readonly lines: AsyncIterable<string>;
  /** stderr so far. */
  stderr(): string;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<{ exitCode: number | null; spawnError?: unknown }>;
  kill(): void;
}

/**
 * Start virsh in shell mode with `commands` on stdin (kept open),
 * its stdout line-buffered (`stdbuf -oL`: virsh does not flush a pipe).
 * A missing virsh shows as exit code 127.
 */
export async function spawnVirshShell(
  virsh: string,
  uri: string,
  commands: readonly string[],
  onStderr?: (text: string) => void,
): Promise<VirshProcess> {
  const { execa } = await loadExeca();
  const child: ResultPromise<{
    reject: false;
    buffer: false;
    stdin: 'pipe';
  }> = execa('stdbuf', ['-oL', virsh, '-q', '-c', uri], {
    reject: false,
    buffer: false,
    stdin: 'pipe',
    env: ENV,
    extendEnv: true,
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8192);
    onStderr?.(stderr);
  });
  child.stdin?.on('error', () => undefined);
  // stdin stays open: `virsh event --loop` ends when its stdin does.
  child.stdin?.write(commands.map((c) => `${c}\n`).join(''));
  const exited = child.then(
    (r) => ({
      exitCode: r.exitCode ?? null,
      spawnError: r.failed && r.exitCode === undefined && !r.isTerminated ? r.cause : undefined,
    }),
    (err: unknown) => ({ exitCode: null, spawnError: err }),
  );
  const lines = child.iterable({ from: 'stdout', preserveNewlines: false }) as AsyncIterable<
    string | Uint8Array
  >;
  return {
    lines: (async function* () {
      try {
        for await (const line of lines) yield String(line);
      } catch {
        // the process ended (killed, or failed); `exited` tells how
      }
    })(),
    stderr: () => stderr,
    exited,
    kill: () => {
      child.stdin?.destroy();
      child.kill('SIGTERM');
    },
  };
}

/** Turn a spawn failure of `spawnVirshShell` into VirshNotFoundError when that is what it is. */
export function spawnFailure(virsh: string, err: unknown): Error {
  if (isNotFound(err) || isNotFound((err as { cause?: unknown } | undefined)?.cause)) {
    return new VirshNotFoundError(virsh, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}
