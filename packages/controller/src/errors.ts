/** Base class of every error thrown by @remora/controller. */
export class ControllerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A transition graph that is not what the scheduler writes. */
export class GraphFormatError extends ControllerError {
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(`transition graph ${path}: ${detail}`);
  }
}

/** The scheduler could not compute a transition. */
export class SchedulerError extends ControllerError {
  constructor(
    readonly scheduler: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`scheduler ${scheduler}: ${detail}`, options);
  }
}

/** An action names a node the controller has no executor for. */
export class NoExecutorError extends ControllerError {
  constructor(readonly node: string) {
    super(`no executor for node ${node} (not connected)`);
  }
}

/** A node could not be fenced (no device, or every device failed). */
export class FencingError extends ControllerError {
  constructor(
    readonly target: string,
    readonly detail: string,
  ) {
    super(`fencing ${target}: ${detail}`);
  }
}

/**
 * Exit codes of operator requests, the numbers of Pacemaker's `crm_exit_t`
 * (the `remora` CLI exits with them unchanged).
 */
export const OperatorExit = {
  ok: 0,
  error: 1,
  invalidParam: 2,
  unimplemented: 3,
  notRunning: 7,
  usage: 64,
  software: 70,
  disconnect: 102,
  noSuchObject: 105,
  timeout: 124,
} as const;
export type OperatorExit = (typeof OperatorExit)[keyof typeof OperatorExit];

/** A request an operator tool cannot have carried out: message and exit code. */
export class OperatorError extends ControllerError {
  constructor(
    message: string,
    readonly exitCode: OperatorExit = OperatorExit.error,
  ) {
    super(message);
  }
}

/**
 * An operator request made through the controller's typed API (Controller.standby,
 * move, ...) that names something the CIB does not have, or is not allowed:
 * the request as words, what is wrong, and the exit code the CLI would use.
 */
export class OperatorRequestError extends OperatorError {
  constructor(
    readonly request: string,
    readonly detail: string,
    exitCode: OperatorExit = OperatorExit.invalidParam,
  ) {
    super(`${request}: ${detail}`, exitCode);
  }
}
