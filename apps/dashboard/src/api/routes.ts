/**
 * Every API operation the dashboard calls, as `METHOD /path/{param}` exactly as the OpenAPI document spells it.
 * The client takes only these keys, and test/dashboard-routes.e2e-spec.ts checks each one against /docs-json,
 * so no page can call an endpoint that Swagger does not document. No imports: the jest suite loads this file.
 */
export const API_ROUTES = {
  login: 'POST /auth/login',
  listRuns: 'GET /orchestrations/runs',
  startRun: 'POST /orchestrations/runs',
  getRun: 'GET /orchestrations/runs/{id}',
  runStatus: 'GET /orchestrations/runs/{id}/status',
  runEvents: 'GET /orchestrations/runs/{id}/events',
  cancelRun: 'POST /orchestrations/runs/{id}/cancel',
  retryStep: 'POST /orchestrations/runs/{id}/steps/{key}/retry',
  skipStep: 'POST /orchestrations/runs/{id}/steps/{key}/skip',
  runStream: 'GET /orchestrations/runs/{id}/stream',
  orgStream: 'GET /orchestrations/stream',
  listApprovals: 'GET /orchestrations/approvals',
  getApproval: 'GET /orchestrations/approvals/{id}',
  decide: 'POST /orchestrations/approvals/{id}/decision',
  listDefinitions: 'GET /orchestrations/definitions',
  getDefinition: 'GET /orchestrations/definitions/{slug}',
  definitionVersions: 'GET /orchestrations/definitions/{slug}/versions',
  definitionDiff: 'GET /orchestrations/definitions/{slug}/diff',
  validateDefinition: 'POST /orchestrations/definitions/validate',
  listWebhooks: 'GET /webhooks',
  webhookDeliveries: 'GET /webhooks/{id}/deliveries',
  redeliver: 'POST /webhooks/{id}/deliveries/{deliveryId}/redeliver',
  listAgents: 'GET /agents',
  getAgent: 'GET /agents/{slug}',
} as const;

export type RouteName = keyof typeof API_ROUTES;

