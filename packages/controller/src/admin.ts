import { findResource, readCib } from '@remora/cib';
import type { Cib, CibStore, ResourceAttributeSet } from '@remora/cib';
import { OperatorError, OperatorExit, OperatorRequestError } from './errors';
import { applyOperatorEdit, editScope } from './operator';
import type { OperatorEdit, OperatorEditResult } from './operator';

/**
 * The controller's typed operator API: standby, maintenance, drain, cleanup,
 * move / ban / clear, node attributes and promotion scores, the way
 * Pacemaker's tools make them (`crm_standby`, `crm_attribute`, `crm_resource`,
 * `crm_attribute --promotion`). Each is one OperatorEdit applied by
 * applyOperatorEdit, the same code the `remora` CLI uses on a CIB file or
 * through the relay; what it names is validated there and a refusal is an
 * OperatorRequestError saying what is wrong. The controller reacts to the
 * change like to any other CIB change.
 */

/** Where a node attribute lives: `forever` = configuration, `reboot` = status (transient). */
export type AttributeLifetime = 'forever' | 'reboot';

/** Apply one edit in the store; `check` runs first on the current CIB (what the edit itself does not validate). */
function apply(
  store: CibStore,
  request: string,
  edit: OperatorEdit,
  check?: (cib: Cib) => void,
): Promise<OperatorEditResult> {
  return store.modify(
    (doc) => {
      try {
        check?.(readCib(doc));
        return applyOperatorEdit(doc, edit);
      } catch (err) {
        if (err instanceof OperatorError && !(err instanceof OperatorRequestError))
          throw new OperatorRequestError(request, err.message, err.exitCode);
        throw err;
      }
    },
    { scope: editScope(edit), reason: `operator: ${request}` },
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
export async function standby(store: CibStore, node: string, on: boolean): Promise<void> {
  await apply(store, `standby ${node} ${on ? 'on' : 'off'}`, {
    command: 'node-attribute',
    node,
    name: 'standby',
    value: on ? 'on' : undefined,
    lifetime: 'forever',
  });
}

/** Put a node in maintenance (its resources are left alone, monitors stop) or take it out. */
export async function maintenance(store: CibStore, node: string, on: boolean): Promise<void> {
  await apply(store, `maintenance ${node} ${on ? 'on' : 'off'}`, {
    command: 'node-attribute',
    node,
    name: 'maintenance',
    value: on ? 'true' : undefined,
    lifetime: 'forever',
  });
}

/**
 * Ask a node to drain and leave: the transient `shutdown` attribute makes the
 * scheduler move or stop its resources, then stop a remote/guest node's
 * connection or shut a cluster node down.
 */
export async function drain(store: CibStore, node: string, why?: string): Promise<void> {
  await apply(store, `drain ${node}${why ? ` (${why})` : ''}`, {
    command: 'node-attribute',
    node,
    name: 'shutdown',
    value: String(Math.floor(Date.now() / 1000)),
    lifetime: 'reboot',
  });
}

/**
 * Forget a resource's failures and history (on one node or all), so the
 * scheduler re-probes it (`crm_resource --cleanup`). Without a resource,
 * every resource with a recorded failure. Returns `resource@node` cleaned.
 */
export async function cleanup(store: CibStore, rsc?: string, node?: string): Promise<string[]> {
  const result = await apply(
    store,
    `cleanup ${rsc ?? '(all failed)'}${node ? ` on ${node}` : ''}`,
    { command: 'cleanup', resource: rsc, node },
  );
  return (result.cleaned ?? []).map((c) => `${c.resource}@${c.node}`);
}

export interface MoveOptions {
  /** The constraint expires at this time (crm_resource --lifetime). */
  readonly until?: Date;
  /** Only for the promoted role of a promotable clone. */
  readonly promoted?: boolean;
}

function lifetimeMs(options: MoveOptions): number | undefined {
  if (options.until === undefined) return undefined;
  return Math.max(1, options.until.getTime() - Date.now());
}

/** Move a resource to a node: `cli-prefer-<rsc>` with score INFINITY. */
export async function move(
  store: CibStore,
  rsc: string,
  node: string,
  options: MoveOptions = {},
): Promise<void> {
  await apply(store, `move ${rsc} to ${node}`, {
    command: 'move',
    resource: rsc,
    node,
    lifetimeMs: lifetimeMs(options),
    promoted: options.promoted,
  });
}

/**
 * Ban a resource from a node (`cli-ban-<rsc>-on-<node>`, -INFINITY). Without
 * a node: from the node it is active on (an error unless exactly one).
 * Returns the node banned from.
 */
export async function ban(
  store: CibStore,
  rsc: string,
  node?: string,
  options: MoveOptions = {},
): Promise<string> {
  const request = `ban ${rsc}${node ? ` from ${node}` : ''}`;
  const target = node ?? (await activeNode(store, rsc, request));
  await apply(store, request, {
    command: 'ban',
    resource: rsc,
    node: target,
    lifetimeMs: lifetimeMs(options),
    promoted: options.promoted,
  });
  return target;
}

async function activeNode(store: CibStore, rsc: string, request: string): Promise<string> {
  const active = activeNodes(store.cib, rsc);
  if (active.length === 1) return active[0]!;
  throw new OperatorRequestError(
    request,
    active.length === 0
      ? `'${rsc}' is not active anywhere: name the node to ban it from`
      : `'${rsc}' is active on ${active.join(', ')}: name the node to ban it from`,
    active.length === 0 ? OperatorExit.notRunning : OperatorExit.invalidParam,
  );
}

/** Remove the move/ban constraints of a resource (only those about `node` when given). Returns their ids. */
export async function clear(store: CibStore, rsc: string, node?: string): Promise<string[]> {
  const result = await apply(store, `clear ${rsc}${node ? ` on ${node}` : ''}`, {
    command: 'clear',
    resource: rsc,
    node,
  });
  return [...result.ids];
}

/** Set (or with `undefined`, delete) a node attribute. */
export async function setAttribute(
  store: CibStore,
  node: string,
  name: string,
  value: string | undefined,
  lifetime: AttributeLifetime = 'forever',
): Promise<void> {
  await apply(store, `attribute ${name} on ${node}`, {
    command: 'node-attribute',
    node,
    name,
    value,
    lifetime,
  });
}

/**
 * Set (or with `undefined`, delete) a promotable resource's promotion score
 * on a node (`crm_attribute --promotion`: transient attribute `master-<rsc>`).
 */
export async function setPromotionScore(
  store: CibStore,
  rsc: string,
  node: string,
  score: number | 'INFINITY' | '-INFINITY' | undefined,
): Promise<void> {
  const request = `promotion score of ${rsc} on ${node}`;
  if (typeof score === 'number' && !Number.isInteger(score))
    throw new OperatorRequestError(request, `${score} is not an integer score`);
  const id = rsc.replace(/:\d+$/, '');
  await apply(
    store,
    request,
    {
      command: 'node-attribute',
      node,
      name: `master-${id}`,
      value: score === undefined ? undefined : String(score),
      lifetime: 'reboot',
    },
    (cib) => {
      if (!findResource(cib, id))
        throw new OperatorRequestError(
          request,
          `no resource '${id}' in the configuration`,
          OperatorExit.noSuchObject,
        );
    },
  );
}

/**
 * Set (or with `undefined`, delete) a resource's meta attribute, agent
 * parameter (instance attribute) or utilization (`crm_resource --meta /
 * --utilization --set-parameter`).
 */
export async function setResourceAttribute(
  store: CibStore,
  rsc: string,
  set: ResourceAttributeSet,
  name: string,
  value: string | undefined,
): Promise<void> {
  await apply(store, `${set} attribute ${name} of ${rsc}`, {
    command: 'resource-attribute',
    resource: rsc,
    set,
    name,
    value,
  });
}

/** Grant or revoke a ticket, or put it in standby / activate it (`crm_ticket`). */
export async function setTicket(
  store: CibStore,
  ticket: string,
  change: { readonly granted?: boolean; readonly standby?: boolean },
): Promise<void> {
  await apply(store, `ticket ${ticket}`, { command: 'ticket', ticket, ...change });
}
