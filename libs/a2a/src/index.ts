export * from './task-state.js';
export * from './task.dto.js';
export * from './protocol-parts.js';
