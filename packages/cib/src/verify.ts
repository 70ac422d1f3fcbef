import { CibError, XmlSyntaxError } from './errors';
import type { Cib } from './model';
import { allPrimitives, readCib } from './model';
import { mergeNvSets } from './nvset';
import { isBooleanValue, parseBoolean } from './values';
import type { XmlDocument, XmlElement } from './xml';
import { childElements, firstChild, parseXml, walkElements } from './xml';

/** One finding of {@link verifyCib}. */
export interface Diagnostic {
  readonly severity: 'error' | 'warning';
  /** XPath-like location (`/cib/configuration/constraints/rsc_order[@id='o1']`), or `file:line:column` for syntax errors. */
  readonly path: string;
  readonly message: string;
}

/** The outcome of a verification: the model when the CIB could be read, and every finding. */
export interface Verification {
  readonly valid: boolean;
  /** False when the input is not well-formed XML (or over the size limit). */
  readonly wellFormed: boolean;
  readonly diagnostics: readonly Diagnostic[];
  readonly cib?: Cib;
}

const CLASSES = new Set(['ocf', 'lsb', 'systemd', 'upstart', 'service', 'stonith', 'nagios']);
const ORDER_KINDS = new Set(['Mandatory', 'Optional', 'Serialize']);

function pathOf(el: XmlElement, parents: Map<XmlElement, XmlElement>): string {
  const parts: string[] = [];
  for (let e: XmlElement | undefined = el; e; e = parents.get(e)) {
    const id = e.attributes.get('id');
    parts.unshift(id === undefined || e.name === 'cib' ? e.name : `${e.name}[@id='${id}']`);
  }
  return `/${parts.join('/')}`;
}

/**
 * Check a CIB as `crm_verify` does: structure, unique ids, references from
 * constraints to resources, values (scores, durations, kinds), agents'
 * classes, remote/guest node names, fencing. Never throws for a bad CIB:
 * everything is a diagnostic.
 */
export function verifyCib(input: string | XmlDocument, source = 'input'): Verification {
  const diagnostics: Diagnostic[] = [];
  const error = (path: string, message: string): void =>
    void diagnostics.push({ severity: 'error', path, message });
  const warning = (path: string, message: string): void =>
    void diagnostics.push({ severity: 'warning', path, message });

  let doc: XmlDocument;
  try {
    doc = typeof input === 'string' ? parseXml(input, { source }) : input;
  } catch (err) {
    if (err instanceof XmlSyntaxError) {
      return {
        valid: false,
        wellFormed: false,
        diagnostics: [
          {
            severity: 'error',
            path: `${err.source}:${err.line}:${err.column}`,
            message: err.detail,
          },
        ],
      };
    }
    throw err;
  }

  const parents = new Map<XmlElement, XmlElement>();
  const ids = new Map<string, XmlElement>();
  const configuration = firstChild(doc.root, 'configuration');
  if (configuration) {
    for (const { element, parent } of walkElements(configuration)) {
      if (parent) parents.set(element, parent);
      const id = element.attributes.get('id');
      // References (resource_ref, id-ref) and node ids (their own name space) are not definitions.
      if (id === undefined || ['resource_ref', 'obj_ref', 'node'].includes(element.name)) continue;
      if (id === '') error(pathOf(element, parents), `<${element.name}> has an empty id`);
      const seen = ids.get(id);
      // A <node> and its <instance_attributes> may not share ids, but references (`id-ref`) do not count.
      if (seen && seen !== element) {
        error(
          pathOf(element, parents),
          `id '${id}' is already used by <${seen.name}> at ${pathOf(seen, parents)}`,
        );
      } else {
        ids.set(id, element);
      }
    }
    parents.set(configuration, doc.root);
  }

  let cib: Cib | undefined;
  try {
    cib = readCib(doc);
  } catch (err) {
    if (err instanceof CibError && 'path' in err) {
      const e = err as CibError & { path: string; detail: string };
      error(e.path, e.detail);
    } else {
      throw err;
    }
  }
  if (!cib) return { valid: false, wellFormed: true, diagnostics };

  const primitives = allPrimitives(cib.resources);
  const resourceIds = new Set<string>();
  const cloned = new Set<string>();
  for (const r of cib.resources) {
    resourceIds.add(r.id);
    if (r.kind === 'group') r.children.forEach((c) => resourceIds.add(c.id));
    // Primitives inside clones and bundles can be named by location constraints only.
    if (r.kind === 'clone') {
      cloned.add(r.child.id);
      if (r.child.kind === 'group') r.child.children.forEach((c) => cloned.add(c.id));
    }
    if (r.kind === 'bundle' && r.child) cloned.add(r.child.id);
  }
  // Constraints may also name templates and tags.
  for (const { element } of configuration ? walkElements(configuration) : []) {
    if (element.name === 'template' || element.name === 'tag')
      resourceIds.add(element.attributes.get('id') ?? '');
  }
  for (const p of primitives) {
    if (!CLASSES.has(p.class))
      error(p.path, `unknown resource class '${p.class}' (known: ${[...CLASSES].join(', ')})`);
  }

  const constraintsSection = configuration ? firstChild(configuration, 'constraints') : undefined;
  const constraintEls = new Map<string, XmlElement>();
  for (const el of constraintsSection ? childElements(constraintsSection) : []) {
    constraintEls.set(el.attributes.get('id') ?? '', el);
  }
  const constraintPath = (kind: string, id: string): string =>
    `/cib/configuration/constraints/${kind}[@id='${id}']`;
  const checkRef = (path: string, what: string, ref: string | undefined): void => {
    if (ref !== undefined && !resourceIds.has(ref))
      error(path, `${what} '${ref}' is not a resource`);
  };
  const nodeNames = new Set(cib.nodes.map((n) => n.name));
  for (const c of cib.constraints) {
    switch (c.kind) {
      case 'location': {
        const path = constraintPath('rsc_location', c.id);
        if (c.rsc === undefined || !cloned.has(c.rsc)) checkRef(path, 'rsc', c.rsc);
        const hasSets = (constraintEls.get(c.id)?.children ?? []).some(
          (x) => x.type === 'element' && x.name === 'resource_set',
        );
        if (c.rsc === undefined && c.rscPattern === undefined && !hasSets)
          error(path, "needs 'rsc', 'rsc-pattern' or resource sets");
        if (c.node !== undefined && c.score === undefined)
          error(path, "a location with 'node' needs a 'score'");
        if (c.node === undefined && c.rules.length === 0)
          error(path, "needs 'node' and 'score', or a rule");
        if (c.node !== undefined && !nodeNames.has(c.node))
          warning(path, `node '${c.node}' is not (yet) a node of the cluster`);
        break;
      }
      case 'colocation': {
        const path = constraintPath('rsc_colocation', c.id);
        checkRef(path, 'rsc', c.rsc);
        checkRef(path, 'with-rsc', c.withRsc);
        for (const s of c.sets)
          for (const r of s.resources) checkRef(path, `resource_ref in set '${s.id}'`, r);
        if (c.sets.length === 0 && (c.rsc === undefined || c.withRsc === undefined))
          error(path, "needs 'rsc' and 'with-rsc', or resource sets");
        const influence = constraintEls.get(c.id)?.attributes.get('influence');
        if (influence !== undefined && !isBooleanValue(influence))
          error(path, `influence '${influence}' is not a boolean (the default is used)`);
        break;
      }
      case 'order': {
        const path = constraintPath('rsc_order', c.id);
        checkRef(path, 'first', c.first);
        checkRef(path, 'then', c.then);
        for (const s of c.sets)
          for (const r of s.resources) checkRef(path, `resource_ref in set '${s.id}'`, r);
        const kind = constraintEls.get(c.id)?.attributes.get('kind');
        if (kind !== undefined && !ORDER_KINDS.has(kind))
          error(
            path,
            `kind '${kind}' is not Mandatory, Optional or Serialize (treated as Mandatory)`,
          );
        if (c.sets.length === 0 && (c.first === undefined || c.then === undefined))
          error(path, "needs 'first' and 'then', or resource sets");
        break;
      }
      case 'ticket':
        checkRef(constraintPath('rsc_ticket', c.id), 'rsc', c.rsc);
        break;
    }
  }

  // Nodes declared as cluster members (no type="remote") in <nodes>.
  const nodesSection = configuration ? firstChild(configuration, 'nodes') : undefined;
  const members = new Set(
    (nodesSection ? childElements(nodesSection, 'node') : [])
      .filter((n) => (n.attributes.get('type') ?? 'member') !== 'remote')
      .map((n) => n.attributes.get('uname') ?? n.attributes.get('id') ?? ''),
  );
  const seenGuests = new Map<string, string>();
  for (const g of cib.guestNodes) {
    const path = `/cib/configuration/resources//primitive[@id='${g.container}']`;
    if (members.has(g.name))
      error(path, `remote-node '${g.name}' is also the name of a cluster node`);
    if (resourceIds.has(g.name))
      error(path, `remote-node '${g.name}' is also the id of a resource`);
    const other = seenGuests.get(g.name);
    if (other)
      error(path, `remote-node '${g.name}' is already the guest node of resource '${other}'`);
    seenGuests.set(g.name, g.container);
    if (!Number.isInteger(g.port) || g.port < 1 || g.port > 65535)
      error(path, `remote-port '${g.port}' is not a TCP port`);
  }
  for (const r of cib.remoteNodes) {
    if (members.has(r.name))
      error(
        `/cib/configuration/resources//primitive[@id='${r.name}']`,
        `remote node '${r.name}' is also the name of a cluster node`,
      );
  }

  const stonith = parseBoolean(cib.properties['stonith-enabled'], true);
  if (stonith && !primitives.some((p) => p.class === 'stonith')) {
    error(
      '/cib/configuration/crm_config',
      'stonith-enabled is true (the default) but no stonith resources are defined: resource start-up is disabled; define fencing or set stonith-enabled=false',
    );
  }
  const noQuorum = cib.properties['no-quorum-policy'];
  if (
    noQuorum !== undefined &&
    !['stop', 'freeze', 'ignore', 'demote', 'suicide'].includes(noQuorum)
  ) {
    error(
      '/cib/configuration/crm_config',
      `no-quorum-policy '${noQuorum}' is not stop, freeze, ignore, demote or suicide`,
    );
  }
  const promotable = new Set<string>();
  for (const r of cib.resources) {
    if (r.kind !== 'clone' || !r.promotable) continue;
    promotable.add(r.child.id);
    if (r.child.kind === 'group') r.child.children.forEach((c) => promotable.add(c.id));
  }
  const roles = ['stopped', 'started', 'unpromoted', 'promoted', 'slave', 'master', '#default'];
  for (const p of primitives) {
    const targetRole = mergeNvSets(p.meta)['target-role'];
    if (targetRole !== undefined) {
      const role = targetRole.toLowerCase();
      if (!roles.includes(role)) {
        error(
          p.path,
          `target-role '${targetRole}' is not Stopped, Started, Unpromoted or Promoted`,
        );
      } else if (
        ['unpromoted', 'promoted', 'slave', 'master'].includes(role) &&
        !promotable.has(p.id)
      ) {
        error(p.path, `target-role '${targetRole}' only makes sense for promotable clones`);
      }
    }
    const seenOps = new Map<string, string>();
    for (const op of p.operations) {
      const key = `${op.name}_${op.interval}`;
      const other = seenOps.get(key);
      if (other !== undefined && op.interval > 0) {
        error(
          `${p.path}/operations/op[@id='${op.id}']`,
          `duplicates operation '${other}' (same name and interval; roles do not make them distinct)`,
        );
      }
      seenOps.set(key, op.id);
      if (
        op.name === 'stop' &&
        op.onFail !== undefined &&
        ['stop', 'restart', 'standby', 'demote'].includes(op.onFail)
      ) {
        error(
          `${p.path}/operations/op[@id='${op.id}']`,
          `on-fail '${op.onFail}' is not allowed for stop (reset to the default)`,
        );
      }
    }
  }

  return {
    valid: !diagnostics.some((d) => d.severity === 'error'),
    wellFormed: true,
    diagnostics,
    cib,
  };
}
