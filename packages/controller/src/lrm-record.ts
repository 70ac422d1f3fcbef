import { childElements, createElement, firstChild, nodeStateElement } from '@remora/cib';
import type { XmlDocument, XmlElement } from '@remora/cib';
import type { GraphResource } from './graph';
import { parametersDigest } from '@remora/scheduler';

/** Pacemaker's execution status codes (`op-status` in lrm_rsc_op). */
export const OpStatus = {
  done: 0,
  cancelled: 1,
  timedOut: 2,
  notSupported: 3,
  error: 4,
  noFenceDevice: 5,
  notInstalled: 6,
  notConnected: 7,
  invalid: 8,
} as const;
export type OpStatus = (typeof OpStatus)[keyof typeof OpStatus];

/** The feature set our records claim (the one Debian's Pacemaker 2.1.5 writes). */
export const CRM_FEATURE_SET = '3.16.1';

/**
 * Pacemaker's `op-digest` of an operation as the graph gave it: its
 * parameters (meta-attributes dropped except `CRM_meta_timeout` of recurring
 * operations; `crm_feature_set` dropped), digested exactly as the scheduler
 * digests today's configuration, so unchanged parameters stay unchanged.
 */
export function operationDigest(
  attributes: Readonly<Record<string, string>>,
  interval: number,
): string {
  const kept: Record<string, string> = {};
  for (const [k, v] of Object.entries(attributes)) {
    const keep = k.startsWith('CRM_meta_')
      ? interval > 0 && k === 'CRM_meta_timeout'
      : k !== 'crm_feature_set';
    if (keep) kept[k] = v;
  }
  return parametersDigest(kept);
}

/** One operation result to write into the status section. */
export interface OperationRecordInput {
  /** The node the operation ran on (uname). */
  readonly node: string;
  /** Whether `node` is a remote or guest node (`remote_node="true"` on its node_state). */
  readonly remoteNode?: boolean;
  readonly resource: GraphResource;
  readonly operation: string;
  readonly interval: number;
  /** Parameters and CRM_meta_* as the graph gave them (for op-digest). */
  readonly attributes: Readonly<Record<string, string>>;
  readonly rc: number;
  readonly opStatus: OpStatus;
  readonly callId: number;
  readonly exitReason: string;
  /** `action-id:transition-id:target-rc:uuid`. */
  readonly transitionKey: string;
  readonly targetRc: number;
  /** Epoch ms. */
  readonly startTime: number;
  readonly runTime: number;
  readonly queueTime: number;
}

function child(parent: XmlElement, name: string, attrs: Record<string, string>): XmlElement {
  const found = firstChild(parent, name);
  if (found) return found;
  const el = createElement(name, attrs);
  parent.children.push(el);
  parent.selfClosing = false;
  return el;
}

/** The lrm_resources element of a node (created with node_state/lrm as needed). */
export function lrmResources(doc: XmlDocument, node: string, remoteNode = false): XmlElement {
  const ns = nodeStateElement(doc, node);
  if (remoteNode && ns.attributes.get('remote_node') === undefined)
    ns.attributes.set('remote_node', 'true');
  const lrm = child(ns, 'lrm', { id: ns.attributes.get('id') ?? node });
  return child(lrm, 'lrm_resources', {});
}

function putOp(rscEl: XmlElement, op: XmlElement): void {
  const id = op.attributes.get('id');
  const i = rscEl.children.findIndex((c) => c.type === 'element' && c.attributes.get('id') === id);
  if (i >= 0) rscEl.children[i] = op;
  else rscEl.children.push(op);
  rscEl.selfClosing = false;
}

/** Whether a result counts as a failure for the scheduler. */
export function isFailure(r: {
  readonly rc: number;
  readonly opStatus: number;
  readonly targetRc: number;
}): boolean {
  return r.opStatus !== OpStatus.done || r.rc !== r.targetRc;
}

/**
 * Write an operation result into `status` exactly as Pacemaker's controller
 * does: `node_state/lrm/lrm_resources/lrm_resource/lrm_rsc_op` with id
 * `<rsc>_last_0` (one-shot) or `<rsc>_<op>_<interval>` (recurring), plus
 * `<rsc>_last_failure_0` for failures; transition key and magic, call id,
 * rc-code, op-status, timings and op-digest.
 */
export function recordOperation(doc: XmlDocument, r: OperationRecordInput): void {
  const list = lrmResources(doc, r.node, r.remoteNode);
  const rsc = r.resource;
  let rscEl = childElements(list, 'lrm_resource').find((e) => e.attributes.get('id') === rsc.id);
  if (!rscEl) {
    rscEl = createElement('lrm_resource', {
      id: rsc.id,
      class: rsc.class,
      provider: rsc.provider,
      type: rsc.type,
    });
    list.children.push(rscEl);
    list.selfClosing = false;
  }
  const key = `${rsc.id}_${r.operation}_${r.interval}`;
  const attrs = (id: string): Record<string, string> => ({
    id,
    operation_key: key,
    operation: r.operation,
    'crm-debug-origin': 'do_update_resource',
    crm_feature_set: CRM_FEATURE_SET,
    'transition-key': r.transitionKey,
    'transition-magic': `${r.opStatus}:${r.rc};${r.transitionKey}`,
    'exit-reason': r.exitReason,
    on_node: r.node,
    'call-id': String(r.callId),
    'rc-code': String(r.rc),
    'op-status': String(r.opStatus),
    interval: String(r.interval),
    'last-rc-change': String(Math.floor((r.startTime + r.runTime) / 1000)),
    'exec-time': String(r.runTime),
    'queue-time': String(r.queueTime),
    'op-digest': operationDigest(r.attributes, r.interval),
  });
  putOp(rscEl, createElement('lrm_rsc_op', attrs(r.interval > 0 ? key : `${rsc.id}_last_0`)));
  if (isFailure(r)) putOp(rscEl, createElement('lrm_rsc_op', attrs(`${rsc.id}_last_failure_0`)));
  if (r.operation === 'stop' && !isFailure(r)) {
    // A stopped resource has no recurring operations left (the executor cancelled them).
    // The last failure stays (it is history, not an active operation).
    rscEl.children = rscEl.children.filter(
      (c) =>
        c.type !== 'element' ||
        c.attributes.get('interval') === '0' ||
        c.attributes.get('id') === `${rsc.id}_last_failure_0`,
    );
  }
}

/** Remove the record of a cancelled recurring operation. */
export function forgetRecurring(
  doc: XmlDocument,
  node: string,
  rsc: string,
  operation: string,
  interval: number,
): void {
  const list = lrmResources(doc, node);
  const rscEl = childElements(list, 'lrm_resource').find((e) => e.attributes.get('id') === rsc);
  if (!rscEl) return;
  const id = `${rsc}_${operation}_${interval}`;
  rscEl.children = rscEl.children.filter(
    (c) => c.type !== 'element' || c.attributes.get('id') !== id,
  );
}

/** Forget a node's whole resource history (Pacemaker does this when a remote connection starts). */
export function forgetNodeHistory(doc: XmlDocument, node: string): void {
  const status = firstChild(doc.root, 'status');
  const ns = status
    ? childElements(status, 'node_state').find(
        (n) => n.attributes.get('uname') === node || n.attributes.get('id') === node,
      )
    : undefined;
  if (!ns) return;
  ns.children = ns.children.filter((c) => c.type !== 'element' || c.name !== 'lrm');
}
