export * from './definition-schema.js';
export * from './definition-source.js';
export * from './definition-checks.js';
export * from './definition-validator.js';
export * from './definition-diff.js';
export * from './definition-format.js';
export * from './definitions.service.js';
export * from './definitions.module.js';
