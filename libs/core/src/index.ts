export * from './domain-error.js';
export * from './states.js';
export * from './assert-unreachable.js';
export * from './definition-spec.js';
export * from './pagination.js';
export * from './builtin-agents.js';
export * from './template.js';
export * from './json-merge.js';
