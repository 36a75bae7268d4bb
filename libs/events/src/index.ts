export * from './channels.js';
export * from './pg-listener.js';
export * from './event-types.js';
export * from './event-record.js';
export * from './event-tail.repository.js';
export * from './event-tail.js';
export * from './events.module.js';
