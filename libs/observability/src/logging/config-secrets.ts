import { sensitiveValues, type AppConfig } from '#config';

/**
 * Every secret value the process knows of: the sensitive variables of its environment, and the same secrets as
 * the configuration holds them (tests and embedded setups pass a config that did not come from the environment;
 * the password inside DATABASE_URL is scrubbed on its own too).
 */
export function configSecrets(config: AppConfig, env: NodeJS.ProcessEnv = process.env): string[] {
  const values = [...sensitiveValues(env), config.jwtSecret, config.adminPassword, config.webhookSecretKey, config.metricsToken, config.databaseUrl];
  if (config.databaseUrl) {
    try {
      const password = decodeURIComponent(new URL(config.databaseUrl).password);
      if (password) values.push(password);
    } catch {
      // not a URL (a key=value connection string): the whole value is scrubbed already
    }
  }
  return [...new Set(values.filter((v): v is string => typeof v === 'string' && v.length >= 6))];
}
