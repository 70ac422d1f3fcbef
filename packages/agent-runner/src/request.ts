import type { AgentId } from './agent-id';
import { formatAgentId, toAgentId } from './agent-id';
import { InvalidParameterError, InvalidRequestError } from './errors';
import type { OperationRequest } from './operation';

/** A request checked and completed with defaults. */
export interface NormalizedRequest {
  readonly resourceId: string;
  readonly agent: AgentId;
  readonly agentSpec: string;
  readonly action: string;
  readonly params: Readonly<Record<string, string>>;
  readonly meta: Readonly<Record<string, string>>;
  readonly interval: number;
  readonly startDelay: number;
  readonly timeout: number;
}

// eslint-disable-next-line no-control-regex -- control characters are exactly what ids must not contain
const RESOURCE_ID = /^[^\s\x00-\x1f/]{1,255}$/;
const ACTION = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const META_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,127}$/;
/** setTimeout's limit (about 24.8 days). */
const MAX_MS = 2 ** 31 - 1;

function duration(field: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > MAX_MS) {
    throw new InvalidRequestError(
      field,
      `expected whole milliseconds between ${min} and ${MAX_MS}, got ${String(value)}`,
    );
  }
  return value;
}

function names(
  kind: 'param' | 'meta',
  values: Readonly<Record<string, string>> | undefined,
): Readonly<Record<string, string>> {
  if (values === undefined) return {};
  const pattern = kind === 'param' ? PARAM_NAME : META_NAME;
  for (const [name, value] of Object.entries(values)) {
    if (!pattern.test(name)) {
      throw new InvalidParameterError(
        kind,
        name,
        kind === 'param'
          ? 'names are letters, digits and _ (not starting with a digit), as OCF_RESKEY_<name> must be a shell variable'
          : 'names are letters, digits, _ and -',
      );
    }
    if (typeof value !== 'string') {
      throw new InvalidParameterError(kind, name, `value must be a string, got ${typeof value}`);
    }
    if (value.includes('\0')) {
      throw new InvalidParameterError(kind, name, 'value contains a NUL byte');
    }
    if (kind === 'meta' && (name === 'timeout' || name === 'interval')) {
      throw new InvalidParameterError(
        kind,
        name,
        `set the request's ${name} field (milliseconds) instead`,
      );
    }
  }
  return values;
}

/** Check a request (throws the package's typed errors) and fill in defaults. */
export function normalizeRequest(
  request: OperationRequest,
  defaultTimeout: number,
): NormalizedRequest {
  if (typeof request.resourceId !== 'string' || !RESOURCE_ID.test(request.resourceId)) {
    throw new InvalidRequestError(
      'resourceId',
      `'${String(request.resourceId)}' is not a resource id (1-255 characters, no spaces, control characters or '/')`,
    );
  }
  if (typeof request.action !== 'string' || !ACTION.test(request.action)) {
    throw new InvalidRequestError('action', `'${String(request.action)}' is not an action name`);
  }
  const agent = toAgentId(request.agent);
  return {
    resourceId: request.resourceId,
    agent,
    agentSpec: formatAgentId(agent),
    action: request.action,
    params: names('param', request.params),
    meta: names('meta', request.meta),
    interval: duration('interval', request.interval, 0, 0),
    startDelay: duration('startDelay', request.startDelay, 0, 0),
    timeout: duration('timeout', request.timeout, defaultTimeout, 1),
  };
}
