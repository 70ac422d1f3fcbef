import { CibStructureError } from './errors';
import type { XmlElement } from './xml';
import { childElements } from './xml';
import { parseScore } from './values';

/** `<expression attribute operation value type value-source>` */
export interface AttributeExpression {
  readonly kind: 'expression';
  readonly id: string;
  readonly attribute: string;
  readonly operation: 'lt' | 'gt' | 'lte' | 'gte' | 'eq' | 'ne' | 'defined' | 'not_defined';
  readonly value?: string;
  /** `auto`: no type given on an ordering comparison (numeric, as Pacemaker decides it). */
  readonly type: 'string' | 'integer' | 'number' | 'version' | 'auto';
  readonly valueSource: 'literal' | 'param' | 'meta';
}

/** `<date_expression operation="in_range|gt|lt|date_spec">` */
export interface DateExpression {
  readonly kind: 'date_expression';
  readonly id: string;
  readonly operation: 'in_range' | 'gt' | 'lt' | 'date_spec';
  readonly start?: string;
  readonly end?: string;
  readonly duration?: Readonly<Record<string, string>>;
  readonly dateSpec?: Readonly<Record<string, string>>;
}

/** `<rsc_expression class provider type>` (rsc_defaults rules). */
export interface ResourceExpression {
  readonly kind: 'rsc_expression';
  readonly id: string;
  readonly class?: string;
  readonly provider?: string;
  readonly type?: string;
}

/** `<op_expression name interval>` (op_defaults rules). */
export interface OperationExpression {
  readonly kind: 'op_expression';
  readonly id: string;
  readonly name: string;
  readonly interval?: string;
}

export type RuleCondition =
  AttributeExpression | DateExpression | ResourceExpression | OperationExpression | Rule;

/** `<rule>`: conditions joined by `boolean-op`, with the score it contributes (location rules). */
export interface Rule {
  readonly kind: 'rule';
  readonly id: string;
  readonly booleanOp: 'and' | 'or';
  readonly score?: number;
  readonly scoreAttribute?: string;
  readonly role?: string;
  readonly conditions: readonly RuleCondition[];
}

const OPS = new Set(['lt', 'gt', 'lte', 'gte', 'eq', 'ne', 'defined', 'not_defined']);
const TYPES = new Set(['string', 'integer', 'number', 'version']);

function attrsOf(el: XmlElement | undefined): Record<string, string> | undefined {
  if (!el) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of el.attributes) if (k !== 'id') out[k] = v;
  return out;
}

/** Read a `<rule>` element (recursively). Throws {@link CibStructureError} naming the path. */
export function readRule(el: XmlElement, parentPath: string): Rule {
  const id = el.attributes.get('id') ?? '';
  const path = `${parentPath}/rule[@id='${id}']`;
  const op = el.attributes.get('boolean-op') ?? 'and';
  if (op !== 'and' && op !== 'or')
    throw new CibStructureError(path, `boolean-op '${op}' is not 'and' or 'or'`);
  const score = el.attributes.get('score');
  const conditions: RuleCondition[] = [];
  for (const c of childElements(el)) {
    const cid = c.attributes.get('id') ?? '';
    switch (c.name) {
      case 'rule':
        conditions.push(readRule(c, path));
        break;
      case 'expression': {
        const operation = c.attributes.get('operation') ?? '';
        if (!OPS.has(operation)) {
          throw new CibStructureError(
            `${path}/expression[@id='${cid}']`,
            `unknown operation '${operation}'`,
          );
        }
        // No type: ordering comparisons are numeric (decided per comparison: 'number'
        // when either side has a '.', else 'integer'), the rest compare strings.
        const type =
          c.attributes.get('type') ??
          (['lt', 'gt', 'lte', 'gte'].includes(operation) ? 'auto' : 'string');
        if (type !== 'auto' && !TYPES.has(type))
          throw new CibStructureError(`${path}/expression[@id='${cid}']`, `unknown type '${type}'`);
        conditions.push({
          kind: 'expression',
          id: cid,
          attribute: c.attributes.get('attribute') ?? '',
          operation: operation as AttributeExpression['operation'],
          value: c.attributes.get('value'),
          type: type as AttributeExpression['type'],
          valueSource: (c.attributes.get('value-source') ??
            'literal') as AttributeExpression['valueSource'],
        });
        break;
      }
      case 'date_expression':
        conditions.push({
          kind: 'date_expression',
          id: cid,
          operation: (c.attributes.get('operation') ?? 'in_range') as DateExpression['operation'],
          start: c.attributes.get('start'),
          end: c.attributes.get('end'),
          duration: attrsOf(childElements(c, 'duration')[0]),
          dateSpec: attrsOf(childElements(c, 'date_spec')[0]),
        });
        break;
      case 'rsc_expression':
        conditions.push({
          kind: 'rsc_expression',
          id: cid,
          class: c.attributes.get('class'),
          provider: c.attributes.get('provider'),
          type: c.attributes.get('type'),
        });
        break;
      case 'op_expression':
        conditions.push({
          kind: 'op_expression',
          id: cid,
          name: c.attributes.get('name') ?? '',
          interval: c.attributes.get('interval'),
        });
        break;
      default:
        break;
    }
  }
  return {
    kind: 'rule',
    id,
    booleanOp: op,
    score: score === undefined ? undefined : parseScore(score, `${path}/@score`),
    scoreAttribute: el.attributes.get('score-attribute'),
    role: el.attributes.get('role'),
    conditions,
  };
}

/** What a rule is evaluated against. */
export interface RuleContext {
  /** Node attributes (including `#uname`, `#id`, `#kind`, `#is_dc`, `#cluster-name`, `#role`). */
  readonly nodeAttributes?: Readonly<Record<string, string>>;
  /** Resource parameters for `value-source="param"`, meta attributes for `"meta"`. */
  readonly params?: Readonly<Record<string, string>>;
  readonly meta?: Readonly<Record<string, string>>;
  /** The resource, for rsc_expression. */
  readonly resource?: {
    readonly class?: string;
    readonly provider?: string;
    readonly type?: string;
  };
  /** The operation, for op_expression. */
  readonly operation?: { readonly name: string; readonly interval: number };
  /** "Now", for date expressions (default: the current time). */
  readonly now?: Date;
  /** Interval parser (ms) for op_expression intervals. */
  readonly parseInterval?: (spec: string) => number | undefined;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

function compare(type: AttributeExpression['type'], a: string, b: string): number | undefined {
  const strings = (): number => (a < b ? -1 : a > b ? 1 : 0);
  let t = type;
  if (t === 'auto') t = a.includes('.') || b.includes('.') ? 'number' : 'integer';
  switch (t) {
    case 'integer':
    case 'number': {
      // a value that does not parse falls back to comparing strings, as Pacemaker does
      const re = t === 'integer' ? /^\s*[-+]?\d+/ : /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/;
      const ma = re.exec(a);
      const mb = re.exec(b);
      if (!ma || !mb) return strings();
      const x = Number(ma[0]);
      const y = Number(mb[0]);
      return Math.sign(x - y);
    }
    case 'version':
      return compareVersions(a, b);
    default:
      return strings();
  }
}

function evalExpression(e: AttributeExpression, ctx: RuleContext): boolean {
  const actual = ctx.nodeAttributes?.[e.attribute];
  if (e.operation === 'defined') return actual !== undefined;
  if (e.operation === 'not_defined') return actual === undefined;
  let expected = e.value;
  if (e.valueSource === 'param' && expected !== undefined) expected = ctx.params?.[expected];
  if (e.valueSource === 'meta' && expected !== undefined) expected = ctx.meta?.[expected];
  if (actual === undefined || expected === undefined) return e.operation === 'ne';
  const c = compare(e.type, actual, expected);
  if (c === undefined) return false;
  switch (e.operation) {
    case 'lt':
      return c < 0;
    case 'gt':
      return c > 0;
    case 'lte':
      return c <= 0;
    case 'gte':
      return c >= 0;
    case 'eq':
      return c === 0;
    case 'ne':
      return c !== 0;
  }
}

/** ISO 8601 date/time as Pacemaker writes them (`2024-01-02 03:04:05`, `2024-01-02T03:04:05Z`). */
function parseDate(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  // `2026-01-02 03:04:05 +01:00`, `2026-01-02T03:04:05Z`, `2026-01-02`
  const iso = s
    .trim()
    .replace(/^(\d{4}-\d{2}-\d{2})[ T]/, '$1T')
    .replace(/\s+([+-]\d{2}:?\d{2}|Z)$/, '$1');
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
}

function addDuration(t: number, d: Readonly<Record<string, string>>): number {
  const date = new Date(t);
  const n = (k: string): number => Number.parseInt(d[k] ?? '0', 10) || 0;
  date.setUTCFullYear(
    date.getUTCFullYear() + n('years'),
    date.getUTCMonth() + n('months'),
    date.getUTCDate() + n('days') + 7 * n('weeks'),
  );
  return date.getTime() + n('hours') * 3_600_000 + n('minutes') * 60_000 + n('seconds') * 1000;
}

function inRange(spec: string | undefined, value: number): boolean {
  if (spec === undefined) return true;
  return spec.split(',').some((part) => {
    const [lo, hi] = part.split('-').map((x) => Number.parseInt(x, 10));
    if (lo === undefined || Number.isNaN(lo)) return false;
    return hi === undefined || Number.isNaN(hi) ? value === lo : value >= lo && value <= hi;
  });
}

function evalDate(e: DateExpression, now: Date): boolean {
  const t = now.getTime();
  const start = parseDate(e.start);
  switch (e.operation) {
    case 'gt':
      return start !== undefined && t > start;
    case 'lt': {
      const end = parseDate(e.end);
      return end !== undefined && t < end;
    }
    case 'in_range': {
      let end = parseDate(e.end);
      if (end === undefined && e.duration && start !== undefined)
        end = addDuration(start, e.duration);
      return (start === undefined || t >= start) && (end === undefined || t <= end);
    }
    case 'date_spec': {
      const s = e.dateSpec ?? {};
      const day = Math.floor((t - Date.UTC(now.getUTCFullYear(), 0, 1)) / 86_400_000) + 1;
      return (
        inRange(s.hours, now.getUTCHours()) &&
        inRange(s.minutes, now.getUTCMinutes()) &&
        inRange(s.seconds, now.getUTCSeconds()) &&
        inRange(s.monthdays, now.getUTCDate()) &&
        inRange(s.weekdays, now.getUTCDay() === 0 ? 7 : now.getUTCDay()) &&
        inRange(s.yeardays, day) &&
        inRange(s.months, now.getUTCMonth() + 1) &&
        inRange(s.years, now.getUTCFullYear())
      );
    }
  }
}

/** Evaluate one condition. */
function evalCondition(c: RuleCondition, ctx: RuleContext): boolean {
  switch (c.kind) {
    case 'rule':
      return evaluateRule(c, ctx);
    case 'expression':
      return evalExpression(c, ctx);
    case 'date_expression':
      return evalDate(c, ctx.now ?? new Date());
    case 'rsc_expression': {
      const r = ctx.resource;
      if (!r) return false;
      return (
        (c.class === undefined || c.class === r.class) &&
        (c.provider === undefined || c.provider === r.provider) &&
        (c.type === undefined || c.type === r.type)
      );
    }
    case 'op_expression': {
      const o = ctx.operation;
      if (!o || o.name !== c.name) return false;
      if (c.interval === undefined) return true;
      return (ctx.parseInterval?.(c.interval) ?? Number.NaN) === o.interval;
    }
  }
}

/** Whether a rule passes in a context (an empty rule passes). */
export function evaluateRule(rule: Rule, ctx: RuleContext): boolean {
  if (rule.conditions.length === 0) return true;
  return rule.booleanOp === 'or'
    ? rule.conditions.some((c) => evalCondition(c, ctx))
    : rule.conditions.every((c) => evalCondition(c, ctx));
}
