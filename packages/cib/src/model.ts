import { parseDuration } from '@remora/agent-runner';
import { CibStructureError } from './errors';
import type { NvSet } from './nvset';
import { mergeNvSets, readNvSets } from './nvset';
import type { Rule } from './rules';
import { readRule } from './rules';
import { parseBoolean, parseScore } from './values';
import type { XmlDocument, XmlElement } from './xml';
import { childElements, firstChild } from './xml';

/** `admin_epoch.epoch.num_updates`: a CIB version (compared in that order). */
export interface CibVersion {
  readonly adminEpoch: number;
  readonly epoch: number;
  readonly numUpdates: number;
}

export interface Operation {
  readonly id: string;
  readonly name: string;
  /** Milliseconds (0 for a one-shot operation). */
  readonly interval: number;
  /** Milliseconds, when configured. */
  readonly timeout?: number;
  readonly role?: string;
  readonly enabled: boolean;
  readonly startDelay?: number;
  readonly onFail?: string;
  readonly attributes: Readonly<Record<string, string>>;
  /** instance_attributes: parameters the agent gets for this operation only. */
  readonly params: readonly NvSet[];
}

interface ResourceBase {
  readonly id: string;
  readonly meta: readonly NvSet[];
  /** The XPath-like location of the resource, for messages. */
  readonly path: string;
}

export interface Primitive extends ResourceBase {
  readonly kind: 'primitive';
  readonly class: string;
  readonly provider?: string;
  readonly type: string;
  /** `class:provider:type` / `class:type`. */
  readonly agent: string;
  readonly template?: string;
  readonly params: readonly NvSet[];
  readonly utilization: readonly NvSet[];
  readonly operations: readonly Operation[];
}

export interface Group extends ResourceBase {
  readonly kind: 'group';
  readonly children: readonly Primitive[];
  /** instance_attributes: parameters its members inherit (theirs win). */
  readonly params: readonly NvSet[];
}

export interface Clone extends ResourceBase {
  readonly kind: 'clone';
  /** instance_attributes: parameters its child inherits (the child's win). */
  readonly params: readonly NvSet[];
  /** `<master>` or `promotable=true`. */
  readonly promotable: boolean;
  readonly child: Primitive | Group;
}

export interface Bundle extends ResourceBase {
  readonly kind: 'bundle';
  /** docker, podman or rkt, with its attributes. */
  readonly container: {
    readonly kind: string;
    readonly attributes: Readonly<Record<string, string>>;
  };
  readonly network?: Readonly<Record<string, string>>;
  readonly child?: Primitive;
}

export type Resource = Primitive | Group | Clone | Bundle;

export interface LocationConstraint {
  readonly kind: 'location';
  readonly id: string;
  readonly rsc?: string;
  readonly rscPattern?: string;
  readonly role?: string;
  readonly node?: string;
  readonly score?: number;
  readonly rules: readonly Rule[];
  readonly resourceDiscovery?: string;
  /** Resource sets (`<resource_set>`): every member gets the constraint (with the set's role). */
  readonly sets: readonly ResourceSet[];
  /** A `cli-*` constraint from move/ban with a lifetime rule: `date_expression lt end`. */
}

export interface ResourceSet {
  readonly id: string;
  readonly resources: readonly string[];
  readonly sequential: boolean;
  readonly requireAll: boolean;
  readonly role?: string;
  readonly action?: string;
  /** Every attribute of the `<resource_set>` (`kind`, `score`, whether `sequential` was given, ...). */
  readonly attributes: Readonly<Record<string, string>>;
}

export interface ColocationConstraint {
  readonly kind: 'colocation';
  readonly id: string;
  readonly rsc?: string;
  readonly withRsc?: string;
  readonly rscRole?: string;
  readonly withRscRole?: string;
  readonly score: number;
  /** `node-attribute`: colocate on nodes sharing this attribute's value (default `#uname`). */
  readonly nodeAttribute?: string;
  /** `influence`: whether the dependent's preferences move the primary (default: the dependent's `critical`). */
  readonly influence?: string;
  readonly sets: readonly ResourceSet[];
}

export interface OrderConstraint {
  readonly kind: 'order';
  readonly id: string;
  readonly first?: string;
  readonly then?: string;
  readonly firstAction: string;
  readonly thenAction: string;
  /** Mandatory, Optional or Serialize (from `kind`, or from `score`: 0 → Optional). */
  readonly orderKind: 'Mandatory' | 'Optional' | 'Serialize';
  readonly symmetrical: boolean;
  /** `require-all` (default true): false lets one instance of a first clone suffice. */
  readonly requireAll: boolean;
  readonly sets: readonly ResourceSet[];
}

export interface TicketConstraint {
  readonly kind: 'ticket';
  readonly id: string;
  readonly rsc?: string;
  /** `rsc-role`: the constraint applies to the resource in that role only. */
  readonly rscRole?: string;
  readonly ticket: string;
  /** stop (default), demote, fence or freeze. */
  readonly lossPolicy?: string;
  readonly sets: readonly ResourceSet[];
}

/** A ticket's state from the status section (`<tickets><ticket_state>`). */
export interface TicketState {
  readonly id: string;
  readonly granted: boolean;
  readonly standby: boolean;
  /** Every attribute (`last-granted`, ...). */
  readonly attributes: Readonly<Record<string, string>>;
}

export type Constraint =
  LocationConstraint | ColocationConstraint | OrderConstraint | TicketConstraint;

/** A node of the cluster: a full member, or a remote or guest node (never DC, never votes). */
export interface ClusterNode {
  readonly kind: 'member' | 'remote' | 'guest';
  /** The node name (uname). */
  readonly name: string;
  /** The node id (members: the corosync id; remote/guest: the name). */
  readonly id: string;
  readonly attributes: readonly NvSet[];
  readonly utilization: readonly NvSet[];
  /** Whether the node has an entry in the configuration's `<nodes>` (a remote or guest node may have none). */
  readonly declared: boolean;
}

/** A guest node: created by a resource's `remote-node` meta attribute (a VM or container running the daemon). */
export interface GuestNode {
  readonly name: string;
  /** The resource that runs the guest (the VM/container). */
  readonly container: string;
  readonly address: string;
  readonly port: number;
  /** Milliseconds to wait for the daemon after the container starts. */
  readonly connectTimeout: number;
  /** Whether the connection may migrate with its container (`remote-allow-migrate`, default true). */
  readonly allowMigrate: boolean;
}

/** A remote node: an `ocf:pacemaker:remote` connection resource. */
export interface RemoteNode {
  readonly name: string;
  /** The connection resource (same as the name). */
  readonly connection: string;
  readonly address: string;
  readonly port: number;
  /** Milliseconds between reconnection attempts after a failure; 0 = none. */
  readonly reconnectInterval: number;
  readonly connectTimeout: number;
}

/** One recorded operation result (`lrm_rsc_op`). */
export interface OperationRecord {
  readonly id: string;
  readonly operationKey: string;
  readonly operation: string;
  readonly callId: number;
  readonly rc: number;
  readonly opStatus: number;
  readonly interval: number;
  readonly transitionKey?: string;
  readonly transitionMagic?: string;
  readonly opDigest?: string;
  readonly lastRcChange?: number;
  readonly execTime?: number;
  readonly queueTime?: number;
  readonly onNode?: string;
  readonly exitReason?: string;
  readonly attributes: Readonly<Record<string, string>>;
}

export interface ResourceHistoryRecord {
  readonly id: string;
  readonly class?: string;
  readonly provider?: string;
  readonly type?: string;
  readonly container?: string;
  /**
   * `shutdown-lock`: when the node shut down with the resource locked to it
   * (seconds since the epoch; set by the controller when shutdown-lock is on).
   */
  readonly shutdownLock?: number;
  readonly operations: readonly OperationRecord[];
}

/** The state of one node (`node_state`). */
export interface NodeState {
  readonly id: string;
  readonly uname: string;
  readonly inCcm: boolean;
  readonly crmd: string;
  readonly join?: string;
  readonly expected?: string;
  readonly remoteNode: boolean;
  readonly resources: readonly ResourceHistoryRecord[];
  readonly transientAttributes: Readonly<Record<string, string>>;
  readonly attributes: Readonly<Record<string, string>>;
}

/** A typed, read-only view of a CIB document. */
export interface Cib {
  readonly version: CibVersion;
  readonly validateWith?: string;
  readonly haveQuorum: boolean;
  readonly dcUuid?: string;
  readonly rootAttributes: Readonly<Record<string, string>>;
  readonly propertySets: readonly NvSet[];
  /** Cluster properties with rules evaluated against "now" and defaults not applied. */
  readonly properties: Readonly<Record<string, string>>;
  readonly nodes: readonly ClusterNode[];
  readonly guestNodes: readonly GuestNode[];
  readonly remoteNodes: readonly RemoteNode[];
  readonly resources: readonly Resource[];
  /** Ids of resource templates (`<template>`); primitives name theirs in `template`. */
  readonly templates: readonly string[];
  /** Tags (`<tags><tag>`): tag id → the ids it refers to (`obj_ref`), in order. */
  readonly tags: ReadonlyMap<string, readonly string[]>;
  readonly constraints: readonly Constraint[];
  readonly rscDefaults: readonly NvSet[];
  readonly opDefaults: readonly NvSet[];
  readonly status: readonly NodeState[];
  /** Ticket states recorded in the status section. */
  readonly tickets: readonly TicketState[];
}

const DEFAULT_REMOTE_PORT = 3121;
const DEFAULT_CONNECT_TIMEOUT = 60_000;

function attrs(el: XmlElement): Record<string, string> {
  return Object.fromEntries(el.attributes);
}

function num(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function need(el: XmlElement, name: string, path: string): string {
  const v = el.attributes.get(name);
  if (v === undefined || v === '')
    throw new CibStructureError(path, `<${el.name}> needs a '${name}' attribute`);
  return v;
}

/** Parse an interval or timeout (`10s`, `PT10S`, `1min`, plain seconds) into ms, with a clear error. */
export function parseInterval(value: string, where: string): number {
  const ms = parseDuration(value);
  if (ms === undefined)
    throw new CibStructureError(
      where,
      `'${value}' is not a duration (e.g. 10s, 500ms, 2min, PT10S)`,
    );
  return ms;
}

/** Elements other definitions refer to by id: resource templates and `<operations>` sets (`id-ref`). */
interface ResourceDefs {
  readonly templates: Map<string, XmlElement>;
  readonly operations: Map<string, XmlElement>;
}

function readOperations(el: XmlElement, path: string, defs: ResourceDefs): Operation[] {
  let ops = firstChild(el, 'operations');
  if (!ops) return [];
  const ref = ops.attributes.get('id-ref');
  if (ref !== undefined) {
    ops = defs.operations.get(ref);
    if (!ops)
      throw new CibStructureError(
        `${path}/operations`,
        `id-ref '${ref}' names no <operations> set`,
      );
  }
  return childElements(ops, 'op').map((op) => {
    const id = op.attributes.get('id') ?? '';
    const p = `${path}/operations/op[@id='${id}']`;
    const a = attrs(op);
    const meta = mergeNvSets(readNvSets(op, ['meta_attributes'], p));
    const get = (k: string): string | undefined => a[k] ?? meta[k];
    const timeout = get('timeout');
    const startDelay = get('start-delay');
    return {
      id,
      name: need(op, 'name', p),
      interval: parseInterval(a.interval ?? '0', `${p}/@interval`),
      timeout: timeout === undefined ? undefined : parseInterval(timeout, `${p}/@timeout`),
      role: get('role'),
      enabled: parseBoolean(get('enabled'), true),
      startDelay:
        startDelay === undefined ? undefined : parseInterval(startDelay, `${p}/@start-delay`),
      onFail: get('on-fail'),
      attributes: a,
      params: readNvSets(op, ['instance_attributes'], p),
    };
  });
}

/** An operation's identity for template inheritance: its name and role (Started/Unpromoted = any). */
function templateOpKey(op: Operation): string {
  const role = (op.role ?? '').toLowerCase();
  const any = role === '' || role === 'started' || role === 'unpromoted' || role === 'slave';
  return `${op.name}-${any ? '' : role}`;
}

/**
 * A primitive's operations with its template's: a template operation is
 * inherited unless the primitive defines one with the same name and role
 * (whatever its interval), as Pacemaker expands templates.
 */
function withTemplateOperations(own: Operation[], template: Operation[]): Operation[] {
  const mine = new Set(own.map(templateOpKey));
  return [...own, ...template.filter((o) => !mine.has(templateOpKey(o)))];
}

function readPrimitive(el: XmlElement, parent: string, defs: ResourceDefs): Primitive {
  const id = need(el, 'id', parent);
  const path = `${parent}/primitive[@id='${id}']`;
  const template = el.attributes.get('template');
  const tpl = template === undefined ? undefined : defs.templates.get(template);
  if (template !== undefined && !tpl)
    throw new CibStructureError(path, `template '${template}' does not exist`);
  const src = tpl ?? el;
  const cls = el.attributes.get('class') ?? src.attributes.get('class');
  const type = el.attributes.get('type') ?? src.attributes.get('type');
  if (!cls) throw new CibStructureError(path, "<primitive> needs a 'class' attribute");
  if (!type) throw new CibStructureError(path, "<primitive> needs a 'type' attribute");
  const provider = el.attributes.get('provider') ?? src.attributes.get('provider');
  if (cls === 'ocf' && !provider)
    throw new CibStructureError(path, "an OCF primitive needs a 'provider' attribute");
  const sets = (kinds: string[]): NvSet[] => [
    ...readNvSets(el, kinds, path),
    ...(tpl ? readNvSets(tpl, kinds, path) : []),
  ];
  return {
    kind: 'primitive',
    id,
    path,
    class: cls,
    provider,
    type,
    agent: provider ? `${cls}:${provider}:${type}` : `${cls}:${type}`,
    template,
    params: sets(['instance_attributes']),
    meta: sets(['meta_attributes']),
    utilization: sets(['utilization']),
    operations: withTemplateOperations(
      readOperations(el, path, defs),
      tpl ? readOperations(tpl, path, defs) : [],
    ),
  };
}

function readResource(el: XmlElement, parent: string, defs: ResourceDefs): Resource | undefined {
  switch (el.name) {
    case 'primitive':
      return readPrimitive(el, parent, defs);
    case 'group': {
      const id = need(el, 'id', parent);
      const path = `${parent}/group[@id='${id}']`;
      return {
        kind: 'group',
        id,
        path,
        meta: readNvSets(el, ['meta_attributes'], path),
        params: readNvSets(el, ['instance_attributes'], path),
        children: childElements(el, 'primitive').map((p) => readPrimitive(p, path, defs)),
      };
    }
    case 'clone':
    case 'master': {
      const id = need(el, 'id', parent);
      const path = `${parent}/${el.name}[@id='${id}']`;
      const meta = readNvSets(el, ['meta_attributes'], path);
      const inner = childElements(el).find((c) => c.name === 'primitive' || c.name === 'group');
      if (!inner)
        throw new CibStructureError(path, `<${el.name}> must contain a primitive or a group`);
      const child = readResource(inner, path, defs) as Primitive | Group;
      return {
        kind: 'clone',
        id,
        path,
        meta,
        params: readNvSets(el, ['instance_attributes'], path),
        promotable: el.name === 'master' || parseBoolean(mergeNvSets(meta).promotable, false),
        child,
      };
    }
    case 'bundle': {
      const id = need(el, 'id', parent);
      const path = `${parent}/bundle[@id='${id}']`;
      const container = childElements(el).find((c) => ['docker', 'podman', 'rkt'].includes(c.name));
      if (!container)
        throw new CibStructureError(path, '<bundle> needs a docker, podman or rkt element');
      const network = firstChild(el, 'network');
      const prim = firstChild(el, 'primitive');
      return {
        kind: 'bundle',
        id,
        path,
        meta: readNvSets(el, ['meta_attributes'], path),
        container: { kind: container.name, attributes: attrs(container) },
        network: network ? attrs(network) : undefined,
        child: prim ? readPrimitive(prim, path, defs) : undefined,
      };
    }
    default:
      return undefined;
  }
}

function readSets(el: XmlElement): ResourceSet[] {
  return childElements(el, 'resource_set').map((s) => ({
    id: s.attributes.get('id') ?? '',
    resources: childElements(s, 'resource_ref').map((r) => r.attributes.get('id') ?? ''),
    sequential: parseBoolean(s.attributes.get('sequential'), true),
    requireAll: parseBoolean(s.attributes.get('require-all'), true),
    role: s.attributes.get('role'),
    action: s.attributes.get('action'),
    attributes: attrs(s),
  }));
}

function readConstraint(el: XmlElement, parent: string): Constraint | undefined {
  const id = el.attributes.get('id') ?? '';
  const path = `${parent}/${el.name}[@id='${id}']`;
  const a = el.attributes;
  switch (el.name) {
    case 'rsc_location': {
      const score = a.get('score');
      return {
        kind: 'location',
        id,
        rsc: a.get('rsc'),
        rscPattern: a.get('rsc-pattern'),
        role: a.get('role'),
        node: a.get('node'),
        score: score === undefined ? undefined : parseScore(score, `${path}/@score`),
        rules: childElements(el, 'rule').map((r) => readRule(r, path)),
        resourceDiscovery: a.get('resource-discovery'),
        sets: readSets(el),
      };
    }
    case 'rsc_colocation':
      return {
        kind: 'colocation',
        id,
        rsc: a.get('rsc'),
        withRsc: a.get('with-rsc'),
        rscRole: a.get('rsc-role'),
        withRscRole: a.get('with-rsc-role'),
        score: parseScore(a.get('score') ?? '0', `${path}/@score`),
        nodeAttribute: a.get('node-attribute'),
        influence: a.get('influence'),
        sets: readSets(el),
      };
    case 'rsc_order': {
      const kind = a.get('kind');
      const score = a.get('score');
      let orderKind: OrderConstraint['orderKind'] = 'Mandatory';
      if (kind !== undefined) {
        // An unknown kind is reported by verifyCib and treated as Mandatory, as Pacemaker does.
        if (kind === 'Optional' || kind === 'Serialize') orderKind = kind;
      } else if (score !== undefined && parseScore(score, `${path}/@score`) === 0) {
        orderKind = 'Optional';
      }
      return {
        kind: 'order',
        id,
        first: a.get('first'),
        then: a.get('then'),
        firstAction: a.get('first-action') ?? 'start',
        thenAction: a.get('then-action') ?? a.get('first-action') ?? 'start',
        orderKind,
        symmetrical: parseBoolean(a.get('symmetrical'), orderKind !== 'Serialize'),
        requireAll: parseBoolean(a.get('require-all'), true),
        sets: readSets(el),
      };
    }
    case 'rsc_ticket':
      return {
        kind: 'ticket',
        id,
        rsc: a.get('rsc'),
        rscRole: a.get('rsc-role'),
        ticket: a.get('ticket') ?? '',
        lossPolicy: a.get('loss-policy'),
        sets: readSets(el),
      };
    default:
      return undefined;
  }
}

function allPrimitives(resources: readonly Resource[]): Primitive[] {
  const out: Primitive[] = [];
  const visit = (r: Resource | undefined): void => {
    if (!r) return;
    if (r.kind === 'primitive') out.push(r);
    else if (r.kind === 'group') r.children.forEach(visit);
    else if (r.kind === 'clone') visit(r.child);
    else visit(r.child);
  };
  resources.forEach(visit);
  return out;
}

/** Every primitive, depth first (inside groups, clones and bundles too). */
export { allPrimitives };

/** What {@link readCib} remembers between versions that share subtrees (the store's; elements must not change). */
export interface ReadCache {
  readonly configurations: WeakMap<XmlElement, Omit<Cib, RootFields | 'status' | 'tickets'>>;
  readonly nodeStates: WeakMap<XmlElement, NodeState>;
  readonly resources: WeakMap<XmlElement, ResourceHistoryRecord>;
}

type RootFields = 'version' | 'validateWith' | 'haveQuorum' | 'dcUuid' | 'rootAttributes';

/** A cache for {@link readCibCached}. */
export function newReadCache(): ReadCache {
  return { configurations: new WeakMap(), nodeStates: new WeakMap(), resources: new WeakMap() };
}

function readStatus(status: XmlElement | undefined, cache?: ReadCache): NodeState[] {
  if (!status) return [];
  return childElements(status, 'node_state').map((ns) => {
    const known = cache?.nodeStates.get(ns);
    if (known) return known;
    const state = readNodeState(ns, cache);
    cache?.nodeStates.set(ns, state);
    return state;
  });
}

function readNodeState(ns: XmlElement, cache: ReadCache | undefined): NodeState {
  const a = ns.attributes;
  const lrm = firstChild(ns, 'lrm');
  const lrmResources = lrm ? firstChild(lrm, 'lrm_resources') : undefined;
  const transient = firstChild(ns, 'transient_attributes');
  return {
    id: a.get('id') ?? '',
    uname: a.get('uname') ?? a.get('id') ?? '',
    inCcm: a.get('in_ccm') === 'true' || /^\d+$/.test(a.get('in_ccm') ?? ''),
    crmd: a.get('crmd') ?? 'offline',
    join: a.get('join'),
    expected: a.get('expected'),
    remoteNode: parseBoolean(a.get('remote_node'), false),
    attributes: attrs(ns),
    transientAttributes: transient
      ? mergeNvSets(readNvSets(transient, ['instance_attributes'], 'status'))
      : {},
    resources: lrmResources
      ? childElements(lrmResources, 'lrm_resource').map((r) => {
          const known = cache?.resources.get(r);
          if (known) return known;
          const record = readResourceHistory(r);
          cache?.resources.set(r, record);
          return record;
        })
      : [],
  };
}

function readResourceHistory(r: XmlElement): ResourceHistoryRecord {
  return {
    id: r.attributes.get('id') ?? '',
    class: r.attributes.get('class'),
    provider: r.attributes.get('provider'),
    type: r.attributes.get('type'),
    container: r.attributes.get('container'),
    shutdownLock: num(r.attributes.get('shutdown-lock')),
    operations: childElements(r, 'lrm_rsc_op').map((op) => {
      const o = op.attributes;
      return {
        id: o.get('id') ?? '',
        operationKey: o.get('operation_key') ?? o.get('id') ?? '',
        operation: o.get('operation') ?? '',
        callId: num(o.get('call-id')) ?? -1,
        rc: num(o.get('rc-code')) ?? -1,
        opStatus: num(o.get('op-status')) ?? 0,
        interval: num(o.get('interval')) ?? 0,
        transitionKey: o.get('transition-key'),
        transitionMagic: o.get('transition-magic'),
        opDigest: o.get('op-digest'),
        lastRcChange: num(o.get('last-rc-change')),
        execTime: num(o.get('exec-time')),
        queueTime: num(o.get('queue-time')),
        onNode: o.get('on_node'),
        exitReason: o.get('exit-reason'),
        attributes: attrs(op),
      };
    }),
  };
}

function readTickets(status: XmlElement | undefined): TicketState[] {
  const tickets = status ? firstChild(status, 'tickets') : undefined;
  if (!tickets) return [];
  return childElements(tickets, 'ticket_state').map((t) => {
    const a = attrs(t);
    return {
      id: a.id ?? '',
      granted: parseBoolean(a.granted, false),
      standby: parseBoolean(a.standby, false),
      attributes: a,
    };
  });
}

/**
 * Read a CIB document into the typed model. Throws {@link CibStructureError}
 * naming the path of the first structural problem (missing ids, bad scores,
 * bad durations, unknown templates). Use `verifyCib` for a full report.
 */
export function readCib(doc: XmlDocument): Cib {
  return readCibCached(doc, undefined);
}

/**
 * {@link readCib}, reusing what `cache` remembers of elements read before
 * (the store's committed versions share unchanged subtrees: a status
 * update re-reads only the node states it changed).
 */
export function readCibCached(doc: XmlDocument, cache: ReadCache | undefined): Cib {
  const root = doc.root;
  if (root.name !== 'cib')
    throw new CibStructureError('/', `the root element is <${root.name}>, expected <cib>`);
  const configuration = firstChild(root, 'configuration');
  if (!configuration) throw new CibStructureError('/cib', 'missing <configuration>');
  let config = cache?.configurations.get(configuration);
  if (!config) {
    config = readConfiguration(configuration);
    cache?.configurations.set(configuration, config);
  }
  const n = (k: string): number => {
    const v = root.attributes.get(k);
    const parsed = v === undefined ? 0 : Number.parseInt(v, 10);
    if (Number.isNaN(parsed))
      throw new CibStructureError(`/cib/@${k}`, `'${v}' is not a whole number`);
    return parsed;
  };
  const status = firstChild(root, 'status');
  return {
    version: { adminEpoch: n('admin_epoch'), epoch: n('epoch'), numUpdates: n('num_updates') },
    validateWith: root.attributes.get('validate-with'),
    haveQuorum: parseBoolean(root.attributes.get('have-quorum'), false),
    dcUuid: root.attributes.get('dc-uuid'),
    rootAttributes: attrs(root),
    ...config,
    status: readStatus(status, cache),
    tickets: readTickets(status),
  };
}

function readConfiguration(
  configuration: XmlElement,
): Omit<Cib, RootFields | 'status' | 'tickets'> {
  const section = (name: string): XmlElement | undefined => firstChild(configuration, name);
  const cfgPath = '/cib/configuration';

  const crmConfig = section('crm_config');
  const propertySets = crmConfig
    ? readNvSets(crmConfig, ['cluster_property_set'], `${cfgPath}/crm_config`)
    : [];

  const resourcesEl = section('resources');
  const templates = new Map<string, XmlElement>();
  if (resourcesEl) {
    for (const t of childElements(resourcesEl, 'template'))
      templates.set(t.attributes.get('id') ?? '', t);
  }
  // <operations> sets anywhere under <resources>, for references (`<operations id-ref=.../>`)
  const operations = new Map<string, XmlElement>();
  const collectOperations = (el: XmlElement): void => {
    for (const c of childElements(el)) {
      const id = c.attributes.get('id');
      if (c.name === 'operations' && id !== undefined && !c.attributes.has('id-ref'))
        operations.set(id, c);
      collectOperations(c);
    }
  };
  if (resourcesEl) collectOperations(resourcesEl);
  const defs: ResourceDefs = { templates, operations };
  const resources: Resource[] = [];
  if (resourcesEl) {
    for (const el of childElements(resourcesEl)) {
      const r = readResource(el, `${cfgPath}/resources`, defs);
      if (r) resources.push(r);
    }
  }

  const tags = new Map<string, string[]>();
  const tagsEl = section('tags');
  if (tagsEl) {
    for (const t of childElements(tagsEl, 'tag')) {
      const id = need(t, 'id', `${cfgPath}/tags`);
      tags.set(
        id,
        childElements(t, 'obj_ref').map((r) => need(r, 'id', `${cfgPath}/tags/tag[@id='${id}']`)),
      );
    }
  }

  const constraintsEl = section('constraints');
  const constraints: Constraint[] = [];
  if (constraintsEl) {
    for (const el of childElements(constraintsEl)) {
      const c = readConstraint(el, `${cfgPath}/constraints`);
      if (c) constraints.push(c);
    }
  }

  const rscDefaultsEl = section('rsc_defaults');
  const opDefaultsEl = section('op_defaults');

  // Guest and remote nodes come from resources.
  const guestNodes: GuestNode[] = [];
  const remoteNodes: RemoteNode[] = [];
  for (const p of allPrimitives(resources)) {
    const meta = mergeNvSets(p.meta);
    const params = mergeNvSets(p.params);
    if (meta['remote-node']) {
      const name = meta['remote-node'];
      guestNodes.push({
        name,
        container: p.id,
        address: meta['remote-addr'] ?? name,
        port: Number(meta['remote-port'] ?? DEFAULT_REMOTE_PORT),
        connectTimeout: meta['remote-connect-timeout']
          ? parseInterval(
              meta['remote-connect-timeout'],
              `${p.path}/meta_attributes/remote-connect-timeout`,
            )
          : DEFAULT_CONNECT_TIMEOUT,
        allowMigrate: parseBoolean(meta['remote-allow-migrate'], true),
      });
    }
    if (p.class === 'ocf' && p.provider === 'pacemaker' && p.type === 'remote') {
      const start = p.operations.find((o) => o.name === 'start');
      remoteNodes.push({
        name: p.id,
        connection: p.id,
        address: params.server ?? p.id,
        port: Number(params.port ?? DEFAULT_REMOTE_PORT),
        reconnectInterval: params.reconnect_interval
          ? parseInterval(
              params.reconnect_interval,
              `${p.path}/instance_attributes/reconnect_interval`,
            )
          : 0,
        connectTimeout: start?.timeout ?? DEFAULT_CONNECT_TIMEOUT,
      });
    }
  }

  const nodesEl = section('nodes');
  const nodes: ClusterNode[] = [];
  const declared = new Map<string, XmlElement>();
  if (nodesEl) {
    for (const n of childElements(nodesEl, 'node')) {
      const uname = n.attributes.get('uname') ?? n.attributes.get('id') ?? '';
      declared.set(uname, n);
    }
  }
  const guestNames = new Set(guestNodes.map((g) => g.name));
  const remoteNames = new Set(remoteNodes.map((r) => r.name));
  for (const [uname, n] of declared) {
    const type = n.attributes.get('type');
    const kind = guestNames.has(uname)
      ? 'guest'
      : remoteNames.has(uname) || type === 'remote'
        ? 'remote'
        : 'member';
    const p = `${cfgPath}/nodes/node[@id='${n.attributes.get('id') ?? ''}']`;
    nodes.push({
      kind,
      name: uname,
      id: n.attributes.get('id') ?? uname,
      attributes: readNvSets(n, ['instance_attributes'], p),
      utilization: readNvSets(n, ['utilization'], p),
      declared: true,
    });
  }
  for (const name of [...guestNames, ...remoteNames]) {
    if (!declared.has(name)) {
      nodes.push({
        kind: guestNames.has(name) ? 'guest' : 'remote',
        name,
        id: name,
        attributes: [],
        utilization: [],
        declared: false,
      });
    }
  }

  return {
    propertySets,
    properties: mergeNvSets(propertySets),
    nodes,
    guestNodes,
    remoteNodes,
    resources,
    templates: [...templates.keys()],
    tags,
    constraints,
    rscDefaults: rscDefaultsEl
      ? readNvSets(rscDefaultsEl, ['meta_attributes'], `${cfgPath}/rsc_defaults`)
      : [],
    opDefaults: opDefaultsEl
      ? readNvSets(opDefaultsEl, ['meta_attributes'], `${cfgPath}/op_defaults`)
      : [],
  };
}

/** Compare CIB versions: negative when a is older than b. */
export function compareVersions(a: CibVersion, b: CibVersion): number {
  return a.adminEpoch - b.adminEpoch || a.epoch - b.epoch || a.numUpdates - b.numUpdates;
}

/** `admin_epoch.epoch.num_updates` */
export function formatVersion(v: CibVersion): string {
  return `${v.adminEpoch}.${v.epoch}.${v.numUpdates}`;
}
