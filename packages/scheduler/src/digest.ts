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
import { expiredRecurringFailures, olderFeatureSet } from './unpack';

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
  /**
   * `restart` for the resource, `reload` for an agent that reloads the changed
   * parameters, or the recurring operation to reschedule.
   */
  readonly kind: 'restart' | 'reload' | 'reschedule';
  readonly task: string;
  readonly interval: number;
  /**
   * A reschedule forced by a failure that expired, recorded by a Pacemaker older
   * than feature set 3.16.0: Pacemaker 2.1.5 then requires the monitor it
   * recreated from that history, on the node the history is from.
   */
  readonly expiredLegacy?: boolean;
}

/** Operations since the last start whose recorded digest no longer matches the configuration. */
export function configChanges(
  rsc: Rsc,
  node: SNode,
  ops: readonly OperationRecord[],
  startIndex: number,
  timeoutOf: (task: string, interval: number) => number | undefined,
  cibFeatureSet?: string,
): ConfigChange[] {
  const out: ConfigChange[] = [];
  ops.forEach((op, i) => {
    if (i < startIndex) return;
    const task = op.operation;
    const interval = op.interval;
    if (!(interval > 0 || ['monitor', 'start', 'promote', 'migrate_from'].includes(task))) return;
    const recorded = op.opDigest;
    // private parameters are digested differently (secure digests): not modelled
    if (op.attributes['op-secure-params'] !== undefined) return;
    // the resource's parameters, then the operation's own (which win)
    const opConfig = rsc.ops.find((o) => o.name === task && o.interval === interval);
    const params: Record<string, string> = { ...rsc.params, ...opConfig?.params };
    if (interval > 0) {
      const timeout = timeoutOf(task, interval);
      if (timeout === undefined) return; // orphaned recurring operation: cancelled elsewhere
      params.CRM_meta_timeout = String(timeout);
    }
    if (interval > 0 && expiredRecurringFailures.has(op)) {
      const version = op.attributes.crm_feature_set ?? cibFeatureSet;
      const expiredLegacy = version !== undefined && olderFeatureSet(version, [3, 16, 0]);
      out.push({ rsc, node, kind: 'reschedule', task, interval, expiredLegacy });
      return;
    }
    // parameters the agent cannot reload (listed when it can reload the others)
    const restartList = op.attributes['op-force-restart'];
    const restartDigest = op.attributes['op-restart-digest'];
    let kind: ConfigChange['kind'] | undefined;
    if (restartList !== undefined && restartDigest !== undefined) {
      const names = new Set(restartList.split(/\s+/).filter((n) => n !== ''));
      const restart: Record<string, string> = {};
      for (const [k, v] of Object.entries(params)) if (names.has(k)) restart[k] = v;
      if (parametersDigest(restart) !== restartDigest) kind = 'restart';
    }
    if (kind === undefined) {
      // no recorded digest: what it ran with is unknown, as good as changed
      if (recorded && parametersDigest(params) === recorded) return;
      kind = restartDigest !== undefined ? 'reload' : 'restart';
    }
    out.push({ rsc, node, kind: interval > 0 ? 'reschedule' : kind, task, interval });
  });
  return out;
}
