/** The outbound address policy (#net) as webhook deliveries word its refusals. */
import { createGuardedLookup } from '#net';

export const WEBHOOK_ADDRESS_REFUSED = 'EWEBHOOKADDRESS';

export function webhookRefusal(reason: string): string {
  return `webhook receiver refused: ${reason} (BATON_WEBHOOK_ALLOW_PRIVATE_NETWORKS is off)`;
}

export const guardedLookup = createGuardedLookup((_host, reason) => ({ message: webhookRefusal(reason), code: WEBHOOK_ADDRESS_REFUSED }));
