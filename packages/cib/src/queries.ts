import { CibNotFoundError } from './errors';
import type { Cib, ClusterNode, Operation, Primitive, Resource } from './model';
import { allPrimitives, parseInterval } from './model';
import { mergeNvSets } from './nvset';
import type { RuleContext } from './rules';
import { evaluateRule } from './rules';

/** Where a resource sits in the tree. */
export interface ResourceLocation {
  readonly resource: Resource;
  /** Outermost first: e.g. [clone, group] for a primitive inside a cloned group. */
  readonly ancestors: readonly Resource[];
}

/** Every resource's location by id (the first in tree order), per resource list (built once). */
const locations = new WeakMap<readonly Resource[], Map<string, ResourceLocation>>();

/** Find a resource (top-level, group member, clone or bundle child) by id. */
export function findResource(cib: Cib, id: string): ResourceLocation | undefined {
  let index = locations.get(cib.resources);
  if (!index) {
    const built = new Map<string, ResourceLocation>();
    const visit = (r: Resource, ancestors: Resource[]): void => {
      if (!built.has(r.id)) built.set(r.id, { resource: r, ancestors });
      const kids: Resource[] =
        r.kind === 'group'
          ? [...r.children]
          : r.kind === 'clone'
            ? [r.child]
            : r.kind === 'bundle' && r.child
              ? [r.child]
              : [];
      for (const k of kids) visit(k, [...ancestors, r]);
    };
    for (const r of cib.resources) visit(r, []);
    locations.set(cib.resources, built);
    index = built;
  }
  return index.get(id);
}

function agentOf(r: Resource): { class?: string; provider?: string; type?: string } {
  return r.kind === 'primitive' ? { class: r.class, provider: r.provider, type: r.type } : {};
}

/**
 * A resource's effective meta attributes: its own sets (by score, rules
 * evaluated), then its parents' (a group's or clone's meta attributes apply
 * to members), then `rsc_defaults`.
 */
export function effectiveMeta(cib: Cib, id: string, ctx: RuleContext = {}): Record<string, string> {
  const loc = findResource(cib, id);
  if (!loc) throw new CibNotFoundError('resource', id);
  const resourceCtx: RuleContext = { ...ctx, resource: agentOf(loc.resource) };
  const passes = (rule: Parameters<typeof evaluateRule>[0]): boolean =>
    evaluateRule(rule, resourceCtx);
  const meta: Record<string, string> = {};
  mergeNvSets(loc.resource.meta, passes, meta);
  for (const a of [...loc.ancestors].reverse()) mergeNvSets(a.meta, passes, meta);
  mergeNvSets(cib.rscDefaults, passes, meta);
  return meta;
}

/** A primitive's effective instance attributes (parameters). */
export function effectiveParams(
  cib: Cib,
  id: string,
  ctx: RuleContext = {},
): Record<string, string> {
  const loc = findResource(cib, id);
  if (!loc || loc.resource.kind !== 'primitive') throw new CibNotFoundError('primitive', id);
  const p = loc.resource;
  return mergeNvSets(p.params, (rule) => evaluateRule(rule, { ...ctx, resource: agentOf(p) }));
}

/** An operation with defaults applied: timeout from the op, else op_defaults, else 20 s (Pacemaker's default). */
export interface EffectiveOperation extends Operation {
  readonly timeout: number;
}

/** A primitive's operations with `op_defaults` (rules evaluated per operation) and the default timeout applied. */
export function effectiveOperations(
  cib: Cib,
  id: string,
  ctx: RuleContext = {},
): EffectiveOperation[] {
  const loc = findResource(cib, id);
  if (!loc || loc.resource.kind !== 'primitive') throw new CibNotFoundError('primitive', id);
  const p: Primitive = loc.resource;
  return p.operations.map((op) => {
    const defaults = mergeNvSets(cib.opDefaults, (rule) =>
      evaluateRule(rule, {
        ...ctx,
        resource: agentOf(p),
        operation: { name: op.name, interval: op.interval },
        parseInterval: (s) => parseInterval(s, 'op_expression'),
      }),
    );
    const timeout =
      op.timeout ??
      (defaults.timeout
        ? parseInterval(defaults.timeout, '/cib/configuration/op_defaults/timeout')
        : 20_000);
    return { ...op, timeout };
  });
}

/** `#kind` as rules see it: `cluster`, `remote` or `container` (guest nodes). */
export function nodeKind(node: ClusterNode): 'cluster' | 'remote' | 'container' {
  return node.kind === 'member' ? 'cluster' : node.kind === 'guest' ? 'container' : 'remote';
}

/**
 * A node's attributes as rules see them: permanent (configuration), then
 * transient (status) on top, plus `#uname`, `#id`, `#kind`, `#is_dc`.
 */
export function nodeAttributes(
  cib: Cib,
  name: string,
  ctx: RuleContext = {},
): Record<string, string> {
  const node = cib.nodes.find((n) => n.name === name);
  if (!node) throw new CibNotFoundError('node', name);
  const permanent = mergeNvSets(node.attributes, (rule) => evaluateRule(rule, ctx));
  const state = cib.status.find((s) => s.uname === name);
  return {
    ...permanent,
    ...(state?.transientAttributes ?? {}),
    '#uname': node.name,
    '#id': node.id,
    '#kind': nodeKind(node),
    '#is_dc': String(cib.dcUuid !== undefined && cib.dcUuid === node.id),
  };
}

/** Every primitive with its effective meta attributes, in document order. */
export function primitivesWithMeta(
  cib: Cib,
): { readonly primitive: Primitive; readonly meta: Record<string, string> }[] {
  return allPrimitives(cib.resources).map((primitive) => ({
    primitive,
    meta: effectiveMeta(cib, primitive.id),
  }));
}
