import type {
  Cib,
  Clone,
  Group,
  OperationRecord,
  Primitive,
  Resource,
  ResourceHistoryRecord,
} from '@remora/cib';
// The light subpath: the package index would load agent-runner's process code at every CLI start.
import { isOcfRc, ocfRcName } from '@remora/agent-runner/result-codes';
import { scheduleTime, unpackNodeStates } from '../nodes';
import type { NodeStateView } from '../nodes';
import {
  INFINITY,
  effectiveMeta,
  mergeNvSets,
  parseBoolean,
  parseInterval,
  parseScore,
} from '@remora/cib';
import type {
  StatusClone,
  StatusFailCount,
  StatusFailedAction,
  StatusGroup,
  StatusNode,
  StatusPrimitive,
  StatusResource,
  StatusRole,
  StatusView,
} from './view';

/*
 * From a CIB (configuration + status) to what `remora status` shows, the
 * way crm_mon reads the status section: node states from node_state and
 * node attributes, each resource's role on each node from its operation
 * history (ops in call-id order, rc against the expected rc of the
 * transition key), failed actions and fail counts.
 */

/** Pacemaker's execution status words (op-status). */
const EXEC_STATUS_TEXT: Readonly<Record<number, string>> = {
  [-1]: 'pending',
  0: 'complete',
  1: 'Cancelled',
  2: 'Timed Out',
  3: 'NOT SUPPORTED',
  4: 'Error',
  5: 'Hard error',
  6: 'Fatal error',
  7: 'Not installed',
  8: 'Internal communication failure',
  9: 'Cannot execute now',
};

const OP_PENDING = -1;
const OP_DONE = 0;
const OP_CANCELLED = 1;
const OP_ERROR = 4;

function truthy(v: string | undefined): boolean {
  return parseBoolean(v, false);
}

/** The expected rc from the transition key `action:transition:rc:uuid` (-1 when unknown). */
function expectedRc(op: OperationRecord): number {
  const key = op.transitionKey ?? op.transitionMagic?.split(';')[1];
  const rc = key?.split(':')[2];
  return rc !== undefined && /^\d+$/.test(rc) ? Number(rc) : -1;
}

function isProbe(op: OperationRecord): boolean {
  return op.operation === 'monitor' && op.interval === 0;
}

/** Whether a recorded operation is a failure worth showing (probes that find the resource running are not). */
function isFailure(op: OperationRecord): boolean {
  if (op.opStatus === OP_PENDING || op.opStatus === OP_CANCELLED) return false;
  if (isProbe(op)) {
    if (op.opStatus === OP_DONE && [0, 7, 8].includes(op.rc)) return false;
    if (op.rc === 5) return false; // not installed there: the resource cannot run there, no failure
  }
  const expected = expectedRc(op);
  // An "error" status with the expected rc (old controllers recorded probes so) is no failure.
  if (op.opStatus === OP_ERROR && expected !== -1 && op.rc === expected) return false;
  if (op.opStatus !== OP_DONE) return true;
  if (expected === -1) return ![0, 8].includes(op.rc) && !(isProbe(op) && op.rc === 7);
  // A monitor of a promoted instance says 8; degraded results count as success.
  if (op.rc === expected) return false;
  if ((op.rc === 190 && expected === 0) || (op.rc === 191 && expected === 8)) return false;
  return true;
}

interface NodeRole {
  role: StatusRole;
  failed: boolean;
  blocked: boolean;
  /** A failure happened but on-fail=ignore. */
  failureIgnored: boolean;
  /** A monitor is in flight. */
  monitoring: boolean;
}

/** The configured on-fail of an operation (name + interval) of a resource. */
type OnFail = (op: OperationRecord) => string | undefined;

/** A resource's role on one node from its history there. */
function roleFromHistory(
  history: ResourceHistoryRecord,
  onFail: OnFail = () => undefined,
): NodeRole {
  // Pending operations (call-id -1) come last, as Pacemaker sorts them.
  const order = (o: OperationRecord): number =>
    o.callId < 0 || o.opStatus === OP_PENDING ? Number.MAX_SAFE_INTEGER : o.callId;
  const ops = [...history.operations]
    .filter((o) => o.opStatus !== OP_CANCELLED)
    .sort((a, b) => order(a) - order(b) || Number(a.interval > 0) - Number(b.interval > 0));
  let role: StatusRole = 'Stopped';
  let failed = false;
  let blocked = false;
  let failureIgnored = false;
  let monitoring = false;
  for (const op of ops) {
    if (op.opStatus === OP_PENDING) {
      const pending: Readonly<Record<string, StatusRole>> = {
        start: 'Starting',
        stop: 'Stopping',
        promote: 'Promoting',
        demote: 'Demoting',
        migrate_to: 'Migrating',
        migrate_from: 'Migrating',
      };
      if (pending[op.operation]) role = pending[op.operation]!;
      else if (op.operation === 'monitor') monitoring = true;
      continue;
    }
    let failure = isFailure(op);
    const policy = failure ? onFail(op) : undefined;
    if (policy === 'ignore') {
      failureIgnored = true;
      failure = false;
      if (op.operation === 'monitor' || op.operation === 'start') {
        if (role === 'Stopped') role = 'Started';
        continue;
      }
    } else if (policy === 'block') blocked = true;
    switch (op.operation) {
      case 'start':
      case 'migrate_from':
        role = 'Started';
        failed = failure;
        break;
      case 'stop':
        if (failure) {
          role = role === 'Stopped' ? 'Started' : role;
          failed = true;
          blocked = true;
        } else {
          role = 'Stopped';
          failed = false;
          blocked = false;
        }
        break;
      case 'promote':
        role = 'Promoted';
        failed = failure;
        break;
      case 'demote':
        role = failure ? 'Promoted' : 'Unpromoted';
        failed = failure;
        break;
      case 'migrate_to':
        if (failure) failed = true;
        break;
      case 'monitor':
        if (isProbe(op) && op.opStatus === OP_DONE) {
          if (op.rc === 7 || op.rc === 5) role = 'Stopped';
          else if (op.rc === 0 || op.rc === 190) role = 'Started';
          else if (op.rc === 8 || op.rc === 191) role = 'Promoted';
          else {
            // a probe that failed finds the resource active, and failed
            failed = true;
            if (role === 'Stopped') role = 'Started';
          }
        } else if (failure) {
          failed = true;
          if (role === 'Stopped') role = 'Started';
        } else if (op.rc === 8 || op.rc === 191) role = 'Promoted';
        else if (op.rc === 0 && role === 'Stopped') role = 'Started';
        break;
      default:
        if (failure) failed = true;
    }
  }
  return { role, failed, blocked, failureIgnored, monitoring };
}

function agentOf(p: Primitive): string {
  return p.provider ? `${p.class}:${p.provider}:${p.type}` : `${p.class}:${p.type}`;
}

/** Entries of a list by name, built once per list (status lists have an entry per node: thousands of guests). */
const nameIndexes = new WeakMap<readonly object[], Map<string, unknown>>();

function byName<T extends object>(
  list: readonly T[],
  name: (x: T) => string,
  key: string,
): T | undefined {
  let index = nameIndexes.get(list) as Map<string, T> | undefined;
  if (!index) {
    index = new Map();
    for (const x of list) if (!index.has(name(x))) index.set(name(x), x);
    nameIndexes.set(list, index);
  }
  return index.get(key);
}

/** Node attributes with transient ones on top (as rules and crm_mon see them). */
function attributesOf(cib: Cib, node: string): Record<string, string> {
  const n = byName(cib.nodes, (x) => x.name, node);
  const permanent = n ? mergeNvSets(n.attributes) : {};
  const state = byName(cib.status, (x) => x.uname, node);
  return { ...permanent, ...(state?.transientAttributes ?? {}) };
}

interface Activity {
  /** lrm resource id (e.g. ping or ping:1). */
  readonly id: string;
  readonly node: string;
  readonly role: NodeRole;
}

/** Every node's history entries, by resource id. */
function onFailOf(cib: Cib, lrmId: string): OnFail {
  const p = findPrimitive(cib, lrmId.replace(/:\d+$/, ''));
  return (op) =>
    p?.operations.find((o) => o.name === op.operation && o.interval === op.interval)?.onFail;
}

/** Primitives by id (the first in tree order), per resource list: built once, not searched per history entry. */
const primitiveIndex = new WeakMap<readonly Resource[], Map<string, Primitive>>();

function findPrimitive(cib: Cib, id: string): Primitive | undefined {
  let index = primitiveIndex.get(cib.resources);
  if (!index) {
    const built = new Map<string, Primitive>();
    const add = (p: Primitive | undefined): void => {
      if (p && !built.has(p.id)) built.set(p.id, p);
    };
    const walk = (r: Resource): void => {
      if (r.kind === 'primitive') add(r);
      else if (r.kind === 'group') for (const c of r.children) add(c);
      else if (r.kind === 'clone') walk(r.child);
      else add(r.child);
    };
    for (const r of cib.resources) walk(r);
    primitiveIndex.set(cib.resources, built);
    index = built;
  }
  return index.get(id);
}

/** Each history entry's reading, in status order, on the nodes that count. */
function historyRoles(cib: Cib, counts: (node: string) => boolean): Activity[] {
  const out: Activity[] = [];
  for (const ns of cib.status) {
    if (!counts(ns.uname)) continue;
    for (const h of ns.resources)
      out.push({ id: h.id, node: ns.uname, role: roleFromHistory(h, onFailOf(cib, h.id)) });
  }
  return out;
}

/** Activities by resource id (map order: first appearance in status order). */
function byResource(list: readonly Activity[]): Map<string, Activity[]> {
  const byId = new Map<string, Activity[]>();
  for (const a of list) {
    const l = byId.get(a.id);
    if (l) l.push(a);
    else byId.set(a.id, [a]);
  }
  return byId;
}

function activities(cib: Cib, counts: (node: string) => boolean): Map<string, Activity[]> {
  return byResource(historyRoles(cib, counts));
}

/** Entries of numbered instances (`id:N`) by `id`, per activity map (built once, in map order). */
const instanceIndex = new WeakMap<Map<string, Activity[]>, Map<string, Activity[]>>();

function historyFor(acts: Map<string, Activity[]>, id: string, anyInstance: boolean): Activity[] {
  const out = [...(acts.get(id) ?? [])];
  if (anyInstance) {
    let index = instanceIndex.get(acts);
    if (!index) {
      index = new Map();
      for (const [k, v] of acts) {
        const m = /^(.*):\d+$/.exec(k);
        if (!m) continue;
        const base = m[1] as string;
        const list = index.get(base);
        if (list) list.push(...v);
        else index.set(base, [...v]);
      }
      instanceIndex.set(acts, index);
    }
    out.push(...(index.get(id) ?? []));
  }
  return out;
}

interface Context {
  readonly cib: Cib;
  readonly acts: Map<string, Activity[]>;
  readonly nodeMaintenance: ReadonlySet<string>;
  readonly uncleanNodes: ReadonlySet<string>;
  readonly maintenanceMode: boolean;
  /** shutdown-lock: resource id -> the node its history locks it to. */
  readonly locks: ReadonlyMap<string, string>;
}

/**
 * With shutdown-lock on, the resources whose history on a node records a
 * lock that has not expired (shutdown-lock-limit after the lock started).
 */
function shutdownLocks(cib: Cib, now: Date): Map<string, string> {
  const locks = new Map<string, string>();
  const props = cib.properties;
  if (!truthy(props['shutdown-lock'])) return locks;
  const limit = props['shutdown-lock-limit']
    ? Math.floor(
        parseInterval(
          props['shutdown-lock-limit'],
          '/cib/configuration/crm_config/shutdown-lock-limit',
        ) / 1000,
      )
    : 0;
  const nowSec = Math.floor(now.getTime() / 1000);
  for (const s of cib.status)
    for (const h of s.resources) {
      const since = h.shutdownLock;
      if (since === undefined || since === 0) continue;
      if (limit > 0 && nowSec > since + limit) continue;
      locks.set(h.id, s.uname);
    }
  return locks;
}

function metaFlags(
  ctx: Context,
  id: string,
): { managed: boolean; disabled: boolean; targetRole?: string } {
  const meta = effectiveMeta(ctx.cib, id);
  // "#default" means no target role, as Pacemaker reads it.
  const target = meta['target-role'] === '#default' ? undefined : meta['target-role'];
  return {
    managed:
      parseBoolean(meta['is-managed'], true) && !truthy(meta.maintenance) && !ctx.maintenanceMode,
    disabled: target?.toLowerCase() === 'stopped',
    targetRole:
      target && !['started', 'stopped'].includes(target.toLowerCase()) ? target : undefined,
  };
}

function primitiveView(
  ctx: Context,
  p: Primitive,
  activity: readonly Activity[],
  id = p.id,
): StatusPrimitive {
  const flags = metaFlags(ctx, p.id);
  const active = activity.filter((a) => a.role.role !== 'Stopped');
  const nodes = active.map((a) => a.node);
  const role: StatusRole =
    active.find((a) => a.role.role === 'Promoted')?.role.role ?? active[0]?.role.role ?? 'Stopped';
  return {
    kind: 'primitive',
    id,
    agent: agentOf(p),
    role,
    nodes,
    failed: activity.some((a) => a.role.failed && a.role.role !== 'Stopped'),
    managed: flags.managed && !nodes.some((n) => ctx.nodeMaintenance.has(n)),
    disabled: flags.disabled,
    blocked: activity.some((a) => a.role.blocked && (a.role.failed || a.role.role !== 'Stopped')),
    orphaned: false,
    failureIgnored: activity.some((a) => a.role.failureIgnored && a.role.role !== 'Stopped'),
    pendingMonitor: active.some((a) => a.role.monitoring),
    targetRole: flags.targetRole,
    uncleanNodes: nodes.filter((n) => ctx.uncleanNodes.has(n)),
    lockedTo: ctx.locks.get(p.id),
  };
}

function groupView(
  ctx: Context,
  g: Group,
  pick: (p: Primitive) => Activity[],
  id = g.id,
): StatusGroup {
  const flags = metaFlags(ctx, g.id);
  if (id === g.id) {
    const children = g.children.map((c) => primitiveView(ctx, c, pick(c)));
    return { kind: 'group', id, children, managed: flags.managed, disabled: flags.disabled };
  }
  // A cloned group's instance: members are named as their history names them (dlm, or
  // stateful-1:0 when the history records instance numbers), as crm_mon prints them.
  const suffix = g.children
    .flatMap((c) => pick(c))
    .map((a) => /:\d+$/.exec(a.id)?.[0])
    .find((x) => x !== undefined);
  const children = g.children.map((c) => {
    const acts = pick(c);
    return primitiveView(ctx, c, acts, acts[0]?.id ?? `${c.id}${suffix ?? ''}`);
  });
  return { kind: 'group', id, children, managed: flags.managed, disabled: flags.disabled };
}

function cloneView(ctx: Context, c: Clone, nodes: readonly StatusNode[]): StatusClone {
  const flags = metaFlags(ctx, c.id);
  const meta = mergeNvSets(c.meta);
  const child = c.child;
  const instances: (StatusPrimitive | StatusGroup)[] = [];
  const primitives = child.kind === 'group' ? child.children : [child];
  // only OCF and fencing agents can be globally unique (others are anonymous clones)
  const unique =
    truthy(meta['globally-unique']) &&
    primitives.every((p) => ['ocf', 'stonith'].includes(p.class.toLowerCase()));
  // The nodes with any active instance of the clone (of any member, for cloned groups).
  const activeByNode = new Map<string, Activity[]>();
  for (const p of primitives)
    for (const a of historyFor(ctx.acts, p.id, true)) {
      if (a.role.role === 'Stopped' && !a.role.failed) continue;
      activeByNode.set(a.node, [...(activeByNode.get(a.node) ?? []), a]);
    }
  const max = Number(meta['clone-max'] ?? nodes.length);
  if (unique) {
    for (let i = 0; i < max; i++) {
      const suffix = `:${i}`;
      if (child.kind === 'primitive')
        instances.push(
          primitiveView(
            ctx,
            child,
            ctx.acts.get(`${child.id}${suffix}`) ?? [],
            `${child.id}${suffix}`,
          ),
        );
      else
        instances.push(
          groupView(
            ctx,
            child,
            (p) => ctx.acts.get(`${p.id}${suffix}`) ?? [],
            `${child.id}${suffix}`,
          ),
        );
    }
  } else {
    let n = 0;
    for (const node of [...activeByNode.keys()]) {
      const suffix = `:${n++}`;
      const onNode = (p: Primitive): Activity[] =>
        historyFor(ctx.acts, p.id, true).filter((a) => a.node === node);
      if (child.kind === 'primitive') {
        const acts = onNode(child);
        instances.push({
          ...primitiveView(ctx, child, acts, `${child.id}${suffix}`),
          historyId: acts[0]?.id,
        });
      } else instances.push(groupView(ctx, child, onNode, `${child.id}${suffix}`));
    }
  }
  // Nodes where no instance runs: cluster nodes, and remote/guest nodes that are up.
  const stoppedOn =
    unique || activeByNode.size >= max
      ? []
      : nodes
          .filter((x) => (x.kind === 'member' || x.online) && !activeByNode.has(x.name))
          .map((x) => x.name);
  if (c.promotable) for (const [i, inst] of instances.entries()) instances[i] = unpromoted(inst);
  return {
    kind: 'clone',
    id: c.id,
    childId: child.id,
    promotable: c.promotable,
    unique,
    managed: flags.managed,
    disabled: flags.disabled,
    instances,
    stoppedOn,
  };
}

/** In a promotable clone, an instance that runs but is not promoted is Unpromoted. */
function unpromoted<T extends StatusPrimitive | StatusGroup>(r: T): T {
  if (r.kind === 'group') return { ...r, children: r.children.map((c) => unpromoted(c)) };
  return r.role === 'Started' ? { ...r, role: 'Unpromoted' } : r;
}

function buildNodes(
  cib: Cib,
  acts: Map<string, Activity[]>,
  states: ReadonlyMap<string, NodeStateView>,
): StatusNode[] {
  const active = (id: string): { nodes: string[]; failed: boolean } => {
    const a = historyFor(acts, id, false).filter((x) => x.role.role !== 'Stopped');
    return { nodes: a.map((x) => x.node), failed: a.some((x) => x.role.failed) };
  };
  const members = new Map<string, StatusNode>();
  const out: StatusNode[] = [];
  for (const n of cib.nodes) {
    const attrs = attributesOf(cib, n.name);
    const state = byName(cib.status, (x) => x.uname, n.name);
    // Online, UNCLEAN, pending and standby-on-fail as the scheduler's unpack decides them.
    const decided = states.get(n.name);
    const online = decided?.online ?? false;
    const pending = decided?.pending ?? false;
    const unclean = decided?.unclean ?? false;
    let resource: string | undefined;
    let host: string | undefined;
    if (n.kind === 'remote') resource = n.name;
    else if (n.kind === 'guest') {
      const guest = byName(cib.guestNodes, (g) => g.name, n.name);
      resource = guest?.container;
      host = guest ? active(guest.container).nodes[0] : undefined;
    }
    const view: StatusNode = {
      name: n.name,
      id: n.id,
      kind: n.kind,
      online,
      // A node never seen (no node_state) has no attributes applied yet, as in Pacemaker.
      standby: state !== undefined && truthy(attrs.standby),
      standbyOnFail: decided?.standbyOnFail ?? false,
      maintenance: state !== undefined && truthy(attrs.maintenance),
      pending,
      unclean,
      shutdown: attrs.shutdown !== undefined && attrs.shutdown !== '0',
      isDc: cib.dcUuid !== undefined && cib.dcUuid === n.id && n.kind === 'member',
      resourcesRunning: 0,
      resource,
      host,
    };
    if (n.kind === 'member') members.set(n.name, view);
    out.push(view);
  }
  // A guest on a host in maintenance is in maintenance too.
  return out.map((v) =>
    v.kind === 'guest' && v.host && members.get(v.host)?.maintenance
      ? { ...v, maintenance: true }
      : v,
  );
}

function primitivesIn(r: StatusResource): StatusPrimitive[] {
  if (r.kind === 'primitive') return [r];
  if (r.kind === 'group') return [...r.children];
  return r.instances.flatMap(primitivesIn);
}

function failedActions(cib: Cib, up: ReadonlySet<string>): StatusFailedAction[] {
  const out: StatusFailedAction[] = [];
  const seen = new Set<string>();
  for (const ns of cib.status)
    for (const h of up.has(ns.uname) ? ns.resources : [])
      for (const op of [...h.operations].sort((a, b) => a.callId - b.callId)) {
        if (!isFailure(op)) continue;
        const key = `${ns.uname}/${op.operationKey}/${op.callId}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({
          resource: h.id,
          operationKey: op.operationKey,
          task: op.operation,
          interval: op.interval,
          node: ns.uname,
          rc: op.rc,
          rcText: isOcfRc(op.rc) ? ocfRcName(op.rc) : 'unknown',
          status: EXEC_STATUS_TEXT[op.opStatus] ?? 'Error',
          exitReason: op.exitReason || undefined,
          callId: op.callId,
          lastRcChange: op.lastRcChange,
          execTime: op.execTime,
          queueTime: op.queueTime,
        });
      }
  return out;
}

function failCounts(
  cib: Cib,
  order: readonly string[],
  up: ReadonlySet<string>,
): StatusFailCount[] {
  const out: StatusFailCount[] = [];
  for (const ns of cib.status) {
    if (!up.has(ns.uname)) continue;
    const counts = new Map<string, { count: number; last: number }>();
    for (const [k, v] of Object.entries(ns.transientAttributes)) {
      const fc = /^fail-count-(.+?)(#.*)?$/.exec(k);
      const lf = /^last-failure-(.+?)(#.*)?$/.exec(k);
      const m = fc ?? lf;
      if (!m) continue;
      const entry = counts.get(m[1]!) ?? { count: 0, last: 0 };
      if (fc) entry.count = Math.min(INFINITY, entry.count + parseScore(v));
      else entry.last = Math.max(entry.last, Number(v) || 0);
      counts.set(m[1]!, entry);
    }
    // As crm_mon: in the order of the node's resource history, then configuration order.
    const history = ns.resources.map((h) => h.id);
    const rank = (id: string): number => {
      const i = history.indexOf(id);
      return i >= 0 ? i : history.length + orderOf(order, id);
    };
    const ids = [...counts.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    for (const rsc of ids) {
      const base = rsc.replace(/:\d+$/, '');
      // A clone instance's count covers every instance of the clone on that node (as Pacemaker's regex).
      const c =
        base === rsc
          ? counts.get(rsc)!
          : [...counts.entries()]
              .filter(([k]) => k.replace(/:\d+$/, '') === base)
              .reduce(
                (acc, [, v]) => ({
                  count: Math.min(INFINITY, acc.count + v.count),
                  last: Math.max(acc.last, v.last),
                }),
                { count: 0, last: 0 },
              );
      if (c.count <= 0) continue;
      let threshold = INFINITY;
      try {
        const meta = effectiveMeta(cib, rsc.replace(/:\d+$/, ''));
        if (meta['migration-threshold'] !== undefined)
          threshold = parseScore(meta['migration-threshold']);
      } catch {
        // an orphan: the default
      }
      out.push({
        node: ns.uname,
        resource: rsc,
        failCount: c.count,
        migrationThreshold: threshold,
        lastFailure: c.last || undefined,
      });
    }
  }
  return out;
}

function orderOf(order: readonly string[], rsc: string): number {
  const i = order.indexOf(rsc.replace(/:\d+$/, ''));
  return i < 0 ? order.length : i;
}

function allIds(resources: readonly Resource[]): string[] {
  const ids: string[] = [];
  const walk = (r: Resource): void => {
    ids.push(r.id);
    if (r.kind === 'group') r.children.forEach(walk);
    else if (r.kind === 'clone') walk(r.child);
    else if (r.kind === 'bundle' && r.child) walk(r.child);
  };
  resources.forEach(walk);
  return ids;
}

/** Where a resource's history says it is active (not Stopped), and whether it failed there. */
export interface HistoryActivity {
  readonly node: string;
  readonly role: StatusRole;
  readonly failed: boolean;
}

export interface BuildStatusOptions {
  /** "Now" for failure timeouts and shutdown locks (default: the CIB's execution-date, else the clock). */
  readonly now?: Date;
  /**
   * The node states, when the caller knows them already (the scheduler's
   * unpack of the same CIB), or a function that decides them from each
   * resource's history on every node with a state (undefined: it cannot, and
   * they are unpacked from the CIB). Default: unpacked from the CIB.
   */
  readonly nodeStates?:
    | readonly NodeStateView[]
    | ((
        historyOf: (resource: string) => readonly HistoryActivity[],
      ) => readonly NodeStateView[] | undefined);
}

/** What `remora status` shows for a CIB. */
export function buildStatusView(cib: Cib, options: BuildStatusOptions = {}): StatusView {
  const props = cib.properties;
  const maintenanceMode = truthy(props['maintenance-mode']);
  const stonith = parseBoolean(props['stonith-enabled'], true);
  const unpacked = (): NodeStateView[] => unpackNodeStates(cib, scheduleTime(cib, options.now));
  let decided: readonly NodeStateView[] | undefined;
  let everywhere: Activity[] | undefined;
  if (typeof options.nodeStates === 'function') {
    const all = historyRoles(cib, () => true);
    everywhere = all;
    const byId = byResource(all);
    decided = options.nodeStates((id) =>
      (byId.get(id) ?? []).map((a) => ({ node: a.node, role: a.role.role, failed: a.role.failed })),
    );
  } else decided = options.nodeStates;
  const states = new Map((decided ?? unpacked()).map((n) => [n.name, n]));
  // The history of a node that is down (and not unclean) says nothing about what runs now.
  const up = new Set([...states.values()].filter((n) => n.online || n.unclean).map((n) => n.name));
  const acts = everywhere
    ? byResource(everywhere.filter((a) => up.has(a.node)))
    : activities(cib, (n) => up.has(n));
  const nodes = buildNodes(cib, acts, states).map((n) => ({ ...n }));
  const ctx: Context = {
    cib,
    acts,
    nodeMaintenance: new Set(nodes.filter((n) => n.maintenance).map((n) => n.name)),
    uncleanNodes: new Set(nodes.filter((n) => n.unclean).map((n) => n.name)),
    maintenanceMode,
    locks: shutdownLocks(cib, scheduleTime(cib, options.now)),
  };
  const resources: StatusResource[] = [];
  let configured = 0;
  let disabled = 0;
  for (const r of cib.resources) {
    let view: StatusResource | undefined;
    if (r.kind === 'primitive') view = primitiveView(ctx, r, historyFor(acts, r.id, false));
    else if (r.kind === 'group') view = groupView(ctx, r, (p) => historyFor(acts, p.id, false));
    else if (r.kind === 'clone') view = cloneView(ctx, r, nodes);
    if (!view) continue;
    resources.push(view);
    if (view.kind === 'clone') {
      const max = Number(mergeNvSets(r.meta)['clone-max'] ?? nodes.length);
      const per = r.kind === 'clone' && r.child.kind === 'group' ? r.child.children.length : 1;
      configured += max * per;
      if (view.disabled) disabled += max * per;
    } else
      for (const p of primitivesIn(view)) {
        configured++;
        if (p.disabled || (view.kind === 'group' && view.disabled)) disabled++;
      }
  }
  // Implicit connection resources of guest nodes count as configured instances.
  configured += cib.guestNodes.length;
  const running = new Map<string, number>();
  for (const r of resources)
    for (const p of primitivesIn(r))
      for (const n of p.nodes) running.set(n, (running.get(n) ?? 0) + 1);
  for (const g of cib.guestNodes)
    for (const a of historyFor(acts, g.name, false))
      if (a.role.role !== 'Stopped') running.set(a.node, (running.get(a.node) ?? 0) + 1);
  const dcNode = nodes.find((n) => n.isDc);
  const root = cib.rootAttributes;
  return {
    stack: props['cluster-infrastructure'] ?? 'unknown',
    dc: dcNode ? { name: dcNode.name, id: dcNode.id, version: props['dc-version'] } : undefined,
    haveQuorum: cib.haveQuorum,
    lastChange: {
      time: root['cib-last-written'],
      user: root['update-user'],
      client: root['update-client'],
      origin: root['update-origin'],
    },
    nodes: nodes.map((n) => ({ ...n, resourcesRunning: running.get(n.name) ?? 0 })),
    resources,
    resourceCounts: {
      configured,
      disabled,
      blocked: resources.flatMap(primitivesIn).filter((p) => p.blocked).length,
    },
    failedActions: failedActions(cib, up),
    failCounts: failCounts(cib, allIds(cib.resources), up),
    options: {
      stonithEnabled: stonith,
      maintenanceMode,
      stopAllResources: truthy(props['stop-all-resources']),
    },
  };
}
