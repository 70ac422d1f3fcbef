import { XmlSyntaxError } from './errors';

/** An element: name, attributes in document order, children. */
export interface XmlElement {
  readonly type: 'element';
  name: string;
  /** Attributes in document order (a Map keeps insertion order). Values are decoded. */
  attributes: Map<string, string>;
  children: XmlNode[];
  /** Written as `<x/>` when it has no children (otherwise `<x></x>`). */
  selfClosing: boolean;
  /**
   * Whitespace before each attribute and before the tag end, kept only when
   * the input used something other than single spaces (for byte-identical
   * round trips); dropped when attributes change in number.
   */
  spacing?: string[];
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

const ENTITIES: Readonly<Record<string, string>> = {
  lt: '<',
  gt: '>',
  amp: '&',
  quot: '"',
  apos: "'",
};

function isNameStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58 || c >= 0xc0;
}

function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 0xb7;
}

/** Options of {@link parseXml}. */
export interface ParseXmlOptions {
  /** Named in error messages (a file name), default `input`. */
  readonly source?: string;
}

class Parser {
  pos = 0;
  constructor(
    readonly text: string,
    readonly source: string,
  ) {}

  fail(detail: string, at = this.pos): never {
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < at && i < this.text.length; i++) {
      if (this.text.charCodeAt(i) === 10) {
        line++;
        lineStart = i + 1;
      }
    }
    throw new XmlSyntaxError(this.source, line, at - lineStart + 1, detail);
  }

  decode(raw: string, start: number): string {
    if (raw.indexOf('&') < 0) return raw;
    return raw.replace(
      /&(#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z]+);|&/g,
      (_m, ent: string | undefined, off: number) => {
        if (ent === undefined) this.fail("'&' must be escaped as &amp;", start + off);
        if (ent.startsWith('#x')) return String.fromCodePoint(Number.parseInt(ent.slice(2), 16));
        if (ent.startsWith('#')) return String.fromCodePoint(Number.parseInt(ent.slice(1), 10));
        const v = ENTITIES[ent];
        if (v === undefined) this.fail(`unknown entity &${ent};`, start + off);
        return v;
      },
    );
  }

  readName(): string {
    const start = this.pos;
    const t = this.text;
    if (!isNameStart(t.charCodeAt(this.pos)))
      this.fail(`expected a name, found ${describe(t[this.pos])}`);
    this.pos++;
    while (isNameChar(t.charCodeAt(this.pos))) this.pos++;
    return t.slice(start, this.pos);
  }

  skipSpace(): void {
    const t = this.text;
    for (;;) {
      const c = t.charCodeAt(this.pos);
      if (c === 32 || c === 10 || c === 9 || c === 13) this.pos++;
      else return;
    }
  }

  expectEnd(token: string, what: string): number {
    const end = this.text.indexOf(token, this.pos);
    if (end < 0) this.fail(`unterminated ${what}`);
    return end;
  }

  /** Parse a markup node starting at '<' that is not an element; undefined if it is an element. */
  misc(): XmlNode | undefined {
    const t = this.text;
    if (t.startsWith('<!--', this.pos)) {
      const end = this.expectEnd('-->', 'comment');
      const node: XmlComment = { type: 'comment', value: t.slice(this.pos + 4, end) };
      this.pos = end + 3;
      return node;
    }
    if (t.startsWith('<?', this.pos)) {
      const end = this.expectEnd('?>', 'processing instruction');
      const inner = t.slice(this.pos + 2, end);
      const m = /^([^\s?]+)\s*([\s\S]*)$/.exec(inner);
      if (!m) this.fail('empty processing instruction');
      this.pos = end + 2;
      return { type: 'instruction', target: m[1]!, body: m[2]! };
    }
    if (t.startsWith('<!DOCTYPE', this.pos)) {
      const end = this.expectEnd('>', 'DOCTYPE');
      const node: XmlDoctype = { type: 'doctype', raw: t.slice(this.pos, end + 1) };
      this.pos = end + 1;
      return node;
    }
    return undefined;
  }

  element(): XmlElement {
    const t = this.text;
    const open = this.pos;
    this.pos++; // '<'
    const name = this.readName();
    const attributes = new Map<string, string>();
    let spacing: string[] | undefined;
    let unusual = false;
    for (;;) {
      const before = this.pos;
      this.skipSpace();
      const gap = this.pos - before;
      if (gap > 1 || (gap === 1 && t.charCodeAt(before) !== 32)) unusual = true;
      (spacing ??= []).push(t.slice(before, this.pos));
      const c = t[this.pos];
      if (c === '>' || c === '/') {
        if (gap !== 0) unusual = true;
        break;
      }
      if (c === undefined) this.fail(`unterminated start tag <${name}>`, open);
      if (this.pos === before) this.fail(`expected whitespace before attribute in <${name}>`);
      const attrAt = this.pos;
      const attr = this.readName();
      this.skipSpace();
      if (t[this.pos] !== '=') this.fail(`attribute '${attr}' of <${name}> has no value`);
      this.pos++;
      this.skipSpace();
      const q = t[this.pos];
      if (q !== '"' && q !== "'")
        this.fail(`value of attribute '${attr}' of <${name}> must be quoted`);
      const end = t.indexOf(q, this.pos + 1);
      if (end < 0) this.fail(`unterminated value of attribute '${attr}'`, attrAt);
      const raw = t.slice(this.pos + 1, end);
      if (raw.indexOf('<') >= 0)
        this.fail(`'<' in the value of attribute '${attr}'`, this.pos + 1 + raw.indexOf('<'));
      if (attributes.has(attr)) this.fail(`duplicate attribute '${attr}' in <${name}>`, attrAt);
      attributes.set(attr, this.decode(raw, this.pos + 1));
      this.pos = end + 1;
    }
    if (t[this.pos] === '/') {
      if (t[this.pos + 1] !== '>') this.fail(`expected '/>' to close <${name}>`);
      this.pos += 2;
      const el: XmlElement = { type: 'element', name, attributes, children: [], selfClosing: true };
      if (unusual) el.spacing = spacing;
      return el;
    }
    this.pos++; // '>'
    const children: XmlNode[] = [];
    for (;;) {
      const lt = t.indexOf('<', this.pos);
      if (lt < 0) this.fail(`<${name}> is never closed`, open);
      if (lt > this.pos) {
        const raw = t.slice(this.pos, lt);
        children.push({ type: 'text', value: this.decode(raw, this.pos) });
        this.pos = lt;
      }
      if (t.startsWith('</', this.pos)) {
        const closeAt = this.pos;
        this.pos += 2;
        const closing = this.readName();
        if (closing !== name)
          this.fail(`</${closing}> closes <${name}> opened at ${this.where(open)}`, closeAt);
        this.skipSpace();
        if (t[this.pos] !== '>') this.fail(`expected '>' after </${closing}`);
        this.pos++;
        const el: XmlElement = { type: 'element', name, attributes, children, selfClosing: false };
        if (unusual) el.spacing = spacing;
        return el;
      }
      if (t.startsWith('<![CDATA[', this.pos)) {
        const end = this.expectEnd(']]>', 'CDATA section');
        children.push({ type: 'text', value: t.slice(this.pos + 9, end), cdata: true });
        this.pos = end + 3;
        continue;
      }
      const misc = this.misc();
      if (misc) children.push(misc);
      else children.push(this.element());
    }
  }

  where(at: number): string {
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < at; i++) {
      if (this.text.charCodeAt(i) === 10) {
        line++;
        lineStart = i + 1;
      }
    }
    return `${line}:${at - lineStart + 1}`;
  }

  outside(nodes: XmlNode[], where: string): void {
    const t = this.text;
    for (;;) {
      const start = this.pos;
      this.skipSpace();
      if (this.pos > start) nodes.push({ type: 'text', value: t.slice(start, this.pos) });
      if (this.pos >= t.length || t[this.pos] !== '<') return;
      const misc = this.misc();
      if (!misc) return;
      nodes.push(misc);
      void where;
    }
  }

  document(): XmlDocument {
    if (this.text.charCodeAt(0) === 0xfeff) this.pos = 1;
    const prolog: XmlNode[] = [];
    this.outside(prolog, 'before');
    if (this.pos >= this.text.length) this.fail('no root element (the input is empty)');
    if (this.text[this.pos] !== '<')
      this.fail(`text before the root element: ${describe(this.text[this.pos])}`);
    const root = this.element();
    const epilog: XmlNode[] = [];
    this.outside(epilog, 'after');
    if (this.pos < this.text.length) {
      this.fail(
        this.text[this.pos] === '<' ? 'a second root element' : 'text after the root element',
      );
    }
    return { prolog, root, epilog };
  }
}

function describe(c: string | undefined): string {
  return c === undefined ? 'end of input' : `'${c}'`;
}

/** Parse XML text into a lossless tree. Throws {@link XmlSyntaxError} with line and column. */
export function parseXml(text: string, options: ParseXmlOptions = {}): XmlDocument {
  return new Parser(text, options.source ?? 'input').document();
}

function escapeText(s: string): string {
  if (!/[&<>]/.test(s)) return s;
  return s.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

const ATTR_SPECIAL = /[&<>"\n\r\t]/;

function escapeAttr(s: string): string {
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
      const sp = node.spacing;
      if (sp && sp.length === node.attributes.size + 1) {
        let i = 0;
        for (const [k, v] of node.attributes) open += `${sp[i++]}${k}="${escapeAttr(v)}"`;
        open += sp[i];
      } else {
        for (const [k, v] of node.attributes) open += ` ${k}="${escapeAttr(v)}"`;
      }
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
