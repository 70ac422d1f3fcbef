import type { AgentId } from './agent-id';
import type { ExecStatus, OcfRc } from './result-codes';

/** One operation to run: an action of a resource's agent. */
export interface OperationRequest {
  /** The resource id; operations of one resource run one at a time. */
  readonly resourceId: string;
  /** `ocf:heartbeat:Dummy`, `lsb:atd`, `systemd:nginx`, `upstart:foo`, `service:x`. */
  readonly agent: string | AgentId;
  /** start, stop, monitor, meta-data, validate-all, promote, demote, notify, reload, ... */
  readonly action: string;
  /** Instance parameters (`OCF_RESKEY_<name>`). */
  readonly params?: Readonly<Record<string, string>>;
  /**
   * Meta-attributes (`OCF_RESKEY_CRM_meta_<name>`, `-` becomes `_`). `timeout`
   * and `interval` are set from the fields below, in milliseconds.
   */
  readonly meta?: Readonly<Record<string, string>>;
  /** Milliseconds between runs of a recurring operation; 0 (default) runs once. */
  readonly interval?: number;
  /** Milliseconds to wait before the (first) run; Pacemaker's `start-delay`. */
  readonly startDelay?: number;
  /** Milliseconds the agent may run before its process group is killed. Default 20 000. */
  readonly timeout?: number;
}

/** How an operation ended. Reported for every operation, also when it failed to run. */
export interface OperationResult {
  /** Unique per runner, increasing; recurring operations keep theirs across runs. */
  readonly callId: number;
  readonly resourceId: string;
  /** The agent identity as `class:provider:type` (after `service:` resolution). */
  readonly agent: string;
  readonly action: string;
  /** Milliseconds; 0 for a one-shot operation. */
  readonly interval: number;
  /** Pacemaker's operation key: `<resource>_<action>_<interval>`. */
  readonly operationKey: string;
  /** The agent's answer, mapped to OCF (LSB status codes and systemd states included). */
  readonly rc: OcfRc;
  /** How the operation was carried out. */
  readonly execStatus: ExecStatus;
  /** Last `ocf-exit-reason:` line of the agent, or the runner's reason (`timed out after 20000ms`). */
  readonly exitReason: string;
  /** The agent's raw exit status (null when it did not exit normally or did not run). */
  readonly exitCode: number | null;
  /** The signal that ended the agent, when one did. */
  readonly signal: string | null;
  /** The tail of the agent's stdout (at most `outputTailBytes`). */
  readonly stdout: string;
  /** The tail of the agent's stderr (at most `outputTailBytes`). */
  readonly stderr: string;
  /** When the agent was started (epoch milliseconds). */
  readonly startTime: number;
  /** Milliseconds the agent ran. */
  readonly runTime: number;
  /** Milliseconds the operation waited (resource busy, concurrency cap) before it started. */
  readonly queueTime: number;
}

/** Pacemaker's operation key: `<resource>_<action>_<interval ms>`. */
export function operationKey(resourceId: string, action: string, interval: number): string {
  return `${resourceId}_${action}_${interval}`;
}
