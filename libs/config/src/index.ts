export * from './config-variables.js';
export * from './app-config.js';
export * from './project-root.js';
export * from './config.module.js';
