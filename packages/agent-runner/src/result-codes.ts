/**
 * OCF exit codes (the "rc" of an operation), as in the OCF resource agent
 * API 1.1 and Pacemaker. Any other exit status of an agent is reported as
 * {@link OcfRc.ERR_GENERIC}.
 */
export const OcfRc = {
  SUCCESS: 0,
  ERR_GENERIC: 1,
  ERR_ARGS: 2,
  ERR_UNIMPLEMENTED: 3,
  ERR_PERM: 4,
  ERR_INSTALLED: 5,
  ERR_CONFIGURED: 6,
  NOT_RUNNING: 7,
  RUNNING_PROMOTED: 8,
  FAILED_PROMOTED: 9,
  DEGRADED: 190,
  DEGRADED_PROMOTED: 191,
} as const;
export type OcfRc = (typeof OcfRc)[keyof typeof OcfRc];

const RC_NAMES: Readonly<Record<OcfRc, string>> = {
  0: 'ok',
  1: 'error',
  2: 'invalid parameter',
  3: 'unimplemented feature',
  4: 'insufficient privileges',
  5: 'not installed',
  6: 'not configured',
  7: 'not running',
  8: 'promoted',
  9: 'promoted (failed)',
  190: 'degraded',
  191: 'promoted (degraded)',
};

/** Whether a number is one of the OCF exit codes. */
export function isOcfRc(value: number): value is OcfRc {
  return Object.prototype.hasOwnProperty.call(RC_NAMES, value);
}

/** Map an agent's exit status to an OCF rc: 0-9, 190, 191 pass, anything else is 1. */
export function toOcfRc(exitCode: number): OcfRc {
  return isOcfRc(exitCode) ? exitCode : OcfRc.ERR_GENERIC;
}

/** The human-readable name Pacemaker's tools print for an rc (`not running`). */
export function ocfRcName(rc: OcfRc): string {
  return RC_NAMES[rc];
}

/**
 * How an operation was carried out (Pacemaker's execution status), separate
 * from what the agent answered (the rc).
 */
export const ExecStatus = {
  /** The agent ran and exited; its rc is the answer. */
  done: 'done',
  /** Cancelled by the caller (AbortSignal, cancel of a recurring operation, stop, close). */
  cancelled: 'cancelled',
  /** The timeout expired; the whole process group was killed; rc is ERR_GENERIC. */
  timedOut: 'timed-out',
  /** The agent could not be run or ended abnormally (e.g. killed by a signal). */
  error: 'error',
  /** The agent does not exist; rc is ERR_INSTALLED. */
  notInstalled: 'not-installed',
  /** The class does not support this action. */
  notSupported: 'not-supported',
} as const;
export type ExecStatus = (typeof ExecStatus)[keyof typeof ExecStatus];
