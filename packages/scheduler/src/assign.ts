/**
 * Placement: node scores per resource (locations, stickiness, failure
 * thresholds, colocations) and the choice of a node, in Pacemaker's order.
 *
 * Scores are sparse per primitive (`NodeScores`: a base score plus the nodes
 * that differ from it); a node a resource may not even consider is ABSENT
 * (asymmetric clusters). Operations that treat every node alike work on the
 * base score once, so placement costs per exception, not per node.
 */
import type { LocationConstraint, Rule, RuleContext } from '@remora/cib';
import { addScores, evaluateRule, mergeNvSets } from '@remora/cib';
import type { Coloc, Rsc, SNode } from './model';
import {
  INF,
  Role,
  containerNodeConnection,
  nodeAvailable,
  parseRole,
  primitivesOf,
} from './model';
import { ownWithThis, thisWithList, withThisList } from './colocations';
import { addPromotedLocation } from './promotable';
import { ABSENT, NodeScores } from './scores';
import type { WorkingSet } from './unpack';
import {
  addColocation,
  blockFailure,
  failCountInfo,
  activeNode,
  resourcesWithFailures,
} from './unpack';
import { applyColocationWithClone, assignClone } from './clone';
import {
  colocatedResources,
  compareCapacity,
  consumeCapacity,
  enoughCapacity,
  readUtilization,
  unassignedRequirements,
  usesUtilization,
} from './utilization';

export { ABSENT, NodeScores };
const INFINITY_HACK = INF * -100;

export type Table = NodeScores;

/** A node's weight before any constraint: -INFINITY for cluster nodes that are offline or shutting down. */
export function baseWeight(node: SNode): number {
  if (node.kind === 'member' && (!node.online || node.shutdown)) return -INF;
  return 0;
}

/** Node lists the sparse operations need, computed once per working set. */
interface NodeLists {
  /** Nodes whose weight without any constraint is not 0 (cluster nodes offline or shutting down). */
  readonly special: SNode[];
  readonly members: SNode[];
  readonly nonMembers: SNode[];
  /** Nodes by value of a node attribute (built on first use per attribute). */
  readonly byAttr: Map<string, Map<string | undefined, SNode[]>>;
}

const nodeListCache = new WeakMap<WorkingSet, NodeLists>();

function nodeLists(ws: WorkingSet): NodeLists {
  let l = nodeListCache.get(ws);
  if (!l) {
    l = {
      special: ws.nodes.filter((n) => baseWeight(n) !== 0),
      members: ws.nodes.filter((n) => n.kind === 'member'),
      nonMembers: ws.nodes.filter((n) => n.kind !== 'member'),
      byAttr: new Map(),
    };
    nodeListCache.set(ws, l);
  }
  return l;
}

/** The nodes whose attribute `attr` has this value (undefined: nodes without it). */
function nodesWithAttr(ws: WorkingSet, attr: string, value: string | undefined): SNode[] {
  const lists = nodeLists(ws);
  let index = lists.byAttr.get(attr);
  if (!index) {
    index = new Map();
    for (const n of ws.nodes) {
      const v = n.attrs[attr];
      const list = index.get(v);
      if (list) list.push(n);
      else index.set(v, [n]);
    }
    lists.byAttr.set(attr, index);
  }
  return index.get(value) ?? [];
}

function addToNode(t: Table, node: SNode, score: number): void {
  const cur = t.get(node.index);
  t.set(node.index, addScores(cur === ABSENT ? baseWeight(node) : cur, score));
}

/** Add a score on every node (a node not yet considered starts from its base weight). */
function addToAll(ws: WorkingSet, t: Table, score: number): void {
  for (const [i, v] of t.exceptions)
    t.exceptions.set(i, addScores(v === ABSENT ? baseWeight(ws.nodes[i] as SNode) : v, score));
  if (t.base === ABSENT) {
    for (const n of nodeLists(ws).special)
      if (t.isBase(n.index)) t.exceptions.set(n.index, addScores(baseWeight(n), score));
    t.base = addScores(0, score);
  } else {
    t.base = addScores(t.base, score);
  }
}

/** Whether a resource has its own node scores: primitives, clones and the groups inside clones. */
export function hasTable(r: Rsc): boolean {
  return r.kind !== 'group' || r.parent?.kind === 'clone';
}

/** `rsc` and its descendants that have node scores (a score on a collective applies to all of them). */
function scoredOf(rsc: Rsc): Rsc[] {
  if (rsc.kind === 'primitive') return [rsc];
  const out = hasTable(rsc) ? [rsc] : [];
  for (const c of rsc.children) out.push(...scoredOf(c));
  return out;
}

export function locate(ws: WorkingSet, rsc: Rsc, node: SNode | undefined, score: number): void {
  for (const p of scoredOf(rsc)) {
    if (node === undefined) addToAll(ws, p.allowed, score);
    else addToNode(p.allowed, node, score);
  }
}

/**
 * A location constraint's score on one node (Pacemaker's apply_location per
 * variant): a clone passes it to each instance; a colocated group to its
 * first member only, the later members get the node with score 0 (the first
 * member's scores already stand for them, as pcmk__group_apply_location).
 */
function locateByConstraint(ws: WorkingSet, rsc: Rsc, node: SNode, score: number): void {
  if (hasTable(rsc)) addToNode(rsc.allowed, node, score);
  if (rsc.kind === 'primitive') return;
  const colocated =
    rsc.kind === 'group' && (rsc.meta.collocated ?? rsc.meta.colocated ?? 'true') !== 'false';
  rsc.children.forEach((c, i) => locateByConstraint(ws, c, node, colocated && i > 0 ? 0 : score));
}

/** -INFINITY on every remote and guest node (as Pacemaker's rsc_avoids_remote_nodes). */
function banFromRemoteNodes(ws: WorkingSet, rsc: Rsc): void {
  const { members, nonMembers } = nodeLists(ws);
  if (nonMembers.length === 0) return;
  for (const p of primitivesOf(rsc)) {
    const t = p.allowed;
    if (members.length < nonMembers.length) {
      for (const i of t.exceptions.keys())
        if ((ws.nodes[i] as SNode).kind !== 'member') t.exceptions.set(i, -INF);
      t.rebase(
        -INF,
        members.map((n) => n.index),
      );
    } else {
      for (const n of nonMembers) t.set(n.index, -INF);
    }
  }
}

function resourcesMatching(ws: WorkingSet, c: LocationConstraint): Rsc[] {
  if (c.rsc !== undefined) {
    const r = ws.byId.get(c.rsc) ?? ws.aliases.get(c.rsc);
    return r ? [r] : [];
  }
  if (c.rscPattern !== undefined) {
    // a leading '!' selects the resources the pattern does not match
    const invert = c.rscPattern.startsWith('!');
    let re: RegExp;
    try {
      re = new RegExp(invert ? c.rscPattern.slice(1) : c.rscPattern);
    } catch {
      ws.warnings.push(`location '${c.id}': invalid rsc-pattern '${c.rscPattern}'`);
      return [];
    }
    return ws.resources.filter((r) => re.test(r.id) !== invert);
  }
  return [];
}

/** A location's role: any (started), promoted (promotion priority only) or another role (ignored). */
function locationRole(role: string | undefined): 'any' | 'promoted' | 'other' {
  const r = parseRole(role);
  if (r === Role.Unknown || r === Role.Started) return 'any';
  return r === Role.Promoted ? 'promoted' : 'other';
}

const DISCOVERY_RANK: Record<string, number> = { always: 0, never: 1, exclusive: 2 };

/**
 * resource-discovery=exclusive (Pacemaker's rsc_discover_filter): a resource
 * with it (or inside a top-level resource with it) may only run on the nodes
 * an exclusive location names; every other node it may consider gets
 * -INFINITY. Applies to whole collectives (a clone's instances, a group's members).
 */
function exclusiveDiscoveryFilter(rsc: Rsc, top: Rsc): void {
  if (!rsc.exclusiveDiscover && !top.exclusiveDiscover) return;
  for (const c of rsc.children) exclusiveDiscoveryFilter(c, top);
  if (!hasTable(rsc)) return;
  const t = rsc.allowed;
  const exclusive = (i: number): boolean => rsc.discovery.get(i) === 'exclusive';
  for (const [i, v] of [...t.exceptions]) if (v !== ABSENT && !exclusive(i)) t.set(i, -INF);
  if (t.base !== ABSENT && t.base !== -INF) {
    const keep: number[] = [];
    for (const [i, mode] of rsc.discovery) if (mode === 'exclusive' && t.isBase(i)) keep.push(i);
    t.rebase(-INF, keep);
  }
}

function applyLocation(ws: WorkingSet, c: LocationConstraint): void {
  const targets = resourcesMatching(ws, c);
  if (targets.length === 0) return;
  const discovery = c.resourceDiscovery as 'always' | 'never' | 'exclusive' | undefined;
  const mark = (rsc: Rsc, node: SNode): void => {
    if (!discovery) return;
    // a location on a collective applies to it and everything in it; the
    // strictest mode wins (exclusive over never over always)
    const rank = DISCOVERY_RANK[discovery] ?? 0;
    const visit = (r: Rsc): void => {
      const cur = r.discovery.get(node.index);
      if (cur === undefined || (DISCOVERY_RANK[cur] ?? 0) < rank)
        r.discovery.set(node.index, discovery);
      if (discovery === 'exclusive') r.exclusiveDiscover = true;
      for (const c of r.children) visit(c);
    };
    visit(rsc);
  };
  const apply = (role: string | undefined, node: SNode, score: number): void => {
    const kind = locationRole(role);
    for (const r of targets) {
      // for the promoted role: the promotion priority of the instance placed there
      if (kind === 'promoted') addPromotedLocation(ws, r, node, score);
      if (kind !== 'any') continue;
      locateByConstraint(ws, r, node, score);
      mark(r, node);
    }
  };
  if (c.node !== undefined) {
    const node = ws.nodeByName.get(c.node);
    if (!node) return;
    apply(c.role, node, c.score ?? 0);
    return;
  }
  for (const rule of c.rules) {
    const role = rule.role ?? c.role;
    if (locationRole(role) === 'other') continue;
    // value-source=param/meta compares with each resource's own parameters or meta attributes
    if (readsResource(rule) && targets.length > 1) {
      for (const r of targets)
        applyLocation(ws, { ...c, rsc: r.id, rscPattern: undefined, rules: [rule] });
      continue;
    }
    for (const node of nodesMatching(ws, rule, targets[0])) {
      let score = rule.score ?? 0;
      if (rule.score === undefined && rule.scoreAttribute) {
        const v = node.attrs[rule.scoreAttribute];
        if (v === undefined) continue;
        score = Number.parseInt(v, 10);
        if (/^[+]?INFINITY$/i.test(v)) score = INF;
        else if (/^-INFINITY$/i.test(v)) score = -INF;
        if (!Number.isFinite(score)) continue;
      }
      apply(role, node, score);
    }
  }
}

/** The node attributes a rule reads, or undefined when it reads anything else than node attributes and dates. */
function ruleAttributes(rule: Rule, into: Set<string> = new Set()): Set<string> | undefined {
  for (const c of rule.conditions) {
    if (c.kind === 'expression') {
      if (c.valueSource !== 'literal') return undefined;
      into.add(c.attribute);
    } else if (c.kind === 'rule') {
      if (!ruleAttributes(c, into)) return undefined;
    } else if (c.kind !== 'date_expression') return undefined;
  }
  return into;
}

/** A resource's parameters as evaluated for a node (instance attribute sets may have rules on node attributes). */
function paramsOn(ws: WorkingSet, rsc: Rsc, node: SNode): Record<string, string> {
  if (!rsc.primitive) return rsc.params;
  return mergeNvSets(rsc.primitive.params, (rule) =>
    evaluateRule(rule, { now: ws.now, nodeAttributes: node.attrs }),
  );
}

/** Whether a rule compares with the resource's parameters or meta attributes (value-source). */
function readsResource(rule: Rule): boolean {
  return rule.conditions.some(
    (c) =>
      (c.kind === 'expression' && c.valueSource !== 'literal') ||
      (c.kind === 'rule' && readsResource(c)),
  );
}

const groupCache = new WeakMap<WorkingSet, Map<string, Map<string, SNode[]>>>();

/**
 * The nodes a location rule matches. Nodes with the same values of the
 * attributes the rule reads are evaluated once (thousands of guests share
 * `#kind`), so a rule costs per distinct value, not per node.
 */
function nodesMatching(ws: WorkingSet, rule: Rule, rsc?: Rsc): SNode[] {
  const attrs = ruleAttributes(rule);
  const ctx = (node: SNode): RuleContext => ({
    now: ws.now,
    nodeAttributes: node.attrs,
    params: rsc ? paramsOn(ws, rsc, node) : undefined,
    meta: rsc?.meta,
  });
  if (!attrs || attrs.has('#uname') || attrs.has('#id'))
    return ws.nodes.filter((node) => evaluateRule(rule, ctx(node)));
  const names = [...attrs].sort();
  const sig = names.join('\0');
  let cache = groupCache.get(ws);
  if (!cache) {
    cache = new Map();
    groupCache.set(ws, cache);
  }
  let groups = cache.get(sig);
  if (!groups) {
    groups = new Map();
    for (const node of ws.nodes) {
      const key = names.map((n) => node.attrs[n] ?? '\u0001').join('\0');
      const g = groups.get(key);
      if (g) g.push(node);
      else groups.set(key, [node]);
    }
    cache.set(sig, groups);
  }
  const out: SNode[] = [];
  for (const g of groups.values()) {
    if (evaluateRule(rule, ctx(g[0] as SNode))) out.push(...g);
  }
  return out.sort((a, b) => a.index - b.index);
}

/** node-health-strategy: `#health-*` node attributes as location scores on every resource. */
function applyNodeHealth(ws: WorkingSet): void {
  const props = ws.cib.properties;
  const strategy = props['node-health-strategy'] ?? 'none';
  if (strategy === 'none') return;
  const score = (name: string, fallback: number): number => {
    const v = props[name];
    return v === undefined ? fallback : parseScoreText(v);
  };
  const colours: Record<string, number> =
    strategy === 'migrate-on-red'
      ? { red: -INF, yellow: 0, green: 0 }
      : strategy === 'only-green'
        ? { red: -INF, yellow: -INF, green: 0 }
        : {
            red: score('node-health-red', -INF),
            yellow: score('node-health-yellow', 0),
            green: score('node-health-green', 0),
          };
  const base = strategy === 'progressive' ? score('node-health-base', 0) : 0;
  for (const node of ws.nodes) {
    let health = base;
    for (const [k, v] of Object.entries(node.attrs)) {
      if (!k.startsWith('#health')) continue;
      health = addScores(health, colours[v.toLowerCase()] ?? parseScoreText(v));
    }
    if (health === 0) continue;
    for (const r of ws.resources) {
      if (health < 0 && (r.meta['allow-unhealthy-nodes'] ?? '') === 'true') continue;
      locateByConstraint(ws, r, node, health);
    }
  }
}

function parseScoreText(v: string): number {
  if (/^[+]?INFINITY$/i.test(v)) return INF;
  if (/^-INFINITY$/i.test(v)) return -INF;
  const n = Number.parseInt(v, 10);
  return Number.isFinite(n) ? Math.max(-INF, Math.min(INF, n)) : 0;
}

/** When a node asked to shut down (its `shutdown` attribute), else now. */
function shutdownTime(ws: WorkingSet, node: SNode): number {
  const v = Number.parseInt(node.attrs.shutdown ?? '', 10);
  return Number.isFinite(v) && v !== 0 ? v : Math.floor(ws.now.getTime() / 1000);
}

/**
 * shutdown-lock: a primitive (or a group's member; clones are never locked)
 * active on exactly one node that is shutting down cleanly is locked to it,
 * as is one whose history on a node that already shut down holds a lock.
 * A locked resource is banned from every other node, so it stops with its
 * node and waits for it to come back (or for the lock to expire). Fence
 * devices and remote connections are not locked.
 */
function applyShutdownLock(ws: WorkingSet, r: Rsc): void {
  if (r.kind === 'group') {
    for (const c of r.children) applyShutdownLock(ws, c);
    return;
  }
  if (r.kind !== 'primitive' || r.cls === 'stonith' || r.remoteNode) return;
  if (r.lockNode) {
    // started elsewhere although locked: leave it running and drop the lock
    if (r.runningOn.length > 0) {
      ws.historyDeletes.push({ rsc: r, node: r.lockNode });
      r.lockNode = undefined;
      r.lockTime = undefined;
    }
  } else if (r.runningOn.length === 1) {
    const node = r.runningOn[0] as SNode;
    if (node.shutdown && !node.unclean) {
      r.lockNode = node;
      r.lockTime = shutdownTime(ws, node);
    }
  }
  const lock = r.lockNode;
  if (!lock) return;
  for (const node of ws.nodes) if (node.name !== lock.name) locate(ws, r, node, -INF);
}

/** Everything that sets node scores before assignment. */
export function applyNodeCriteria(ws: WorkingSet): void {
  nodeListCache.delete(ws);
  readUtilization(ws);
  const { special } = nodeLists(ws);
  for (const r of ws.byId.values()) {
    if (!hasTable(r)) continue;
    r.allowed = new NodeScores();
    // guest connections may go wherever their container can, even in an asymmetric cluster
    if (ws.config.symmetric || (r.remoteNode && r.container)) {
      r.allowed.base = 0;
      for (const node of special) r.allowed.set(node.index, baseWeight(node));
    }
  }
  if (ws.config.shutdownLock) for (const r of ws.resources) applyShutdownLock(ws, r);
  applyNodeHealth(ws);
  for (const c of ws.constraints) if (c.kind === 'location') applyLocation(ws, c);

  // stickiness
  for (const r of ws.byId.values()) {
    if (r.kind !== 'primitive') continue;
    if (!r.managed || r.stickiness < 1 || r.runningOn.length !== 1) continue;
    const node = r.runningOn[0] as SNode;
    if (!ws.config.symmetric && r.allowed.get(node.index) === ABSENT) continue;
    locate(ws, r, node, r.stickiness);
  }
  for (const r of ws.resources) exclusiveDiscoveryFilter(r, r);

  // failures found while unpacking
  for (const b of ws.bans) locate(ws, b.rsc, b.node, b.score);

  // migration-threshold (a container counts the failures of the resources inside it)
  const cleared = new Set(ws.clearFailcounts.map((c) => `${c.rsc.id}\0${c.node.name}`));
  const nowSec = Math.floor(ws.now.getTime() / 1000);
  const fillers = new Map<Rsc, Rsc[]>();
  for (const r of ws.byId.values()) {
    if (r.kind !== 'primitive' || !r.container) continue;
    const list = fillers.get(r.container);
    if (list) list.push(r);
    else fillers.set(r.container, [r]);
  }
  const effective = (r: Rsc, node: SNode): number => {
    let count = 0;
    if (!cleared.has(`${r.id}\0${node.name}`)) {
      const fc = failCountInfo(r, node);
      if (fc.count > 0 && r.failureTimeout > 0 && blockFailure(r, node)) r.failureTimeout = 0;
      if (
        fc.count > 0 &&
        !(r.failureTimeout > 0 && fc.lastFailure > 0 && nowSec >= fc.lastFailure + r.failureTimeout)
      )
        count = fc.count;
    }
    for (const f of fillers.get(r) ?? []) count = addScores(count, effective(f, node));
    return count;
  };
  for (const node of ws.nodes) {
    const ids = new Set(resourcesWithFailures(node));
    const candidates = new Set<Rsc>();
    for (const id of ids) {
      const found = [...(ws.anonInstances.get(id.replace(/:\d+$/, '')) ?? [])];
      // anonymous clone instances share the fail count of every instance name
      const exact = ws.byId.get(id);
      if (exact) found.push(exact);
      for (const r of found) {
        if (r.kind !== 'primitive') continue;
        candidates.add(r);
        for (let c = r.container; c; c = c.container) candidates.add(c);
      }
    }
    for (const r of candidates) {
      if (r.failureIgnored) continue;
      const count = effective(r, node);
      if (count <= 0) continue;
      if (r.migrationThreshold - count <= 0) locate(ws, r, node, -INF);
    }
  }
}

/** Colocations and bans Pacemaker adds by itself (groups, guests, remote connections). */
export function createInternalConstraints(ws: WorkingSet): void {
  if (usesUtilization(ws)) {
    // load_stopped pseudo actions go on every node a resource with utilization may consider
    for (const r of ws.byId.values()) {
      if (r.kind !== 'primitive' || !r.managed || !r.utilization?.size) continue;
      r.loadNodes = [];
      for (const [i] of r.allowed.entries(ws.nodes.length)) r.loadNodes.push(ws.nodes[i] as SNode);
    }
  }
  const avoidRemote = (r: Rsc): void => banFromRemoteNodes(ws, r);
  for (const r of ws.byId.values()) {
    if (r.kind === 'group') {
      const colocated = (r.meta.collocated ?? r.meta.colocated ?? 'true') !== 'false';
      if (!colocated) continue;
      for (let i = 1; i < r.children.length; i++) {
        addColocation(ws, {
          id: `${r.id}-internal`,
          dependent: r.children[i] as Rsc,
          primary: r.children[i - 1] as Rsc,
          score: INF,
          dependentRole: Role.Unknown,
          primaryRole: Role.Unknown,
          influence: true,
        });
      }
    } else if (r.kind === 'primitive') {
      // (pcmk__primitive_internal_constraints does nothing for an unmanaged primitive)
      if (!r.managed) {
        r.noInternalConstraints = true;
        continue;
      }
      if (r.remoteNode || r.cls === 'stonith') avoidRemote(r);
      const onNodeOf = containerNodeConnection(r);
      if (onNodeOf) {
        // forced onto the container's node rather than colocated with the container
        for (const node of ws.nodes) if (node.connection !== onNodeOf) locate(ws, r, node, -INF);
      } else if (r.container) {
        if (r.remoteNode) avoidRemote(r.container);
        addColocation(ws, {
          id: 'resource-with-container',
          dependent: r,
          primary: r.container,
          score: INF,
          dependentRole: Role.Unknown,
          primaryRole: Role.Unknown,
          influence: true,
        });
      }
    }
  }
}

// ------------------------------------------------------------- merging

function anyAvailable(ws: WorkingSet, t: Table): boolean {
  for (const [i, w] of t.exceptions)
    if (w !== ABSENT && w >= 0 && nodeAvailable(ws.nodes[i] as SNode)) return true;
  if (t.base === ABSENT || t.base < 0) return false;
  for (const node of ws.nodes) if (t.isBase(node.index) && nodeAvailable(node)) return true;
  return false;
}

function attrValue(node: SNode, attr: string | undefined): string | undefined {
  return node.attrs[attr ?? '#uname'];
}

/** One node's new score when merging `score` (another resource's) at `factor`. */
function mergedScore(cur: number, score: number, factor: number, onlyPositive: boolean): number {
  if (cur === ABSENT) return cur;
  if (factor < 0 && score < 0) return cur;
  if (cur === INFINITY_HACK) return cur;
  const f = factor * score;
  let weight = Math.trunc(f < 0 ? f - 0.5 : f + 0.5);
  if (weight === 0 && score !== 0) weight = factor > 0 ? 1 : factor < 0 ? -1 : 0;
  const next = addScores(weight, cur);
  if (onlyPositive && next < 0 && cur > 0) return INFINITY_HACK;
  if (onlyPositive && next < 0 && cur === 0) return cur;
  return next;
}

/** `work` plus, per node, `rsc`'s best score among available nodes sharing the node's value of `attr`. */
function addScoresMatchingAttr(
  ws: WorkingSet,
  work: Table,
  rsc: Rsc,
  attr: string | undefined,
  factor: number,
  onlyPositive: boolean,
): Table {
  const t = rsc.allowed;
  // node names and ids are unique, except that the remote and guest nodes not read yet
  // have none (they share the missing value)
  const unique =
    (attr === undefined || attr === '#uname' || attr === '#id') &&
    nodesWithAttr(ws, attr ?? '#uname', undefined).length === 0;
  if (!unique) {
    // grouping attribute: the best score per value, node by node
    const best = new Map<string | undefined, number>();
    for (const node of ws.nodes) {
      const w = t.get(node.index);
      if (w === ABSENT || !nodeAvailable(node)) continue;
      const v = attrValue(node, attr);
      if (w > (best.get(v) ?? -INF)) best.set(v, w);
    }
    const out = work.clone();
    for (const node of ws.nodes) {
      const score = best.get(attrValue(node, attr)) ?? -INF;
      out.set(node.index, mergedScore(work.get(node.index), score, factor, onlyPositive));
    }
    return out;
  }
  // each node takes the other resource's score on itself
  const scoreOn = (node: SNode): number => {
    const w = t.get(node.index);
    return w !== ABSENT && nodeAvailable(node) ? w : -INF;
  };
  const onAvailable = t.base !== ABSENT ? t.base : -INF;
  const baseIfAvailable = mergedScore(work.base, onAvailable, factor, onlyPositive);
  const baseIfUnavailable = mergedScore(work.base, -INF, factor, onlyPositive);
  const out = new NodeScores(baseIfAvailable);
  const own = (i: number): boolean => !work.isBase(i) || !t.isBase(i);
  for (const i of work.exceptions.keys()) {
    const node = ws.nodes[i] as SNode;
    out.set(i, mergedScore(work.get(i), scoreOn(node), factor, onlyPositive));
  }
  for (const i of t.exceptions.keys()) {
    if (!work.isBase(i)) continue;
    const node = ws.nodes[i] as SNode;
    out.set(i, mergedScore(work.base, scoreOn(node), factor, onlyPositive));
  }
  if (baseIfUnavailable !== baseIfAvailable) {
    for (const node of ws.nodes)
      if (!own(node.index) && !nodeAvailable(node)) out.set(node.index, baseIfUnavailable);
  }
  return out;
}

/** Whether a group's own colocations have moved to its members (Pacemaker does so when assigning it). */
function groupStarted(g: Rsc): boolean {
  return g.assigning || !g.provisional;
}

/** The "with this" colocations a merge follows: a group's only reach its last member once it is being assigned. */
function mergedWithThis(rsc: Rsc): Coloc[] {
  const parent = rsc.parent;
  if (parent?.kind === 'group' && !groupStarted(parent)) return ownWithThis(rsc);
  return withThisList(rsc);
}

export const W = { init: 1, forward: 2, rollback: 4, positive: 8 } as const;

function lastChild(rsc: Rsc): Rsc | undefined {
  return rsc.kind === 'group' && rsc.children.length > 0
    ? rsc.children[rsc.children.length - 1]
    : undefined;
}

/** Pacemaker's merge_weights: a resource's scores, plus those of resources colocated with it. */
export function mergeWeights(
  ws: WorkingSet,
  rsc: Rsc,
  nodes: Table | undefined,
  attr: string | undefined,
  factor: number,
  flags: number,
): Table {
  if (rsc.kind === 'group') return mergeGroupWeights(ws, rsc, nodes, attr, factor, flags);
  if (rsc.merging) return nodes as Table;
  rsc.merging = true;
  let work: Table;
  let f = flags;
  if (f & W.init) {
    work = rsc.allowed.clone();
    f &= ~W.init;
  } else {
    work = addScoresMatchingAttr(ws, nodes as Table, rsc, attr, factor, (f & W.positive) !== 0);
  }
  if (anyAvailable(ws, work)) {
    const multiplier = factor < 0 ? -1 : 1;
    const list = f & W.forward ? thisWithList(rsc) : mergedWithThis(rsc);
    for (const c of list) {
      let other: Rsc;
      if (f & W.forward) other = c.primary;
      else if (!c.influence) continue;
      else other = c.dependent;
      work = mergeWeights(ws, other, work, c.nodeAttribute, (multiplier * c.score) / INF, f);
    }
  } else if (f & W.rollback) {
    rsc.merging = false;
    return nodes as Table;
  }
  if (f & W.positive) {
    if (work.base === INFINITY_HACK) work.base = 1;
    for (const [i, v] of work.exceptions) if (v === INFINITY_HACK) work.set(i, 1);
  }
  rsc.merging = false;
  return work;
}

function mergeGroupWeights(
  ws: WorkingSet,
  rsc: Rsc,
  nodes: Table | undefined,
  attr: string | undefined,
  factor: number,
  flags: number,
): Table {
  if (rsc.merging) return nodes as Table;
  const first = rsc.children[0];
  if (!first) return nodes ?? new NodeScores();
  rsc.merging = true;
  let work: Table;
  if (flags & W.init) {
    const last = lastChild(rsc) as Rsc;
    work = mergeWeights(ws, last, undefined, attr, factor, flags);
  } else {
    work = mergeWeights(ws, first, nodes, attr, factor, flags);
  }
  // (Pacemaker 2.1.5 counts a group's own "with this" colocations here only
  // once the group is being assigned: before that they add nothing)
  for (const c of groupStarted(rsc) ? ownWithThis(rsc) : []) {
    work = mergeWeights(
      ws,
      c.dependent,
      work,
      c.nodeAttribute,
      (factor * c.score) / INF,
      flags & ~W.init,
    );
  }
  rsc.merging = false;
  return work;
}

// ------------------------------------------------------------- choosing

function compareNodes(ws: WorkingSet, t: Table, a: SNode, b: SNode, preferred?: SNode): number {
  const wa = nodeAvailable(a) ? t.get(a.index) : -INF;
  const wb = nodeAvailable(b) ? t.get(b.index) : -INF;
  if (wa !== wb) return wa > wb ? -1 : 1;
  const strategy = ws.config.placementStrategy;
  if (strategy !== 'minimal') {
    if (strategy === 'balanced') {
      const c = compareCapacity(a, b);
      if (c !== 0) return c;
    }
    if (a.assigned !== b.assigned) return a.assigned < b.assigned ? -1 : 1;
    if (preferred) {
      if (preferred === a) return -1;
      if (preferred === b) return 1;
    }
  }
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function finalize(rsc: Rsc, chosen: SNode | undefined, force: boolean): boolean {
  if (!force && chosen) {
    const w = rsc.allowed.get(chosen.index);
    // a guest node is taken even while it is down: its connection is assumed to come up
    // (Pacemaker's pcmk__finalize_assignment; when every node is unavailable the nodes
    // tie and the first by name is chosen)
    if (w < 0 || (!nodeAvailable(chosen) && chosen.kind !== 'guest')) {
      rsc.nextRole = Role.Stopped;
      chosen = undefined;
    }
  }
  rsc.provisional = false;
  rsc.assignedTo = undefined;
  if (!chosen) {
    rsc.nextRole = Role.Stopped;
    return false;
  }
  rsc.assignedTo = chosen;
  chosen.assigned++;
  consumeCapacity(chosen, rsc);
  return true;
}

/** The best node by score, then fewest assigned resources, the current node and name. */
function bestNode(ws: WorkingSet, t: Table, running: SNode | undefined): SNode | undefined {
  let best: SNode | undefined;
  for (const [i, w] of t.exceptions) {
    if (w === ABSENT) continue;
    const n = ws.nodes[i] as SNode;
    if (!best || compareNodes(ws, t, n, best, running) < 0) best = n;
  }
  if (t.base === ABSENT) return best;
  // nodes with the base score weigh at most the base score: scan them only when one could win
  if (best && nodeAvailable(best) && t.get(best.index) > t.base) return best;
  for (const n of ws.nodes) {
    if (!t.isBase(n.index)) continue;
    if (!best || compareNodes(ws, t, n, best, running) < 0) best = n;
  }
  return best;
}

/**
 * Placement strategies other than default: ban the nodes without room for
 * `rsc` and the unassigned resources colocated with it; when no node has room
 * for them all, ban those without room for `rsc` alone and return the node
 * with the most free capacity (preferred if it scores as well as the best).
 */
function applyUtilization(ws: WorkingSet, rsc: Rsc): SNode | undefined {
  const t = rsc.allowed;
  const candidates: SNode[] = [];
  for (const [i, w] of t.entries(ws.nodes.length)) {
    const node = ws.nodes[i] as SNode;
    if (w >= 0 && nodeAvailable(node)) candidates.push(node);
  }
  const together = unassignedRequirements(rsc, colocatedResources(rsc));
  let anyCapable = false;
  let mostCapable: SNode | undefined;
  for (const node of candidates) {
    if (enoughCapacity(node, together)) anyCapable = true;
    if (!mostCapable || compareCapacity(node, mostCapable) < 0) mostCapable = node;
  }
  const required = anyCapable ? together : (rsc.utilization ?? new Map<string, number>());
  for (const node of candidates) if (!enoughCapacity(node, required)) addToNode(t, node, -INF);
  return anyCapable ? undefined : mostCapable;
}

function chooseNode(ws: WorkingSet, rsc: Rsc, preferred?: SNode): boolean {
  if (!rsc.provisional) return rsc.assignedTo !== undefined;
  // a node without room for everything colocated is preferred only when no other node is given
  const roomiest = usesUtilization(ws) ? applyUtilization(ws, rsc) : undefined;
  const prefer = preferred ?? roomiest;
  const running = activeNode(rsc);
  const t = rsc.allowed;
  let chosen = bestNode(ws, t, running);
  if (prefer && chosen) {
    // a preferred node (a clone instance's current one) wins when it is as good as the best
    const w = t.get(prefer.index);
    const bw = nodeAvailable(chosen) ? t.get(chosen.index) : -INF;
    if (w !== ABSENT && w >= 0 && w >= bw && nodeAvailable(prefer))
      return finalize(rsc, prefer, false);
  }
  if (chosen && t.get(chosen.index) > 0 && nodeAvailable(chosen)) {
    if (running && nodeAvailable(running)) {
      const bw = t.get(chosen.index);
      if (t.get(running.index) === bw) chosen = running;
    }
  }
  return finalize(rsc, chosen, false);
}

function colocationAffectsLocation(dependent: Rsc, primary: Rsc, c: Coloc): boolean {
  if (primary.provisional) return false;
  if (!dependent.provisional) return false;
  // a clone primary decides by its instances' roles (clone_rsc_colocation_rh)
  if (primary.kind === 'clone') return true;
  if (c.score > 0 && c.dependentRole !== Role.Unknown && c.dependentRole !== dependent.nextRole)
    return false;
  if (c.score > 0 && c.primaryRole !== Role.Unknown && c.primaryRole !== effectiveNextRole(primary))
    return false;
  return true;
}

function effectiveNextRole(r: Rsc): Role {
  if (r.nextRole !== Role.Unknown) return r.nextRole;
  return r.assignedTo ? Role.Started : Role.Stopped;
}

/** Where a (possibly group) primary ended up, as a colocation with it sees it. */
function primaryNode(primary: Rsc, score: number): SNode | undefined {
  if (primary.kind === 'group') {
    const member = score >= INF ? lastChild(primary) : primary.children[0];
    return member ? member.assignedTo : undefined;
  }
  return primary.assignedTo;
}

export function applyColocToWeights(ws: WorkingSet, dependent: Rsc, primary: Rsc, c: Coloc): void {
  if (primary.kind === 'clone') {
    applyColocationWithClone(ws, dependent, primary, c);
    return;
  }
  const attr = c.nodeAttribute ?? '#id';
  const pnode = primaryNode(primary, c.score);
  if (!pnode && c.score < 0) return;
  const change = (cur: number, sameValue: boolean): number => {
    if (cur === ABSENT) return cur;
    if (!pnode) return addScores(-c.score, cur);
    if (sameValue) return c.score < INF ? addScores(c.score, cur) : cur;
    return c.score >= INF ? addScores(-c.score, cur) : cur;
  };
  const work = dependent.allowed.clone();
  const matching = pnode ? nodesWithAttr(ws, attr, pnode.attrs[attr]) : [];
  const same = new Set<number>();
  for (const n of matching) same.add(n.index);
  // the nodes sharing the primary's value first (from their current score), then everything else
  const base = work.base;
  for (const i of same) work.exceptions.set(i, change(work.get(i), true));
  for (const [i, v] of work.exceptions) if (!same.has(i)) work.exceptions.set(i, change(v, false));
  work.base = change(base, false);
  if (c.score <= -INF || c.score >= INF || anyAvailable(ws, work)) dependent.allowed = work;
}

export function assign(ws: WorkingSet, rsc: Rsc, prefer?: SNode): SNode | undefined {
  if (rsc.kind === 'clone') {
    assignClone(ws, rsc);
    return undefined;
  }
  if (rsc.parent?.kind === 'clone' && !rsc.parent.assigning && rsc.provisional) {
    // an instance is placed by its clone
    assignClone(ws, rsc.parent);
    return rsc.kind === 'group' ? rsc.children[0]?.assignedTo : rsc.assignedTo;
  }
  if (rsc.kind === 'group') return assignGroup(ws, rsc, prefer);
  if (rsc.kind !== 'primitive') return undefined;
  if (rsc.parent && rsc.parent.kind === 'group' && !rsc.parent.assigning)
    return assignGroup(ws, rsc.parent) && rsc.assignedTo;
  if (!rsc.provisional) return rsc.assignedTo;
  if (rsc.assigning) return undefined;
  rsc.assigning = true;

  for (const c of thisWithList(rsc)) {
    const archive =
      c.dependentRole >= Role.Promoted || (c.score < 0 && c.score > -INF)
        ? rsc.allowed.clone()
        : undefined;
    assign(ws, c.primary);
    if (colocationAffectsLocation(rsc, c.primary, c)) applyColocToWeights(ws, rsc, c.primary, c);
    if (archive && !anyAvailable(ws, rsc.allowed)) rsc.allowed = archive;
  }
  for (const c of withThisList(rsc)) {
    if (!c.influence) continue;
    rsc.allowed = mergeWeights(
      ws,
      c.dependent,
      rsc.allowed,
      c.nodeAttribute,
      c.score / INF,
      W.rollback,
    );
  }

  if (rsc.nextRole === Role.Stopped) {
    locate(ws, rsc, undefined, -INF);
  } else if (
    rsc.nextRole > rsc.role &&
    !ws.config.haveQuorum &&
    ws.config.noQuorumPolicy === 'freeze'
  ) {
    rsc.nextRole = rsc.role;
  }
  if (ws.config.stonithEnabled && !ws.config.haveStonithResource) rsc.managed = false;

  if (!rsc.managed) {
    rsc.nextRole = rsc.role;
    finalize(rsc, activeNode(rsc), true);
  } else if (ws.config.stopAllResources) {
    finalize(rsc, undefined, true);
  } else {
    chooseNode(ws, rsc, prefer);
  }
  rsc.assigning = false;

  if (rsc.remoteNode) {
    const node = rsc.remoteNode;
    if (rsc.assignedTo && rsc.nextRole !== Role.Stopped) {
      node.online = true;
      if (node.unseen) node.unclean = false;
    } else {
      node.shutdown = true;
    }
  }
  return rsc.assignedTo;
}

function assignGroup(ws: WorkingSet, g: Rsc, prefer?: SNode): SNode | undefined {
  if (!g.provisional) return g.children[0]?.assignedTo;
  if (g.assigning) return undefined;
  const first = g.children[0];
  if (!first) {
    g.provisional = false;
    return undefined;
  }
  g.assigning = true;
  g.role = first.role;
  let firstNode: SNode | undefined;
  for (const child of g.children) {
    const node = assign(ws, child, prefer);
    if (firstNode === undefined) firstNode = node;
  }
  g.nextRole = first.nextRole;
  g.assigning = false;
  g.provisional = false;
  g.assignedTo = firstNode;
  return firstNode;
}

// ------------------------------------------------------------- order

function sortedNodesForOrdering(ws: WorkingSet): SNode[] {
  return [...ws.nodes].sort((a, b) => {
    const wa = nodeAvailable(a) ? baseWeight(a) : -INF;
    const wb = nodeAvailable(b) ? baseWeight(b) : -INF;
    if (wa !== wb) return wa > wb ? -1 : 1;
    if (ws.config.placementStrategy === 'balanced') {
      const c = compareCapacity(a, b);
      if (c !== 0) return c;
    }
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
}

/** Top-level resources in the order Pacemaker assigns them. */
export function assignmentOrder(ws: WorkingSet): Rsc[] {
  const nodes = sortedNodesForOrdering(ws);
  const pos = new Int32Array(ws.nodes.length);
  nodes.forEach((n, k) => {
    pos[n.index] = k;
  });
  const merged = new Map<Rsc, Table>();
  const weightsOf = (r: Rsc): Table => {
    let t = merged.get(r);
    if (!t) {
      t = mergeWeights(ws, r, undefined, undefined, 1, W.forward | W.init);
      merged.set(r, t);
    }
    return t;
  };
  /** The comparison at the first node (in `nodes` order) where the scores differ. */
  const byScores = (ta: Table, tb: Table): number => {
    let at = nodes.length;
    let result = 0;
    const consider = (i: number): void => {
      const p = pos[i] as number;
      if (p >= at) return;
      const va = normal(ta.get(i));
      const vb = normal(tb.get(i));
      if (va !== vb) {
        at = p;
        result = va > vb ? -1 : 1;
      }
    };
    for (const i of ta.exceptions.keys()) consider(i);
    for (const i of tb.exceptions.keys()) consider(i);
    if (normal(ta.base) !== normal(tb.base)) {
      for (let k = 0; k < at; k++) {
        const i = (nodes[k] as SNode).index;
        if (ta.isBase(i) && tb.isBase(i)) {
          consider(i);
          break;
        }
      }
    }
    return result;
  };
  const list = ws.resources.map((r, i) => ({ r, i }));
  list.sort((x, y) => {
    const a = x.r;
    const b = y.r;
    if (a.priority !== b.priority) return a.priority > b.priority ? -1 : 1;
    if (nodes.length === 0) return x.i - y.i;
    const ta = weightsOf(a);
    const tb = weightsOf(b);
    const ca = currentOf(a);
    const cb = currentOf(b);
    const wa = ca ? normal(ta.get(ca.index)) : -INF;
    const wb = cb ? normal(tb.get(cb.index)) : -INF;
    if (wa !== wb) return wa > wb ? -1 : 1;
    return byScores(ta, tb) || x.i - y.i;
  });
  return list.map((x) => x.r);
}

function normal(w: number): number {
  return w === ABSENT ? -INF : w;
}

function currentOf(r: Rsc): SNode | undefined {
  if (r.kind === 'group') return r.children.find((c) => c.runningOn.length > 0)?.runningOn[0];
  return r.runningOn[0];
}

export function assignAll(ws: WorkingSet): void {
  // Pacemaker sorts resources only for utilization-based placement; otherwise
  // configuration order, by priority (unpack_resources sorts them, stably)
  const order =
    ws.config.placementStrategy === 'default'
      ? [...ws.resources].sort((a, b) => b.priority - a.priority)
      : assignmentOrder(ws);
  for (const r of order) if (r.remoteNode) assign(ws, r);
  for (const r of order) if (!r.remoteNode) assign(ws, r);
}
