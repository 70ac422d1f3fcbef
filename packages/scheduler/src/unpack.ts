/**
 * Unpacking: from the typed CIB to the working set — node states, the
 * resource tree with effective meta attributes, and what the status
 * section's operation history says about where each resource is active.
 */
import type {
  Cib,
  Clone,
  ColocationConstraint,
  Constraint,
  Group,
  NvSet,
  OperationRecord,
  Primitive,
  Resource,
  ResourceHistoryRecord,
  ResourceSet,
} from '@remora/cib';
import { evaluateRule, mergeNvSets, parseBoolean, parseInterval, parseScore } from '@remora/cib';
import type { Coloc, OpConfig, Rsc, SNode } from './model';
import {
  INF,
  OnFail,
  Role,
  cloneOf,
  inPromotable,
  isActiveRole,
  parseRole,
  primitivesOf,
} from './model';
import { applyTickets, expandConstraints } from './constraints';
import { configChanges } from './digest';
import { promotableSettings } from './promotable';
import { NodeScores } from './scores';

export interface Config {
  stonithEnabled: boolean;
  haveStonithResource: boolean;
  noQuorumPolicy: 'stop' | 'ignore' | 'freeze' | 'suicide' | 'demote';
  symmetric: boolean;
  haveQuorum: boolean;
  startFailureIsFatal: boolean;
  stopOrphanResources: boolean;
  stopOrphanActions: boolean;
  maintenanceMode: boolean;
  stonithAction: string;
  /** concurrent-fencing: fencing of several nodes at once (else one after the other). */
  concurrentFencing: boolean;
  placementStrategy: string;
  startupProbes: boolean;
  stopAllResources: boolean;
  startupFencing: boolean;
  defaultStickiness: number;
  /**
   * Some fence device provides unfencing or some resource requires it (any
   * `provides=unfencing` or `requires=unfencing` name/value pair in the
   * CIB): resources then require unfencing by default.
   */
  enableUnfencing: boolean;
  /** shutdown-lock: resources of a node shutting down cleanly stay locked to it. */
  shutdownLock: boolean;
  /** shutdown-lock-limit in seconds (0: locks never expire). */
  shutdownLockLimit: number;
}

/** A failed operation, as "Failed Resource Actions" lists it. */
export interface FailedOp {
  readonly resource: string;
  readonly node: string;
  readonly operation: string;
  readonly interval: number;
  readonly rc: number;
  readonly status: number;
  readonly callId: number;
  readonly exitReason?: string;
  readonly lastRcChange?: number;
  readonly key: string;
}

/** A stop that unpacking already knows is required (failure handling). */
export interface ForcedStop {
  readonly rsc: Rsc;
  readonly node: SNode;
  /**
   * The container of a failed resource (on-fail=restart-container): stopped
   * there even when its history does not show it active.
   */
  readonly container?: boolean;
}

export interface WorkingSet {
  readonly cib: Cib;
  readonly now: Date;
  readonly config: Config;
  readonly nodes: SNode[];
  readonly nodeByName: Map<string, SNode>;
  /** Top-level resources, in configuration order (implicit guest connections last). */
  readonly resources: Rsc[];
  /** Every resource by id (collectives, clone instances and primitives). */
  readonly byId: Map<string, Rsc>;
  /** A cloned resource's configured id -> its clone (constraints may name either). */
  readonly aliases: Map<string, Rsc>;
  /** Anonymous clones: configured primitive id -> its instances (fail counts are shared). */
  readonly anonInstances: Map<string, Rsc[]>;
  readonly colocations: Coloc[];
  /** The configured constraints with tags and templates expanded to resources. */
  readonly constraints: Constraint[];
  readonly failedOps: FailedOp[];
  readonly forcedStops: ForcedStop[];
  /** Location scores applied while unpacking (bans from failures), applied after constraints. */
  readonly bans: { rsc: Rsc; node?: SNode; score: number }[];
  /** Expired fail counts to clear: "clear_failcount" actions. */
  readonly clearFailcounts: { rsc: Rsc; node: SNode }[];
  /** Resource histories to delete from a node's status: "lrm_delete" actions (expired shutdown locks). */
  readonly historyDeletes: { rsc: Rsc; node: SNode }[];
  /**
   * The actions Pacemaker creates while unpacking, before any other, in the
   * order the history is read: the recurring operations active on an online
   * node (process_recurring), then the stop a failure requires there
   * (process_rsc_state). Their order decides the order orderings are applied in.
   */
  readonly unpackedActions: { rsc: Rsc; node: SNode; key: string }[];
  readonly warnings: string[];
  dc?: SNode;
  /** Creates an orphan instance of an anonymous clone (history with no free instance). */
  newOrphanInstance?: (clone: Rsc) => Rsc;
}

const STATUS_DONE = 0;
const STATUS_PENDING = -1;
const STATUS_CANCELLED = 1;
const STATUS_NOT_INSTALLED = 7;
const STATUS_NOT_CONNECTED = 8;
const STATUS_ERROR = 4;
const STATUS_ERROR_HARD = 5;
const STATUS_ERROR_FATAL = 6;

function isTrue(v: string | undefined): boolean {
  return parseBoolean(v, false);
}

function readConfig(cib: Cib, ruleCtx: { now: Date }): Config {
  const p = mergeNvSets(cib.propertySets, (rule) => evaluateRule(rule, ruleCtx));
  const nq = (p['no-quorum-policy'] ?? 'stop').toLowerCase();
  return {
    stonithEnabled: parseBoolean(p['stonith-enabled'], true),
    // watchdog-based self-fencing (SBD) counts as a fencing device
    haveStonithResource: parseBoolean(p['have-watchdog'], false),
    noQuorumPolicy: (['stop', 'ignore', 'freeze', 'suicide', 'demote'].includes(nq)
      ? // suicide only once the cluster has had quorum (or no-quorum-panic is set)
        nq === 'suicide' &&
        !cib.haveQuorum &&
        !(Number(cib.rootAttributes['no-quorum-panic'] ?? '0') > 0)
        ? 'stop'
        : nq
      : 'stop') as Config['noQuorumPolicy'],
    symmetric: parseBoolean(p['symmetric-cluster'], true),
    haveQuorum: cib.haveQuorum,
    startFailureIsFatal: parseBoolean(p['start-failure-is-fatal'], true),
    stopOrphanResources: parseBoolean(p['stop-orphan-resources'], true),
    stopOrphanActions: parseBoolean(p['stop-orphan-actions'], true),
    maintenanceMode: parseBoolean(p['maintenance-mode'], false),
    stonithAction:
      (p['stonith-action'] ?? 'reboot') === 'poweroff' ? 'off' : (p['stonith-action'] ?? 'reboot'),
    concurrentFencing: parseBoolean(p['concurrent-fencing'], false),
    placementStrategy: p['placement-strategy'] ?? 'default',
    startupProbes: parseBoolean(p['enable-startup-probes'], true),
    stopAllResources: parseBoolean(p['stop-all-resources'], false),
    startupFencing: parseBoolean(p['startup-fencing'], true),
    defaultStickiness:
      p['default-resource-stickiness'] !== undefined
        ? parseScore(p['default-resource-stickiness'])
        : 0,
    enableUnfencing: enablesUnfencing(cib),
    shutdownLock: parseBoolean(p['shutdown-lock'], false),
    shutdownLockLimit: seconds(
      p['shutdown-lock-limit'],
      '/cib/configuration/crm_config/shutdown-lock-limit',
    ),
  };
}

/**
 * Whether any name/value pair of the CIB's configuration says
 * `provides=unfencing` (a fence device that unfences) or
 * `requires=unfencing`, as Pacemaker looks for them.
 */
function enablesUnfencing(cib: Cib): boolean {
  const sets: NvSet[] = [...cib.propertySets, ...cib.rscDefaults, ...cib.opDefaults];
  const walk = (r: Resource): void => {
    sets.push(...r.meta);
    if (r.kind === 'primitive') sets.push(...r.params, ...r.utilization);
    else if (r.kind === 'group') r.children.forEach(walk);
    else if (r.kind === 'clone') walk(r.child);
    else if (r.child) walk(r.child);
  };
  cib.resources.forEach(walk);
  return sets.some((s) => s.values.provides === 'unfencing' || s.values.requires === 'unfencing');
}

/**
 * What a resource needs before it may start (Pacemaker's unpack_requires):
 * the configured `requires`, where fence devices never require unfencing
 * and nothing does while fencing is disabled; by default fence devices and
 * remote connections need quorum, other resources unfencing when it is
 * enabled, else fencing when fencing is enabled, else nothing when
 * no-quorum-policy is ignore, else quorum.
 */
function requiresOf(
  value: string | undefined,
  config: Config,
  isStonith: boolean,
  isRemote: boolean,
): Rsc['requires'] {
  switch (value) {
    case 'nothing':
    case 'quorum':
    case 'fencing':
      return value;
    case 'unfencing':
      return isStonith || !config.stonithEnabled ? 'quorum' : 'unfencing';
    default:
      if (isStonith || isRemote) return 'quorum';
      if (config.enableUnfencing) return 'unfencing';
      if (config.stonithEnabled) return 'fencing';
      return config.noQuorumPolicy === 'ignore' ? 'nothing' : 'quorum';
  }
}

/**
 * The node a resource active on several nodes counts as active on (Pacemaker's
 * pe__find_active_on): a partial migration's source, else, unless it needs
 * fencing, the first clean online node, else the first node it is active on.
 */
export function activeNode(rsc: Rsc): SNode | undefined {
  if (rsc.partialSource)
    return rsc.runningOn.includes(rsc.partialSource) ? rsc.partialSource : rsc.runningOn[0];
  if (!needsFencing(rsc))
    return rsc.runningOn.find((n) => n.online && !n.unclean) ?? rsc.runningOn[0];
  return rsc.runningOn[0];
}

/** A resource that must not start on a node that has not been fenced (requires fencing or unfencing). */
export function needsFencing(rsc: Rsc): boolean {
  return rsc.requires === 'fencing' || rsc.requires === 'unfencing';
}

/** Whether a node has been unfenced since it joined (a `#node-unfenced` attribute other than 0). */
export function nodeUnfenced(node: SNode): boolean {
  const v = node.attrs['#node-unfenced'];
  return v !== undefined && v !== '0';
}

/** Whether a feature set version (missing: oldest) is older than `ref`. */
export function olderFeatureSet(version: string | undefined, ref: readonly number[]): boolean {
  if (version === undefined) return true;
  const v = version.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < ref.length; i++) {
    const a = v[i] ?? 0;
    const b = ref[i] ?? 0;
    if (a !== b) return a < b;
  }
  return false;
}

function seconds(value: string | undefined, where: string): number {
  if (value === undefined || value === '') return 0;
  return Math.floor(parseInterval(value, where) / 1000);
}

/** The expected rc from a transition key `action:transition:rc:uuid`. */
function targetRc(op: OperationRecord): number {
  const key = op.transitionKey ?? op.transitionMagic?.split(';')[1];
  if (!key) return -1;
  const parts = key.split(':');
  if (parts.length < 4) return -1;
  const n = Number(parts[2]);
  return Number.isInteger(n) ? n : -1;
}

/** The status and scheduling fields of a resource before anything is known about it. */
function freshState(): Pick<
  Rsc,
  | 'role'
  | 'nextRole'
  | 'runningOn'
  | 'knownOn'
  | 'failed'
  | 'stopFlag'
  | 'blocked'
  | 'startPending'
  | 'allowed'
  | 'provisional'
  | 'assigning'
  | 'merging'
  | 'thisWith'
  | 'withThis'
  | 'discovery'
  | 'exclusiveDiscover'
  | 'actions'
> {
  return {
    role: Role.Unknown,
    nextRole: Role.Unknown,
    runningOn: [],
    knownOn: new Set(),
    failed: false,
    stopFlag: false,
    blocked: false,
    startPending: false,
    allowed: new NodeScores(),
    provisional: true,
    assigning: false,
    merging: false,
    thisWith: [],
    withThis: [],
    discovery: new Map(),
    exclusiveDiscover: false,
    actions: [],
  };
}

/**
 * The cluster's state from the CIB. `constraints: false` stops before the
 * constraints are read and tickets applied (loss-policy=fence makes nodes
 * UNCLEAN only when scheduling): the state status tools show.
 */
export function unpack(cib: Cib, now: Date, options: { constraints?: boolean } = {}): WorkingSet {
  const ruleCtxBase = { now };
  const config = readConfig(cib, ruleCtxBase);
  const ws: WorkingSet = {
    cib,
    now,
    config,
    nodes: [],
    nodeByName: new Map(),
    resources: [],
    byId: new Map(),
    aliases: new Map(),
    anonInstances: new Map(),
    colocations: [],
    constraints: [],
    failedOps: [],
    forcedStops: [],
    bans: [],
    clearFailcounts: [],
    historyDeletes: [],
    unpackedActions: [],
    warnings: [],
  };

  // ---- nodes from configuration
  const legacyFailCounts = olderFeatureSet(cib.rootAttributes.crm_feature_set, [3, 0, 13]);
  const addNode = (
    name: string,
    id: string,
    kind: SNode['kind'],
    permanent: Record<string, string>,
  ): SNode => {
    const existing = ws.nodeByName.get(name);
    if (existing) return existing;
    // cluster and remote nodes are unclean until seen (guest nodes are recovered, not fenced)
    const unclean = kind !== 'guest' && config.startupFencing;
    const node: SNode = {
      index: ws.nodes.length,
      name,
      id,
      kind,
      online: false,
      unclean,
      unseen: kind !== 'guest',
      shutdown: false,
      standby: false,
      standbyOnFail: false,
      pending: false,
      maintenance: false,
      expectedUp: false,
      remoteRequiresReset: false,
      remoteWasFenced: false,
      rscDiscovery: true,
      // a remote or guest node gets its name, id and DC flag as attributes only once
      // its configuration entry or its node state is read (see identityAttrs)
      attrs: {
        ...permanent,
        ...(kind === 'member' ? identityAttrs(name, id) : {}),
        '#kind': kind === 'member' ? 'cluster' : kind === 'guest' ? 'container' : 'remote',
      },
      assigned: 0,
      running: [],
      hasState: false,
      isDc: false,
      legacyFailCounts,
    };
    ws.nodes.push(node);
    ws.nodeByName.set(name, node);
    return node;
  };
  for (const n of cib.nodes) {
    if (n.kind !== 'member') continue;
    const permanent = mergeNvSets(n.attributes, (rule) => evaluateRule(rule, ruleCtxBase));
    addNode(n.name, n.id, 'member', permanent);
  }

  // ---- resources
  const rscCtx = (p?: Primitive) => ({
    now,
    resource: p ? { class: p.class, provider: p.provider, type: p.type } : undefined,
  });
  const metaOf = (r: Resource, ancestors: Resource[], p?: Primitive): Record<string, string> => {
    const passes = (rule: Parameters<typeof evaluateRule>[0]) => evaluateRule(rule, rscCtx(p));
    const meta: Record<string, string> = {};
    mergeNvSets(r.meta, passes, meta);
    for (const a of [...ancestors].reverse()) mergeNvSets(a.meta, passes, meta);
    mergeNvSets(cib.rscDefaults, passes, meta);
    return meta;
  };
  const opsOf = (p: Primitive): OpConfig[] =>
    p.operations.map((o) => ({
      name: o.name,
      interval: o.interval,
      role: parseRole(o.role),
      onFail: o.onFail,
      enabled: o.enabled,
      timeout: o.timeout,
      params: mergeNvSets(o.params),
    }));

  const makeRsc = (
    id: string,
    kind: Rsc['kind'],
    meta: Record<string, string>,
    primitive?: Primitive,
  ): Rsc => {
    const cls = primitive?.class ?? '';
    const isStonith = cls === 'stonith';
    if (isStonith) config.haveStonithResource = true;
    const stick = meta['resource-stickiness'] ?? meta['default-resource-stickiness'];
    const mt = meta['migration-threshold'];
    let migrationThreshold = mt !== undefined ? parseScore(mt) : INF;
    if (migrationThreshold <= 0) migrationThreshold = INF;
    const isRemote =
      primitive?.class === 'ocf' &&
      primitive.provider === 'pacemaker' &&
      primitive.type === 'remote';
    const managed =
      parseBoolean(meta['is-managed'], true) &&
      !config.maintenanceMode &&
      !parseBoolean(meta.maintenance, false);
    const requires = requiresOf(meta.requires, config, isStonith, isRemote);
    const r: Rsc = {
      id,
      kind,
      children: [],
      primitive,
      agent: primitive?.agent ?? '',
      cls,
      meta,
      params: primitive
        ? mergeNvSets(primitive.params, (rule) => evaluateRule(rule, rscCtx(primitive)))
        : {},
      ops: primitive ? opsOf(primitive) : [],
      priority: Number.parseInt(meta.priority ?? '0', 10) || 0,
      stickiness: stick !== undefined ? parseScore(stick) : config.defaultStickiness,
      migrationThreshold,
      failureTimeout: seconds(meta['failure-timeout'], `${id} failure-timeout`),
      managed,
      targetRole: parseRole(meta['target-role']),
      multipleActive: meta['multiple-active'] ?? 'stop_start',
      allowMigrate: parseBoolean(meta['allow-migrate'], isRemote),
      requires,
      critical: parseBoolean(meta.critical, true),
      orphan: false,
      implicit: false,
      ...freshState(),
    };
    if (r.targetRole === Role.Started) r.targetRole = Role.Unknown;
    const reconnect = isRemote ? r.params.reconnect_interval : undefined;
    if (reconnect !== undefined && reconnect !== '') {
      // the reconnect delay works as a failure timeout that holds the connection stopped
      r.reconnectMs = parseInterval(reconnect, `${id} reconnect_interval`);
      if (r.reconnectMs > 0) r.failureTimeout = Math.floor(r.reconnectMs / 1000);
    }
    // maintenance-mode puts every resource in maintenance (as its own meta attribute would)
    if (parseBoolean(meta.maintenance, false) || config.maintenanceMode) r.maintenance = true;
    ws.byId.set(id, r);
    return r;
  };

  /** A clone instance's meta: its own, then what it inherits from its parent. */
  const instanceMeta = (
    r: Resource,
    parentMeta: Record<string, string>,
    p?: Primitive,
  ): Record<string, string> => {
    const meta: Record<string, string> = {};
    mergeNvSets(r.meta, (rule) => evaluateRule(rule, rscCtx(p)), meta);
    for (const [k, v] of Object.entries(parentMeta)) if (!(k in meta)) meta[k] = v;
    return meta;
  };
  interface InstanceOf {
    readonly n: number;
    readonly parentMeta: Record<string, string>;
  }
  const guestConnections: Rsc[] = [];
  const readPrim = (p: Primitive, ancestors: Resource[], inst?: InstanceOf): Rsc => {
    const meta = inst ? instanceMeta(p, inst.parentMeta, p) : metaOf(p, ancestors, p);
    const r = makeRsc(inst ? `${p.id}:${inst.n}` : p.id, 'primitive', meta, p);
    if (inst) r.baseId = p.id;
    // parameters a group or clone sets are its members' too (their own win)
    const passes = (rule: Parameters<typeof evaluateRule>[0]) => evaluateRule(rule, rscCtx(p));
    for (const a of [...ancestors].reverse())
      if (a.kind === 'group' || a.kind === 'clone') mergeNvSets(a.params, passes, r.params);
    const remoteNodeName = meta['remote-node'];
    if (remoteNodeName) {
      // A guest node: an implicit ocf:pacemaker:remote connection inside this resource.
      const connMeta: Record<string, string> = {
        'remote-node': remoteNodeName,
        container: p.id,
      };
      // the connection takes the guest's own is-managed (Pacemaker's expand of remote-node)
      const ownManaged = mergeNvSets(p.meta, passes)['is-managed'];
      if (ownManaged !== undefined) connMeta['is-managed'] = ownManaged;
      const conn = makeRsc(remoteNodeName, 'primitive', connMeta);
      Object.assign(conn, {
        agent: 'ocf:pacemaker:remote',
        cls: 'ocf',
        implicit: true,
        // only a remote connection of its own migrates by default: a guest's only with
        // remote-allow-migrate (Pacemaker passes it on as the connection's allow-migrate)
        allowMigrate: parseBoolean(meta['remote-allow-migrate'], false),
        requires: 'quorum' as const,
        ops: [
          {
            name: 'monitor',
            interval: 30_000,
            role: Role.Unknown,
            enabled: true,
            timeout: 30_000,
            params: {},
          },
        ],
      });
      conn.container = r;
      r.guestConnection = conn;
      const node = addNode(remoteNodeName, remoteNodeName, 'guest', {});
      node.connection = conn;
      conn.remoteNode = node;
      guestConnections.push(conn);
    } else if (p.class === 'ocf' && p.provider === 'pacemaker' && p.type === 'remote') {
      const node = addNode(p.id, p.id, 'remote', {});
      node.connection = r;
      r.remoteNode = node;
    }
    return r;
  };
  const readGroup = (g: Group, ancestors: Resource[], inst?: InstanceOf): Rsc => {
    const meta = inst ? instanceMeta(g, inst.parentMeta) : metaOf(g, ancestors);
    const r = makeRsc(inst ? `${g.id}:${inst.n}` : g.id, 'group', meta);
    if (inst) r.baseId = g.id;
    for (const c of g.children) {
      const child = readPrim(
        c,
        [...ancestors, g],
        inst ? { n: inst.n, parentMeta: meta } : undefined,
      );
      child.parent = r;
      r.children.push(child);
    }
    return r;
  };
  // clone-max defaults to the number of nodes, remote and guest nodes included
  for (const res of cib.resources) {
    const prims = res.kind === 'primitive' ? [res] : res.kind === 'group' ? res.children : [];
    for (const p of prims) {
      const guest = mergeNvSets(p.meta)['remote-node'];
      if (guest) addNode(guest, guest, 'guest', {});
      else if (p.class === 'ocf' && p.provider === 'pacemaker' && p.type === 'remote')
        addNode(p.id, p.id, 'remote', {});
    }
  }
  const readClone = (c: Clone): Rsc => {
    const meta = metaOf(c, []);
    // clone instances are sticky by default (Pacemaker 2.1)
    if (meta['resource-stickiness'] === undefined) meta['resource-stickiness'] = '1';
    const r = makeRsc(c.id, 'clone', meta);
    const int = (name: string, fallback: number): number => {
      const v = meta[name];
      if (v === undefined || v === '') return fallback;
      const n = Number.parseInt(v, 10);
      return Number.isFinite(n) ? n : fallback;
    };
    let unique = parseBoolean(meta['globally-unique'], false);
    let max = int('clone-max', -1);
    if (max < 0) max = Math.max(1, ws.nodes.length);
    let nodeMax = Math.max(0, int('clone-node-max', 1));
    // only OCF and fencing agents can be globally unique: a clone of anything
    // else is anonymous, with at most one instance per node
    const members = c.child.kind === 'group' ? c.child.children : [c.child];
    const anonymousOnly = members.find((m) => !['ocf', 'stonith'].includes(m.class.toLowerCase()));
    if (unique && anonymousOnly) {
      unique = false;
      nodeMax = 1;
      max = Math.min(max, ws.nodes.length);
      ws.warnings.push(
        `clone '${c.id}': ignoring globally-unique because ${anonymousOnly.class} resources such as '${anonymousOnly.id}' can only be anonymous clones`,
      );
    }
    r.clone = {
      max,
      nodeMax,
      min: Math.max(0, int('clone-min', 0)),
      ordered: parseBoolean(meta.ordered, false),
      interleave: parseBoolean(meta.interleave, false),
      notify: parseBoolean(meta.notify, false),
      unique,
      promotable: c.promotable,
      childId: c.child.id,
      total: 0,
      perNode: new Int32Array(0),
      appended: new Set(),
    };
    if (c.promotable) r.promotable = promotableSettings(c.id, meta);
    ws.aliases.set(c.child.id, r);
    if (c.child.kind === 'group') for (const m of c.child.children) ws.aliases.set(m.id, r);
    for (let n = 0; n < max; n++) addInstance(r, c);
    // even without instances, histories need one (orphan) instance to match against
    if (max === 0) addInstance(r, c, true);
    return r;
  };
  const addInstance = (clone: Rsc, c: Clone, orphan = false): Rsc => {
    const info = clone.clone as NonNullable<Rsc['clone']>;
    const n = info.total++;
    const inst: InstanceOf = { n, parentMeta: clone.meta };
    const child =
      c.child.kind === 'group' ? readGroup(c.child, [c], inst) : readPrim(c.child, [c], inst);
    child.parent = clone;
    clone.children.push(child);
    for (const p of primitivesOf(child)) {
      if (orphan) p.orphan = true;
      if (!info.unique) {
        const list = ws.anonInstances.get(p.baseId as string);
        if (list) list.push(p);
        else ws.anonInstances.set(p.baseId as string, [p]);
      }
    }
    if (orphan) {
      child.orphan = true;
      ws.bans.push({ rsc: child, score: -INF });
    }
    return child;
  };
  const cloneConfig = new Map<Rsc, Clone>();
  for (const res of cib.resources) {
    if (res.kind === 'primitive') ws.resources.push(readPrim(res, []));
    else if (res.kind === 'group') ws.resources.push(readGroup(res, []));
    else if (res.kind === 'clone') {
      const r = readClone(res);
      cloneConfig.set(r, res);
      ws.resources.push(r);
    } else {
      ws.warnings.push(`${res.kind} '${res.id}' is not scheduled yet (unsupported resource kind)`);
    }
  }
  ws.newOrphanInstance = (clone: Rsc): Rsc =>
    addInstance(clone, cloneConfig.get(clone) as Clone, true);
  ws.resources.push(...guestConnections);
  for (const r of ws.byId.values()) {
    const c = r.meta.container;
    if (r.kind !== 'primitive' || r.implicit || c === undefined) continue;
    const container = ws.byId.get(c);
    if (container && container !== r) r.container = container;
  }
  // a remote connection that is no longer configured but still in a cluster node's
  // history keeps its node (after clone-max was counted), shutting down: see findOrphan
  for (const s of cib.status) {
    if (s.remoteNode) continue;
    for (const h of s.resources) {
      if (h.class !== 'ocf' || h.provider !== 'pacemaker' || h.type !== 'remote') continue;
      if (ws.byId.has(h.id) || ws.nodeByName.has(h.id)) continue;
      // one whose history names its container was a guest node's connection
      addNode(h.id, h.id, h.container !== undefined ? 'guest' : 'remote', {});
    }
  }

  // remote node attributes from <nodes> entries of type remote
  for (const n of cib.nodes) {
    if (n.kind === 'member' || !n.declared) continue;
    const node = ws.nodeByName.get(n.name);
    if (!node) continue;
    Object.assign(
      node.attrs,
      identityAttrs(node.name, node.id),
      mergeNvSets(n.attributes, (rule) => evaluateRule(rule, ruleCtxBase)),
    );
  }

  // ---- node states, first pass (cluster nodes)
  const states = new Map(cib.status.map((s) => [s.uname, s]));
  for (const s of cib.status) {
    const node = ws.nodeByName.get(s.uname) ?? ws.nodes.find((n) => n.id === s.id);
    if (!node) continue;
    node.hasState = true;
    if (node.kind !== 'member') {
      node.remoteWasFenced = Number(s.attributes.node_fenced ?? '0') > 0;
      // a remote node with a state entry has been seen (only a never seen one is unclean)
      node.unseen = false;
      node.unclean = false;
      continue;
    }
    Object.assign(node.attrs, s.transientAttributes);
    if (isTrue(node.attrs.standby)) node.standby = true;
    if (isTrue(node.attrs.maintenance)) node.maintenance = true;
    node.unclean = false;
    node.unseen = false;
    determineOnline(ws, node, s.attributes);
    if (!config.haveQuorum && node.online && config.noQuorumPolicy === 'suicide')
      fenceNode(node, 'cluster does not have quorum');
  }
  if (cib.dcUuid !== undefined) {
    const dc = ws.nodes.find((n) => n.kind === 'member' && n.id === cib.dcUuid);
    if (dc) {
      dc.isDc = true;
      dc.attrs['#is_dc'] = 'true';
      ws.dc = dc;
    }
  }
  if (!config.stonithEnabled) {
    for (const n of ws.nodes) if (n.unseen && n.kind !== 'guest') n.unclean = false;
  }

  // ---- resource history: nodes whose connections are known first
  const unpacked = new Set<SNode>();
  const historyOf = (node: SNode): void => {
    unpacked.add(node);
    const s = states.get(node.name);
    if (!s) return;
    for (const h of s.resources) unpackResourceHistory(ws, node, h);
  };
  for (;;) {
    let progress = false;
    for (const s of cib.status) {
      const node = ws.nodeByName.get(s.uname);
      if (!node || unpacked.has(node)) continue;
      if (node.kind === 'guest') {
        const conn = node.connection;
        if (!conn || conn.role !== Role.Started || conn.container?.role !== Role.Started) continue;
      } else if (node.kind === 'remote') {
        const conn = node.connection;
        if (!conn || conn.role !== Role.Started) continue;
      } else if (!config.stonithEnabled && !config.shutdownLock && !node.online) {
        // (with shutdown-lock, offline nodes' histories hold the locks)
        continue;
      }
      if (node.kind !== 'member') {
        determineRemoteOnline(node);
        remoteAttrs(ws, node, s.transientAttributes);
      }
      historyOf(node);
      progress = true;
    }
    if (!progress) break;
  }
  if (config.stonithEnabled) {
    for (const s of cib.status) {
      const node = ws.nodeByName.get(s.uname);
      if (!node || unpacked.has(node)) continue;
      if (node.kind !== 'member') {
        determineRemoteOnline(node);
        remoteAttrs(ws, node, s.transientAttributes);
      }
      historyOf(node);
    }
  }
  for (const node of ws.nodes) {
    if (node.kind === 'member') continue;
    if (node.shutdown && node.connection) {
      node.connection.nextRole = Role.Stopped;
    }
    if (!unpacked.has(node)) determineRemoteOnline(node);
  }

  // target-role for resources without history
  for (const r of ws.byId.values()) {
    if (r.kind !== 'primitive') continue;
    if (r.role === Role.Unknown) r.role = Role.Stopped;
    // active somewhere (a migration's target) although the last history said stopped
    if (r.role === Role.Stopped && r.runningOn.length > 0) r.role = Role.Started;
    applyTargetRole(r);
  }
  for (const r of ws.byId.values()) {
    if (r.kind === 'group') {
      r.role = r.children.reduce((m, c) => Math.max(m, c.role), Role.Stopped);
      r.runningOn = [...new Set(r.children.flatMap((c) => c.runningOn))];
    }
  }
  for (const r of ws.resources) {
    if (r.kind !== 'clone') continue;
    r.role = r.children.reduce((m, c) => Math.max(m, c.role), Role.Stopped);
    r.runningOn = [...new Set(r.children.flatMap((c) => c.runningOn))];
  }

  if (options.constraints === false) return ws;
  unpackConstraints(ws);
  return ws;
}

/**
 * The constraints part of unpacking (tags and templates expanded, tickets
 * applied, colocations read), for a working set unpacked with
 * `constraints: false`: the node states status tools show are those before it.
 */
export function unpackConstraints(ws: WorkingSet): void {
  ws.constraints.push(...expandConstraints(ws));
  applyTickets(ws, ws.constraints);
  for (const c of ws.constraints) {
    if (c.kind === 'colocation') readColocation(ws, c);
  }
}

function applyTargetRole(r: Rsc): void {
  // a resource's meta attributes already hold what it inherits from its parents
  // (its own target-role wins over a group's, as in Pacemaker's meta inheritance)
  const target = r.targetRole;
  if (target === Role.Unknown) return;
  // Promoted is what a promotable clone does anyway; other resources have no roles to choose
  if (target === Role.Promoted) return;
  if (target === Role.Unpromoted && !inPromotable(r)) return;
  if (r.nextRole === Role.Unknown || target < r.nextRole) {
    r.nextRole = target;
  }
}

/** A colocation's role: Started means any role, as Pacemaker reads it. */
function colocationRole(role: string | undefined): Role {
  const r = parseRole(role);
  return r === Role.Started ? Role.Unknown : r;
}

function readColocation(ws: WorkingSet, c: ColocationConstraint): void {
  const find = (id: string): Rsc | undefined => {
    const r = ws.byId.get(id) ?? ws.aliases.get(id);
    if (!r) ws.warnings.push(`colocation '${c.id}' refers to '${id}', which does not exist`);
    return r;
  };
  const influenceOf = (dependent: Rsc): boolean =>
    c.influence !== undefined ? parseBoolean(c.influence, true) : dependent.critical;
  const make = (
    dependent: Rsc,
    primary: Rsc,
    score: number,
    depRole?: string,
    primRole?: string,
  ): void => {
    addColocation(ws, {
      id: c.id,
      dependent,
      primary,
      score,
      dependentRole: colocationRole(depRole),
      primaryRole: colocationRole(primRole),
      nodeAttribute: c.nodeAttribute,
      influence: influenceOf(dependent),
    });
  };
  if (c.sets.length === 0) {
    if (c.rsc === undefined || c.withRsc === undefined) return;
    const dependent = find(c.rsc);
    const primary = find(c.withRsc);
    if (dependent && primary) make(dependent, primary, c.score, c.rscRole, c.withRscRole);
    return;
  }
  const members = (set: ResourceSet): Rsc[] =>
    set.resources.map(find).filter((r): r is Rsc => r !== undefined);
  // inside a set (unless sequential="false"): positive scores chain each member with
  // the previous one (ordering="group", the default) or the next one; negative scores
  // keep every member away from every earlier one
  for (const set of c.sets) {
    const scoreAttr = set.attributes.score;
    const score = scoreAttr !== undefined ? parseScore(scoreAttr) : c.score;
    if (score === 0) continue;
    if (set.attributes.sequential !== undefined && !set.sequential) continue;
    const rs = members(set);
    const withPrevious = (set.attributes.ordering ?? 'group').toLowerCase() === 'group';
    for (let i = 1; i < rs.length; i++) {
      const cur = rs[i] as Rsc;
      if (score < 0) {
        for (const earlier of rs.slice(0, i)) make(cur, earlier, score, set.role, set.role);
      } else if (withPrevious) make(cur, rs[i - 1] as Rsc, score, set.role, set.role);
      else make(rs[i - 1] as Rsc, cur, score, set.role, set.role);
    }
  }
  // between sets: the earlier set depends on the later one (a sequential set counts
  // by its first member as dependent, by its last member as primary)
  if (c.score === 0) return;
  for (let s = 1; s < c.sets.length; s++) {
    const set1 = c.sets[s - 1] as ResourceSet;
    const set2 = c.sets[s] as ResourceSet;
    const r1 = members(set1);
    const r2 = members(set2);
    const deps = set1.sequential && r1.length > 0 ? [r1[0] as Rsc] : r1;
    const prims = set2.sequential && r2.length > 0 ? [r2[r2.length - 1] as Rsc] : r2;
    for (const d of deps) for (const p of prims) make(d, p, c.score, set1.role, set2.role);
  }
}

export function addColocation(ws: WorkingSet, c: Coloc): void {
  if (c.score === 0) return;
  ws.colocations.push(c);
  c.dependent.thisWith.push(c);
  c.primary.withThis.push(c);
}

function fenceNode(node: SNode, reason: string): void {
  if (node.kind === 'guest') {
    const container = node.connection?.container;
    if (container && !container.failed) {
      if (container.managed) {
        node.remoteRequiresReset = true;
        container.failed = true;
        container.stopFlag = true;
      }
    }
    return;
  }
  if (node.kind === 'remote') {
    const conn = node.connection;
    if (!conn || conn.managed) node.remoteRequiresReset = true;
    node.unclean = true;
    node.fenceReason ??= reason;
    return;
  }
  if (node.unclean) return;
  node.unclean = true;
  node.fenceReason ??= reason;
}
export { fenceNode };

function determineOnline(ws: WorkingSet, node: SNode, a: Record<string, string>): void {
  const exp = a.expected ?? 'down';
  const shutdown = node.attrs.shutdown;
  node.shutdown = false;
  node.expectedUp = false;
  if (shutdown !== undefined && shutdown !== '' && shutdown !== '0') node.shutdown = true;
  else if (exp === 'member') node.expectedUp = true;
  const inCluster = a.in_ccm;
  const inTrue = inCluster === 'true' || /^[1-9]\d*$/.test(inCluster ?? '');
  const crmdOnline = a.crmd === 'online' || /^[1-9]\d*$/.test(a.crmd ?? '');
  const join = a.join;
  let online = false;
  if (!ws.config.stonithEnabled) {
    if (!inTrue) online = false;
    else if (crmdOnline) online = join === 'member';
    else if (!node.expectedUp) online = false;
    else fenceNode(node, 'peer is unexpectedly down');
  } else {
    const term = node.attrs.terminate;
    const doTerminate = isTrue(term) || /^[1-9]/.test(term ?? '');
    online = inTrue;
    if (node.shutdown) {
      online = crmdOnline;
    } else if (inCluster === undefined) {
      fenceNode(node, 'peer has not been seen by the cluster');
    } else if (join === 'nack') {
      fenceNode(node, 'peer failed Pacemaker membership criteria');
    } else if (!doTerminate && exp === 'down') {
      if (inTrue || crmdOnline) {
        node.standby = true;
        node.pending = true;
      }
    } else if (doTerminate && join === 'down' && !inTrue && !crmdOnline) {
      online = false;
    } else if (!inTrue) {
      fenceNode(node, 'peer is no longer part of the cluster');
    } else if (!crmdOnline) {
      fenceNode(node, 'peer process is no longer available');
    } else if (doTerminate) {
      fenceNode(node, 'termination was requested');
    } else if (join === 'member') {
      // active
    } else if (join === 'pending' || join === 'down') {
      node.standby = true;
      node.pending = true;
    } else {
      fenceNode(node, 'peer was in an unknown state');
    }
  }
  node.online = online;
}

function determineRemoteOnline(node: SNode): void {
  const rsc = node.connection;
  if (!rsc) {
    node.online = false;
    return;
  }
  const container = rsc.container;
  const host = container && rsc.runningOn.length === 1 ? rsc.runningOn[0] : undefined;
  if (rsc.role === Role.Started) node.online = true;
  if (rsc.role === Role.Started && rsc.nextRole === Role.Stopped) node.shutdown = true;
  if (container?.failed) {
    node.online = false;
    node.remoteRequiresReset = true;
  } else if (rsc.failed) {
    node.online = false;
  } else if (rsc.role === Role.Stopped || (container && container.role === Role.Stopped)) {
    node.online = false;
    node.remoteRequiresReset = false;
  } else if (host && !host.online && host.unclean) {
    node.online = false;
    node.remoteRequiresReset = true;
  }
}

/**
 * The attributes every node gets when its entry is read (Pacemaker's
 * add_node_attrs): a cluster node's from the configuration, a remote or guest
 * node's from its `<nodes>` entry or when its node state is unpacked (its
 * connection known up, or fencing enabled). Until then a remote or guest node
 * has no `#uname` or `#id`: such nodes match each other in colocations and
 * none of them matches a rule on its name.
 */
function identityAttrs(name: string, id: string): Record<string, string> {
  return { '#uname': name, '#id': id, '#is_dc': 'false' };
}

function remoteAttrs(ws: WorkingSet, node: SNode, transient: Record<string, string>): void {
  if (!node.remoteRequiresReset) {
    node.unclean = false;
    node.unseen = false;
  }
  Object.assign(node.attrs, identityAttrs(node.name, node.id), transient);
  const sd = node.attrs.shutdown;
  if (sd !== undefined && sd !== '' && sd !== '0') node.shutdown = true;
  if (isTrue(node.attrs.standby)) node.standby = true;
  if (isTrue(node.attrs.maintenance) || (node.connection && !node.connection.managed))
    node.maintenance = true;
  const disc = node.attrs['resource-discovery-enabled'];
  if (disc !== undefined && !isTrue(disc)) {
    if (!(node.kind === 'remote' && !ws.config.stonithEnabled)) node.rscDiscovery = false;
  }
}

// ---------------------------------------------------------------- history

interface NodeHistoryState {
  onFail: OnFail;
  lastFailure?: OperationRecord;
}

function onFailFor(
  ws: WorkingSet,
  rsc: Rsc,
  task: string,
  interval: number,
): { onFail: OnFail; failRole: Role } {
  const op = rsc.ops.find((o) => o.name === task && o.interval === interval);
  let value = op?.onFail;
  if (value === undefined) {
    const d = mergeNvSets(ws.cib.opDefaults, (rule) =>
      evaluateRule(rule, { now: ws.now, operation: { name: task, interval } }),
    );
    value = d['on-fail'];
  }
  const isRemoteConn = rsc.remoteNode !== undefined && rsc.remoteNode.kind === 'remote';
  switch (value) {
    case 'block':
      return { onFail: OnFail.Block, failRole: Role.Started };
    case 'fence':
      return ws.config.stonithEnabled
        ? { onFail: OnFail.Fence, failRole: Role.Started }
        : { onFail: OnFail.Stop, failRole: Role.Stopped };
    case 'standby':
      return { onFail: OnFail.Standby, failRole: Role.Started };
    case 'ignore':
    case 'nothing':
      return { onFail: OnFail.Ignore, failRole: Role.Started };
    case 'migrate':
      return { onFail: OnFail.Migrate, failRole: Role.Started };
    case 'stop':
      return { onFail: OnFail.Stop, failRole: Role.Stopped };
    case 'restart':
      return { onFail: OnFail.Recover, failRole: Role.Started };
    case 'demote':
      return { onFail: OnFail.Demote, failRole: Role.Started };
    case 'restart-container':
      if (rsc.container) return { onFail: OnFail.RestartContainer, failRole: Role.Started };
      break;
    default:
      break;
  }
  if (value === undefined && rsc.container)
    return { onFail: OnFail.RestartContainer, failRole: Role.Started };
  if (isRemoteConn && !(task === 'monitor' && interval === 0) && task !== 'start') {
    if (!rsc.managed) return { onFail: OnFail.Stop, failRole: Role.Stopped };
    // with a reconnect delay the connection stays stopped until the failure expires
    return {
      onFail: OnFail.ResetRemote,
      failRole: (rsc.reconnectMs ?? 0) > 0 ? Role.Stopped : Role.Started,
    };
  }
  if (task === 'stop')
    return ws.config.stonithEnabled
      ? { onFail: OnFail.Fence, failRole: Role.Started }
      : { onFail: OnFail.Block, failRole: Role.Started };
  return { onFail: OnFail.Recover, failRole: Role.Started };
}

const failCountCache = new WeakMap<SNode, Map<string, { count: number; lastFailure: number }>>();

/** A resource's fail count and last failure time on a node (from `fail-count-*` / `last-failure-*` attributes). */
function failCountInfo(rsc: Rsc, node: SNode): { count: number; lastFailure: number } {
  let perRsc = failCountCache.get(node);
  if (!perRsc) {
    perRsc = new Map();
    for (const [k, v] of Object.entries(node.attrs)) {
      const m = /^(fail-count|last-failure)-(.+?)(#.+_[0-9]+)?$/.exec(k);
      if (!m) continue;
      // only the format of the CIB's feature set counts
      if ((m[3] === undefined) !== node.legacyFailCounts) continue;
      const id = m[2] as string;
      const e = perRsc.get(id) ?? { count: 0, lastFailure: 0 };
      if (m[1] === 'fail-count') e.count = Math.min(INF, e.count + parseScore(v));
      else e.lastFailure = Math.max(e.lastFailure, Number(v) || 0);
      perRsc.set(id, e);
    }
    failCountCache.set(node, perRsc);
  }
  const base = rsc.baseId;
  if (base !== undefined && cloneOf(rsc)?.clone?.unique === false) {
    // an anonymous instance counts the failures recorded under any instance name
    const sum = { count: 0, lastFailure: 0 };
    for (const [id, e] of perRsc) {
      if (id !== base && id.replace(/:\d+$/, '') !== base) continue;
      sum.count = Math.min(INF, sum.count + e.count);
      sum.lastFailure = Math.max(sum.lastFailure, e.lastFailure);
    }
    return sum;
  }
  return perRsc.get(rsc.id) ?? NO_FAILURES;
}

const NO_FAILURES: { count: number; lastFailure: number } = Object.freeze({
  count: 0,
  lastFailure: 0,
});

/** Resources with a fail count on a node (ids). */
export function resourcesWithFailures(node: SNode): string[] {
  const ids = new Set<string>();
  for (const k of Object.keys(node.attrs)) {
    const m = /^fail-count-(.+?)(#.+_[0-9]+)?$/.exec(k);
    if (m && (m[2] === undefined) === node.legacyFailCounts) ids.add(m[1] as string);
  }
  return [...ids];
}
export { failCountInfo };

function setActive(rsc: Rsc): void {
  rsc.role = Role.Started;
}

function findOrphan(ws: WorkingSet, h: ResourceHistoryRecord): Rsc {
  const existing = ws.byId.get(h.id);
  if (existing) return existing;
  const r = makeOrphan(ws, h);
  // an orphaned remote connection: its node shuts down (Pacemaker's create_fake_resource)
  const node = ws.nodeByName.get(h.id);
  if (
    h.class === 'ocf' &&
    h.provider === 'pacemaker' &&
    h.type === 'remote' &&
    (node?.kind === 'remote' || node?.kind === 'guest') &&
    !node.connection
  ) {
    r.remoteNode = node;
    node.connection = r;
    node.shutdown = true;
    const container = h.container !== undefined ? ws.byId.get(h.container) : undefined;
    if (node.kind === 'guest' && container) {
      r.container = container;
      container.guestConnection = r;
    }
  }
  return r;
}

function makeOrphan(ws: WorkingSet, h: ResourceHistoryRecord): Rsc {
  const cls = h.class ?? 'ocf';
  const agent = h.provider ? `${cls}:${h.provider}:${h.type ?? ''}` : `${cls}:${h.type ?? ''}`;
  const r: Rsc = {
    id: h.id,
    kind: 'primitive',
    children: [],
    agent,
    cls,
    meta: {},
    params: {},
    ops: [],
    priority: 0,
    stickiness: 0,
    migrationThreshold: INF,
    failureTimeout: 0,
    managed: ws.config.stopOrphanResources && !ws.config.maintenanceMode,
    targetRole: Role.Unknown,
    multipleActive: 'stop_start',
    allowMigrate: false,
    requires: ws.config.stonithEnabled ? 'fencing' : 'quorum',
    critical: true,
    orphan: true,
    implicit: false,
    ...freshState(),
  };
  if (cls === 'stonith') ws.config.haveStonithResource = true;
  ws.byId.set(h.id, r);
  ws.resources.push(r);
  // an orphan (history of a resource no longer configured) may run nowhere
  ws.bans.push({ rsc: r, score: -INF });
  return r;
}

/** Ids of primitives inside bundles (their histories are not orphans; not scheduled yet). */
function bundleMembers(ws: WorkingSet): Set<string> {
  const ids = new Set<string>();
  for (const r of ws.cib.resources) {
    if (r.kind !== 'bundle') continue;
    ids.add(r.id);
    if (r.child) ids.add(r.child.id);
  }
  return ids;
}

const bundleCache = new WeakMap<WorkingSet, Set<string>>();

/** Nodes where a clone instance (or one of its members) is active or has a pending start. */
function instanceLocations(inst: Rsc): SNode[] {
  const out: SNode[] = [];
  for (const p of primitivesOf(inst)) {
    for (const n of p.runningOn) if (!out.includes(n)) out.push(n);
    if (p.pendingNode && !out.includes(p.pendingNode)) out.push(p.pendingNode);
  }
  return out;
}

/**
 * The instance of an anonymous clone a node's history entry belongs to
 * (Pacemaker's find_anonymous_clone): the instance already active there,
 * else the first inactive one, else a new orphan instance.
 */
function findAnonymousInstance(
  ws: WorkingSet,
  node: SNode,
  clone: Rsc,
  base: string,
): Rsc | undefined {
  const memberOf = (inst: Rsc): Rsc | undefined =>
    primitivesOf(inst).find((p) => p.baseId === base);
  let found: Rsc | undefined;
  let inactive: Rsc | undefined;
  let skipInactive = false;
  for (const inst of clone.children) {
    if (found) break;
    const locations = instanceLocations(inst);
    if (locations.length > 0) {
      if (locations[0] !== node) continue;
      const m = memberOf(inst);
      if (!m) continue;
      // a second history entry on a node for the same anonymous clone is an orphan
      if (m.runningOn.length > 0) skipInactive = true;
      else found = m;
    } else if (!skipInactive && !inactive && !inst.blocked) {
      inactive = memberOf(inst);
      if (inactive?.pendingNode && inactive.pendingNode !== node) inactive = undefined;
    }
  }
  if (!found && !skipInactive && inactive) found = inactive;
  const info = clone.clone;
  // an instance on a node that will not be fenced must not use up an instance number
  if (
    found &&
    !needsFencing(found) &&
    (!node.online || node.unclean) &&
    node.kind !== 'guest' &&
    info?.max !== ws.nodes.length
  )
    found = undefined;
  if (!found && ws.newOrphanInstance) found = memberOf(ws.newOrphanInstance(clone));
  return found;
}

/** The resource a history entry belongs to (Pacemaker's unpack_find_resource), undefined for an orphan. */
function findHistoryResource(ws: WorkingSet, node: SNode, id: string): Rsc | undefined {
  let rsc = ws.byId.get(id);
  const base = id.replace(/:\d+$/, '');
  if (!rsc) {
    const zero = ws.byId.get(`${base}:0`);
    if (zero?.kind === 'primitive' && cloneOf(zero)?.clone?.unique === false) rsc = zero;
    else return undefined;
  } else if (rsc.kind !== 'primitive') return rsc;
  const clone = cloneOf(rsc);
  if (clone?.clone && !clone.clone.unique) rsc = findAnonymousInstance(ws, node, clone, base);
  return rsc;
}

function unpackResourceHistory(ws: WorkingSet, node: SNode, h: ResourceHistoryRecord): void {
  if (h.operations.length === 0) {
    // with shutdown-lock, an entry without operations may still hold a lock
    if (!ws.config.shutdownLock || h.shutdownLock === undefined) return;
    const rsc = findHistoryResource(ws, node, h.id);
    if (rsc?.kind === 'primitive') unpackShutdownLock(ws, rsc, node, h);
    return;
  }
  let members = bundleCache.get(ws);
  if (!members) {
    members = bundleMembers(ws);
    bundleCache.set(ws, members);
  }
  if (!ws.byId.has(h.id) && members.has(h.id.replace(/:\d+$/, ''))) return;
  const rsc = findHistoryResource(ws, node, h.id) ?? findOrphan(ws, h);
  if (rsc.kind !== 'primitive') return;
  if (ws.config.shutdownLock) unpackShutdownLock(ws, rsc, node, h);
  const savedRole = rsc.role;
  rsc.role = Role.Unknown;
  const st: NodeHistoryState = { onFail: OnFail.Ignore };
  const ops = [...h.operations].sort(compareByCallId);
  for (const op of ops) unpackOp(ws, rsc, node, op, st);
  recordActiveRecurring(ws, rsc, node, ops);
  processState(ws, rsc, node, st);
  if (savedRole > rsc.role) rsc.role = savedRole;
  // an instance active under another name keeps that name in the transition
  // (a bare configured name always; a numbered one only when active there)
  if (h.id !== rsc.id && rsc.baseId !== undefined)
    if (h.id === rsc.baseId || rsc.runningOn.includes(node)) rsc.historyName = h.id;
  // promotion scores are read under the name the instance has in each node's history
  if (rsc.baseId !== undefined) (rsc.historyNames ??= new Map()).set(node, h.id);
}

/** The transition number and TE uuid in a transition-magic (`status:rc;action:transition:target:uuid`). */
function magicTransition(magic: string | undefined): { id: number; uuid: string } | undefined {
  const key = magic?.split(';')[1];
  const m = key ? /^(-?\d+):(-?\d+):(-?\d+):(.*)$/.exec(key) : null;
  return m ? { id: Number(m[2]), uuid: m[4] as string } : undefined;
}

/**
 * A node's operation history in the order it happened (Pacemaker's
 * sort_op_by_callid): by call id; the same call id by last change; a pending
 * operation (call id -1) against another by the transitions that scheduled
 * them, so a stop scheduled after a pending start comes after it.
 */
function compareByCallId(a: OperationRecord, b: OperationRecord): number {
  if (a.id === b.id) return 0;
  const ca = a.callId;
  const cb = b.callId;
  if (ca === -1 && cb === -1) return 0;
  if (ca >= 0 && ca < cb) return -1;
  if (cb >= 0 && ca > cb) return 1;
  if (cb >= 0 && ca === cb) {
    const la = a.lastRcChange ?? -1;
    const lb = b.lastRcChange ?? -1;
    if (la >= 0 && la < lb) return -1;
    if (lb >= 0 && la > lb) return 1;
    return 0;
  }
  const ta = magicTransition(a.transitionMagic);
  const tb = magicTransition(b.transitionMagic);
  if (!ta || !tb) return 0;
  if (ta.uuid !== tb.uuid || ta.id === tb.id) {
    if (cb === -1) return -1;
    if (ca === -1) return 1;
  } else if ((ta.id >= 0 && ta.id < tb.id) || tb.id === -1) return -1;
  else if ((tb.id >= 0 && ta.id > tb.id) || ta.id === -1) return 1;
  return 0;
}

/**
 * A history entry recording that the resource was locked to the node when it
 * shut down: the lock holds until shutdown-lock-limit has passed since then,
 * after which the history is deleted (the resource is free to start elsewhere).
 */
function unpackShutdownLock(ws: WorkingSet, rsc: Rsc, node: SNode, h: ResourceHistoryRecord): void {
  const since = h.shutdownLock;
  if (since === undefined || since === 0) return;
  const limit = ws.config.shutdownLockLimit;
  if (limit > 0 && Math.floor(ws.now.getTime() / 1000) > since + limit) {
    ws.historyDeletes.push({ rsc, node });
    return;
  }
  rsc.lockNode = node;
  rsc.lockTime = since;
}

/** Whether an operation recorded a digest that today's parameters no longer give (unknown: no). */
function parametersChanged(ws: WorkingSet, rsc: Rsc, node: SNode, op: OperationRecord): boolean {
  if (!op.opDigest) return false;
  const defaults = mergeNvSets(ws.cib.opDefaults).timeout;
  const configured = (task: string, interval: number): OpConfig | undefined =>
    rsc.ops.find((o) => o.name === task && o.interval === interval);
  const timeoutOf = (task: string, interval: number): number | undefined => {
    const o = configured(task, interval);
    if (!o) return undefined;
    return (
      o.timeout ??
      (defaults ? parseInterval(defaults, '/cib/configuration/op_defaults/timeout') : 20_000)
    );
  };
  return configChanges(rsc, node, [op], 0, timeoutOf).length > 0;
}

/**
 * Whether a failure on `node` is of an operation configured with
 * `on-fail="block"` (Pacemaker's block_failure): `op` itself when given, else
 * any entry of the node's history for the resource. Such a failure keeps the
 * resource blocked, so its fail count ignores failure-timeout.
 */
export function blockFailure(rsc: Rsc, node: SNode, op?: OperationRecord): boolean {
  const blocking = rsc.ops.filter((o) => o.onFail === 'block');
  if (blocking.length === 0) return false;
  const name = rsc.id.replace(/:\d+$/, '');
  const matched = (conf: OpConfig, rec: OperationRecord): boolean => {
    if (conf.interval !== rec.interval || conf.name.toLowerCase() !== rec.operation.toLowerCase())
      return false;
    if (rec.id.toLowerCase() === `${name}_last_failure_0`.toLowerCase()) return true;
    return (
      rec.id.toLowerCase() === `${name}_${conf.name}_${conf.interval}`.toLowerCase() &&
      rec.rc !== targetRc(rec)
    );
  };
  if (op) return blocking.some((c) => matched(c, op));
  const ops = rsc.histories?.get(node)?.ops ?? [];
  return blocking.some((c) => ops.some((rec) => matched(c, rec)));
}

/** Recurring operations active since the last start (Pacemaker's calculate_active_ops + process_recurring). */
function recordActiveRecurring(
  ws: WorkingSet,
  rsc: Rsc,
  node: SNode,
  ops: readonly OperationRecord[],
): void {
  let stopIndex = -1;
  let startIndex = -1;
  let impliedMonitorStart = -1;
  let impliedCloneStart = -1;
  ops.forEach((op, i) => {
    const task = op.operation;
    if (task === 'stop' && op.opStatus === 0) stopIndex = i;
    else if (task === 'start' || task === 'migrate_from') startIndex = i;
    else if (impliedMonitorStart <= stopIndex && task === 'monitor') {
      if (op.rc === 0 || op.rc === 8) impliedMonitorStart = i;
    } else if (task === 'promote' || task === 'demote') impliedCloneStart = i;
  });
  if (startIndex === -1)
    startIndex = impliedCloneStart !== -1 ? impliedCloneStart : impliedMonitorStart;
  rsc.histories ??= new Map();
  rsc.histories.set(node, { ops, startIndex });
  if (!node.online) return;
  const keys = new Set<string>();
  ops.forEach((op, i) => {
    if (startIndex < stopIndex && i <= stopIndex) return;
    if (i < startIndex) return;
    if (op.interval === 0 || op.opStatus === -1) return;
    const key = `${rsc.id}_${op.operation}_${op.interval}`;
    keys.add(key);
    ws.unpackedActions.push({ rsc, node, key });
  });
  if (keys.size === 0) return;
  rsc.activeRecurring ??= new Map();
  rsc.activeRecurring.set(node, keys);
}

/**
 * A failed monitor of a remote connection with a reconnect interval does not
 * expire before the remote node has been fenced (the monitor reports only
 * changes, so the failure could otherwise go unnoticed).
 */
function waitsForRemoteFencing(ws: WorkingSet, rsc: Rsc, op: OperationRecord): boolean {
  if (!(rsc.reconnectMs ?? 0) || !ws.config.stonithEnabled) return false;
  if (op.interval === 0 || op.operation !== 'monitor') return false;
  const node = ws.nodeByName.get(rsc.id);
  return node !== undefined && !node.remoteWasFenced;
}

function unpackOp(
  ws: WorkingSet,
  rsc: Rsc,
  node: SNode,
  op: OperationRecord,
  st: NodeHistoryState,
): void {
  const task = op.operation;
  if (task === 'notify' || task === 'meta-data' || task === '') return;
  let rc = op.rc;
  let status = op.opStatus;
  const expected = targetRc(op);
  const isProbe = task === 'monitor' && op.interval === 0;

  // failure expiry
  let expired = false;
  if (status !== STATUS_NOT_INSTALLED && rsc.failureTimeout > 0) {
    const last = op.lastRcChange ?? Number(op.attributes['last-run'] ?? 0);
    const nowSec = Math.floor(ws.now.getTime() / 1000);
    const isLastFailure = op.id.endsWith('_last_failure_0');
    const old = last > 0 && nowSec >= last + rsc.failureTimeout;
    // a failure of an operation with on-fail=block never expires: the timeout is dropped
    if (last > 0 && failCountInfo(rsc, node).count > 0 && blockFailure(rsc, node, op))
      rsc.failureTimeout = 0;
    if (old && !waitsForRemoteFencing(ws, rsc, op)) {
      expired = true;
      const fc = failCountInfo(rsc, node);
      let clear = false;
      if (fc.count > 0) {
        const unexpired =
          rsc.failureTimeout > 0 &&
          fc.lastFailure > 0 &&
          nowSec > fc.lastFailure + rsc.failureTimeout
            ? 0
            : fc.count;
        if (unexpired === 0) clear = true;
        else expired = false;
      } else if (isLastFailure && (rsc.reconnectMs ?? 0) > 0) {
        clear = true;
      }
      if (clear && !ws.clearFailcounts.some((c) => c.rsc === rsc && c.node === node))
        ws.clearFailcounts.push({ rsc, node });
    }
    // probes that found the resource in a known state never expire
    if (expired && isProbe && [0, 7, 8, 190, 191].includes(rc)) expired = false;
  }
  // the last failure of a start or monitor that ran with other parameters is forgotten
  if (
    !expired &&
    op.id.endsWith('_last_failure_0') &&
    (task === 'start' || task === 'monitor') &&
    parametersChanged(ws, rsc, node, op) &&
    !ws.clearFailcounts.some((c) => c.rsc === rsc && c.node === node)
  )
    ws.clearFailcounts.push({ rsc, node });

  // remap: a monitor's degraded result counts as running (promoted), still listed as failed
  if (task === 'monitor' && (rc === 190 || rc === 191)) {
    if (!node.shutdown || node.online) recordFailed(ws, rsc, node, op);
    rc = rc === 190 ? 0 : 8;
  }
  // a probe that found the agent not installed or its parameters invalid counts as
  // not installed there whatever the executor reported (even a timeout)
  if (isProbe && (rc === 2 || rc === 5)) status = STATUS_NOT_INSTALLED;
  if (status === STATUS_DONE || status === STATUS_ERROR) {
    status = STATUS_DONE;
    if (expected < 0 || expected !== rc) status = STATUS_ERROR;
    switch (rc) {
      case 0:
        if (isProbe && expected === 7) status = STATUS_DONE;
        break;
      case 7:
        if (isProbe || expected === rc || !rsc.managed) {
          status = STATUS_DONE;
          rsc.role = Role.Stopped;
          st.onFail = OnFail.Ignore;
          rsc.nextRole = Role.Unknown;
        }
        break;
      case 8:
        if (isProbe && rc !== expected) status = STATUS_DONE;
        rsc.role = Role.Promoted;
        break;
      case 9:
      case 191:
        rsc.role = Role.Promoted;
        status = STATUS_ERROR;
        break;
      case 6:
        status = STATUS_ERROR_FATAL;
        break;
      case 3:
        status = op.interval === 0 ? STATUS_ERROR_HARD : 3;
        break;
      case 5:
      case 2:
      case 4:
        status = STATUS_ERROR_HARD;
        break;
      default:
        if (status === STATUS_DONE && rc !== expected) status = STATUS_ERROR;
        break;
    }
    // a stop that failed with a hard error on a node that cannot be fenced: nothing
    // more can be tried (Pacemaker's check_recoverable, while remapping the result,
    // so even when the failure has expired), the resource is unmanaged and blocked
    // before its on-fail is chosen (an unmanaged remote connection stops)
    if (status === STATUS_ERROR_HARD && task === 'stop' && !canFenceWhileUnpacking(ws, node)) {
      rsc.managed = false;
      rsc.blocked = true;
    }
  }

  if (expired && rc !== expected) {
    if (op.interval === 0) return;
    if (node.online && !node.unclean) {
      // the recurring operation is rescheduled (Pacemaker forces a digest mismatch)
      expiredRecurringFailures.add(op);
      return;
    }
  }

  switch (status) {
    case STATUS_CANCELLED:
      return;
    case STATUS_PENDING:
      if (task === 'start') {
        rsc.startPending = true;
        rsc.pendingNode = node;
        setActive(rsc);
      } else if (task === 'promote') {
        rsc.role = Role.Promoted;
      }
      return;
    case STATUS_DONE:
      updateState(rsc, task, rc, op, st);
      if (task === 'migrate_to') migrateToSucceeded(ws, rsc, node, op);
      return;
    case STATUS_NOT_INSTALLED:
      ws.bans.push({ rsc, node, score: -INF });
      failure(ws, rsc, node, op, rc, st);
      return;
    case STATUS_NOT_CONNECTED:
      if (node.kind !== 'member' && node.connection?.managed) {
        node.connection.failed = true;
        node.connection.stopFlag = true;
      }
      break;
    default:
      break;
  }
  const { onFail } = onFailFor(ws, rsc, task, op.interval);
  // a failed stop inside a container counts as done: restarting the container stops it
  if (onFail === OnFail.Ignore || (onFail === OnFail.RestartContainer && task === 'stop')) {
    rsc.failureIgnored = true;
    updateState(rsc, task, expected, op, st);
    recordFailed(ws, rsc, node, op);
    if (onFail === OnFail.RestartContainer && st.onFail <= OnFail.Recover)
      st.onFail = OnFail.RestartContainer;
    return;
  }
  failure(ws, rsc, node, op, rc, st);
  if (status === STATUS_ERROR_HARD) ws.bans.push({ rsc, node, score: -INF });
  else if (status === STATUS_ERROR_FATAL) ws.bans.push({ rsc, score: -INF });
}

/** Failed recurring operations whose failure expired on a live node: to reschedule. */
export const expiredRecurringFailures = new WeakSet<OperationRecord>();

// ---------------------------------------------------------------- migrations

const opsIndex = new WeakMap<WorkingSet, Map<string, readonly OperationRecord[]>>();

/** The raw history of a resource on a node (any node, unpacked or not). */
function opsOn(ws: WorkingSet, rscId: string, nodeName: string): readonly OperationRecord[] {
  let index = opsIndex.get(ws);
  if (!index) {
    index = new Map();
    for (const s of ws.cib.status)
      for (const h of s.resources) index.set(`${s.uname}\0${h.id}`, h.operations);
    opsIndex.set(ws, index);
  }
  return index.get(`${nodeName}\0${rscId}`) ?? [];
}

const recordIndex = new WeakMap<WorkingSet, Map<string, ResourceHistoryRecord>>();

/** The status section's history record of a resource on a node. */
export function historyRecord(
  ws: WorkingSet,
  rscId: string,
  nodeName: string,
): ResourceHistoryRecord | undefined {
  let index = recordIndex.get(ws);
  if (!index) {
    index = new Map();
    for (const s of ws.cib.status) for (const h of s.resources) index.set(`${s.uname}\0${h.id}`, h);
    recordIndex.set(ws, index);
  }
  return index.get(`${nodeName}\0${rscId}`);
}

/** > 0 when `a` happened after `b` (call ids on the same node, else the last change time). */
function newerOp(a: OperationRecord, b: OperationRecord, sameNodeDefault: boolean): number {
  const sameNode =
    a.onNode === undefined || b.onNode === undefined ? sameNodeDefault : a.onNode === b.onNode;
  if (a.callId === -1 && b.callId === -1) return 0;
  if (a.callId === -1) return 1;
  if (b.callId === -1) return -1;
  if (sameNode && a.callId < b.callId) return -1;
  if (sameNode && a.callId > b.callId) return 1;
  const la = a.lastRcChange;
  const lb = b.lastRcChange;
  if (la !== undefined && lb !== undefined && la !== lb) return la < lb ? -1 : 1;
  return 0;
}

function nonMonitorAfter(
  ws: WorkingSet,
  rscId: string,
  nodeName: string,
  ref: OperationRecord,
  sameNode: boolean,
): boolean {
  return opsOn(ws, rscId, nodeName).some(
    (op) =>
      op !== ref &&
      ['start', 'stop', 'migrate_to', 'migrate_from'].includes(op.operation) &&
      newerOp(op, ref, sameNode) > 0,
  );
}

function monitorNotRunningAfter(
  ws: WorkingSet,
  rscId: string,
  nodeName: string,
  ref: OperationRecord,
  sameNode: boolean,
): boolean {
  return opsOn(ws, rscId, nodeName).some(
    (op) =>
      op !== ref && op.operation === 'monitor' && op.rc === 7 && newerOp(op, ref, sameNode) > 0,
  );
}

/** Whether the node has newer state for the resource than the migration's events. */
function newerStateAfterMigrate(
  ws: WorkingSet,
  rscId: string,
  nodeName: string,
  to: OperationRecord,
  from: OperationRecord | undefined,
): boolean {
  const op = from ?? to;
  const source = op.attributes.migrate_source;
  const target = op.attributes.migrate_target;
  let ref = op;
  let sameNode = false;
  if (nodeName === target) {
    ref = from ?? to;
    sameNode = from !== undefined;
  } else if (nodeName === source) {
    ref = to;
    sameNode = true;
  }
  return (
    nonMonitorAfter(ws, rscId, nodeName, ref, sameNode) ||
    monitorNotRunningAfter(ws, rscId, nodeName, ref, sameNode)
  );
}

function addRunning(rsc: Rsc, node: SNode): void {
  if (!rsc.runningOn.includes(node)) rsc.runningOn.push(node);
  if (!node.running.includes(rsc)) node.running.push(rsc);
}

/**
 * A successful migrate_to: the migration completed (the source was just never
 * stopped: a dangling migration), is still partial (active on both nodes, and
 * it may continue), or failed on the target.
 */
function migrateToSucceeded(ws: WorkingSet, rsc: Rsc, node: SNode, op: OperationRecord): void {
  const source = op.attributes.migrate_source;
  const target = op.attributes.migrate_target;
  if (!source || !target || source !== node.name) return;
  const sourceNewer = nonMonitorAfter(ws, rsc.id, source, op, true);
  const from = opsOn(ws, rsc.id, target).find(
    (o) => o.operation === 'migrate_from' && o.attributes.migrate_source === source,
  );
  if (sourceNewer && from) return;
  const targetNewer = newerStateAfterMigrate(ws, rsc.id, target, op, from);
  if (sourceNewer && targetNewer) return;
  rsc.role = Role.Started;
  const targetNode = ws.nodeByName.get(target);
  const sourceNode = ws.nodeByName.get(source);
  if (from && from.rc === 0 && from.opStatus === STATUS_DONE) {
    // complete: active on the target only, the source still needs a stop
    rsc.role = Role.Stopped;
    rsc.dangling ??= [];
    if (!rsc.dangling.includes(node)) rsc.dangling.push(node);
  } else if (from && from.opStatus !== STATUS_PENDING) {
    if (!targetNewer && targetNode?.online) addRunning(rsc, targetNode);
    rsc.failed = true;
    rsc.stopFlag = true;
    rsc.allowMigrate = false;
  } else if (targetNode?.online && opsOn(ws, rsc.id, target).length === 0) {
    // the target has no history of the resource yet (it is probed there first):
    // Pacemaker 2.1.5 neither counts it active there nor the migration as failed
  } else if (!targetNewer && targetNode?.online) {
    addRunning(rsc, targetNode);
    if (sourceNode?.online) {
      rsc.partialSource = sourceNode;
      rsc.partialTarget = targetNode;
    }
  } else if (!sourceNewer) {
    rsc.failed = true;
    rsc.stopFlag = true;
    rsc.allowMigrate = false;
  }
}

/**
 * A failed migrate_from: the resource is still active on the migration source
 * (counted there before the target, as Pacemaker's unpack_migrate_from_failure
 * does) unless the source has no history of it or newer state after the migration.
 */
function migrateFromFailed(ws: WorkingSet, rsc: Rsc, op: OperationRecord): void {
  const source = op.attributes.migrate_source;
  const target = op.attributes.migrate_target;
  if (!source || !target) return;
  const sourceOps = opsOn(ws, rsc.id, source);
  if (sourceOps.length === 0) return;
  const to = sourceOps.find(
    (o) =>
      o.operation === 'migrate_to' &&
      o.rc === 0 &&
      o.attributes.migrate_source === source &&
      o.attributes.migrate_target === target,
  );
  const ref = to ?? op;
  const sameNode = to !== undefined;
  if (
    nonMonitorAfter(ws, rsc.id, source, ref, sameNode) ||
    monitorNotRunningAfter(ws, rsc.id, source, ref, sameNode)
  )
    return;
  const sourceNode = ws.nodeByName.get(source);
  if (sourceNode?.online) addRunning(rsc, sourceNode);
}

function recordFailed(ws: WorkingSet, rsc: Rsc, node: SNode, op: OperationRecord): void {
  if (
    ws.failedOps.some(
      (f) => f.key === op.operationKey && f.node === node.name && f.callId === op.callId,
    )
  )
    return;
  ws.failedOps.push({
    resource: rsc.id,
    node: node.name,
    operation: op.operation,
    interval: op.interval,
    rc: op.rc,
    status: op.opStatus,
    callId: op.callId,
    exitReason: op.exitReason,
    lastRcChange: op.lastRcChange,
    key: op.operationKey,
  });
}

function updateState(
  rsc: Rsc,
  task: string,
  rc: number,
  op: OperationRecord,
  st: NodeHistoryState,
): void {
  let clear = false;
  if (rc === 5) {
    rsc.role = Role.Stopped;
  } else if (rc === 7) {
    clear = true;
  } else if (task === 'monitor') {
    if (st.lastFailure && st.lastFailure.operationKey === op.operationKey) clear = true;
    if (rsc.role < Role.Started) setActive(rsc);
  } else if (task === 'start') {
    rsc.role = Role.Started;
    clear = true;
  } else if (task === 'stop') {
    rsc.role = Role.Stopped;
    clear = true;
  } else if (task === 'promote') {
    rsc.role = Role.Promoted;
    clear = true;
  } else if (task === 'demote') {
    if (st.onFail === OnFail.Demote) clear = true;
    rsc.role = Role.Unpromoted;
  } else if (task === 'migrate_from') {
    rsc.role = Role.Started;
    clear = true;
  } else if (task === 'migrate_to') {
    // the resource is active on the source until the migration completes
    rsc.role = Role.Started;
  } else if (rsc.role < Role.Started) {
    setActive(rsc);
  }
  if (clear) {
    switch (st.onFail) {
      case OnFail.Stop:
      case OnFail.Fence:
      case OnFail.Migrate:
      case OnFail.Standby:
        break;
      case OnFail.ResetRemote:
        break;
      default:
        st.onFail = OnFail.Ignore;
        rsc.nextRole = Role.Unknown;
        break;
    }
  }
}

function failure(
  ws: WorkingSet,
  rsc: Rsc,
  node: SNode,
  op: OperationRecord,
  rc: number,
  st: NodeHistoryState,
): void {
  const task = op.operation;
  st.lastFailure = op;
  if (!(!ws.config.symmetric && rc === 5)) recordFailed(ws, rsc, node, op);
  const { onFail, failRole } = onFailFor(ws, rsc, task, op.interval);
  if (st.onFail < onFail) st.onFail = onFail;
  if (task === 'stop') {
    ws.bans.push({ rsc, node, score: -INF });
  } else if (task === 'promote') {
    rsc.role = Role.Promoted;
  } else if (task === 'demote') {
    if (onFail === OnFail.Block) {
      rsc.role = Role.Promoted;
      rsc.nextRole = Role.Stopped;
    } else if (rc === 7) rsc.role = Role.Stopped;
    else rsc.role = Role.Unpromoted;
  }
  if (task === 'migrate_from') migrateFromFailed(ws, rsc, op);
  // a probe that found the agent not installed or its parameters invalid
  // (Pacemaker masks such probe failures): the resource is not running there
  const isProbe = task === 'monitor' && op.interval === 0;
  if (isProbe && (rc === 5 || rc === 2 || op.opStatus === STATUS_NOT_INSTALLED))
    rsc.role = Role.Stopped;
  else if (rsc.role < Role.Started) setActive(rsc);
  if (failRole !== Role.Started && rsc.nextRole < failRole) {
    rsc.nextRole = failRole;
  }
  if (failRole === Role.Stopped) ws.bans.push({ rsc, score: -INF });
}

/** Whether fencing could be used on a node (Pacemaker's pe_can_fence). */
function canFenceWhileUnpacking(ws: WorkingSet, node: SNode): boolean {
  const c = ws.config;
  if (!c.stonithEnabled || !c.haveStonithResource) return false;
  if (c.haveQuorum || c.noQuorumPolicy === 'ignore') return true;
  return node.online;
}

/**
 * A stop decided while unpacking a failure. Pacemaker creates it at once, and
 * a stop on a node that is not online (a remote node whose connection failed,
 * a guest that must be reset) cannot run: the node becomes unclean ("stop is
 * unrunnable"), so nothing is placed there (fenced when fencing is enabled).
 */
function forceStop(ws: WorkingSet, f: ForcedStop): void {
  ws.forcedStops.push(f);
  // among the first actions created, so its orderings are applied last
  ws.unpackedActions.push({ rsc: f.rsc, node: f.node, key: `${f.rsc.id}_stop_0` });
  const node = f.node;
  if (node.online || (node.kind === 'guest' && !node.remoteRequiresReset)) return;
  if (f.rsc.managed && !node.unclean) fenceNode(node, 'stop is unrunnable');
}

function processState(ws: WorkingSet, rsc: Rsc, node: SNode, st: NodeHistoryState): void {
  if (rsc.role !== Role.Unknown) {
    rsc.knownOn.add(node);
    if (rsc.parent) rsc.parent.knownOn.add(node);
    // anonymous clones: the instance, its group and the clone all know the node
    if (cloneOf(rsc)?.clone?.unique === false)
      for (let p = rsc.parent; p; p = p.parent) p.knownOn.add(node);
  }
  let onFail = st.onFail;
  if (isActiveRole(rsc.role) && !node.online && !node.maintenance && rsc.managed) {
    let shouldFence = false;
    let reason = `${rsc.id} is thought to be active there`;
    if (node.kind === 'guest') {
      rsc.failed = true;
      rsc.stopFlag = true;
      shouldFence = true;
    } else if (ws.config.stonithEnabled) {
      if (node.kind === 'remote' && node.connection && !node.connection.failed) {
        // fenced only if the connection cannot start anywhere else
        node.unseen = true;
        reason = `${rsc.id} is active there (fencing will be revoked if remote connection can be re-established elsewhere)`;
      }
      shouldFence = true;
    }
    if (shouldFence) fenceNode(node, reason);
  }
  if (node.unclean) onFail = OnFail.Ignore;
  switch (onFail) {
    case OnFail.Ignore:
      break;
    case OnFail.Demote:
      rsc.failed = true;
      break;
    case OnFail.Fence:
      fenceNode(node, `${rsc.id} failed there`);
      break;
    case OnFail.Standby:
      node.standby = true;
      node.standbyOnFail = true;
      break;
    case OnFail.Block:
      rsc.managed = false;
      rsc.blocked = true;
      break;
    case OnFail.Migrate:
      ws.bans.push({ rsc, node, score: -INF });
      break;
    case OnFail.Stop:
      rsc.nextRole = Role.Stopped;
      break;
    case OnFail.Recover:
      if (isActiveRole(rsc.role)) {
        rsc.failed = true;
        rsc.stopFlag = true;
        forceStop(ws, { rsc, node });
      }
      break;
    case OnFail.RestartContainer:
      rsc.failed = true;
      rsc.stopFlag = true;
      if (rsc.container) forceStop(ws, { rsc: rsc.container, node, container: true });
      else if (isActiveRole(rsc.role)) forceStop(ws, { rsc, node });
      break;
    case OnFail.ResetRemote:
      if (
        ws.config.stonithEnabled &&
        rsc.remoteNode?.kind === 'remote' &&
        !rsc.remoteNode.remoteWasFenced
      )
        fenceNode(rsc.remoteNode, 'remote connection is unrecoverable');
      if (isActiveRole(rsc.role)) forceStop(ws, { rsc, node });
      break;
  }
  if (isActiveRole(rsc.role)) {
    if (!rsc.runningOn.includes(node)) rsc.runningOn.push(node);
    for (let p = rsc.parent; p; p = p.parent) {
      p.activeOn ??= [];
      if (!p.activeOn.includes(node)) p.activeOn.push(node);
    }
    if (rsc.runningOn.length > 1) {
      if (rsc.multipleActive === 'stop_only') ws.bans.push({ rsc, score: -INF });
      else if (rsc.multipleActive === 'block') {
        rsc.managed = false;
        rsc.blocked = true;
      }
    }
    if (!node.running.includes(rsc)) node.running.push(rsc);
    // active on a maintenance node: unmanaged (Pacemaker 2.1.5 does not put the
    // resource itself in maintenance, so it keeps its monitors on other nodes)
    if (node.maintenance) rsc.managed = false;
    if (!rsc.managed) ws.bans.push({ rsc, node, score: INF });
    switch (onFail) {
      case OnFail.Ignore:
        break;
      case OnFail.Demote:
      case OnFail.Block:
        rsc.failed = true;
        break;
      default:
        rsc.failed = true;
        rsc.stopFlag = true;
        break;
    }
  }
}
