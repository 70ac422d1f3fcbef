import { CibNotFoundError, CibStructureError } from './errors';
import type { XmlDocument, XmlElement } from './xml';
import { childElements, createElement, firstChild, walkElements } from './xml';

/** Copy an element tree (for modifications applied to a copy first). */
export function cloneElement(el: XmlElement): XmlElement {
  const copy: XmlElement = {
    type: 'element',
    name: el.name,
    attributes: new Map(el.attributes),
    children: el.children.map((c) => (c.type === 'element' ? cloneElement(c) : { ...c })),
    selfClosing: el.selfClosing,
  };
  return copy;
}

export function cloneDocument(doc: XmlDocument): XmlDocument {
  return {
    prolog: doc.prolog.map((n) => ({ ...n })),
    root: cloneElement(doc.root),
    epilog: doc.epilog.map((n) => ({ ...n })),
  };
}

/** Append a child, keeping the indentation style of element-only content simple. */
function append(parent: XmlElement, child: XmlElement): XmlElement {
  parent.children.push(child);
  parent.selfClosing = false;
  return child;
}

function remove(parent: XmlElement, child: XmlElement): void {
  const i = parent.children.indexOf(child);
  if (i >= 0) parent.children.splice(i, 1);
  // Drop a whitespace-only text node left before it.
  const prev = parent.children[i - 1];
  if (prev && prev.type === 'text' && prev.value.trim() === '' && i - 1 >= 0)
    parent.children.splice(i - 1, 1);
}

/** The element with this id anywhere below `root`. */
export function findById(root: XmlElement, id: string): XmlElement | undefined {
  for (const { element } of walkElements(root))
    if (element.attributes.get('id') === id) return element;
  return undefined;
}

function section(
  doc: XmlDocument,
  name: 'crm_config' | 'nodes' | 'resources' | 'constraints' | 'rsc_defaults' | 'op_defaults',
): XmlElement {
  const configuration = firstChild(doc.root, 'configuration');
  if (!configuration) throw new CibStructureError('/cib', 'missing <configuration>');
  return firstChild(configuration, name) ?? append(configuration, createElement(name));
}

function statusSection(doc: XmlDocument): XmlElement {
  return firstChild(doc.root, 'status') ?? append(doc.root, createElement('status'));
}

/** Make an id unique in the document by suffixing -1, -2, ... */
export function uniqueId(doc: XmlDocument, base: string): string {
  const safe = base.replace(/[^A-Za-z0-9_.-]/g, '_');
  const taken = new Set<string>();
  for (const { element } of walkElements(doc.root)) {
    const id = element.attributes.get('id');
    if (id !== undefined) taken.add(id);
  }
  if (!taken.has(safe)) return safe;
  for (let i = 1; ; i++) if (!taken.has(`${safe}-${i}`)) return `${safe}-${i}`;
}

/** Set (or with `undefined`, delete) a name in the first set of `kind` under `parent`, creating the set. */
function setNvpair(
  doc: XmlDocument,
  parent: XmlElement,
  kind: string,
  setId: string,
  name: string,
  value: string | undefined,
): boolean {
  const sets = childElements(parent, kind);
  if (value === undefined) {
    let removed = false;
    for (const set of sets) {
      for (const nv of childElements(set, 'nvpair')) {
        if (nv.attributes.get('name') === name) {
          remove(set, nv);
          removed = true;
        }
      }
    }
    return removed;
  }
  for (const set of sets) {
    for (const nv of childElements(set, 'nvpair')) {
      if (nv.attributes.get('name') === name) {
        nv.attributes.set('value', value);
        return true;
      }
    }
  }
  const set = sets[0] ?? append(parent, createElement(kind, { id: uniqueId(doc, setId) }));
  append(
    set,
    createElement('nvpair', {
      id: uniqueId(doc, `${set.attributes.get('id') ?? setId}-${name}`),
      name,
      value,
    }),
  );
  return true;
}

/** Set or delete a cluster property (crm_config). */
export function setClusterProperty(
  doc: XmlDocument,
  name: string,
  value: string | undefined,
): boolean {
  return setNvpair(
    doc,
    section(doc, 'crm_config'),
    'cluster_property_set',
    'cib-bootstrap-options',
    name,
    value,
  );
}

function nodeElement(doc: XmlDocument, node: string, create: boolean): XmlElement | undefined {
  const nodes = section(doc, 'nodes');
  const found = childElements(nodes, 'node').find(
    (n) => n.attributes.get('uname') === node || n.attributes.get('id') === node,
  );
  if (found || !create) return found;
  return append(nodes, createElement('node', { id: node, uname: node, type: 'remote' }));
}

function nodeState(doc: XmlDocument, node: string): XmlElement {
  const status = statusSection(doc);
  const found = childElements(status, 'node_state').find(
    (n) => n.attributes.get('uname') === node || n.attributes.get('id') === node,
  );
  return found ?? append(status, createElement('node_state', { id: node, uname: node }));
}

/**
 * Set or delete a node attribute. `forever` lives in the configuration
 * (nodes/node/instance_attributes); `reboot` is transient (status). A node
 * missing from <nodes> is added (as Pacemaker does for remote/guest nodes)
 * when `knownNodes` contains it; otherwise CibNotFoundError.
 */
export function setNodeAttribute(
  doc: XmlDocument,
  node: string,
  name: string,
  value: string | undefined,
  options: {
    readonly lifetime?: 'forever' | 'reboot';
    readonly knownNodes?: readonly string[];
  } = {},
): boolean {
  if (options.lifetime === 'reboot') {
    const ns = nodeState(doc, node);
    const ta =
      firstChild(ns, 'transient_attributes') ??
      append(ns, createElement('transient_attributes', { id: ns.attributes.get('id') ?? node }));
    return setNvpair(doc, ta, 'instance_attributes', `status-${node}`, name, value);
  }
  const el = nodeElement(doc, node, options.knownNodes?.includes(node) ?? false);
  if (!el) throw new CibNotFoundError('node', node);
  return setNvpair(
    doc,
    el,
    'instance_attributes',
    `nodes-${el.attributes.get('id') ?? node}`,
    name,
    value,
  );
}

/** Which attribute set of a resource: meta attributes, instance attributes (agent parameters) or utilization. */
export type ResourceAttributeSet = 'meta' | 'instance' | 'utilization';

const RESOURCE_SETS: Readonly<Record<ResourceAttributeSet, string>> = {
  meta: 'meta_attributes',
  instance: 'instance_attributes',
  utilization: 'utilization',
};

/**
 * Set (or with `undefined`, delete) an attribute of a resource as
 * `crm_resource --set-parameter / --delete-parameter` does: in its first set
 * of that kind, created as `<rsc>-meta_attributes`, `<rsc>-instance_attributes`
 * or `<rsc>-utilization`. Meta attributes exist on every resource kind;
 * parameters and utilization only on primitives (and templates). Returns
 * whether the CIB changed.
 */
export function setResourceAttribute(
  doc: XmlDocument,
  rsc: string,
  set: ResourceAttributeSet,
  name: string,
  value: string | undefined,
): boolean {
  const el = findById(section(doc, 'resources'), rsc);
  if (!el || !['primitive', 'group', 'clone', 'master', 'bundle', 'template'].includes(el.name))
    throw new CibNotFoundError('resource', rsc);
  if (set !== 'meta' && el.name !== 'primitive' && el.name !== 'template')
    throw new CibStructureError(
      `/cib/configuration/resources//${el.name}[@id='${rsc}']`,
      `a ${el.name} has no ${RESOURCE_SETS[set]}: set them on its primitives`,
    );
  const kind = RESOURCE_SETS[set];
  return setNvpair(doc, el, kind, `${rsc}-${kind}`, name, value);
}

/** Set (or with `undefined`, delete) a resource meta attribute (target-role, is-managed, ...). */
export function setResourceMeta(
  doc: XmlDocument,
  rsc: string,
  name: string,
  value: string | undefined,
): boolean {
  return setResourceAttribute(doc, rsc, 'meta', name, value);
}

/** What `crm_ticket` changes: grant or revoke a ticket, put it in standby or activate it. */
export interface TicketChange {
  readonly granted?: boolean;
  readonly standby?: boolean;
  /** When granting: recorded as `last-granted` (default: now). */
  readonly now?: Date;
}

/**
 * Change a ticket's state in the status section (`<tickets><ticket_state>`),
 * creating it if needed, as `crm_ticket --grant/--revoke/--standby/--activate`
 * does. Granting records `last-granted`. Returns whether the CIB changed.
 */
export function setTicketState(doc: XmlDocument, ticket: string, change: TicketChange): boolean {
  if (!/^[A-Za-z0-9_.:-]+$/.test(ticket))
    throw new CibStructureError('/cib/status/tickets', `'${ticket}' is not a valid ticket id`);
  const status = statusSection(doc);
  const tickets = firstChild(status, 'tickets') ?? append(status, createElement('tickets'));
  const state =
    childElements(tickets, 'ticket_state').find((t) => t.attributes.get('id') === ticket) ??
    append(tickets, createElement('ticket_state', { id: ticket }));
  let changed = false;
  const put = (name: string, value: string): void => {
    if (state.attributes.get(name) === value) return;
    state.attributes.set(name, value);
    changed = true;
  };
  if (change.granted !== undefined) {
    const was = state.attributes.get('granted') === 'true';
    put('granted', String(change.granted));
    if (change.granted && !was)
      put('last-granted', String(Math.floor((change.now ?? new Date()).getTime() / 1000)));
  }
  if (change.standby !== undefined) put('standby', String(change.standby));
  return changed;
}

/** A location constraint as `crm_resource --move/--ban` writes it. */
export interface LocationSpec {
  readonly id: string;
  readonly rsc: string;
  readonly node: string;
  readonly score: string;
  readonly role?: string;
  /** Expiry (crm_resource --lifetime): the constraint applies while now < until. */
  readonly until?: Date;
}

/** Add or replace (same id) a location constraint. */
export function putLocation(doc: XmlDocument, spec: LocationSpec): void {
  const constraints = section(doc, 'constraints');
  const existing = childElements(constraints, 'rsc_location').find(
    (c) => c.attributes.get('id') === spec.id,
  );
  if (existing) remove(constraints, existing);
  if (spec.until === undefined) {
    append(
      constraints,
      createElement('rsc_location', {
        id: spec.id,
        rsc: spec.rsc,
        role: spec.role,
        node: spec.node,
        score: spec.score,
      }),
    );
    return;
  }
  const end = spec.until
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' +00:00');
  append(
    constraints,
    createElement('rsc_location', { id: spec.id, rsc: spec.rsc, role: spec.role }, [
      createElement('rule', { id: `${spec.id}-rule`, score: spec.score, 'boolean-op': 'and' }, [
        createElement('expression', {
          id: `${spec.id}-expr`,
          attribute: '#uname',
          operation: 'eq',
          value: spec.node,
        }),
        createElement('date_expression', { id: `${spec.id}-lifetime`, operation: 'lt', end }),
      ]),
    ]),
  );
}

/** Remove constraints matching a predicate; returns their ids. */
export function removeConstraints(doc: XmlDocument, match: (c: XmlElement) => boolean): string[] {
  const constraints = section(doc, 'constraints');
  const removed: string[] = [];
  for (const c of childElements(constraints)) {
    if (match(c)) {
      remove(constraints, c);
      removed.push(c.attributes.get('id') ?? '');
    }
  }
  return removed;
}

/**
 * Forget a resource's operation history (and fail counts) on one node or all
 * nodes, as `crm_resource --cleanup` does, so the scheduler re-probes it.
 * Returns the nodes that had history.
 */
export function cleanupResource(doc: XmlDocument, rsc: string, node?: string): string[] {
  const status = firstChild(doc.root, 'status');
  if (!status) return [];
  const cleaned: string[] = [];
  for (const ns of childElements(status, 'node_state')) {
    const uname = ns.attributes.get('uname') ?? ns.attributes.get('id') ?? '';
    if (node !== undefined && uname !== node) continue;
    const lrm = firstChild(ns, 'lrm');
    const lrmResources = lrm ? firstChild(lrm, 'lrm_resources') : undefined;
    let had = false;
    if (lrmResources) {
      for (const r of childElements(lrmResources, 'lrm_resource')) {
        const id = r.attributes.get('id') ?? '';
        if (id === rsc || id.startsWith(`${rsc}:`)) {
          remove(lrmResources, r);
          had = true;
        }
      }
    }
    const ta = firstChild(ns, 'transient_attributes');
    if (ta) {
      for (const set of childElements(ta, 'instance_attributes')) {
        for (const nv of childElements(set, 'nvpair')) {
          const name = nv.attributes.get('name') ?? '';
          if (
            new RegExp(
              `^(fail-count|last-failure)-${rsc.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(:\\d+)?(#|$)`,
            ).test(name)
          ) {
            remove(set, nv);
            had = true;
          }
        }
      }
    }
    if (had) cleaned.push(uname);
  }
  return cleaned;
}

/** Replace or add one element (by id) directly under a configuration section. */
export function putSectionElement(
  doc: XmlDocument,
  sectionName: 'resources' | 'constraints',
  el: XmlElement,
): void {
  const parent = section(doc, sectionName);
  const id = el.attributes.get('id');
  const existing = childElements(parent).find((c) => c.attributes.get('id') === id);
  if (existing) parent.children[parent.children.indexOf(existing)] = el;
  else append(parent, el);
}

/** The `node_state` of a node, created when missing (for the controller's status updates). */
export function nodeStateElement(doc: XmlDocument, node: string): XmlElement {
  return nodeState(doc, node);
}
