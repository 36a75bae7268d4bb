// Every test process: quiet logs, test mode, a fixed JWT secret, never the developer's embedded database.
process.env.NODE_ENV = 'test';
process.env.LOG_LEVEL ??= 'error';
process.env.JWT_SECRET ??= 'test-secret-test-secret-test-secret-0123456789';
// The suites' webhook receivers listen on 127.0.0.1; the suite that tests the address policy turns it back off.
process.env.BATON_WEBHOOK_ALLOW_PRIVATE_NETWORKS ??= 'true';
// The stand-ins for LLM APIs, n8n and A2A agents listen on 127.0.0.1 too.
process.env.BATON_AGENT_ALLOW_PRIVATE_NETWORKS ??= 'true';
