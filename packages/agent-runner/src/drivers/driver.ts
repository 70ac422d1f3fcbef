import type { OperationResult } from '../operation';
import type { AgentId } from '../agent-id';
import type { SpawnOutcome } from '../process-adapter';
import { ExecStatus, OcfRc, toOcfRc } from '../result-codes';

/** What a class driver gets to run one action. */
export interface DriverRequest {
  /** Resolved identity (never class `service`). */
  readonly agent: AgentId;
  readonly resourceId: string;
  readonly action: string;
  readonly params: Readonly<Record<string, string>>;
  readonly meta: Readonly<Record<string, string>>;
  readonly interval: number;
  readonly timeout: number;
  /** Aborted when the operation is cancelled; the driver stops at once. */
  readonly signal: AbortSignal;
}

/** What a driver reports; the runner adds identity and timings. */
export type DriverOutcome = Pick<
  OperationResult,
  'rc' | 'execStatus' | 'exitReason' | 'exitCode' | 'signal' | 'stdout' | 'stderr'
>;

/** One agent class: how to run actions and list agents. */
export interface AgentDriver {
  run(request: DriverRequest): Promise<DriverOutcome>;
  /** Agent types of this class (for OCF: of one provider), sorted. */
  listAgents(provider?: string): Promise<string[]>;
}

/** An outcome that comes from the runner, not from the agent. */
export function runnerOutcome(
  execStatus: ExecStatus,
  exitReason: string,
  rc: OcfRc = OcfRc.ERR_GENERIC,
  output: { stdout?: string; stderr?: string } = {},
): DriverOutcome {
  return {
    rc,
    execStatus,
    exitReason,
    exitCode: null,
    signal: null,
    stdout: output.stdout ?? '',
    stderr: output.stderr ?? '',
  };
}

export const EXIT_REASON_PREFIX = 'ocf-exit-reason:';
const MAX_EXIT_REASON = 512;

/** The last `ocf-exit-reason:` line of an agent's stderr, without the prefix. */
export function exitReasonOf(stderr: string): string {
  let at = stderr.lastIndexOf(EXIT_REASON_PREFIX);
  while (at > 0 && stderr[at - 1] !== '\n') {
    at = stderr.lastIndexOf(EXIT_REASON_PREFIX, at - 1);
  }
  if (at < 0) return '';
  const end = stderr.indexOf('\n', at);
  const line = stderr.slice(at + EXIT_REASON_PREFIX.length, end < 0 ? undefined : end).trim();
  return line.length > MAX_EXIT_REASON ? line.slice(0, MAX_EXIT_REASON) : line;
}

/**
 * Turn how a process ended into an outcome. `mapExit` maps a normal exit
 * status to an rc (OCF passes 0-9/190/191; LSB maps status codes).
 */
export function processOutcome(
  outcome: SpawnOutcome,
  file: string,
  timeout: number,
  mapExit: (exitCode: number) => OcfRc = toOcfRc,
): DriverOutcome {
  switch (outcome.kind) {
    case 'spawn-error':
      if (outcome.code === 'ENOENT' || outcome.code === 'ENOTDIR') {
        return runnerOutcome(
          ExecStatus.notInstalled,
          `agent not found: ${file}`,
          OcfRc.ERR_INSTALLED,
        );
      }
      if (outcome.code === 'EACCES' || outcome.code === 'EPERM') {
        return runnerOutcome(ExecStatus.error, `agent not executable: ${file}`, OcfRc.ERR_PERM);
      }
      return runnerOutcome(ExecStatus.error, `cannot run ${file}: ${outcome.message}`);
    case 'timed-out':
      return runnerOutcome(
        ExecStatus.timedOut,
        `timed out after ${timeout}ms`,
        OcfRc.ERR_GENERIC,
        outcome,
      );
    case 'aborted':
      return runnerOutcome(ExecStatus.cancelled, 'cancelled', OcfRc.ERR_GENERIC, outcome);
    case 'exited': {
      const reason = exitReasonOf(outcome.stderr);
      if (outcome.exitCode === null) {
        return {
          rc: OcfRc.ERR_GENERIC,
          execStatus: ExecStatus.error,
          exitReason: reason || `terminated by signal ${outcome.signal ?? 'unknown'}`,
          exitCode: null,
          signal: outcome.signal,
          stdout: outcome.stdout,
          stderr: outcome.stderr,
        };
      }
      return {
        rc: mapExit(outcome.exitCode),
        execStatus: ExecStatus.done,
        exitReason: reason,
        exitCode: outcome.exitCode,
        signal: null,
        stdout: outcome.stdout,
        stderr: outcome.stderr,
      };
    }
  }
}
