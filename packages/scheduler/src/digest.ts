/**
 * Configuration changes of active resources: Pacemaker records an `op-digest`
 * (md5 of the parameters an operation ran with) in each history entry; when
 * today's parameters give another digest, the resource restarts ("due to
 * resource definition change") and a recurring monitor is rescheduled.
 */
import { createHash } from 'node:crypto';
import type { OperationRecord } from '@remora/cib';
import { escapeAttr } from '@remora/cib';
import type { Rsc, SNode } from './model';

function olderThan(version: string, ref: readonly number[]): boolean {
  const v = version.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < ref.length; i++) {
    const a = v[i] ?? 0;
    const b = ref[i] ?? 0;
    if (a !== b) return a < b;
  }
  return false;
}

/** The digest Pacemaker (feature set 3.x) records for an operation with these parameters. */
export function parametersDigest(params: Readonly<Record<string, string>>): string {
  const body = Object.keys(params)
    .sort()
    .map((k) => ` ${k}="${escapeAttr(params[k] as string)}"`)
    .join('');
  return createHash('md5').update(` <parameters${body}/>\n`).digest('hex');
}

export interface ConfigChange {
  readonly rsc: Rsc;
  readonly node: SNode;
  /** `restart` for the resource, or the recurring operation to reschedule. */
  readonly kind: 'restart' | 'reschedule';
  readonly task: string;
  readonly interval: number;
}

/** Operations since the last start whose recorded digest no longer matches the configuration. */
export function configChanges(
  rsc: Rsc,
  node: SNode,
  ops: readonly OperationRecord[],
  startIndex: number,
  timeoutOf: (task: string, interval: number) => number | undefined,
): ConfigChange[] {
  const out: ConfigChange[] = [];
  ops.forEach((op, i) => {
    if (i < startIndex) return;
    const task = op.operation;
    const interval = op.interval;
    if (!(interval > 0 || ['monitor', 'start', 'promote', 'migrate_from'].includes(task))) return;
    const recorded = op.opDigest;
    const version = op.attributes.crm_feature_set;
    if (!recorded || !version || olderThan(version, [3, 0, 5])) return;
    if (op.attributes['op-restart-digest'] !== undefined) return; // reloadable agents: not modelled
    if (op.opStatus === -1) return;
    // fence devices and private parameters are digested differently (secure digests): not modelled
    if (rsc.cls === 'stonith' || op.attributes['op-secure-params'] !== undefined) return;
    const params: Record<string, string> = { ...rsc.params };
    if (interval > 0) {
      const timeout = timeoutOf(task, interval);
      if (timeout === undefined) return; // orphaned recurring operation: cancelled elsewhere
      params.CRM_meta_timeout = String(timeout);
    }
    if (parametersDigest(params) === recorded) return;
    out.push({ rsc, node, kind: interval > 0 ? 'reschedule' : 'restart', task, interval });
  });
  return out;
}
