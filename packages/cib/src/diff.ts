import type { XmlDocument, XmlElement } from './xml';

/** One difference between two CIBs, at element granularity. */
export interface CibDiffEntry {
  readonly op: 'added' | 'removed' | 'changed';
  /** XPath-like path of the element (`/cib/configuration/resources/primitive[@id='d1']`). */
  readonly path: string;
  /** For `changed`: the attributes that differ, with old and new values (undefined = absent). */
  readonly attributes?: Readonly<Record<string, { readonly old?: string; readonly new?: string }>>;
}

/** Children keyed as in XPath: `name[@id='x']`, or `name` / `name[n]` (1-based) for id-less elements. */
function elementChildren(el: XmlElement): Map<string, XmlElement> {
  const counts = new Map<string, number>();
  for (const c of el.children)
    if (c.type === 'element' && !c.attributes.has('id'))
      counts.set(c.name, (counts.get(c.name) ?? 0) + 1);
  const seen = new Map<string, number>();
  const out = new Map<string, XmlElement>();
  for (const c of el.children) {
    if (c.type !== 'element') continue;
    const id = c.attributes.get('id');
    if (id !== undefined) {
      out.set(`${c.name}[@id='${id}']`, c);
      continue;
    }
    const n = (seen.get(c.name) ?? 0) + 1;
    seen.set(c.name, n);
    out.set(counts.get(c.name) === 1 ? c.name : `${c.name}[${n}]`, c);
  }
  return out;
}

function textOf(el: XmlElement): string {
  return el.children
    .filter((c) => c.type === 'text')
    .map((c) => (c.type === 'text' ? c.value : ''))
    .join('')
    .trim();
}

function diffElements(a: XmlElement, b: XmlElement, path: string, out: CibDiffEntry[]): void {
  const attributes: Record<string, { old?: string; new?: string }> = {};
  for (const [k, v] of a.attributes)
    if (b.attributes.get(k) !== v) attributes[k] = { old: v, new: b.attributes.get(k) };
  for (const [k, v] of b.attributes) if (!a.attributes.has(k)) attributes[k] = { new: v };
  if (Object.keys(attributes).length > 0 || textOf(a) !== textOf(b))
    out.push({ op: 'changed', path, attributes });
  const ca = elementChildren(a);
  const cb = elementChildren(b);
  for (const [k, el] of ca) {
    const other = cb.get(k);
    if (!other) out.push({ op: 'removed', path: `${path}/${k}` });
    else if (other !== el) diffElements(el, other, `${path}/${k}`, out);
  }
  for (const k of cb.keys()) if (!ca.has(k)) out.push({ op: 'added', path: `${path}/${k}` });
}

/**
 * Element-level differences between two CIB documents (elements matched by
 * name and id, or by position when they have no id). Whitespace is ignored.
 */
export function diffCib(before: XmlDocument, after: XmlDocument): CibDiffEntry[] {
  const out: CibDiffEntry[] = [];
  if (before.root.name !== after.root.name) {
    return [
      { op: 'removed', path: `/${before.root.name}` },
      { op: 'added', path: `/${after.root.name}` },
    ];
  }
  diffElements(before.root, after.root, `/${before.root.name}`, out);
  return out;
}
