/**
 * Copy-on-write drafts of an XML document: a modification works on proxies
 * of the committed document; what it reads is shared, what it changes is
 * copied (the changed nodes and the path from the root to them), so a
 * change to one `lrm_rsc_op` of a multi-megabyte CIB copies a handful of
 * small objects instead of the whole tree. The committed tree is never
 * mutated: every version shares its unchanged subtrees with the previous
 * one, and readers holding an older version keep a consistent snapshot.
 *
 * Plain objects, arrays and Maps (what an XmlDocument is made of) are
 * drafted; other values are returned as they are.
 */
import type { XmlDocument } from './xml';

type Container = Record<PropertyKey, unknown> | unknown[] | Map<unknown, unknown>;

interface DraftState {
  readonly base: Container;
  /** The shallow copy changes go to (made on the first change, or when a child is drafted). */
  copy: Container | undefined;
  /** Something in this container or below it changed. */
  modified: boolean;
  readonly parent: DraftState | undefined;
  readonly scope: Scope;
  proxy: Container;
  finalized: boolean;
}

interface Scope {
  /** Finalized copies → the committed node they replace (for patches). */
  readonly origin: WeakMap<object, object>;
  revoked: boolean;
}

const STATE = Symbol('remora.cib.draft');

function stateOf(value: unknown): DraftState | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  return (value as { [STATE]?: DraftState })[STATE];
}

function isDraftable(value: unknown): value is Container {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value) || value instanceof Map) return true;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function latest(state: DraftState): Container {
  return state.copy ?? state.base;
}

function shallowCopy(c: Container): Container {
  if (Array.isArray(c)) return c.slice();
  if (c instanceof Map) return new Map(c);
  return Object.assign(Object.create(Object.getPrototypeOf(c) as object) as object, c);
}

function prepareCopy(state: DraftState): Container {
  state.copy ??= shallowCopy(state.base);
  return state.copy;
}

function markModified(state: DraftState): void {
  for (let s: DraftState | undefined = state; s && !s.modified; s = s.parent) {
    prepareCopy(s);
    s.modified = true;
  }
}

function checkLive(state: DraftState): void {
  if (state.scope.revoked)
    throw new TypeError(
      'a CIB draft was used after its modification ended (keep no references to the document past the edit function)',
    );
}

function createDraft(base: Container, parent: DraftState | undefined, scope: Scope): Container {
  const state: DraftState = {
    base,
    copy: undefined,
    modified: false,
    parent,
    scope,
    proxy: undefined as unknown as Container,
    finalized: false,
  };
  state.proxy = (
    base instanceof Map ? new Proxy(base, mapHandler(state)) : new Proxy(base, objectHandler(state))
  ) as Container;
  return state.proxy;
}

/** A child of `state` read at `key`: drafted on first access when it is an unchanged original. */
function child(state: DraftState, key: PropertyKey, value: unknown): unknown {
  if (!isDraftable(value) || stateOf(value)) return value;
  const original = (state.base as Record<PropertyKey, unknown>)[key];
  if (value !== original) return value; // new content put there by this modification
  const copy = prepareCopy(state) as Record<PropertyKey, unknown>;
  const draft = createDraft(value, state, state.scope);
  copy[key] = draft;
  return draft;
}

function objectHandler(state: DraftState): ProxyHandler<object> {
  return {
    get(_target, prop) {
      if (prop === STATE) return state;
      checkLive(state);
      const source = latest(state) as Record<PropertyKey, unknown>;
      const value = source[prop];
      if (!Object.prototype.hasOwnProperty.call(source, prop)) return value;
      return child(state, prop, value);
    },
    set(_target, prop, value) {
      checkLive(state);
      const source = latest(state) as Record<PropertyKey, unknown>;
      if (source[prop] === value && Object.prototype.hasOwnProperty.call(source, prop)) return true;
      markModified(state);
      (state.copy as Record<PropertyKey, unknown>)[prop] = value;
      return true;
    },
    deleteProperty(_target, prop) {
      checkLive(state);
      if (!Object.prototype.hasOwnProperty.call(latest(state), prop)) return true;
      markModified(state);
      delete (state.copy as Record<PropertyKey, unknown>)[prop];
      return true;
    },
    has(_target, prop) {
      return prop in latest(state);
    },
    ownKeys() {
      return Reflect.ownKeys(latest(state));
    },
    getOwnPropertyDescriptor(_target, prop) {
      const owner = latest(state) as Record<PropertyKey, unknown>;
      const desc = Reflect.getOwnPropertyDescriptor(owner, prop);
      if (!desc) return desc;
      return {
        writable: true,
        // An array's length is not configurable (a proxy must say so, as its target does).
        configurable: !Array.isArray(owner) || prop !== 'length',
        enumerable: desc.enumerable,
        value: child(state, prop, owner[prop]),
      };
    },
    defineProperty(_target, prop, desc) {
      checkLive(state);
      markModified(state);
      return Reflect.defineProperty(state.copy as object, prop, desc);
    },
    getPrototypeOf() {
      return Object.getPrototypeOf(state.base) as object | null;
    },
    setPrototypeOf() {
      throw new TypeError('a CIB draft cannot change prototypes');
    },
    preventExtensions() {
      throw new TypeError('a CIB draft cannot be frozen');
    },
  };
}

function mapHandler(state: DraftState): ProxyHandler<Map<unknown, unknown>> {
  const current = (): Map<unknown, unknown> => latest(state) as Map<unknown, unknown>;
  const writable = (): Map<unknown, unknown> => {
    markModified(state);
    return state.copy as Map<unknown, unknown>;
  };
  const methods: Record<PropertyKey, unknown> = {
    set(k: unknown, v: unknown) {
      checkLive(state);
      const m = current();
      if (!(m.has(k) && m.get(k) === v)) writable().set(k, v);
      return state.proxy;
    },
    delete(k: unknown) {
      checkLive(state);
      return current().has(k) ? writable().delete(k) : false;
    },
    clear() {
      checkLive(state);
      if (current().size > 0) writable().clear();
    },
  };
  return {
    get(_target, prop) {
      if (prop === STATE) return state;
      checkLive(state);
      if (prop === 'size') return current().size;
      if (prop === 'constructor') return Map;
      if (Object.prototype.hasOwnProperty.call(methods, prop)) return methods[prop];
      const value = Reflect.get(Map.prototype, prop) as unknown;
      if (typeof value !== 'function') return value;
      // Values are attribute strings: read straight from the current map.
      return (...args: unknown[]): unknown =>
        (value as (...a: unknown[]) => unknown).apply(current(), args);
    },
  };
}

/**
 * The committed tree for a draft: unchanged subtrees are the originals,
 * changed nodes their finished copies (recorded in `origin`).
 */
function finalize(value: unknown, scope: Scope): unknown {
  const state = stateOf(value);
  if (state) {
    if (!state.modified) return state.base;
    const copy = state.copy!;
    if (state.finalized) return copy;
    state.finalized = true;
    finalizeChildren(copy, scope);
    scope.origin.set(copy, state.base);
    return copy;
  }
  // New content: it may hold drafts (e.g. an array of children filtered through a draft).
  if (isDraftable(value)) finalizeChildren(value, scope);
  return value;
}

function finalizeChildren(c: Container, scope: Scope): void {
  if (c instanceof Map) return; // attribute values are strings
  if (Array.isArray(c)) {
    for (let i = 0; i < c.length; i++) c[i] = finalize(c[i], scope);
    normalizeText(c);
    return;
  }
  for (const k of Object.keys(c)) c[k] = finalize(c[k], scope);
}

function isPlainText(n: unknown): n is { type: 'text'; value: string; cdata?: boolean } {
  return (
    typeof n === 'object' &&
    n !== null &&
    (n as { type?: unknown }).type === 'text' &&
    !(n as { cdata?: boolean }).cdata
  );
}

/**
 * A changed list of children as parsing its text would give it: adjacent
 * text nodes merged, empty ones dropped (patches name children by position,
 * and a journal is replayed on the CIB file parsed again).
 */
function normalizeText(list: unknown[]): void {
  let odd = false;
  for (let i = 0; i < list.length && !odd; i++) {
    const n = list[i];
    odd = isPlainText(n) && (n.value === '' || isPlainText(list[i + 1]));
  }
  if (!odd) return;
  const out: unknown[] = [];
  for (const n of list) {
    if (isPlainText(n)) {
      if (n.value === '') continue;
      const prev = out[out.length - 1];
      if (isPlainText(prev)) {
        out[out.length - 1] = { type: 'text', value: prev.value + n.value };
        continue;
      }
    }
    out.push(n);
  }
  list.length = 0;
  list.push(...out);
}

/** The outcome of {@link produce}. */
export interface Produced<T> {
  readonly doc: XmlDocument;
  readonly result: T;
  /** Whether anything changed. */
  readonly changed: boolean;
  /** For a node of `doc` that replaces a committed node, that node (for patches). */
  readonly origin: WeakMap<object, object>;
}

/**
 * Apply `edit` to a copy-on-write draft of `base` (which is never changed)
 * and return the new document, sharing every unchanged subtree with `base`.
 * The draft must not be used after `edit` returns.
 */
export function produce<T>(base: XmlDocument, edit: (doc: XmlDocument) => T): Produced<T> {
  const scope: Scope = { origin: new WeakMap(), revoked: false };
  const draft = createDraft(base as unknown as Container, undefined, scope);
  try {
    const result = edit(draft as unknown as XmlDocument);
    const state = stateOf(draft)!;
    const doc = finalize(draft, scope) as XmlDocument;
    // A result that is (or lists) part of the draft becomes the committed node.
    const committed = (
      stateOf(result)
        ? finalize(result, scope)
        : Array.isArray(result) && result.some((r) => stateOf(r))
          ? result.map((r) => finalize(r, scope))
          : result
    ) as T;
    return { doc, result: committed, changed: state.modified, origin: scope.origin };
  } finally {
    scope.revoked = true;
  }
}
