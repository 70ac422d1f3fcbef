import type { Cib, XmlDocument, XmlElement } from '@remora/cib';
import {
  CibError,
  CibNotFoundError,
  childElements,
  cleanupResource,
  findResource,
  firstChild,
  putLocation,
  readCib,
  removeConstraints,
  setClusterProperty,
  setNodeAttribute,
  setResourceAttribute,
  setTicketState,
} from '@remora/cib';
import type { CibStore, ResourceAttributeSet } from '@remora/cib';
import { OperatorError, OperatorExit } from './errors';

/** Read the CIB (and the caller's node name, which a remote node cannot know itself). */
export interface QueryRequest {
  readonly command: 'query';
}

/** Wait (at most timeoutMs, capped at 10 s per request) until the cluster has nothing left to do. */
export interface WaitRequest {
  readonly command: 'wait';
  readonly timeoutMs: number;
}

/** Set or (value undefined) delete a node attribute: `forever` in the configuration, `reboot` in status. */
export interface NodeAttributeEdit {
  readonly command: 'node-attribute';
  /** Default: the caller's node. */
  readonly node?: string;
  readonly name: string;
  readonly value?: string;
  readonly lifetime: 'forever' | 'reboot';
}

/** Set or delete a cluster property (crm_config). */
export interface ClusterPropertyEdit {
  readonly command: 'cluster-property';
  readonly name: string;
  readonly value?: string;
}

/** Set or delete a resource attribute: meta (target-role, is-managed, ...), agent parameter or utilization. */
export interface ResourceAttributeEdit {
  readonly command: 'resource-attribute';
  readonly resource: string;
  /** meta attributes, instance attributes (agent parameters) or utilization. */
  readonly set: ResourceAttributeSet;
  readonly name: string;
  readonly value?: string;
}

/** `crm_resource --move` (cli-prefer-*) and `--ban` (cli-ban-*-on-*), optionally expiring. */
export interface LocationEdit {
  readonly command: 'move' | 'ban';
  readonly resource: string;
  readonly node: string;
  /** Milliseconds from now after which the constraint no longer applies. */
  readonly lifetimeMs?: number;
  /** Only for the promoted role. */
  readonly promoted?: boolean;
}

/** `crm_resource --clear`: remove the cli-* constraints of a resource (on one node, or all). */
export interface ClearEdit {
  readonly command: 'clear';
  readonly resource: string;
  readonly node?: string;
}

/** `crm_resource --cleanup`: forget failures (history and fail counts) so the resource is re-probed. */
export interface CleanupEdit {
  readonly command: 'cleanup';
  /** Default: every resource with a failure. */
  readonly resource?: string;
  readonly node?: string;
}

/** `crm_node --remove`: forget a node (configuration and status); refused while it is online. */
export interface NodeRemoveEdit {
  readonly command: 'node-remove';
  readonly node: string;
}

/** `crm_ticket`: grant or revoke a ticket, put it in standby or activate it (status section). */
export interface TicketEdit {
  readonly command: 'ticket';
  readonly ticket: string;
  readonly granted?: boolean;
  readonly standby?: boolean;
}

/** A change an operator makes to the CIB. */
export type OperatorEdit =
  | NodeAttributeEdit
  | ClusterPropertyEdit
  | ResourceAttributeEdit
  | TicketEdit
  | LocationEdit
  | ClearEdit
  | CleanupEdit
  | NodeRemoveEdit;

export type OperatorRequest = QueryRequest | WaitRequest | OperatorEdit;

/** What an edit did (`changed` false: nothing to do, e.g. deleting an absent attribute). */
export interface OperatorEditResult {
  readonly changed: boolean;
  /** The node the edit applied to (the caller's when the request named none). */
  readonly node?: string;
  /** Constraint ids added or removed, nodes cleaned up. */
  readonly ids: readonly string[];
  /** cleanup: each resource and node whose history and fail counts were forgotten. */
  readonly cleaned?: readonly { readonly resource: string; readonly node: string }[];
}

export interface QueryReply {
  /** The caller's node name as the cluster knows it ('' when unknown). */
  readonly node: string;
  readonly cib: string;
}

export interface WaitReply {
  readonly idle: boolean;
}

/** Who asks: the node an operator request comes from (relay) or is run for (CIB file). */
export interface OperatorContext {
  readonly callerNode?: string;
  readonly now?: Date;
}

const EDITS: ReadonlySet<string> = new Set([
  'node-attribute',
  'cluster-property',
  'resource-attribute',
  'ticket',
  'move',
  'ban',
  'clear',
  'cleanup',
  'node-remove',
]);

/** Which part of the CIB an edit changes (decides the version bump). */
export function editScope(edit: OperatorEdit): 'configuration' | 'status' {
  if (edit.command === 'cleanup' || edit.command === 'ticket') return 'status';
  if (edit.command === 'node-attribute' && edit.lifetime === 'reboot') return 'status';
  return 'configuration';
}

function str(v: unknown, what: string, optional: true): string | undefined;
function str(v: unknown, what: string, optional?: false): string;
function str(v: unknown, what: string, optional = false): string | undefined {
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string' || v === '')
    throw new OperatorError(`${what} must be a non-empty string`, OperatorExit.invalidParam);
  return v;
}

/** Check a request decoded from JSON (it crossed a process boundary). */
export function parseOperatorRequest(command: string, args: unknown): OperatorRequest {
  const a = (typeof args === 'object' && args !== null ? args : {}) as Record<string, unknown>;
  const value = a.value === undefined ? undefined : String(a.value);
  switch (command) {
    case 'query':
      return { command };
    case 'wait': {
      const t = Number(a.timeoutMs);
      if (!Number.isFinite(t) || t < 0)
        throw new OperatorError('wait: timeoutMs must be a number', OperatorExit.invalidParam);
      return { command, timeoutMs: t };
    }
    case 'node-attribute': {
      if (a.lifetime !== 'forever' && a.lifetime !== 'reboot')
        throw new OperatorError(
          `lifetime must be forever or reboot, not '${String(a.lifetime)}'`,
          OperatorExit.invalidParam,
        );
      return {
        command,
        node: str(a.node, 'node', true),
        name: str(a.name, 'name'),
        value,
        lifetime: a.lifetime,
      };
    }
    case 'cluster-property':
      return { command, name: str(a.name, 'name'), value };
    case 'resource-attribute': {
      if (a.set !== 'meta' && a.set !== 'instance' && a.set !== 'utilization')
        throw new OperatorError(
          `set must be meta, instance or utilization, not '${String(a.set)}'`,
          OperatorExit.invalidParam,
        );
      return {
        command,
        resource: str(a.resource, 'resource'),
        set: a.set,
        name: str(a.name, 'name'),
        value,
      };
    }
    case 'ticket': {
      const flag = (v: unknown, what: string): boolean | undefined => {
        if (v === undefined || typeof v === 'boolean') return v;
        throw new OperatorError(`${what} must be true or false`, OperatorExit.invalidParam);
      };
      return {
        command,
        ticket: str(a.ticket, 'ticket'),
        granted: flag(a.granted, 'granted'),
        standby: flag(a.standby, 'standby'),
      };
    }
    case 'move':
    case 'ban': {
      const lifetimeMs = a.lifetimeMs === undefined ? undefined : Number(a.lifetimeMs);
      if (lifetimeMs !== undefined && !(lifetimeMs > 0))
        throw new OperatorError('lifetimeMs must be positive', OperatorExit.invalidParam);
      return {
        command,
        resource: str(a.resource, 'resource'),
        node: str(a.node, 'node'),
        lifetimeMs,
        promoted: a.promoted === true,
      };
    }
    case 'clear':
      return { command, resource: str(a.resource, 'resource'), node: str(a.node, 'node', true) };
    case 'cleanup':
      return {
        command,
        resource: str(a.resource, 'resource', true),
        node: str(a.node, 'node', true),
      };
    case 'node-remove':
      return { command, node: str(a.node, 'node') };
    default:
      throw new OperatorError(`unknown operator command '${command}'`, OperatorExit.unimplemented);
  }
}

function knownNode(cib: Cib, node: string): void {
  if (!cib.nodes.some((n) => n.name === node))
    throw new OperatorError(
      `no node '${node}' in the cluster (nodes: ${cib.nodes.map((n) => n.name).join(', ') || 'none'})`,
      OperatorExit.noSuchObject,
    );
}

function knownResource(cib: Cib, id: string): void {
  if (!findResource(cib, id))
    throw new OperatorError(`no resource '${id}' in the configuration`, OperatorExit.noSuchObject);
}

function callerNode(node: string | undefined, ctx: OperatorContext): string {
  const n = node ?? ctx.callerNode;
  if (!n)
    throw new OperatorError(
      'no node given and the node this runs on is not known',
      OperatorExit.invalidParam,
    );
  return n;
}

/** Resources with a recorded failure (a last_failure entry or a fail count), with their nodes. */
function failedResources(cib: Cib): Map<string, Set<string>> {
  const failed = new Map<string, Set<string>>();
  const add = (rsc: string, node: string): void => {
    const id = rsc.replace(/:\d+$/, '');
    const set = failed.get(id) ?? new Set<string>();
    set.add(node);
    failed.set(id, set);
  };
  for (const s of cib.status) {
    for (const r of s.resources)
      if (r.operations.some((o) => o.id.endsWith('_last_failure_0'))) add(r.id, s.uname);
    for (const name of Object.keys(s.transientAttributes)) {
      const m = /^fail-count-(.+?)(#.*)?$/.exec(name);
      if (m) add(m[1]!, s.uname);
    }
  }
  return failed;
}

function removeNode(doc: XmlDocument, node: string): boolean {
  let changed = false;
  const drop = (parent: XmlElement | undefined, tag: string): void => {
    if (!parent) return;
    for (const el of childElements(parent, tag)) {
      if (el.attributes.get('uname') === node || el.attributes.get('id') === node) {
        parent.children.splice(parent.children.indexOf(el), 1);
        changed = true;
      }
    }
  };
  const configuration = firstChild(doc.root, 'configuration');
  drop(configuration ? firstChild(configuration, 'nodes') : undefined, 'node');
  drop(firstChild(doc.root, 'status'), 'node_state');
  return changed;
}

/** Whether a node is up as far as the CIB says (members: in the membership; remote/guest: connection started). */
function nodeOnline(cib: Cib, node: string): boolean {
  const n = cib.nodes.find((x) => x.name === node);
  const state = cib.status.find((s) => s.uname === node);
  if (!n) return false;
  if (n.kind === 'member') return state?.inCcm === true && state.crmd === 'online';
  // A remote or guest node is up while its connection resource is started somewhere.
  for (const s of cib.status) {
    const history = s.resources.find((r) => r.id === node);
    const last = history?.operations.find((o) => o.id === `${node}_last_0`);
    if (
      last &&
      last.rc === 0 &&
      last.opStatus === 0 &&
      ['start', 'monitor', 'migrate_from'].includes(last.operation)
    )
      return true;
  }
  return false;
}

/**
 * Apply an operator edit to a CIB document (the same code for a live
 * cluster, through the controller, and for a CIB file). Names that do not
 * exist are OperatorErrors with exit code 105 (no such object).
 */
export function applyOperatorEdit(
  doc: XmlDocument,
  edit: OperatorEdit,
  ctx: OperatorContext = {},
): OperatorEditResult {
  const cib = readCib(doc);
  const now = ctx.now ?? new Date();
  try {
    switch (edit.command) {
      case 'node-attribute': {
        if (!/^[A-Za-z0-9_#.:-]+$/.test(edit.name))
          throw new OperatorError(
            `'${edit.name}' is not a valid attribute name`,
            OperatorExit.invalidParam,
          );
        const node = callerNode(edit.node, ctx);
        knownNode(cib, node);
        const changed = setNodeAttribute(doc, node, edit.name, edit.value, {
          lifetime: edit.lifetime,
          knownNodes: cib.nodes.map((n) => n.name),
        });
        return { changed, node, ids: [] };
      }
      case 'cluster-property':
        return { changed: setClusterProperty(doc, edit.name, edit.value), ids: [] };
      case 'resource-attribute':
        knownResource(cib, edit.resource);
        return {
          changed: setResourceAttribute(doc, edit.resource, edit.set, edit.name, edit.value),
          ids: [],
        };
      case 'ticket':
        return {
          changed: setTicketState(doc, edit.ticket, {
            granted: edit.granted,
            standby: edit.standby,
            now,
          }),
          ids: [edit.ticket],
        };
      case 'move':
      case 'ban': {
        knownResource(cib, edit.resource);
        knownNode(cib, edit.node);
        const id =
          edit.command === 'move'
            ? `cli-prefer-${edit.resource}`
            : `cli-ban-${edit.resource}-on-${edit.node}`;
        putLocation(doc, {
          id,
          rsc: edit.resource,
          node: edit.node,
          score: edit.command === 'move' ? 'INFINITY' : '-INFINITY',
          role: edit.promoted ? 'Promoted' : undefined,
          until:
            edit.lifetimeMs === undefined ? undefined : new Date(now.getTime() + edit.lifetimeMs),
        });
        return { changed: true, node: edit.node, ids: [id] };
      }
      case 'clear': {
        knownResource(cib, edit.resource);
        const prefer = `cli-prefer-${edit.resource}`;
        const banPrefix = `cli-ban-${edit.resource}-on-`;
        const preferNode = (c: XmlElement): string | undefined =>
          c.attributes.get('node') ??
          [...walk(c)]
            .find((e) => e.name === 'expression' && e.attributes.get('attribute') === '#uname')
            ?.attributes.get('value');
        const ids = removeConstraints(doc, (c) => {
          const id = c.attributes.get('id') ?? '';
          if (c.name !== 'rsc_location') return false;
          if (id === prefer) return edit.node === undefined || preferNode(c) === edit.node;
          if (!id.startsWith(banPrefix)) return false;
          return edit.node === undefined || id === `${banPrefix}${edit.node}`;
        });
        return { changed: ids.length > 0, node: edit.node, ids };
      }
      case 'cleanup': {
        if (edit.node !== undefined) knownNode(cib, edit.node);
        if (edit.resource !== undefined) knownResource(cib, edit.resource);
        const targets =
          edit.resource !== undefined ? [edit.resource] : [...failedResources(cib).keys()];
        const cleaned = targets.flatMap((resource) =>
          cleanupResource(doc, resource, edit.node).map((node) => ({ resource, node })),
        );
        const nodes = [...new Set(cleaned.map((c) => c.node))];
        return { changed: cleaned.length > 0, node: edit.node, ids: nodes, cleaned };
      }
      case 'node-remove': {
        if (
          !cib.nodes.some((n) => n.name === edit.node) &&
          !cib.status.some((s) => s.uname === edit.node)
        )
          throw new OperatorError(
            `no node '${edit.node}' in the cluster`,
            OperatorExit.noSuchObject,
          );
        const n = cib.nodes.find((x) => x.name === edit.node);
        if (
          n &&
          n.kind !== 'member' &&
          (cib.guestNodes.some((g) => g.name === edit.node) ||
            cib.remoteNodes.some((r) => r.name === edit.node))
        )
          throw new OperatorError(
            `${edit.node} is defined by resource '${cib.guestNodes.find((g) => g.name === edit.node)?.container ?? edit.node}': delete that resource first`,
            OperatorExit.invalidParam,
          );
        if (nodeOnline(cib, edit.node))
          throw new OperatorError(
            `${edit.node} is online: stop it (or its daemon) before removing it`,
            OperatorExit.invalidParam,
          );
        return { changed: removeNode(doc, edit.node), node: edit.node, ids: [] };
      }
    }
  } catch (err) {
    if (err instanceof OperatorError) throw err;
    if (err instanceof CibNotFoundError)
      throw new OperatorError(err.message, OperatorExit.noSuchObject);
    if (err instanceof CibError) throw new OperatorError(err.message, OperatorExit.invalidParam);
    throw err;
  }
}

function* walk(el: XmlElement): Generator<XmlElement> {
  for (const c of childElements(el)) {
    yield c;
    yield* walk(c);
  }
}

/** The answer to one operator request as it crosses the relay: an exit code and text. */
export interface OperatorResponse {
  readonly exitCode: number;
  /** JSON of the reply on success. */
  readonly stdout: string;
  /** The error message otherwise. */
  readonly stderr: string;
}

export interface OperatorServiceOptions {
  readonly store: CibStore;
  /** Resolves when the scheduler has nothing left to do (Controller.idle). */
  readonly idle?: (signal: AbortSignal) => Promise<void>;
  /** Ask for a scheduler run (so that a following wait sees the edit). */
  readonly trigger?: (reason: string) => void;
}

/** Longest a single wait request blocks (the relay gives up after 30 s; the CLI repeats). */
const MAX_WAIT_MS = 10_000;

/**
 * The controller's side of the operator tools: answers requests relayed
 * from `remora` on any node (cluster, remote or guest). The caller's node is
 * the one whose connection carried the request, never what the request
 * claims; edits go through the CIB store (version bump, change feed, so the
 * scheduler runs).
 */
export class OperatorService {
  constructor(private readonly options: OperatorServiceOptions) {}

  /** Answer one request from `node` (JSON reply on stdout; errors as exit code + message). */
  async answer(command: string, argumentsJson: string, node: string): Promise<OperatorResponse> {
    try {
      let args: unknown;
      try {
        args = argumentsJson ? JSON.parse(argumentsJson) : {};
      } catch {
        throw new OperatorError('the request arguments are not JSON', OperatorExit.invalidParam);
      }
      const reply = await this.handle(parseOperatorRequest(command, args), node);
      return { exitCode: 0, stdout: JSON.stringify(reply), stderr: '' };
    } catch (err) {
      if (err instanceof OperatorError)
        return { exitCode: err.exitCode, stdout: '', stderr: err.message };
      return { exitCode: OperatorExit.software, stdout: '', stderr: `controller: ${String(err)}` };
    }
  }

  private async handle(req: OperatorRequest, node: string): Promise<unknown> {
    const { store } = this.options;
    if (req.command === 'query') return { node, cib: store.xml } satisfies QueryReply;
    if (req.command === 'wait') {
      const idle = this.options.idle;
      if (!idle) return { idle: true } satisfies WaitReply;
      const signal = AbortSignal.timeout(Math.min(req.timeoutMs, MAX_WAIT_MS));
      const done = await idle(signal).then(
        () => true,
        () => false,
      );
      return { idle: done } satisfies WaitReply;
    }
    if (!EDITS.has(req.command))
      throw new OperatorError(`unknown operator command`, OperatorExit.unimplemented);
    const result = await store.modify((doc) => applyOperatorEdit(doc, req, { callerNode: node }), {
      scope: editScope(req),
      reason: `operator: ${req.command} from ${node}`,
    });
    this.options.trigger?.(`operator ${req.command} from ${node}`);
    return result;
  }
}
