import {
  cleanupResource,
  findResource,
  putLocation,
  readCib,
  removeConstraints,
  setNodeAttribute,
} from '@remora/cib';
import type { Cib, CibStore, XmlDocument } from '@remora/cib';
import { OperatorRequestError } from './errors';

/**
 * Operator requests as CIB edits, the way Pacemaker's tools make them
 * (`crm_standby`, `crm_node`/`crm_attribute`, `crm_resource --cleanup /
 * --move / --ban / --clear`, `crm_attribute --promotion`). Each validates
 * what it names and throws OperatorRequestError saying what is wrong; the
 * controller reacts to the change like to any other CIB change.
 */

/** Where a node attribute lives: `forever` = configuration, `reboot` = status (transient). */
export type AttributeLifetime = 'forever' | 'reboot';

function nodeNames(cib: Cib): string[] {
  return cib.nodes.map((n) => n.name);
}

function requireNode(cib: Cib, node: string, request: string): void {
  if (!nodeNames(cib).includes(node))
    throw new OperatorRequestError(
      request,
      `no node '${node}' in the CIB (nodes: ${nodeNames(cib).join(', ') || 'none'})`,
    );
}

function requireResource(cib: Cib, rsc: string, request: string): void {
  if (!findResource(cib, rsc))
    throw new OperatorRequestError(request, `no resource '${rsc}' in the CIB`);
}

function edit<T>(
  store: CibStore,
  request: string,
  scope: 'configuration' | 'status',
  fn: (doc: XmlDocument, cib: Cib) => T,
): Promise<T> {
  return store.modify(
    (doc) => {
      const cib = readCib(doc);
      return fn(doc, cib);
    },
    { scope, reason: `operator: ${request}` },
  );
}

/**
 * The nodes a resource is active on according to its recorded history (last
 * one-shot result a successful start/promote/migrate_from, or a monitor
 * saying running).
 */
export function activeNodes(cib: Cib, rsc: string): string[] {
  const found: string[] = [];
  for (const ns of cib.status) {
    for (const r of ns.resources) {
      if (r.id !== rsc && !r.id.startsWith(`${rsc}:`)) continue;
      const last = r.operations.find((o) => o.id === `${r.id}_last_0`);
      if (!last || last.opStatus !== 0) continue;
      const running =
        (['start', 'promote', 'demote', 'migrate_from'].includes(last.operation) &&
          last.rc === 0) ||
        (last.operation === 'monitor' && (last.rc === 0 || last.rc === 8));
      if (running && !found.includes(ns.uname)) found.push(ns.uname);
    }
  }
  return found;
}

/** Put a node in standby (its resources move away) or take it out. */
export function standby(store: CibStore, node: string, on: boolean): Promise<void> {
  const request = `standby ${node} ${on ? 'on' : 'off'}`;
  return edit(store, request, 'configuration', (doc, cib) => {
    requireNode(cib, node, request);
    setNodeAttribute(doc, node, 'standby', on ? 'on' : undefined, {
      knownNodes: nodeNames(cib),
    });
  });
}

/** Put a node in maintenance (its resources are left alone, monitors stop) or take it out. */
export function maintenance(store: CibStore, node: string, on: boolean): Promise<void> {
  const request = `maintenance ${node} ${on ? 'on' : 'off'}`;
  return edit(store, request, 'configuration', (doc, cib) => {
    requireNode(cib, node, request);
    setNodeAttribute(doc, node, 'maintenance', on ? 'true' : undefined, {
      knownNodes: nodeNames(cib),
    });
  });
}

/**
 * Ask a node to drain and leave: the transient `shutdown` attribute makes the
 * scheduler move or stop its resources, then stop a remote/guest node's
 * connection or shut a cluster node down.
 */
export function drain(store: CibStore, node: string, why?: string): Promise<void> {
  const request = `drain ${node}${why ? ` (${why})` : ''}`;
  return edit(store, request, 'status', (doc, cib) => {
    requireNode(cib, node, request);
    setNodeAttribute(doc, node, 'shutdown', String(Math.floor(Date.now() / 1000)), {
      lifetime: 'reboot',
    });
  });
}

/**
 * Forget a resource's failures and history (on one node or all), so the
 * scheduler re-probes it (`crm_resource --cleanup`). Without a resource,
 * every resource with a recorded failure. Returns `resource@node` cleaned.
 */
export function cleanup(store: CibStore, rsc?: string, node?: string): Promise<string[]> {
  const request = `cleanup ${rsc ?? '(all failed)'}${node ? ` on ${node}` : ''}`;
  return edit(store, request, 'status', (doc, cib) => {
    if (node !== undefined) requireNode(cib, node, request);
    if (rsc !== undefined) requireResource(cib, rsc, request);
    const targets =
      rsc !== undefined
        ? [rsc]
        : [
            ...new Set(
              cib.status.flatMap((ns) => [
                ...ns.resources
                  .filter((r) => r.operations.some((o) => o.id === `${r.id}_last_failure_0`))
                  .map((r) => r.id),
                ...Object.keys(ns.transientAttributes)
                  .map((k) => /^fail-count-(.+?)(:\d+)?#/.exec(k)?.[1])
                  .filter((r): r is string => r !== undefined),
              ]),
            ),
          ];
    return targets.flatMap((r) => cleanupResource(doc, r, node).map((n) => `${r}@${n}`));
  });
}

export interface MoveOptions {
  /** The constraint expires at this time (crm_resource --lifetime). */
  readonly until?: Date;
  /** Only for this role (promotable clones: `Promoted`). */
  readonly role?: string;
}

/** Move a resource to a node: `cli-prefer-<rsc>` with score INFINITY. */
export function move(
  store: CibStore,
  rsc: string,
  node: string,
  options: MoveOptions = {},
): Promise<void> {
  const request = `move ${rsc} to ${node}`;
  return edit(store, request, 'configuration', (doc, cib) => {
    requireResource(cib, rsc, request);
    requireNode(cib, node, request);
    putLocation(doc, {
      id: `cli-prefer-${rsc}`,
      rsc,
      node,
      score: 'INFINITY',
      role: options.role,
      until: options.until,
    });
  });
}

/**
 * Ban a resource from a node (`cli-ban-<rsc>-on-<node>`, -INFINITY). Without
 * a node: from the node it is active on (an error unless exactly one).
 * Returns the node banned from.
 */
export function ban(
  store: CibStore,
  rsc: string,
  node?: string,
  options: MoveOptions = {},
): Promise<string> {
  const request = `ban ${rsc}${node ? ` from ${node}` : ''}`;
  return edit(store, request, 'configuration', (doc, cib) => {
    requireResource(cib, rsc, request);
    let target = node;
    if (target === undefined) {
      const active = activeNodes(cib, rsc);
      if (active.length !== 1)
        throw new OperatorRequestError(
          request,
          active.length === 0
            ? `'${rsc}' is not active anywhere: name the node to ban it from`
            : `'${rsc}' is active on ${active.join(', ')}: name the node to ban it from`,
        );
      target = active[0]!;
    } else requireNode(cib, target, request);
    putLocation(doc, {
      id: `cli-ban-${rsc}-on-${target}`,
      rsc,
      node: target,
      score: '-INFINITY',
      role: options.role,
      until: options.until,
    });
    return target;
  });
}

/** Remove the move/ban constraints of a resource (only those about `node` when given). Returns their ids. */
export function clear(store: CibStore, rsc: string, node?: string): Promise<string[]> {
  const request = `clear ${rsc}${node ? ` on ${node}` : ''}`;
  return edit(store, request, 'configuration', (doc, cib) => {
    requireResource(cib, rsc, request);
    return removeConstraints(doc, (c) => {
      const id = c.attributes.get('id') ?? '';
      if (c.name !== 'rsc_location' || c.attributes.get('rsc') !== rsc) return false;
      if (node === undefined)
        return id === `cli-prefer-${rsc}` || id.startsWith(`cli-ban-${rsc}-on-`);
      return (
        id === `cli-ban-${rsc}-on-${node}` ||
        (id === `cli-prefer-${rsc}` && c.attributes.get('node') === node)
      );
    });
  });
}

/** Set (or with `undefined`, delete) a node attribute. */
export function setAttribute(
  store: CibStore,
  node: string,
  name: string,
  value: string | undefined,
  lifetime: AttributeLifetime = 'forever',
): Promise<void> {
  const request = `attribute ${name} on ${node}`;
  if (!/^[A-Za-z0-9_#.:-]+$/.test(name))
    return Promise.reject(
      new OperatorRequestError(request, `'${name}' is not a valid attribute name`),
    );
  return edit(store, request, lifetime === 'reboot' ? 'status' : 'configuration', (doc, cib) => {
    requireNode(cib, node, request);
    setNodeAttribute(doc, node, name, value, { lifetime, knownNodes: nodeNames(cib) });
  });
}

/**
 * Set (or with `undefined`, delete) a promotable resource's promotion score
 * on a node (`crm_attribute --promotion`: transient attribute `master-<rsc>`).
 */
export function setPromotionScore(
  store: CibStore,
  rsc: string,
  node: string,
  score: number | 'INFINITY' | '-INFINITY' | undefined,
): Promise<void> {
  const request = `promotion score of ${rsc} on ${node}`;
  if (typeof score === 'number' && !Number.isInteger(score))
    return Promise.reject(new OperatorRequestError(request, `${score} is not an integer score`));
  return edit(store, request, 'status', (doc, cib) => {
    requireNode(cib, node, request);
    requireResource(cib, rsc.replace(/:\d+$/, ''), request);
    setNodeAttribute(
      doc,
      node,
      `master-${rsc.replace(/:\d+$/, '')}`,
      score === undefined ? undefined : String(score),
      {
        lifetime: 'reboot',
      },
    );
  });
}
