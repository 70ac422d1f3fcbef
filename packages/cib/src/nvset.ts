import type { XmlElement } from './xml';
import { childElements } from './xml';
import type { Rule } from './rules';
import { readRule } from './rules';
import { parseScore } from './values';

/** A set of name/value pairs: instance_attributes, meta_attributes, cluster_property_set, utilization. */
export interface NvSet {
  readonly id: string;
  /** The element name (`meta_attributes`, ...). */
  readonly kind: string;
  /** Sets are applied highest score first; the first value for a name wins. */
  readonly score: number;
  /** The set applies only when its rule (if any) passes. */
  readonly rule?: Rule;
  /** A reference to another set (`id-ref`), resolved by the reader when possible. */
  readonly idRef?: string;
  readonly values: Readonly<Record<string, string>>;
  /** nvpair ids by name (for modifications and messages). */
  readonly nvpairIds: Readonly<Record<string, string>>;
}

/** Read every child set of the given kind(s) under an element. */
export function readNvSets(parent: XmlElement, kinds: readonly string[], path: string): NvSet[] {
  const sets: NvSet[] = [];
  for (const el of childElements(parent)) {
    if (!kinds.includes(el.name)) continue;
    const id = el.attributes.get('id') ?? el.attributes.get('id-ref') ?? '';
    const values: Record<string, string> = {};
    const nvpairIds: Record<string, string> = {};
    for (const nv of childElements(el, 'nvpair')) {
      const name = nv.attributes.get('name');
      if (name === undefined) continue;
      if (!(name in values)) {
        values[name] = nv.attributes.get('value') ?? '';
        nvpairIds[name] = nv.attributes.get('id') ?? '';
      }
    }
    const ruleEl = childElements(el, 'rule')[0];
    const scoreAttr = el.attributes.get('score');
    sets.push({
      id,
      kind: el.name,
      score:
        scoreAttr === undefined
          ? 0
          : parseScore(scoreAttr, `${path}/${el.name}[@id='${id}']/@score`),
      rule: ruleEl ? readRule(ruleEl, `${path}/${el.name}[@id='${id}']`) : undefined,
      idRef: el.attributes.get('id-ref'),
      values,
      nvpairIds,
    });
  }
  return sets;
}

/**
 * Merge sets into one name → value map: sets sorted by score (highest
 * first, document order among equals), sets whose rule fails skipped, the
 * first value of each name wins.
 */
export function mergeNvSets(
  sets: readonly NvSet[],
  passes: (rule: Rule) => boolean = () => true,
  into: Record<string, string> = {},
): Record<string, string> {
  const ordered = sets.map((s, i) => ({ s, i })).sort((a, b) => b.s.score - a.s.score || a.i - b.i);
  for (const { s } of ordered) {
    if (s.rule && !passes(s.rule)) continue;
    for (const [k, v] of Object.entries(s.values)) if (!(k in into)) into[k] = v;
  }
  return into;
}
