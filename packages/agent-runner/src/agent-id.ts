import { InvalidAgentIdError, UnknownAgentClassError } from './errors';

/** Resource agent classes (Pacemaker's "standards"). */
export const AgentClass = {
  ocf: 'ocf',
  lsb: 'lsb',
  systemd: 'systemd',
  upstart: 'upstart',
  /** Resolves to `lsb` when `/etc/init.d/<type>` exists, else `systemd`. */
  service: 'service',
} as const;
export type AgentClass = (typeof AgentClass)[keyof typeof AgentClass];

const CLASSES: readonly AgentClass[] = Object.values(AgentClass);

/** A parsed agent identity: `ocf:heartbeat:Dummy`, `lsb:atd`, `systemd:nginx`. */
export interface AgentId {
  readonly class: AgentClass;
  /** Only for `ocf` (e.g. `heartbeat`, `pacemaker`). */
  readonly provider?: string;
  /** The agent name: OCF script, init script, unit or job. */
  readonly type: string;
}

/** Names that are safe as one path component and as a unit or job name. */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.@+-]*$/;
const PROVIDER = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Whether a string is a class remora knows. */
export function isAgentClass(value: string): value is AgentClass {
  return (CLASSES as readonly string[]).includes(value);
}

/**
 * Parse `class:provider:type` (OCF) or `class:type` (other classes). Throws
 * {@link InvalidAgentIdError} (or its subclass {@link UnknownAgentClassError})
 * naming what is wrong.
 */
export function parseAgentId(spec: string): AgentId {
  const first = spec.indexOf(':');
  if (first <= 0) {
    throw new InvalidAgentIdError(spec, "expected 'class:provider:type' or 'class:type'");
  }
  const cls = spec.slice(0, first);
  const rest = spec.slice(first + 1);
  if (!isAgentClass(cls)) throw new UnknownAgentClassError(spec, cls, CLASSES);
  if (cls === AgentClass.ocf) {
    const second = rest.indexOf(':');
    if (second < 0) {
      throw new InvalidAgentIdError(spec, "an OCF agent needs a provider: 'ocf:provider:type'");
    }
    const provider = rest.slice(0, second);
    const type = rest.slice(second + 1);
    if (!PROVIDER.test(provider)) {
      throw new InvalidAgentIdError(spec, `invalid provider '${provider}'`);
    }
    checkType(spec, type);
    return { class: cls, provider, type };
  }
  checkType(spec, rest);
  return { class: cls, type: rest };
}

function checkType(spec: string, type: string): void {
  if (type === '') throw new InvalidAgentIdError(spec, 'the agent type is empty');
  if (!NAME.test(type) || type.includes('..')) {
    throw new InvalidAgentIdError(spec, `invalid agent type '${type}'`);
  }
}

/** Accept an identity as string or object and return it parsed and checked. */
export function toAgentId(agent: string | AgentId): AgentId {
  if (typeof agent === 'string') return parseAgentId(agent);
  return parseAgentId(formatAgentId(agent));
}

/** Format an identity back to its string form. */
export function formatAgentId(agent: AgentId): string {
  return agent.provider !== undefined
    ? `${agent.class}:${agent.provider}:${agent.type}`
    : `${agent.class}:${agent.type}`;
}
