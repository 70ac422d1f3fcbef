import { childElements, firstChild, nodeStateElement } from '@remora/cib';
import type { XmlDocument, XmlElement } from '@remora/cib';

/**
 * Status edits for node membership and cluster events, as Pacemaker's
 * controller writes them (node_state attributes, history and transient
 * attributes erased when a node goes down or (re)joins).
 */

function dropChildren(ns: XmlElement, names: readonly string[]): void {
  ns.children = ns.children.filter((c) => c.type !== 'element' || !names.includes(c.name));
}

function setAll(ns: XmlElement, attrs: Readonly<Record<string, string>>): void {
  for (const [k, v] of Object.entries(attrs)) ns.attributes.set(k, v);
}

/** A cluster node joined (or rejoined): member, history and transient attributes start empty. */
export function recordNodeJoined(doc: XmlDocument, node: string): void {
  const ns = nodeStateElement(doc, node);
  setAll(ns, {
    in_ccm: 'true',
    crmd: 'online',
    join: 'member',
    expected: 'member',
    'crm-debug-origin': 'do_state_transition',
  });
  dropChildren(ns, ['lrm', 'transient_attributes']);
}

/**
 * A cluster node was lost without asking to leave: offline but still
 * expected (the scheduler sees it unclean and fences it when fencing is enabled).
 */
export function recordNodeLost(doc: XmlDocument, node: string): void {
  setAll(nodeStateElement(doc, node), {
    in_ccm: 'false',
    crmd: 'offline',
    join: 'down',
    'crm-debug-origin': 'peer_update_callback',
  });
}

/** A cluster node left cleanly (do_shutdown): offline, expected down, nothing running. */
export function recordNodeShutdown(doc: XmlDocument, node: string): void {
  const ns = nodeStateElement(doc, node);
  setAll(ns, {
    in_ccm: 'false',
    crmd: 'offline',
    join: 'down',
    expected: 'down',
    'crm-debug-origin': 'do_shutdown',
  });
  dropChildren(ns, ['lrm', 'transient_attributes']);
}

/**
 * A node was fenced: nothing runs there any more. A cluster node is offline
 * and expected down; a remote node is marked `node_fenced="1"`; a guest
 * (implied fencing by its container's stop) loses its history.
 */
export function recordNodeFenced(
  doc: XmlDocument,
  node: string,
  kind: 'cluster' | 'remote' | 'guest',
): void {
  const ns = nodeStateElement(doc, node);
  if (kind === 'cluster')
    setAll(ns, {
      in_ccm: 'false',
      crmd: 'offline',
      join: 'down',
      expected: 'down',
      'crm-debug-origin': 'send_stonith_update',
    });
  else {
    ns.attributes.set('remote_node', 'true');
    ns.attributes.set('in_ccm', 'false');
    if (kind === 'remote') ns.attributes.set('node_fenced', '1');
  }
  dropChildren(ns, ['lrm', 'transient_attributes']);
}

/** A remote or guest node's connection started: its state starts over (not fenced, no history). */
export function recordRemoteUp(doc: XmlDocument, node: string): void {
  const ns = nodeStateElement(doc, node);
  ns.attributes.set('remote_node', 'true');
  ns.attributes.set('in_ccm', 'true');
  if (ns.attributes.has('node_fenced')) ns.attributes.set('node_fenced', '0');
  dropChildren(ns, ['lrm', 'transient_attributes']);
}

/**
 * A remote or guest node's connection stopped cleanly: the node left, so its
 * transient attributes (the drain's `shutdown` request, fail counts) go, as
 * Pacemaker's controller purges them; its history stays until it comes back.
 */
export function recordRemoteStopped(doc: XmlDocument, node: string): void {
  const ns = nodeStateElement(doc, node);
  ns.attributes.set('remote_node', 'true');
  ns.attributes.set('in_ccm', 'false');
  dropChildren(ns, ['transient_attributes']);
}

/** A remote or guest node's connection is gone with nothing known about it (history wiped). */
export function recordRemoteDown(doc: XmlDocument, node: string): void {
  const ns = nodeStateElement(doc, node);
  ns.attributes.set('remote_node', 'true');
  ns.attributes.set('in_ccm', 'false');
  dropChildren(ns, ['lrm', 'transient_attributes']);
}

/**
 * A node's operation history is no longer known to be complete (its
 * executor dropped results): forget it, so every resource there is
 * re-probed. Transient attributes (fail counts) stay.
 */
export function forgetHistory(doc: XmlDocument, node: string): void {
  dropChildren(nodeStateElement(doc, node), ['lrm']);
}

/** A `maintenance_nodes` pseudo event: remember which remote nodes are in maintenance. */
export function recordRemoteMaintenance(doc: XmlDocument, node: string, on: boolean): void {
  const ns = nodeStateElement(doc, node);
  ns.attributes.set('remote_node', 'true');
  ns.attributes.set('node_in_maintenance', on ? '1' : '0');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Remove transient attributes whose names match. Returns how many went. */
function dropTransient(ns: XmlElement, match: (name: string) => boolean): number {
  let n = 0;
  const ta = firstChild(ns, 'transient_attributes');
  for (const set of ta ? childElements(ta, 'instance_attributes') : []) {
    const before = set.children.length;
    set.children = set.children.filter(
      (c) => c.type !== 'element' || c.name !== 'nvpair' || !match(c.attributes.get('name') ?? ''),
    );
    n += before - set.children.length;
  }
  return n;
}

function lrmResource(ns: XmlElement, rsc: string): XmlElement | undefined {
  const lrm = firstChild(ns, 'lrm');
  const list = lrm ? firstChild(lrm, 'lrm_resources') : undefined;
  return list
    ? childElements(list, 'lrm_resource').find((r) => r.attributes.get('id') === rsc)
    : undefined;
}

/**
 * A `clear_failcount` event: forget a resource's fail counts and last
 * failure on a node (its operation history stays).
 */
export function clearFailcount(doc: XmlDocument, node: string, rsc: string): void {
  const ns = nodeStateElement(doc, node);
  const re = new RegExp(`^(fail-count|last-failure)-${escapeRegExp(rsc)}(#|$)`);
  dropTransient(ns, (name) => re.test(name));
  const r = lrmResource(ns, rsc);
  if (r)
    r.children = r.children.filter(
      (c) => c.type !== 'element' || c.attributes.get('id') !== `${rsc}_last_failure_0`,
    );
}

/** An `lrm_delete` event: forget a resource's whole history on a node (it is re-probed). */
export function forgetResource(doc: XmlDocument, node: string, rsc: string): void {
  const ns = nodeStateElement(doc, node);
  const lrm = firstChild(ns, 'lrm');
  const list = lrm ? firstChild(lrm, 'lrm_resources') : undefined;
  if (list)
    list.children = list.children.filter(
      (c) => c.type !== 'element' || c.attributes.get('id') !== rsc,
    );
}
