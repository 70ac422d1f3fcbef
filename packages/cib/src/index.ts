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
  escapeAttr,
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
  TicketState,
} from './model';
export { verifyCib } from './verify';
export type { Diagnostic, Verification } from './verify';
export { md5, writeFileAtomic } from './atomic-file';
export {
  cleanupResource,
  cloneDocument,
  findById,
  nodeStateElement,
  putLocation,
  putSectionElement,
  removeConstraints,
  setClusterProperty,
  setNodeAttribute,
  setResourceAttribute,
  setResourceMeta,
  setTicketState,
  uniqueId,
} from './edit';
export type { LocationSpec, ResourceAttributeSet, TicketChange } from './edit';
export {
  CibDigestError,
  CibJournalError,
  CibStore,
  EMPTY_CIB,
  FileBackend,
  MemoryBackend,
} from './store';
export { CibPatchError } from './patch';
export type {
  CibBackend,
  CibChange,
  CibHistoryEntry,
  CibSnapshot,
  CibStoreOptions,
  ModifyOptions,
  StoredCib,
} from './store';
export { diffCib } from './diff';
export type { CibDiffEntry } from './diff';
export {
  effectiveMeta,
  effectiveOperations,
  effectiveParams,
  findResource,
  nodeAttributes,
  nodeKind,
  primitivesWithMeta,
} from './queries';
export type { EffectiveOperation, ResourceLocation } from './queries';
