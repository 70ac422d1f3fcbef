/**
 * Patches between two versions of a CIB that share unchanged subtrees (the
 * store's copy-on-write versions): only the changed elements and the path
 * from the root to them are described, so a status update's patch is as
 * small as the update, whatever the size of the CIB. The store journals
 * them between full writes of the CIB file.
 */
import { CibError } from './errors';
import type { XmlDocument, XmlElement, XmlNode } from './xml';
import { parseXml, serializeXml } from './xml';

/** A changed element: what differs from the element it replaces. */
export interface ElementPatch {
  /** New name. */
  readonly n?: string;
  /** All attributes, in order (when any changed). */
  readonly a?: readonly (readonly [string, string])[];
  /** New `selfClosing`. */
  readonly s?: boolean;
  /** The new children (when the list changed), see {@link ChildPatch}. */
  readonly c?: readonly ChildPatch[];
}

/**
 * One entry of a new child list: the old child at that index, unchanged
 * (a number); the old children from index `first` to `last`, unchanged
 * (`[first, last]`); the old child at index `i`, changed (`{ i, p }`); or
 * new nodes, serialized (a string).
 */
export type ChildPatch =
  number | readonly [number, number] | { readonly i: number; readonly p: ElementPatch } | string;

/** A patch of a whole document: the root's changes, or (root replaced, prolog changed) the whole text. */
export type DocumentPatch = { readonly root: ElementPatch } | { readonly full: string };

/**
 * The patch that turns `before` into `after`, where `origin` maps each
 * changed node of `after` to the node of `before` it replaces (nodes not
 * in `origin` and not shared are new).
 */
export function makePatch(
  before: XmlDocument,
  after: XmlDocument,
  origin: WeakMap<object, object>,
): DocumentPatch {
  const sameList = (a: readonly XmlNode[], b: readonly XmlNode[]): boolean =>
    a === b || (a.length === b.length && a.every((n, i) => n === b[i]));
  if (
    !sameList(before.prolog, after.prolog) ||
    !sameList(before.epilog, after.epilog) ||
    (after.root !== before.root && origin.get(after.root) !== before.root)
  )
    return { full: serializeXml(after) };
  return { root: elementPatch(before.root, after.root, origin) };
}

function elementPatch(
  before: XmlElement,
  after: XmlElement,
  origin: WeakMap<object, object>,
): ElementPatch {
  const patch: { n?: string; a?: [string, string][]; s?: boolean; c?: ChildPatch[] } = {};
  if (after.name !== before.name) patch.n = after.name;
  if (after.selfClosing !== before.selfClosing) patch.s = after.selfClosing;
  if (after.attributes !== before.attributes && !sameAttributes(before, after))
    patch.a = [...after.attributes];
  if (after.children !== before.children) {
    const index = new Map<XmlNode, number>();
    before.children.forEach((c, i) => index.set(c, i));
    const list: ChildPatch[] = [];
    let unchanged = after.children.length === before.children.length;
    let fresh = '';
    // A run of unchanged children, [first, last] old indices.
    let run: [number, number] | undefined;
    const flush = (): void => {
      if (fresh) list.push(fresh);
      fresh = '';
      if (run) list.push(run[0] === run[1] ? run[0] : run);
      run = undefined;
    };
    after.children.forEach((c, k) => {
      const kept = index.get(c);
      if (kept !== undefined) {
        if (run && kept === run[1] + 1) run[1] = kept;
        else {
          flush();
          run = [kept, kept];
        }
        if (kept !== k) unchanged = false;
        return;
      }
      const was = origin.get(c) as XmlNode | undefined;
      const i = was === undefined ? undefined : index.get(was);
      if (i !== undefined && c.type === 'element' && was!.type === 'element') {
        flush();
        list.push({ i, p: elementPatch(was as XmlElement, c, origin) });
        unchanged = false;
        return;
      }
      if (run) flush();
      fresh += serializeXml(c);
      unchanged = false;
    });
    flush();
    if (!unchanged) patch.c = list;
  }
  return patch;
}

function sameAttributes(a: XmlElement, b: XmlElement): boolean {
  if (a.attributes.size !== b.attributes.size) return false;
  const x = [...a.attributes];
  const y = [...b.attributes];
  return x.every(([k, v], i) => y[i]![0] === k && y[i]![1] === v);
}

/** A patch that does not fit the document it is applied to (a damaged or misplaced journal). */
export class CibPatchError extends CibError {
  override name = 'CibPatchError';
}

/**
 * Apply a patch to the document it was made from; returns the new document
 * (sharing what the patch does not touch) — `where` names the patch in errors.
 */
export function applyPatch(doc: XmlDocument, patch: DocumentPatch, where: string): XmlDocument {
  if (typeof patch !== 'object' || patch === null)
    throw new CibPatchError(`${where}: not a patch object`);
  if ('full' in patch) {
    if (typeof patch.full !== 'string')
      throw new CibPatchError(`${where}: 'full' must be the CIB's text`);
    return parseXml(patch.full, { source: where });
  }
  if (!('root' in patch)) throw new CibPatchError(`${where}: neither 'root' nor 'full'`);
  return {
    prolog: doc.prolog,
    root: applyElement(doc.root, patch.root, where, `/${doc.root.name}`),
    epilog: doc.epilog,
  };
}

function applyElement(el: XmlElement, p: ElementPatch, where: string, path: string): XmlElement {
  if (typeof p !== 'object' || p === null)
    throw new CibPatchError(`${where}: the patch of ${path} is not an object`);
  let children = el.children;
  if (p.c !== undefined) {
    if (!Array.isArray(p.c))
      throw new CibPatchError(`${where}: the children of ${path} are not a list`);
    children = [];
    for (const entry of p.c) {
      if (typeof entry === 'string') {
        children.push(...parseFragment(entry, where, path));
        continue;
      }
      if (Array.isArray(entry)) {
        const [first, last] = entry as unknown[];
        if (
          !Number.isInteger(first) ||
          !Number.isInteger(last) ||
          (first as number) < 0 ||
          (last as number) < (first as number) ||
          (last as number) >= el.children.length
        )
          throw new CibPatchError(
            `${where}: ${path} has no children #${String(first)} to #${String(last)} (it has ${el.children.length}): the patch does not belong to this CIB`,
          );
        children.push(...el.children.slice(first as number, (last as number) + 1));
        continue;
      }
      const i = typeof entry === 'number' ? entry : (entry as { i?: unknown })?.i;
      const old = typeof i === 'number' ? el.children[i] : undefined;
      if (!old)
        throw new CibPatchError(
          `${where}: ${path} has no child #${String(i)} (it has ${el.children.length}): the patch does not belong to this CIB`,
        );
      if (typeof entry === 'number') children.push(old);
      else {
        if (old.type !== 'element')
          throw new CibPatchError(`${where}: child #${i} of ${path} is not an element`);
        children.push(applyElement(old, entry.p, where, `${path}/${old.name}[${i}]`));
      }
    }
  }
  if (
    p.a !== undefined &&
    !(Array.isArray(p.a) && p.a.every((e) => Array.isArray(e) && e.length === 2))
  )
    throw new CibPatchError(`${where}: the attributes of ${path} are not a list of [name, value]`);
  if (p.n !== undefined && (typeof p.n !== 'string' || !/^[A-Za-z_][\w.:-]*$/.test(p.n)))
    throw new CibPatchError(`${where}: the new name of ${path} is not an element name`);
  if (p.s !== undefined && typeof p.s !== 'boolean')
    throw new CibPatchError(`${where}: 's' of ${path} is not true or false`);
  return {
    type: 'element',
    name: p.n ?? el.name,
    attributes: p.a ? new Map(p.a.map(([k, v]) => [String(k), String(v)])) : el.attributes,
    children,
    selfClosing: p.s ?? el.selfClosing,
  };
}

function parseFragment(text: string, where: string, path: string): XmlNode[] {
  try {
    return parseXml(`<remora-fragment>${text}</remora-fragment>`, { source: where }).root.children;
  } catch (err) {
    throw new CibPatchError(`${where}: new content under ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
