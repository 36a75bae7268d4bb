import { Global, Logger, Module, type DynamicModule, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { InjectDataSource, TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, type DataSourceOptions } from 'typeorm';
import type { AppConfig } from '#config';
import { ENTITIES } from '../entities/index.js';
import { AgentsRepository } from '../repositories/agents.repository.js';
import { ApiKeysRepository } from '../repositories/api-keys.repository.js';
import { AuditLogRepository } from '../repositories/audit-log.repository.js';
import { DefinitionChanges } from '../repositories/definition-changes.js';
import { DefinitionsRepository } from '../repositories/definitions.repository.js';
import { ArtifactsRepository } from '../repositories/artifacts.repository.js';
import { KpiDemoRepository } from '../repositories/kpi-demo.repository.js';
import { OrganizationsRepository } from '../repositories/organizations.repository.js';
import { ReadOnlyQueryRepository } from '../repositories/read-only-query.repository.js';
import { RunsRepository } from '../repositories/runs.repository.js';
import { StepsRepository } from '../repositories/steps.repository.js';
import { UsersRepository } from '../repositories/users.repository.js';
import { DatabaseServer, dataSourceOptions, initializeWithRetry, type OpenConfig } from './data-source.js';
import { migrateDatabase } from './migrate.js';

const REPOSITORIES = [
  DefinitionChanges,
  OrganizationsRepository,
  UsersRepository,
  ApiKeysRepository,
  AgentsRepository,
  DefinitionsRepository,
  RunsRepository,
  StepsRepository,
  AuditLogRepository,
  ReadOnlyQueryRepository,
  KpiDemoRepository,
  ArtifactsRepository,
];

@Module({})
class DatabaseServerModule {}

export type DatabaseModuleConfig = OpenConfig & Pick<AppConfig, 'autoMigrate'>;

/**
 * The database of an application: `TypeOrmModule` provides the DataSource (`@InjectDataSource()`), the
 * EntityManager and, through `forFeature`, the entities' repositories (`@InjectRepository()`); this module keeps our
 * bootstrap around it. The embedded server (DATABASE_URL unset) starts first, as `DatabaseServer`; the DataSource is
 * made by our factory, which retries an unreachable database (`initializeWithRetry`, not TypeOrmModule's own retry)
 * and applies pending migrations when `autoMigrate` is on. Global: every library injects the DataSource, the
 * repositories below and `DatabaseServer` without importing this module.
 */
@Global()
@Module({})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(
    private readonly server: DatabaseServer,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  static forRoot(config: DatabaseModuleConfig): DynamicModule {
    const server: Provider = { provide: DatabaseServer, useFactory: () => DatabaseServer.resolve(config) };
    const serverModule: DynamicModule = { module: DatabaseServerModule, providers: [server], exports: [server] };
    const typeOrm = TypeOrmModule.forRootAsync({
      imports: [serverModule],
      inject: [DatabaseServer],
      useFactory: (resolved: DatabaseServer) => ({
        ...dataSourceOptions(resolved.url, config.dbPoolSize, { connectTimeoutMs: config.dbConnectTimeoutMs }),
        toRetry: () => false, // the factory below has retried what deserves it
      }),
      dataSourceFactory: async (options?: DataSourceOptions) => {
        const dataSource = await initializeWithRetry(() => new DataSource(options!), config.dbStartupRetryMs ?? 0);
        if (config.autoMigrate) await migrateDatabase(dataSource);
        return dataSource;
      },
    });
    return {
      module: DatabaseModule,
      imports: [serverModule, typeOrm, TypeOrmModule.forFeature(ENTITIES)],
      providers: REPOSITORIES,
      exports: [serverModule, ...REPOSITORIES],
    };
  }

  /**
   * Global modules shut down last, this one after TypeOrmModule (which it imports) and after the engine's and the
   * listener's pools: the embedded server stops only when nothing is connected to it. Destroying the DataSource
   * here too keeps that true whatever order Nest chooses.
   */
  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
    await this.server.stop();
    new Logger('Database').log('database pool closed');
  }
}
