import { OcfRc } from '@remora/agent-runner';

/** A domain's state as `virsh domstate` names it, plus `absent` (no such domain). */
export const DomainState = {
  RUNNING: 'running',
  IDLE: 'idle',
  BLOCKED: 'blocked',
  PAUSED: 'paused',
  IN_SHUTDOWN: 'in shutdown',
  SHUT_OFF: 'shut off',
  CRASHED: 'crashed',
  PM_SUSPENDED: 'pmsuspended',
  NO_STATE: 'no state',
  /** Not defined on the connection (transient and stopped, or never defined). */
  ABSENT: 'absent',
} as const;
export type DomainState = (typeof DomainState)[keyof typeof DomainState];

const KNOWN = new Set<string>(Object.values(DomainState));

/** What `virsh domstate --reason` says: the state and libvirt's reason for it. */
export interface DomainStatus {
  readonly state: DomainState;
  /** e.g. `booted`, `shutdown`, `destroyed`, `crashed`, `user`, `migrated` (lower case). */
  readonly reason: string;
}

/** Parse `running (booted)` / `shut off (destroyed)`. Unknown words raise a clear error. */
export function parseDomState(output: string): DomainStatus {
  const text = output.trim().toLowerCase();
  const m = /^(.*?)(?:\s*\(([^)]*)\))?$/.exec(text);
  const state = (m?.[1] ?? text).trim();
  if (!KNOWN.has(state)) {
    throw new Error(`virsh domstate answered an unknown state: "${output.trim()}"`);
  }
  return { state: state as DomainState, reason: (m?.[2] ?? '').trim() };
}

/**
 * The OCF monitor result for a state, as `ocf:heartbeat:VirtualDomain`
 * decides it: running, idle, blocked, paused, in shutdown (and pmsuspended)
 * are "running" (0); shut off and absent are "not running" (7); crashed and
 * anything else are a failure (1). `no state` is also 1: VirtualDomain retries
 * it, and so does {@link Domain.monitor}, before giving this answer.
 */
export function ocfRcForState(state: DomainState): OcfRc {
  switch (state) {
    case DomainState.RUNNING:
    case DomainState.IDLE:
    case DomainState.BLOCKED:
    case DomainState.PAUSED:
    case DomainState.IN_SHUTDOWN:
    case DomainState.PM_SUSPENDED:
      return OcfRc.SUCCESS;
    case DomainState.SHUT_OFF:
    case DomainState.ABSENT:
      return OcfRc.NOT_RUNNING;
    default:
      return OcfRc.ERR_GENERIC;
  }
}

/** Whether a domain in this state is active (has processes / a running hypervisor). */
export function isActive(state: DomainState): boolean {
  return ocfRcForState(state) === OcfRc.SUCCESS;
}
