import type { OperationRequest as WireRequest } from './gen/remora/remote/v1/remote';

/**
 * Resource ids: letters, digits and `_ . : @ + -`, starting with a letter,
 * digit or `_`, at most 255 characters (Pacemaker ids, clone instances
 * `rsc:0`); no `/`, `..`, spaces or shell metacharacters.
 */
const RESOURCE_ID = /^[A-Za-z0-9_][A-Za-z0-9_.:@+-]{0,254}$/;
/** One part of an agent name (class, provider, type; systemd units may carry `@`). */
const AGENT_PART = /^[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,127}$/;
const ACTION = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/** Why a resource id is refused, or undefined when it is acceptable. */
export function checkResourceId(id: string): string | undefined {
  if (!RESOURCE_ID.test(id) || id.includes('..'))
    return `resource id '${printable(id)}' is not acceptable: 1-255 letters, digits or _ . : @ + -, starting with a letter, digit or _, no '..'`;
  return undefined;
}

/** Why an agent name is refused, or undefined (`class:provider:type` or `class:type`). */
export function checkAgentName(agent: string): string | undefined {
  const parts = agent.split(':');
  if (
    parts.length < 2 ||
    parts.length > 3 ||
    parts.some((p) => !AGENT_PART.test(p) || p.includes('..'))
  )
    return `agent '${printable(agent)}' is not acceptable: class:provider:type or class:type, each part letters, digits or _ . @ + -, no '/' or '..'`;
  return undefined;
}

/** Why an operation request is refused (naming the field), or undefined. */
export function checkRequest(r: WireRequest): string | undefined {
  const id = checkResourceId(r.resourceId);
  if (id) return id;
  const agent = checkAgentName(r.agent);
  if (agent) return agent;
  if (!ACTION.test(r.action)) return `action '${printable(r.action)}' is not an action name`;
  return undefined;
}

function printable(s: string): string {
  const cut = s.length > 80 ? `${s.slice(0, 80)}…` : s;
  return [...cut]
    .map((c) =>
      c < ' ' || c === '\x7f' ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}` : c,
    )
    .join('');
}
