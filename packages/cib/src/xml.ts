import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { XmlSyntaxError } from './errors';

/** An element: name, attributes in document order, children. */
export interface XmlElement {
  readonly type: 'element';
  name: string;
  /** Attributes in document order (a Map keeps insertion order). Values are decoded. */
  attributes: Map<string, string>;
  children: XmlNode[];
  /** Written as `<x/>` when it has no children and this is true (the parser sets it; libxml2 writes empty elements so). */
  selfClosing: boolean;
}

export interface XmlText {
  readonly type: 'text';
  /** Decoded text. */
  value: string;
  /** True for a CDATA section. */
  cdata?: boolean;
}

export interface XmlComment {
  readonly type: 'comment';
  value: string;
}

/** A processing instruction or the XML declaration (`<?xml ...?>`). */
export interface XmlInstruction {
  readonly type: 'instruction';
  target: string;
  body: string;
}

/** A `<!DOCTYPE ...>` kept as written. */
export interface XmlDoctype {
  readonly type: 'doctype';
  raw: string;
}

export type XmlNode = XmlElement | XmlText | XmlComment | XmlInstruction | XmlDoctype;

/** A parsed document: what comes before and after the root is kept for a lossless round trip. */
export interface XmlDocument {
  prolog: XmlNode[];
  root: XmlElement;
  epilog: XmlNode[];
}

/** Options of {@link parseXml}. */
export interface ParseXmlOptions {
  /** Named in error messages (a file name), default `input`. */
  readonly source?: string;
  /** Refuse larger inputs with a clear error (default 32 MiB). */
  readonly maxBytes?: number;
}

/** Inputs larger than this are refused by default: no CIB is that large, and parsing one would stall a controller. */
export const DEFAULT_MAX_XML_BYTES = 32 * 1024 * 1024;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  commentPropName: '#comment',
  cdataPropName: '#cdata',
  processEntities: true,
  htmlEntities: true,
  ignoreDeclaration: false,
  ignorePiTags: false,
});

/** One node of fast-xml-parser's `preserveOrder` output. */
type Ordered = Record<string, unknown> & { ':@'?: Record<string, string> };

function textOf(children: unknown): string {
  const list = children as Ordered[];
  return list.map((c) => String(c['#text'] ?? '')).join('');
}

function convert(node: Ordered): XmlNode {
  if ('#text' in node) return { type: 'text', value: String(node['#text']) };
  const name = Object.keys(node).find((k) => k !== ':@')!;
  const body = node[name] as Ordered[];
  if (name === '#comment') return { type: 'comment', value: textOf(body) };
  if (name === '#cdata') return { type: 'text', value: textOf(body), cdata: true };
  const attrs = node[':@'] ?? {};
  if (name.startsWith('?')) {
    const parts = Object.entries(attrs).map(([k, v]) => `${k}="${v}"`);
    return { type: 'instruction', target: name.slice(1), body: parts.join(' ') };
  }
  if (name.startsWith('!')) return { type: 'doctype', raw: `<${name}>` };
  return {
    type: 'element',
    name,
    attributes: new Map(Object.entries(attrs).map(([k, v]) => [k, String(v)])),
    children: body.map(convert),
    selfClosing: true,
  };
}

/**
 * Parse XML text into a tree that keeps attribute order, comments, CDATA,
 * processing instructions and whitespace (parsing by fast-xml-parser, which
 * also checks well-formedness). Throws {@link XmlSyntaxError} with line and
 * column for malformed input, and for input over `maxBytes`.
 */
export function parseXml(text: string, options: ParseXmlOptions = {}): XmlDocument {
  const source = options.source ?? 'input';
  const max = options.maxBytes ?? DEFAULT_MAX_XML_BYTES;
  if (text.length > max) {
    throw new XmlSyntaxError(
      source,
      1,
      1,
      `the input is ${(text.length / 1048576).toFixed(1)} MiB, over the ${(max / 1048576).toFixed(0)} MiB limit`,
    );
  }
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trim() === '')
    throw new XmlSyntaxError(source, 1, 1, 'no root element (the input is empty)');
  const check = XMLValidator.validate(body, { allowBooleanAttributes: false });
  if (check !== true)
    throw new XmlSyntaxError(source, check.err.line, check.err.col, check.err.msg);
  const nodes = (parser.parse(body) as Ordered[]).map(convert);
  const rootIndex = nodes.findIndex((n) => n.type === 'element');
  if (rootIndex < 0) throw new XmlSyntaxError(source, 1, 1, 'no root element');
  const epilog = nodes.slice(rootIndex + 1);
  const second = epilog.find((n): n is XmlElement => n.type === 'element');
  if (second) {
    const at = body.lastIndexOf(`<${second.name}`);
    const before = body.slice(0, at);
    const line = before.split('\n').length;
    throw new XmlSyntaxError(
      source,
      line,
      at - before.lastIndexOf('\n'),
      `a second root element <${second.name}> (a document has one)`,
    );
  }
  // The parser drops white space after the root element; keep it for the round trip.
  const tail = /\s*$/.exec(body)![0];
  if (tail && !epilog.some((n) => n.type !== 'text'))
    epilog.splice(0, epilog.length, { type: 'text', value: tail });
  return { prolog: nodes.slice(0, rootIndex), root: nodes[rootIndex] as XmlElement, epilog };
}

function escapeText(s: string): string {
  if (!/[&<>]/.test(s)) return s;
  return s.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

const ATTR_SPECIAL = /[&<>"\n\r\t]/;

/** Escape an attribute value as Pacemaker writes XML (also tabs and line breaks). */
export function escapeAttr(s: string): string {
  if (!ATTR_SPECIAL.test(s)) return s;
  return s.replace(/[&<>"\n\r\t]/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      case '\n':
        return '&#10;';
      case '\r':
        return '&#13;';
      default:
        return '&#9;';
    }
  });
}

function write(node: XmlNode, out: string[]): void {
  switch (node.type) {
    case 'text':
      out.push(node.cdata ? `<![CDATA[${node.value}]]>` : escapeText(node.value));
      return;
    case 'comment':
      out.push(`<!--${node.value}-->`);
      return;
    case 'instruction':
      out.push(`<?${node.target}${node.body ? ` ${node.body}` : ''}?>`);
      return;
    case 'doctype':
      out.push(node.raw);
      return;
    case 'element': {
      let open = `<${node.name}`;
      for (const [k, v] of node.attributes) open += ` ${k}="${escapeAttr(v)}"`;
      if (node.children.length === 0 && node.selfClosing) {
        out.push(`${open}/>`);
        return;
      }
      out.push(`${open}>`);
      for (const child of node.children) write(child, out);
      out.push(`</${node.name}>`);
      return;
    }
  }
}

/**
 * {@link serializeXml} for documents whose nodes never change once written
 * (the store's committed versions): each element's text is remembered in
 * `cache`, so a new version sharing most of its elements with the previous
 * one is mostly concatenation of remembered pieces.
 */
export function serializeXmlCached(doc: XmlDocument, cache: WeakMap<XmlNode, string>): string {
  const one = (node: XmlNode): string => {
    if (node.type !== 'element') {
      const out: string[] = [];
      write(node, out);
      return out.join('');
    }
    const known = cache.get(node);
    if (known !== undefined) return known;
    let open = `<${node.name}`;
    for (const [k, v] of node.attributes) open += ` ${k}="${escapeAttr(v)}"`;
    let text: string;
    if (node.children.length === 0 && node.selfClosing) text = `${open}/>`;
    else {
      text = `${open}>`;
      for (const child of node.children) text += one(child);
      text += `</${node.name}>`;
    }
    cache.set(node, text);
    return text;
  };
  let text = '';
  for (const n of doc.prolog) text += one(n);
  text += one(doc.root);
  for (const n of doc.epilog) text += one(n);
  return text;
}

/** Serialize a node or document back to text (documents: byte-identical for canonical input). */
export function serializeXml(value: XmlDocument | XmlNode): string {
  const out: string[] = [];
  if ('root' in value) {
    for (const n of value.prolog) write(n, out);
    write(value.root, out);
    for (const n of value.epilog) write(n, out);
  } else {
    write(value, out);
  }
  return out.join('');
}

/** Element children of an element (text, comments skipped). */
export function childElements(el: XmlElement, name?: string): XmlElement[] {
  const out: XmlElement[] = [];
  for (const c of el.children)
    if (c.type === 'element' && (name === undefined || c.name === name)) out.push(c);
  return out;
}

/** The first element child with this name. */
export function firstChild(el: XmlElement, name: string): XmlElement | undefined {
  for (const c of el.children) if (c.type === 'element' && c.name === name) return c;
  return undefined;
}

/** Create an element (for modifications). */
export function createElement(
  name: string,
  attributes: Readonly<Record<string, string | undefined>> = {},
  children: XmlNode[] = [],
): XmlElement {
  const map = new Map<string, string>();
  for (const [k, v] of Object.entries(attributes)) if (v !== undefined) map.set(k, v);
  return { type: 'element', name, attributes: map, children, selfClosing: true };
}

/** Every element below (and including) `el`, depth first, with its parent. */
export function* walkElements(
  el: XmlElement,
  parent?: XmlElement,
): Generator<{ readonly element: XmlElement; readonly parent: XmlElement | undefined }> {
  yield { element: el, parent };
  for (const c of el.children) if (c.type === 'element') yield* walkElements(c, el);
}

/** Pretty-print: re-indent element-only content with two spaces (text content kept). */
export function formatXml(doc: XmlDocument, indent = '  '): string {
  const strip = (el: XmlElement): void => {
    const hasText = el.children.some((c) => c.type === 'text' && c.value.trim() !== '');
    if (hasText) return;
    el.children = el.children.filter((c) => c.type !== 'text');
    for (const c of el.children) if (c.type === 'element') strip(c);
  };
  const copy = parseXml(serializeXml(doc));
  strip(copy.root);
  const out: string[] = [];
  const emit = (node: XmlNode, depth: number): void => {
    const pad = indent.repeat(depth);
    if (
      node.type !== 'element' ||
      node.children.length === 0 ||
      node.children.some((c) => c.type === 'text')
    ) {
      out.push(pad + serializeXml(node));
      return;
    }
    let open = `<${node.name}`;
    for (const [k, v] of node.attributes) open += ` ${k}="${escapeAttr(v)}"`;
    out.push(`${pad}${open}>`);
    for (const c of node.children) emit(c, depth + 1);
    out.push(`${pad}</${node.name}>`);
  };
  for (const n of copy.prolog) if (n.type !== 'text') out.push(serializeXml(n));
  emit(copy.root, 0);
  return `${out.join('\n')}\n`;
}
