import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { parseDuration } from './duration';
import { MetadataError } from './errors';

/** One instance parameter an agent accepts (`<parameter>`). */
export interface AgentParameter {
  readonly name: string;
  /** Content type: `string`, `integer`, `boolean`, `select`, `time`, ... */
  readonly type: string;
  readonly default?: string;
  readonly required: boolean;
  readonly unique: boolean;
  /** OCF 1.1 `unique-group`. */
  readonly uniqueGroup?: string;
  readonly reloadable: boolean;
  readonly deprecated: boolean;
  readonly shortdesc: string;
  readonly longdesc: string;
  /** The allowed values of a `select` parameter. */
  readonly values?: readonly string[];
}

/** One action an agent supports (`<action>`), with its advised defaults. */
export interface AgentAction {
  readonly name: string;
  /** Default timeout in milliseconds. */
  readonly timeout?: number;
  /** Advised interval in milliseconds (recurring monitors). */
  readonly interval?: number;
  readonly depth?: number;
  /** `Promoted`/`Unpromoted` (or the older `Master`/`Slave`). */
  readonly role?: string;
  /** `start-delay` in milliseconds. */
  readonly startDelay?: number;
}

/** An agent's meta-data, typed. */
export interface AgentMetadata {
  /** `resource-agent name`. */
  readonly name: string;
  /** `resource-agent version`: the agent's own version. */
  readonly version: string;
  /** `<version>`: the OCF API version the agent follows. */
  readonly ocfVersion: string;
  readonly shortdesc: string;
  readonly longdesc: string;
  readonly parameters: readonly AgentParameter[];
  readonly actions: readonly AgentAction[];
  /** The XML as the agent printed it. */
  readonly xml: string;
}

type Node = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  textNodeName: '#text',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  isArray: (name) => ['parameter', 'action', 'option', 'shortdesc', 'longdesc'].includes(name),
});

function text(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'object' && '#text' in (value as Node)) {
    return String((value as Node)['#text']).trim();
  }
  return '';
}

/** Prefer the English description among `<shortdesc lang="…">` variants. */
function desc(values: unknown): string {
  if (!Array.isArray(values) || values.length === 0) return '';
  const en = values.find((v) => typeof v === 'object' && (v as Node)['@lang'] === 'en');
  return text(en ?? values[0]);
}

function flag(value: unknown): boolean {
  return value === '1' || value === 'true' || value === 'yes';
}

function ms(agent: string, where: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const parsed = parseDuration(String(value));
  if (parsed === undefined) {
    throw new MetadataError(agent, `${where}: '${String(value)}' is not a duration`);
  }
  return parsed;
}

/**
 * Parse OCF meta-data XML (resource agent API 1.0 / 1.1) into a typed
 * description. Throws {@link MetadataError} when the XML is malformed or not
 * a `<resource-agent>`.
 */
export function parseMetadata(xml: string, agent = 'agent'): AgentMetadata {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new MetadataError(
      agent,
      `malformed XML at line ${valid.err.line}, column ${valid.err.col}: ${valid.err.msg}`,
    );
  }
  const doc = parser.parse(xml) as Node;
  const root = doc['resource-agent'] as Node | undefined;
  if (!root || typeof root !== 'object') {
    throw new MetadataError(agent, 'no <resource-agent> element');
  }
  const params = ((root.parameters as Node | undefined)?.parameter ?? []) as Node[];
  const actions = ((root.actions as Node | undefined)?.action ?? []) as Node[];
  return {
    name: String(root['@name'] ?? ''),
    version: String(root['@version'] ?? ''),
    ocfVersion: text(root.version),
    shortdesc: desc(root.shortdesc),
    longdesc: desc(root.longdesc),
    parameters: params.map((p) => parameter(agent, p)),
    actions: actions.map((a) => action(agent, a)),
    xml,
  };
}

function parameter(agent: string, p: Node): AgentParameter {
  const name = String(p['@name'] ?? '');
  if (!name) throw new MetadataError(agent, '<parameter> without a name');
  const content = (p.content ?? {}) as Node;
  const options = (content.option ?? []) as Node[];
  return {
    name,
    type: String(content['@type'] ?? 'string'),
    ...(content['@default'] !== undefined ? { default: String(content['@default']) } : {}),
    required: flag(p['@required']),
    unique: flag(p['@unique']),
    ...(p['@unique-group'] !== undefined ? { uniqueGroup: String(p['@unique-group']) } : {}),
    reloadable: flag(p['@reloadable']),
    deprecated: p.deprecated !== undefined || flag(p['@deprecated']),
    shortdesc: desc(p.shortdesc),
    longdesc: desc(p.longdesc),
    ...(options.length > 0 ? { values: options.map((o) => String(o['@value'] ?? '')) } : {}),
  };
}

function action(agent: string, a: Node): AgentAction {
  const name = String(a['@name'] ?? '');
  if (!name) throw new MetadataError(agent, '<action> without a name');
  const where = `action '${name}'`;
  const out: {
    name: string;
    timeout?: number;
    interval?: number;
    depth?: number;
    role?: string;
    startDelay?: number;
  } = { name };
  const timeout = ms(agent, `${where} timeout`, a['@timeout']);
  if (timeout !== undefined) out.timeout = timeout;
  const interval = ms(agent, `${where} interval`, a['@interval']);
  if (interval !== undefined) out.interval = interval;
  if (a['@depth'] !== undefined) out.depth = Number(a['@depth']);
  if (a['@role'] !== undefined) out.role = String(a['@role']);
  const startDelay = ms(agent, `${where} start-delay`, a['@start-delay']);
  if (startDelay !== undefined) out.startDelay = startDelay;
  return out;
}
