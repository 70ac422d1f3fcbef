/**
 * The only module that starts processes. Each agent runs in its own process
 * group (`detached: true`); a timeout or an abort kills the whole group with
 * SIGKILL, so children and grandchildren that keep stdout open cannot hang an
 * operation. The result arrives when the agent itself exits, not when every
 * holder of its stdout is gone.
 *
 * Uses node:child_process, not execa: execa 9 adds 1-2 ms to every spawn
 * (measured by `npm run bench:agents`, which runs both), above the 1.2x
 * budget for the per-operation overhead; the features it would bring (group
 * kill, bounded output, abort) are the few lines below.
 */
import { spawn } from 'node:child_process';
import { OutputTail } from './output-tail';

export interface SpawnOptions {
  readonly file: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Kill the process group after this many milliseconds (0 = never). */
  readonly timeout: number;
  readonly signal?: AbortSignal;
  /** Bytes of stdout and of stderr to keep (the tail). */
  readonly tailBytes: number;
}

/** How a spawned agent ended. */
export type SpawnOutcome =
  | {
      /** The agent exited (normally or by a signal nobody here sent). */
      readonly kind: 'exited';
      readonly exitCode: number | null;
      readonly signal: NodeJS.Signals | null;
      readonly stdout: string;
      readonly stderr: string;
    }
  | {
      /** The timeout expired (`timed-out`) or the signal aborted (`aborted`); the group was killed. */
      readonly kind: 'timed-out' | 'aborted';
      readonly stdout: string;
      readonly stderr: string;
    }
  | {
      /** The agent could not be started (ENOENT, EACCES, ...). */
      readonly kind: 'spawn-error';
      readonly code: string;
      readonly message: string;
    };

/**
 * After the agent exits, how long to wait for its stdout/stderr to reach
 * end-of-file before giving up on them (a forked daemon may hold them open).
 */
const DRAIN_GRACE_MS = 100;

/** Run one agent process to its end. Never rejects. */
export function spawnAgent(options: SpawnOptions): Promise<SpawnOutcome> {
  if (options.signal?.aborted) {
    return Promise.resolve({ kind: 'aborted', stdout: '', stderr: '' });
  }
  return new Promise<SpawnOutcome>((resolve) => {
    const stdout = new OutputTail(options.tailBytes);
    const stderr = new OutputTail(options.tailBytes);
    let killedFor: 'timed-out' | 'aborted' | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let openStreams = 2;
    let timer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    let settled = false;

    const child = spawn(options.file, options.args, {
      env: options.env,
      cwd: '/',
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });

    const killGroup = (why: 'timed-out' | 'aborted'): void => {
      if (exit || killedFor || child.pid === undefined) return;
      killedFor = why;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The group is already gone.
      }
    };
    const onAbort = (): void => killGroup('aborted');

    const finish = (outcome: SpawnOutcome): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (drainTimer) clearTimeout(drainTimer);
      options.signal?.removeEventListener('abort', onAbort);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve(outcome);
    };
    const finishExited = (): void => {
      if (!exit) return;
      if (killedFor) {
        finish({ kind: killedFor, stdout: stdout.text(), stderr: stderr.text() });
      } else {
        finish({
          kind: 'exited',
          exitCode: exit.code,
          signal: exit.signal,
          stdout: stdout.text(),
          stderr: stderr.text(),
        });
      }
    };

    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    const onStreamEnd = (): void => {
      openStreams--;
      if (openStreams === 0) finishExited();
    };
    child.stdout?.on('close', onStreamEnd);
    child.stderr?.on('close', onStreamEnd);

    child.on('error', (err: NodeJS.ErrnoException) => {
      if (child.pid === undefined) {
        finish({ kind: 'spawn-error', code: err.code ?? 'UNKNOWN', message: err.message });
      }
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      if (openStreams === 0) {
        finishExited();
      } else {
        drainTimer = setTimeout(finishExited, DRAIN_GRACE_MS);
      }
    });

    if (options.timeout > 0) timer = setTimeout(() => killGroup('timed-out'), options.timeout);
    if (options.signal) {
      options.signal.addEventListener('abort', onAbort, { once: true });
      if (options.signal.aborted) onAbort();
    }
  });
}
