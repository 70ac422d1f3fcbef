/**
 * Exit codes of the `remora` command, stable across releases.
 *
 * They follow Pacemaker's tools (crm_exit_t) so scripts written for
 * crm_resource or crm_mon keep working. `remora agent run` is the exception:
 * it exits with the agent's OCF rc (0-9, 190, 191) so it can stand in for the
 * agent itself.
 */
export const ExitCode = {
  /** Success. */
  OK: 0,
  /** Unspecified error. */
  ERROR: 1,
  /** An argument or option had an invalid value. */
  INVALID_PARAM: 2,
  /** Requested action not implemented. */
  UNIMPLEMENT_FEATURE: 3,
  /** Insufficient privileges. */
  INSUFFICIENT_PRIV: 4,
  /** Needed software (agent, tool) is not installed. */
  NOT_INSTALLED: 5,
  /** Configuration is invalid. */
  NOT_CONFIGURED: 6,
  /** The thing asked about is not running. */
  NOT_RUNNING: 7,
  /** Command-line usage error (unknown option, missing argument). */
  USAGE: 64,
  /** Input data was invalid (e.g. malformed CIB XML). */
  DATAERR: 65,
  /** Input file missing or unreadable. */
  NOINPUT: 66,
  /** A needed service is unavailable. */
  UNAVAILABLE: 69,
  /** Internal error: a bug in remora. */
  SOFTWARE: 70,
  /** The CIB (or another input) fails validation. */
  CONFIG: 78,
  /** Not connected to a cluster (e.g. on a remote node with no controller). */
  DISCONNECT: 102,
  /** The named resource, node or attribute does not exist. */
  NOSUCH: 105,
  /** The operation timed out. */
  TIMEOUT: 124,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
