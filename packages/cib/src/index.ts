export {
  CibConflictError,
  CibError,
  CibNotFoundError,
  CibStructureError,
  XmlSyntaxError,
} from './errors';
export {
  childElements,
  createElement,
  firstChild,
  formatXml,
  parseXml,
  serializeXml,
  walkElements,
} from './xml';
export type { ParseXmlOptions, XmlComment, XmlDocument, XmlElement, XmlNode, XmlText } from './xml';
export {
  INFINITY,
  addScores,
  formatScore,
  isBooleanValue,
  parseBoolean,
  parseScore,
} from './values';
export { mergeNvSets } from './nvset';
export type { NvSet } from './nvset';
export { evaluateRule } from './rules';
export type { Rule, RuleCondition, RuleContext } from './rules';
export { allPrimitives, compareVersions, formatVersion, parseInterval, readCib } from './model';
export type {
  Bundle,
  Cib,
  CibVersion,
  Clone,
  ClusterNode,
  ColocationConstraint,
  Constraint,
  Group,
  GuestNode,
  LocationConstraint,
  NodeState,
  Operation,
  OperationRecord,
  OrderConstraint,
  Primitive,
  RemoteNode,
  Resource,
  ResourceHistoryRecord,
  ResourceSet,
  TicketConstraint,
} from './model';
