/** NOTIFY channels. Payloads are hints (ids), never data: receivers read the rows. */
export const WORK_CHANNEL = 'baton_work';
export const CANCEL_CHANNEL = 'baton_cancel';
export const EVENTS_CHANNEL = 'baton_events';
export const WEBHOOKS_CHANNEL = 'baton_webhooks';
/** A definition's rows changed (payload `<organization id>:<slug>`, sent by a trigger): drop what is cached of it. */
export const DEFINITIONS_CHANNEL = 'baton_definitions';
