export * from './task-state.js';
export * from './task.dto.js';
export * from './protocol-parts.js';
export * from './task-view.js';
export * from './push-notification.js';
