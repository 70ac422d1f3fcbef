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

/** An operator request names something the CIB does not have, or is not allowed. */
export class OperatorRequestError extends ControllerError {
  constructor(
    readonly request: string,
    readonly detail: string,
  ) {
    super(`${request}: ${detail}`);
  }
}
